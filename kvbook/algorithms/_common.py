"""Checks and result assembly shared by every algorithm's public function."""

from __future__ import annotations

import math

import numpy as np

from kvbook._sim import DONE, FLOW, KILLS, OVERFLOW, ROUND_LIMIT, STALLED
from kvbook.model import MAX_ROUNDS, Instance, Schedule


# A base this large already puts every job in one class or one phase.
MAX_BETA = 1e6

# Twice the rounds an instance may need at least (see kvbook.model): a
# schedule's memory profile holds one int64 per round.
SIMULATED_ROUNDS = 2 * MAX_ROUNDS


def check_instance(instance) -> Instance:
    """Return ``instance`` if it is an :class:`Instance`, else raise TypeError."""
    if not isinstance(instance, Instance):
        raise TypeError(
            f"expected a kvbook Instance, got {type(instance).__name__}; build one "
            "with kvbook.make_instance(output, prompt, budget)"
        )
    return instance


def check_beta(beta) -> float:
    """Return the geometric base as a float, or raise ValueError."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.number)):
        raise ValueError(f"beta must be a number greater than 1, got {beta!r}")
    value = float(beta)
    if not math.isfinite(value) or value <= 1.0 or value > MAX_BETA:
        raise ValueError(
            f"beta must be a finite number in (1, {MAX_BETA:g}], got {beta!r}; the "
            "paper's geometric classes double, so try beta=2"
        )
    return value


def round_limit(
    instance: Instance, phases: int | None = None, lane_rounds: int = 0
) -> int:
    """Return the round after which a policy is deemed stuck.

    Every algorithm here finishes well within a few times the
    one-job-at-a-time makespan ``sum(o)`` times the number of geometric
    phases (``log2(max o) + 2`` unless given), or, for staggered lanes,
    a few times ``lane_rounds``: the rounds their slots take one lane at a
    time. Passing this limit means a policy bug, not a slow policy. The
    limit never exceeds ``SIMULATED_ROUNDS``, the most rounds whose memory
    a schedule may record.
    """
    total = int(instance.output.sum()) + instance.n
    if phases is None:
        phases = int(np.log2(int(instance.output.max()))) + 2
    limit = max(16 * total * phases, 4 * lane_rounds) + 1000
    return min(limit, SIMULATED_ROUNDS)


def build_schedule(
    name: str,
    clairvoyant: bool,
    instance: Instance,
    result,
    notes: list[str] | None = None,
) -> Schedule:
    """Turn a kernel's ``(state, log, memory)`` into a checked Schedule."""
    state, log, memory = result
    if state[STALLED] and state[ROUND_LIMIT] == SIMULATED_ROUNDS:
        raise ValueError(
            f"{name} would run past round {SIMULATED_ROUNDS} on {instance!r}, more "
            "rounds than kvbook records memory for; use a larger budget, fewer "
            "jobs, or other parameters for this algorithm"
        )
    if state[STALLED]:
        raise RuntimeError(
            f"{name} did not finish within {int(state[ROUND_LIMIT])} rounds on "
            f"{instance!r}; this is a bug in kvbook, please report the instance"
        )
    if state[OVERFLOW] >= 0:
        round_ = int(state[OVERFLOW])
        raise RuntimeError(
            f"{name} exceeded the budget {instance.budget} in round {round_} "
            f"(held {int(memory[round_])} tokens) on {instance!r}; this is a bug "
            "in kvbook, please report the instance"
        )
    if state[DONE] != instance.n:
        raise RuntimeError(
            f"{name} stopped with {int(state[DONE])} of {instance.n} jobs "
            "completed; this is a bug in kvbook, please report the instance"
        )
    return Schedule(
        algorithm=name,
        clairvoyant=clairvoyant,
        instance=instance,
        job=log[:, 0].copy(),
        start=log[:, 1].copy(),
        length=log[:, 2].copy(),
        completed=log[:, 3].astype(bool),
        flow_time=int(state[FLOW]),
        kills=int(state[KILLS]),
        memory=memory,
        notes=list(notes or []),
    )
