"""Checks and result assembly shared by every algorithm's public function."""

from __future__ import annotations

import math

import numpy as np

from kvbook._sim import DONE, FLOW, KILLS, OVERFLOW, ROUND_LIMIT, STALLED
from kvbook.model import Instance, Schedule


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
    try:
        value = float(beta)
    except (TypeError, ValueError):
        raise ValueError(
            f"beta must be a number greater than 1, got {beta!r}"
        ) from None
    if not math.isfinite(value) or value <= 1.0:
        raise ValueError(
            f"beta must be a finite number greater than 1, got {beta!r}; the paper's "
            "geometric classes double, so try beta=2"
        )
    return value


def round_limit(instance: Instance, phases: int | None = None) -> int:
    """Return the round after which a policy is deemed stuck.

    Every algorithm here finishes well within a few times the
    one-job-at-a-time makespan ``sum(o)`` times the number of geometric
    phases (``log2(max o) + 2`` unless given), so passing this limit means
    a policy bug, not a slow policy.
    """
    total = int(instance.output.sum()) + instance.n
    if phases is None:
        phases = int(np.log2(int(instance.output.max()))) + 2
    return 16 * total * phases + 1000


def build_schedule(
    name: str,
    clairvoyant: bool,
    instance: Instance,
    result,
    notes: list[str] | None = None,
) -> Schedule:
    """Turn a kernel's ``(state, log, memory)`` into a checked Schedule."""
    state, log, memory = result
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
