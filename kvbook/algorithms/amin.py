"""A_min: MC-SF on lower estimates that rise as jobs run, after Chen et al. (2025)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import (
    COL_RUN_START,
    COL_RUNNING,
    INF,
    NRUN,
    STALLED,
    heap_push,
    heap_remove,
    memory_at,
    sim_advance,
    sim_kill,
    sim_new,
    sim_result,
    sim_start,
)
from kvbook.algorithms._common import build_schedule, check_instance, round_limit
from kvbook.algorithms._reserve import (
    res_expire,
    res_first_fit,
    res_insert,
    res_new,
    res_remove,
)
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _amin_kernel(s, budget, o, limit):
    # Only the simulator reads `o`; the policy sees starts, progress and
    # completions.
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    state = sim[0]
    table = sim[1]
    estimate = np.ones(n, dtype=np.int64)
    # Waiting jobs, smallest estimate first, ties by index.
    wait_key = np.empty(n, dtype=np.int64)
    wait_job = np.empty(n, dtype=np.int64)
    wait_pos = np.full(n, -1, dtype=np.int64)
    wait_size = 0
    for j in range(n):
        wait_size = heap_push(wait_key, wait_job, wait_pos, wait_size, j, j)
    res = res_new(n)
    t = 0
    while wait_size > 0 or state[NRUN] > 0:
        res_expire(res, t)
        while memory_at(sim, t) > budget:
            # Kill the running job with the largest estimate, ties by the
            # later start, then the higher index.
            victim = -1
            best = -1
            for i in range(state[NRUN]):
                j = table[i, COL_RUNNING]
                value = max(estimate[j], t - table[j, COL_RUN_START])
                if (
                    victim < 0
                    or value > best
                    or (
                        value == best
                        and (table[j, COL_RUN_START], j)
                        > (table[victim, COL_RUN_START], victim)
                    )
                ):
                    victim = j
                    best = value
            estimate[victim] = best
            res_remove(res, victim)
            sim = sim_kill(sim, victim, t)
            wait_size = heap_push(
                wait_key, wait_job, wait_pos, wait_size, best * n + victim, victim
            )

        now = memory_at(sim, t)
        t_next = INF
        while wait_size > 0:
            j = wait_job[0]
            length = min(estimate[j], budget - s[j])
            # Until a job completes or is killed the test's inputs move in
            # step with the round, so the first round the head fits is
            # computed at once instead of testing every round.
            fit = res_first_fit(
                res, now, state[NRUN], s[j], length, t, budget, INF, False
            )
            if fit != t:
                t_next = fit
                break
            wait_size = heap_remove(wait_key, wait_job, wait_pos, wait_size, j)
            sim_start(sim, j, t)
            res_insert(res, t + length, s[j] + 1 - t, j)
            now += s[j] + 1

        nrun = state[NRUN]
        if nrun == 0:
            break
        # The next overflow, unless a job completes first.
        t_next = min(t_next, t + (budget - now) // nrun + 1)
        sim, t, _ = sim_advance(sim, t, t_next)
        if state[STALLED] != 0:
            break
    return sim_result(sim)


def amin(instance: Instance) -> Schedule:
    """Run MC-SF on lower estimates of the lengths, raising them as jobs run.

    Every job's estimate starts at 1. Each round, waiting jobs are
    considered smallest estimate first and one starts if the running jobs,
    each assumed to end when it reaches its estimate, leave room for its
    estimated run; the first that does not fit ends the round's admissions.
    A running job past its estimate is known to be longer, so its estimate
    is its progress. When the coming round would exceed the budget, the
    running job with the largest estimate is killed and keeps that estimate.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget. Output lengths are used only by the
        simulator, which reports completions.

    Returns
    -------
    Schedule

    Notes
    -----
    A reading of the A_min algorithm of Chen et al. (2025) with the
    trivial lower estimate 1 for every job, non-clairvoyant. Cost: O((n +
    kills + completions) * r) plus O(n log n) for ``r`` running jobs.

    References
    ----------
    Z. Chen, Y. Ye, Z. Zhou, "Adaptively Robust LLM Inference Optimization
    under Prediction Uncertainty", arXiv:2508.14544, 2025.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> result = amin(make_instance([3, 3, 3], prompt=2, budget=12))
    >>> result.completion.tolist()
    [3, 3, 6]
    """
    instance = check_instance(instance)
    result = _amin_kernel(
        instance.prompt, instance.budget, instance.output, round_limit(instance)
    )
    return build_schedule("amin", False, instance, result)
