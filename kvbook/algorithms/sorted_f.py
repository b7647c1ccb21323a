"""Sorted-F batching, after Wang et al. (2025)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import INF, NRUN, STALLED, sim_advance, sim_new, sim_result, sim_start
from kvbook.algorithms._common import build_schedule, check_instance, round_limit
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _batch_peak(s, o, jobs, m):
    """Peak memory of the first ``m`` of ``jobs`` (sorted by output) run together."""
    peak = 0
    prompts = 0
    # In rounds u in [o_(i-1), o_(i)) jobs i..m-1 are alive; the peak of that
    # stretch is at u = o_(i) - 1, summed over jobs i..m-1.
    for i in range(m - 1, -1, -1):
        prompts += s[jobs[i]]
        value = prompts + (m - i) * o[jobs[i]]
        if value > peak:
            peak = value
    return peak


@numba.njit(cache=True)
def _sorted_f_kernel(s, o, budget, order, limit):
    n = o.shape[0]
    batch_of = np.empty(n, dtype=np.int64)
    scores = np.empty(n, dtype=np.float64)
    first = 0
    batches = 0
    while first < n:
        jobs = order[first:]
        # Largest feasible prefix: the peak only grows as jobs are added, so
        # double a feasible size until one fails, then bisect. This costs
        # O(m log m) for a batch of m jobs instead of O(m log n).
        remaining = n - first
        low = 1
        high = 2
        while high <= remaining and _batch_peak(s, o, jobs, high) <= budget:
            low = high
            high *= 2
        high = min(high - 1, remaining)
        while low < high:
            middle = (low + high + 1) // 2
            if _batch_peak(s, o, jobs, middle) <= budget:
                low = middle
            else:
                high = middle - 1
        best_m = 1
        best_f = np.inf
        total = 0.0
        for m in range(1, low + 1):
            total += o[jobs[m - 1]]
            f = total / (m * m)
            if f <= best_f:
                best_f = f
                best_m = m
        for i in range(best_m):
            batch_of[first + i] = batches
        scores[batches] = best_f
        batches += 1
        first += best_m

    sim = sim_new(s, o, budget, limit)
    state = sim[0]
    t = 0
    run_order = np.argsort(scores[:batches], kind="mergesort")
    starts = np.searchsorted(batch_of, np.arange(batches + 1))
    for b in run_order:
        for i in range(starts[b], starts[b + 1]):
            sim_start(sim, order[i], t)
        while state[NRUN] > 0 and state[STALLED] == 0:
            sim, t, _ = sim_advance(sim, t, INF)
    return sim_result(sim)


def sorted_f(instance: Instance) -> Schedule:
    """Run batches in increasing ``F(X) = sum_{i in X} o_i / |X|**2``.

    Repeatedly pick, among the remaining jobs, the feasible batch that
    minimises ``F``, then run the batches one after another in increasing
    ``F``; each starts when the one before has completed. A batch is
    feasible when its jobs, started together, fit the budget in every
    round.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget.

    Returns
    -------
    Schedule
        Never kills a job.

    Notes
    -----
    A reading of Wang et al. (2025), clairvoyant. For a fixed batch size
    the shortest jobs minimise ``F``, so candidates are the prefixes of the
    remaining jobs sorted by output (ties by prompt, then index); with
    per-job prompts this is a heuristic, not an exact minimiser. Cost:
    O(m log m) for a batch of ``m`` jobs, O(n log n) in all.

    References
    ----------
    Wang et al., 2025, as cited by Feng, Yang and Zhang (arXiv:2601.22996):
    a 48-approximation for large memory with heterogeneous prompts.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> sorted_f(make_instance([1, 1, 6], prompt=1, budget=8)).completion.tolist()
    [1, 1, 7]
    """
    instance = check_instance(instance)
    order = np.lexsort(
        (np.arange(instance.n), instance.prompt, instance.output)
    ).astype(np.int64)
    result = _sorted_f_kernel(
        instance.prompt, instance.output, instance.budget, order, round_limit(instance)
    )
    return build_schedule("sorted_f", True, instance, result)
