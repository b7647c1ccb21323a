"""GBA: geometric batching, clairvoyant (Feng, Yang and Zhang, 2026)."""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import STALLED, sim_new, sim_result
from kvbook.algorithms._common import (
    build_schedule,
    check_beta,
    check_instance,
    round_limit,
)
from kvbook.algorithms._reserve import res_new
from kvbook.algorithms._staggered import run_stage
from kvbook.algorithms.gsa import slice_lengths
from kvbook.model import Instance, Schedule


def geometric_classes(output: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Return each job's class and each class's largest allowed length.

    Class ``c`` holds the lengths in ``(beta**(c-1), beta**c]``; class 0 is
    length 1. The second array maps a class to ``floor(beta**c)``, the
    longest integer length in it.

    Examples
    --------
    >>> cls, top = geometric_classes(np.array([1, 2, 3, 4, 5, 9]), 2.0)
    >>> cls.tolist(), top[:5].tolist()
    ([0, 1, 2, 2, 3, 4], [1, 2, 4, 8, 16])
    """
    # Class tops are GSA's slice lengths, so classes and phases line up.
    top = slice_lengths(beta, int(output.max()))
    return np.searchsorted(top, output, side="left").astype(np.int64), top


@numba.njit(cache=True)
def _gba_kernel(s, o, budget, order, bounds, periods, check, limit):
    n = o.shape[0]
    sim = sim_new(s, o, budget, limit)
    res = res_new(n)
    t = 0
    for c in range(periods.shape[0]):
        jobs = order[bounds[c] : bounds[c + 1]]
        if jobs.shape[0] == 0:
            continue
        sim, t = run_stage(sim, t, jobs, periods[c], budget, check, res, o)
        if sim[0][STALLED] != 0:
            break
    return sim_result(sim)


def gba(
    instance: Instance, *, beta: float = 2.0, lane_length: str = "power"
) -> Schedule:
    """Run SPS class by class, shortest class first (geometric batching).

    Job ``i`` is in class ``c`` when ``o_i`` lies in
    ``(beta**(c-1), beta**c]``. Classes run one after another in increasing
    order; a class starts when the last run of the one before has ended.
    Inside a class, SPS schedules the jobs in index order.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget.
    beta : float, default 2
        Geometric base of the classes (> 1).
    lane_length : {"power", "longest"}, default "power"
        SPS lane length of a class: ``floor(beta**c)``, as the paper's
        classes suggest, or the longest output actually in the class.

    Returns
    -------
    Schedule
        Never kills a job.

    Notes
    -----
    Clairvoyant. The paper proves a ratio of at most 10.67 in general and
    6.75 with large memory; kvbook checks these by measurement. Cost:
    O(n log n + rounds) with one prompt length.

    References
    ----------
    Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache
    Scheduling for LLM Inference", arXiv:2601.22996, 2026.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> result = gba(make_instance([1, 1, 4, 4], prompt=2, budget=20))
    >>> result.completion.tolist(), result.kills
    ([1, 1, 5, 5], 0)
    """
    instance = check_instance(instance)
    beta = check_beta(beta)
    if lane_length not in ("power", "longest"):
        raise ValueError(
            f"lane_length must be 'power' or 'longest', got {lane_length!r}"
        )
    classes, top = geometric_classes(instance.output, beta)
    order = np.argsort(classes, kind="stable").astype(np.int64)
    bounds = np.searchsorted(classes[order], np.arange(top.shape[0] + 1)).astype(
        np.int64
    )
    periods = top.copy()
    if lane_length == "longest":
        for c in range(top.shape[0]):
            members = order[bounds[c] : bounds[c + 1]]
            if members.shape[0]:
                periods[c] = int(instance.output[members].max())
    result = _gba_kernel(
        instance.prompt,
        instance.output,
        instance.budget,
        order,
        bounds,
        periods,
        not instance.uniform_prompt,
        round_limit(
            instance, lane_rounds=int(np.sum(np.diff(bounds) * periods, dtype=object))
        ),
    )
    return build_schedule("gba", True, instance, result)
