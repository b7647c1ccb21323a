"""GSA: geometric slicing, non-clairvoyant (Feng, Yang and Zhang, 2026)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import STALLED, is_done, sim_new, sim_result
from kvbook.algorithms._common import (
    build_schedule,
    check_beta,
    check_instance,
    round_limit,
)
from kvbook.algorithms._reserve import res_new
from kvbook.algorithms._staggered import run_stage
from kvbook.model import Instance, Schedule


def slice_lengths(beta: float, limit: int) -> np.ndarray:
    """Return the lengths ``floor(beta**k)``, ``k = 0, 1, ...``, up to ``limit``.

    Lengths strictly increase (a base close to 1 would otherwise repeat a
    length) and stop at the first one that reaches ``limit``. GSA uses them
    as slice lengths up to the budget: a slice that long lets every
    remaining job complete, since ``o_i <= M - s_i``. GBA uses them as
    class tops up to the longest output.

    Examples
    --------
    >>> slice_lengths(2.0, 10).tolist()
    [1, 2, 4, 8, 16]
    """
    lengths = [1]
    power = 1.0
    while lengths[-1] < limit:
        power *= beta
        # NOTE: floor(beta**k) is computed in floating point; for beta=2 it
        # is exact, for other bases a length at a class edge may round down.
        lengths.append(max(min(int(np.floor(power + 1e-9)), 2**62), lengths[-1] + 1))
    return np.array(lengths, dtype=np.int64)


@numba.njit(cache=True)
def _gsa_kernel(s, budget, o, slices, check, limit):
    # Only the simulator reads `o`. The policy observes only completions.
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    res = res_new(n)
    # The policy does not know any length, so it reserves whole slices.
    unknown = np.full(n, budget, dtype=np.int64)
    phase_start = np.zeros(slices.shape[0], dtype=np.int64)
    t = 0
    for phase in range(slices.shape[0]):
        phase_start[phase] = t
        remaining = 0
        for j in range(n):
            if not is_done(sim, j):
                remaining += 1
        if remaining == 0:
            break
        jobs = np.empty(remaining, dtype=np.int64)
        q = 0
        for j in range(n):
            if not is_done(sim, j):
                jobs[q] = j
                q += 1
        sim, t = run_stage(sim, t, jobs, slices[phase], budget, check, res, unknown)
        if sim[0][STALLED] != 0:
            break
    return sim_result(sim)


def gsa(instance: Instance, *, beta: float = 2.0) -> Schedule:
    """Schedule without knowing output lengths by geometric slicing.

    Phase ``k`` has slice length ``L_k = floor(beta**k)``. It runs SPS with
    lane length ``L_k`` over every job not yet completed, in index order;
    each gets one run of at most ``L_k`` rounds (and at most ``M - s_i``,
    which any feasible job needs). A job that completes inside its slice is
    done; one that reaches the slice end is killed and waits for the next
    phase. A phase ends when its last run ends.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget. Output lengths are used only by the
        simulator, which reports completions.
    beta : float, default 2
        Geometric base of the slice lengths (> 1).

    Returns
    -------
    Schedule

    Notes
    -----
    Non-clairvoyant: every decision depends on prompts, the budget and the
    completions seen so far. A slot whose job completed early stays idle
    until the lane's next slot. The paper proves a competitive ratio of at
    most 61.92 in general and 32 with large memory; kvbook checks these by
    measurement. Cost: O((n + rounds) * phases) with one prompt length,
    with ``log_beta(max o) + 1`` phases.

    References
    ----------
    Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache
    Scheduling for LLM Inference", arXiv:2601.22996, 2026.

    Examples
    --------
    A job of 3 tokens is killed after its 1- and 2-round slices and
    completes in the 4-round slice of phase 2.

    >>> from kvbook import make_instance
    >>> result = gsa(make_instance([1, 3], prompt=1, budget=8))
    >>> result.runs
    [(0, 0, 1, True), (1, 0, 1, False), (1, 1, 2, False), (1, 3, 3, True)]
    """
    instance = check_instance(instance)
    beta = check_beta(beta)
    slices = slice_lengths(beta, instance.budget)
    needed = slices[: int(np.sum(slices < instance.output.max())) + 1]
    result = _gsa_kernel(
        instance.prompt,
        instance.budget,
        instance.output,
        slices,
        not instance.uniform_prompt,
        # Every phase with a slice shorter than the longest job can run
        # every job once more.
        round_limit(
            instance,
            phases=int(np.sum(slices < instance.output.max())) + 1,
            lane_rounds=instance.n * int(np.sum(needed, dtype=object)),
        ),
    )
    return build_schedule("gsa", False, instance, result)
