"""Certified lower bound on the optimal total flow time.

The memory-time area of job ``i`` is ``a_i = o_i * s_i + o_i * (o_i + 1) / 2``
token-rounds: the sum over its ``o_i`` rounds of the ``s_i + u + 1`` tokens it
holds in round ``u`` of an uninterrupted run. Every schedule spends at least
this area on each job, and a killed run only adds to it.

Let ``C_(1) <= ... <= C_(n)`` be the sorted completion rounds of any schedule.
By round ``C_(k)`` some ``k`` jobs have completed, so

* ``C_(k) >= o_(k)``, the ``k``-th smallest output length, because each of
  those jobs needs at least its own ``o`` rounds;
* ``M * C_(k) >= P_k``, the sum of the ``k`` smallest areas, because rounds
  ``0 .. C_(k) - 1`` offer ``M * C_(k)`` token-rounds and those jobs used at
  least their areas in them.

Summing ``C_(k) >= max(o_(k), ceil(P_k / M))`` over ``k`` bounds the total
flow time of every schedule, the optimal one included.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

import numpy as np

from kvbook.model import Instance

__all__ = ["lower_bound", "lower_bound_terms", "memory_time_area"]

_INT64_LIMIT = 2**63


def memory_time_area(instance: Instance) -> np.ndarray:
    """Compute the memory-time area of each job.

    Parameters
    ----------
    instance : Instance
        The instance.

    Returns
    -------
    numpy.ndarray
        ``o_i * s_i + o_i * (o_i + 1) / 2`` for each job, in token-rounds
        (int64). It is the memory a job holds summed over the rounds of one
        uninterrupted run.

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance`, or an area
        is too large for int64.

    Examples
    --------
    Each job of the worked example holds 3, 4 and 5 tokens in its three rounds:

    >>> from kvbook.model import make_instance
    >>> memory_time_area(make_instance([3, 3, 3], prompt=2, budget=12)).tolist()
    [12, 12, 12]
    """
    _require_instance(instance, "memory_time_area")
    output = instance.output
    # area <= o * (s + o) <= o * M, so this product bounds every intermediate.
    if int(output.max()) * instance.budget >= _INT64_LIMIT:
        raise ValueError(
            f"memory-time areas of {instance!r} may exceed the int64 range "
            f"(max(o) * M = {int(output.max()) * instance.budget}); use "
            "lower_bound, which computes them exactly with Python integers"
        )
    return output * instance.prompt + output * (output + 1) // 2


def lower_bound_terms(instance: Instance) -> np.ndarray:
    """Compute the per-rank terms of :func:`lower_bound`.

    Term ``k`` (1-based) is ``max(o_(k), ceil(P_k / M))``: a lower bound on the
    ``k``-th smallest completion round of every schedule. ``o_(k)`` is the
    ``k``-th smallest output length and ``P_k`` the sum of the ``k`` smallest
    memory-time areas (see the module docstring for the proof).

    Parameters
    ----------
    instance : Instance
        The instance.

    Returns
    -------
    numpy.ndarray
        The ``n`` terms in order of ``k`` (int64, non-decreasing). They sum to
        :func:`lower_bound`.

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance`.

    Examples
    --------
    In the worked example every area is 12, so ``P = 12, 24, 36`` and with
    ``M = 12`` the terms are ``max(3, 1)``, ``max(3, 2)`` and ``max(3, 3)``:

    >>> from kvbook.model import make_instance
    >>> lower_bound_terms(make_instance([3, 3, 3], prompt=2, budget=12)).tolist()
    [3, 3, 3]
    """
    _require_instance(instance, "lower_bound_terms")
    output = instance.output
    prompt = instance.prompt
    budget = instance.budget

    # Every prefix sum P_k is at most sum(o) * M. When that fits int64 the
    # arithmetic stays in int64; otherwise Python integers keep it exact.
    if int(output.sum()) * budget < _INT64_LIMIT:
        area = output * prompt + output * (output + 1) // 2
    else:
        big_output = output.astype(object)
        area = big_output * prompt.astype(object) + big_output * (big_output + 1) // 2

    prefix = np.cumsum(np.sort(area))
    memory_term = -(-prefix // budget)  # ceil(P_k / M) without overflow
    # Each term is at most sum(o) < 2**53, so the terms fit in int64.
    return np.maximum(np.sort(output), memory_term.astype(np.int64))


def lower_bound(instance: Instance) -> int:
    """Compute a certified lower bound on the optimal total flow time.

    ``LB = sum_k max(o_(k), ceil(P_k / M))`` with ``o_(k)`` the ``k``-th
    smallest output length and ``P_k`` the sum of the ``k`` smallest
    memory-time areas. Term ``k`` bounds the ``k``-th smallest completion
    round of every schedule, with or without kills. By that round ``k`` jobs
    have completed. Each of them ran for at least its own ``o`` rounds and
    used at least its area out of the ``M`` tokens available per round. The
    arithmetic is exact (integer ceiling division).

    Parameters
    ----------
    instance : Instance
        The instance.

    Returns
    -------
    int
        A lower bound on the total flow time of every schedule.

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance`.

    Examples
    --------
    The worked example's bound is 9; its optimum is 12.

    >>> from kvbook.model import make_instance
    >>> lower_bound(make_instance([3, 3, 3], prompt=2, budget=12))
    9

    With a large budget the output lengths dominate:

    >>> lower_bound(make_instance([1, 2, 5], prompt=1, budget=100))
    8
    """
    _require_instance(instance, "lower_bound")
    return int(lower_bound_terms(instance).sum())


def _require_instance(instance, caller: str) -> None:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"{caller} expects a kvbook.model.Instance, got "
            f"{type(instance).__name__}; build one with kvbook.make_instance"
        )
