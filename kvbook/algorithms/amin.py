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


@numba.njit(cache=True, inline="always")
def _key_less(keys, a, b):
    for col in range(3):
        if keys[a, col] != keys[b, col]:
            return keys[a, col] < keys[b, col]
    return False


@numba.njit(cache=True)
def _key_swap(heap, pos, i, k):
    heap[i], heap[k] = heap[k], heap[i]
    pos[heap[i]] = i
    pos[heap[k]] = k


@numba.njit(cache=True)
def _key_sift(heap, pos, keys, i, size):
    """Restore the heap order around slot ``i``, up or down."""
    while i > 0 and _key_less(keys, heap[i], heap[(i - 1) // 2]):
        _key_swap(heap, pos, i, (i - 1) // 2)
        i = (i - 1) // 2
    while True:
        smallest = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and _key_less(keys, heap[child], heap[smallest]):
                smallest = child
        if smallest == i:
            return
        _key_swap(heap, pos, i, smallest)
        i = smallest


@numba.njit(cache=True)
def _key_push(heap, pos, keys, size, j):
    """Push job ``j``, ordered by the rows of ``keys``; return the new size."""
    heap[size] = j
    pos[j] = size
    _key_sift(heap, pos, keys, size, size + 1)
    return size + 1


@numba.njit(cache=True)
def _key_remove(heap, pos, keys, size, j):
    """Remove job ``j`` from the heap; return the new size."""
    i = pos[j]
    last = size - 1
    pos[j] = -1
    if i != last:
        heap[i] = heap[last]
        pos[heap[i]] = i
        _key_sift(heap, pos, keys, i, last)
    return last


@numba.njit(cache=True)
def _amin_kernel(s, budget, o, limit):
    # Only the simulator reads `o`. The policy observes starts, progress
    # and completions.
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
    # Running jobs in two heaps: by (-e_j, -a_j, -j) and by (a_j, -j).
    by_estimate = np.empty(n, dtype=np.int64)
    estimate_pos = np.full(n, -1, dtype=np.int64)
    estimate_keys = np.zeros((n, 3), dtype=np.int64)
    by_start = np.empty(n, dtype=np.int64)
    start_pos = np.full(n, -1, dtype=np.int64)
    start_keys = np.zeros((n, 3), dtype=np.int64)
    heap_size = 0
    t = 0
    while wait_size > 0 or state[NRUN] > 0:
        res_expire(res, t)
        while memory_at(sim, t) > budget:
            # Kill the running job with the largest estimate max(e_j, t - a_j),
            # ties by the later start, then the higher index. The largest
            # value is either the largest e_j or the progress of the earliest
            # start, so the tops of two heaps hold the only candidates.
            victim = by_estimate[0]
            best = max(estimate[victim], t - table[victim, COL_RUN_START])
            oldest = by_start[0]
            value = t - table[oldest, COL_RUN_START]
            if value > best or (
                value == best
                and (table[oldest, COL_RUN_START], oldest)
                > (table[victim, COL_RUN_START], victim)
            ):
                victim = oldest
                best = value
            heap_size = _key_remove(
                by_estimate, estimate_pos, estimate_keys, heap_size, victim
            )
            _key_remove(by_start, start_pos, start_keys, heap_size + 1, victim)
            estimate[victim] = best
            res_remove(res, victim)
            sim_kill(sim, victim, t)
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
            estimate_keys[j, 0] = -estimate[j]
            estimate_keys[j, 1] = -t
            estimate_keys[j, 2] = -j
            start_keys[j, 0] = t
            start_keys[j, 1] = -j
            _key_push(by_start, start_pos, start_keys, heap_size, j)
            heap_size = _key_push(
                by_estimate, estimate_pos, estimate_keys, heap_size, j
            )

        nrun = state[NRUN]
        if nrun == 0:
            break
        # The next overflow, unless a job completes first.
        t_next = min(t_next, t + (budget - now) // nrun + 1)
        sim, t, count = sim_advance(sim, t, t_next)
        if state[STALLED] != 0:
            break
        for i in range(count):
            j = sim[2][i]
            heap_size = _key_remove(
                by_estimate, estimate_pos, estimate_keys, heap_size, j
            )
            _key_remove(by_start, start_pos, start_keys, heap_size + 1, j)
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
