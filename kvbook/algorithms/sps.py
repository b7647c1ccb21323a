"""SPS: staggered pipeline scheduling (Feng, Yang and Zhang, 2026)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import sim_new, sim_result
from kvbook.algorithms._common import build_schedule, check_instance, round_limit
from kvbook.algorithms._reserve import res_new
from kvbook.algorithms._staggered import run_stage
from kvbook.model import Instance, Schedule


@numba.njit(cache=True)
def _sps_kernel(s, o, budget, period, check, limit):
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    res = res_new(n)
    jobs = np.arange(n)
    sim, _ = run_stage(sim, 0, jobs, period, budget, check, res, o)
    return sim_result(sim)


def sps(instance: Instance, *, period: int | None = None) -> Schedule:
    """Schedule jobs on staggered lanes so their memory peaks fall apart.

    ``k`` lanes each start a job every ``period`` rounds; lane ``l`` starts
    at offset ``floor(l * period / k)``, and ``k`` is the largest lane count
    whose steady-state peak memory fits the budget. Jobs take start slots in
    time order, in index order. If every job fits at once, all start at
    round 0, which is optimal. Started together, identical jobs would peak
    together; staggered, about ``M / (s + (o + 1) / 2)`` of them run at once
    against ``M / (s + o)``.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget.
    period : int, optional
        Lane length in rounds. Defaults to the longest output, so every job
        completes in its slot; on unequal lengths shorter jobs leave their
        lane idle until the next slot, and the schedule's ``notes`` say so.

    Returns
    -------
    Schedule
        Never kills a job.

    Notes
    -----
    Clairvoyant: it reads the longest output to size the lanes. With
    per-job prompts the lanes are sized for the mean prompt and a job
    starts at its slot only if its run fits beside the running jobs'
    reservations (else it takes the next slot). Cost: O(n log n + rounds)
    with one prompt length; with per-job prompts each start also costs
    O(r log r) for ``r`` running jobs.

    References
    ----------
    Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache
    Scheduling for LLM Inference", arXiv:2601.22996, 2026.

    Examples
    --------
    Three jobs of 3 tokens, prompt 2, budget 12: only two fit at once, but
    staggered by one round all three run together.

    >>> from kvbook import make_instance
    >>> result = sps(make_instance([3, 3, 3], prompt=2, budget=12))
    >>> result.flow_time, result.memory.tolist()
    (12, [3, 7, 12, 9, 5])
    """
    instance = check_instance(instance)
    longest = int(instance.output.max())
    notes = []
    if period is None:
        period = longest
        if int(instance.output.min()) != longest:
            notes.append(
                f"sps sized its lanes for the longest job ({longest} rounds); "
                "shorter jobs leave their lane idle until its next slot"
            )
    elif isinstance(period, bool) or not isinstance(period, (int, np.integer)):
        raise ValueError(f"period must be a positive integer, got {period!r}")
    elif period > 2**53:
        raise ValueError(
            f"period {period} is too large for int64 round arithmetic; no job "
            f"runs more than M - s rounds, so use period <= {instance.budget}"
        )
    elif period < longest:
        raise ValueError(
            f"period {period} is shorter than the longest job ({longest} rounds), "
            "so that job could never complete in a slot; use period >= "
            f"{longest} or omit it"
        )
    result = _sps_kernel(
        instance.prompt,
        instance.output,
        instance.budget,
        int(period),
        not instance.uniform_prompt,
        round_limit(instance, lane_rounds=instance.n * int(period)),
    )
    return build_schedule("sps", True, instance, result, notes)
