"""MC-SF: memory-constrained shortest-first, after Jaillet et al. (2025)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import (
    INF,
    NRUN,
    STALLED,
    memory_at,
    sim_advance,
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
)
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _mcsf_kernel(s, o, budget, order, limit):
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    state = sim[0]
    res = res_new(n)
    t = 0
    head = 0
    while head < n:
        res_expire(res, t)
        now = memory_at(sim, t)
        t_next = INF
        while head < n:
            j = order[head]
            # Reservations are exact here, so the first round the head fits
            # is known now and the rounds before it need no test.
            fit = res_first_fit(res, now, state[NRUN], s[j], o[j], t, budget, INF, True)
            if fit != t:
                t_next = fit
                break
            sim_start(sim, j, t)
            res_insert(res, t + o[j], s[j] + 1 - t, j)
            now += s[j] + 1
            head += 1
        if head == n:
            break
        sim, t, _ = sim_advance(sim, t, t_next)
        if state[STALLED] != 0:
            break
    while state[NRUN] > 0 and state[STALLED] == 0:
        sim, t, _ = sim_advance(sim, t, INF)
    return sim_result(sim)


def mcsf(instance: Instance) -> Schedule:
    """Start jobs shortest first while the future memory stays within budget.

    Each round, waiting jobs are considered shortest first (ties by index).
    One starts only if the memory of the running jobs plus its own stays
    within the budget until every one of them completes; the first that
    does not fit ends the round's admissions.

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
    A reading of Jaillet et al. (2025), clairvoyant. Cost: O(n log n +
    (n + completions) * r) for ``r`` running jobs: a test walks the running
    jobs' reservations, and since they are exact the first round the head
    fits is computed at once instead of testing every round.

    References
    ----------
    P. Jaillet et al., "Online Scheduling for LLM Inference with KV Cache
    Constraints", 2025.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> mcsf(make_instance([3, 3, 3], prompt=2, budget=12)).completion.tolist()
    [3, 3, 6]
    """
    instance = check_instance(instance)
    order = np.lexsort((np.arange(instance.n), instance.output)).astype(np.int64)
    result = _mcsf_kernel(
        instance.prompt, instance.output, instance.budget, order, round_limit(instance)
    )
    return build_schedule("mcsf", True, instance, result)
