"""Greedy batching: the baseline that staggered pipelining improves on."""

from __future__ import annotations

import numba

from kvbook._sim import INF, NRUN, STALLED, sim_advance, sim_new, sim_result, sim_start
from kvbook.algorithms._common import build_schedule, check_instance, round_limit
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _greedy_batch_kernel(s, o, budget, limit):
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    state = sim[0]
    t = 0
    j = 0
    while j < n:
        peak = 0
        while j < n and peak + s[j] + o[j] <= budget:
            peak += s[j] + o[j]
            sim_start(sim, j, t)
            j += 1
        while state[NRUN] > 0 and state[STALLED] == 0:
            sim, t, _ = sim_advance(sim, t, INF)
    return sim_result(sim)


def greedy_batch(instance: Instance) -> Schedule:
    """Start as many jobs as fit at their joint peak, wait, repeat.

    Jobs are taken in index order while the sum of their peaks
    ``s_i + o_i`` fits the budget; the batch starts at once and the next
    one starts when its last job completes. Jobs started together reach
    their peak together, so the batch is small and memory idles before the
    peak: the waste that staggering removes.

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
    Clairvoyant (it reads each ``o_i``). Cost: O(n log n + rounds).

    Examples
    --------
    >>> from kvbook import make_instance
    >>> greedy_batch(make_instance([3, 3, 3], prompt=2, budget=12)).completion.tolist()
    [3, 3, 6]
    """
    instance = check_instance(instance)
    result = _greedy_batch_kernel(
        instance.prompt, instance.output, instance.budget, round_limit(instance)
    )
    return build_schedule("greedy_batch", True, instance, result)
