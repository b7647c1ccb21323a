"""First-come first-served with recompute preemption, as serving engines do."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import (
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
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _fcfs_kernel(s, budget, o, limit):
    # Only the simulator reads `o`. The policy observes starts, progress
    # and completions.
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    state = sim[0]
    completed = sim[2]
    # Running jobs, most recent start on top: key -(start * n + job).
    recent_key = np.empty(n, dtype=np.int64)
    recent_job = np.empty(n, dtype=np.int64)
    recent_pos = np.full(n, -1, dtype=np.int64)
    recent_size = 0
    # Killed jobs wait here, lowest index on top; never-started ones follow.
    killed_key = np.empty(n, dtype=np.int64)
    killed_job = np.empty(n, dtype=np.int64)
    killed_pos = np.full(n, -1, dtype=np.int64)
    killed_size = 0
    fresh = 0
    t = 0
    remaining = n
    while remaining > 0:
        # Recompute preemption: kill the latest started until round t fits.
        while memory_at(sim, t) > budget:
            j = recent_job[0]
            recent_size = heap_remove(
                recent_key, recent_job, recent_pos, recent_size, j
            )
            sim_kill(sim, j, t)
            killed_size = heap_push(
                killed_key, killed_job, killed_pos, killed_size, j, j
            )

        # Admission in index order while the next prompt fits now.
        while True:
            if killed_size > 0 and (fresh >= n or killed_job[0] < fresh):
                j = killed_job[0]
                from_killed = True
            elif fresh < n:
                j = fresh
                from_killed = False
            else:
                break
            if memory_at(sim, t) + s[j] + 1 > budget:
                break
            if from_killed:
                killed_size = heap_remove(
                    killed_key, killed_job, killed_pos, killed_size, j
                )
            else:
                fresh += 1
            sim_start(sim, j, t)
            recent_size = heap_push(
                recent_key, recent_job, recent_pos, recent_size, -(t * n + j), j
            )

        # Nothing changes before the next overflow unless a job completes.
        nrun = state[NRUN]
        t_next = t + (budget - memory_at(sim, t)) // nrun + 1
        sim, t, count = sim_advance(sim, t, t_next)
        if state[STALLED] != 0:
            break
        for i in range(count):
            j = completed[i]
            recent_size = heap_remove(
                recent_key, recent_job, recent_pos, recent_size, j
            )
        remaining -= count
    return sim_result(sim)


def fcfs_recompute(instance: Instance) -> Schedule:
    """Admit in arrival order; on overflow kill the newest job and recompute it.

    Each round, while the coming round would exceed the budget, the most
    recently started job is killed and goes back to the queue. Then waiting
    jobs are admitted in index order (killed jobs keep their place) while
    the current memory plus the next prompt fits; the first that does not
    fit ends the round's admissions. This is what serving engines do with
    recompute preemption.

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
    Non-clairvoyant. Its ratio grows without bound on bimodal instances: a
    few long jobs admitted first keep the short ones waiting. Cost:
    O((n + kills) log n + rounds).

    Examples
    --------
    >>> from kvbook import make_instance
    >>> result = fcfs_recompute(make_instance([3, 3, 3], prompt=2, budget=12))
    >>> result.kills, result.completion.tolist()
    (1, [3, 3, 6])
    """
    instance = check_instance(instance)
    result = _fcfs_kernel(
        instance.prompt, instance.budget, instance.output, round_limit(instance)
    )
    return build_schedule("fcfs_recompute", False, instance, result)
