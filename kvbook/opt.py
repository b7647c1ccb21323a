"""Exact optimal total flow time of small instances.

Some optimal schedule has no kills, because dropping a killed run frees memory
and changes no completion. So it suffices to give each job one run, fixed by
its start round, and the optimum is a time-indexed integer program. Binary
``x[i, a]`` is 1 when job ``i`` starts at round ``a``, for
``0 <= a <= H - o_i``. Then

* each job has exactly one start: ``sum_a x[i, a] = 1``;
* in every round ``r < H`` the tokens held are at most ``M``:
  ``sum x[i, a] * (s_i + 1 + r - a) <= M`` over the ``(i, a)`` with
  ``a <= r < a + o_i``;
* the objective is the total flow time ``sum (a + o_i) * x[i, a]``.

:func:`optimum` solves it with HiGHS through :func:`scipy.optimize.milp`, and
:func:`brute_force_optimum` enumerates start rounds for the tiniest instances,
as an independent cross-check.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from kvbook.bounds import lower_bound_terms
from kvbook.model import Instance, Schedule
from kvbook.validate import check_schedule

__all__ = ["OptimumResult", "brute_force_optimum", "optimum"]

# Status codes of scipy.optimize.milp (SciPy 1.9 and later).
_MILP_STATUS = {
    0: "optimal",
    1: "iteration or time limit reached",
    2: "infeasible",
    3: "unbounded",
    4: "other solver failure",
}


@dataclass(frozen=True, eq=False)
class OptimumResult:
    """An optimal schedule without kills and its total flow time.

    Attributes
    ----------
    flow_time : int
        Optimal total flow time ``sum_i C_i``.
    start : numpy.ndarray
        Start round of each job's single run (int64, indexed by job).
    horizon : int
        Round by which the program requires every job to complete.
    status : str
        ``"optimal"``: HiGHS proved optimality, or enumeration finished.
    method : str
        ``"milp"`` for :func:`optimum`, ``"brute force"`` for
        :func:`brute_force_optimum`.
    instance : Instance
        The instance solved.
    """

    flow_time: int
    start: np.ndarray
    horizon: int
    status: str
    method: str
    instance: Instance

    def to_schedule(self) -> Schedule:
        """Convert the result to a :class:`~kvbook.model.Schedule`.

        Returns
        -------
        Schedule
            Algorithm ``"opt"``, clairvoyant, no kills, one completed run per
            job in order of completion, and the memory profile recomputed by
            :func:`kvbook.validate.check_schedule`.

        Examples
        --------
        >>> from kvbook.model import make_instance
        >>> instance = make_instance([3, 3, 3], prompt=2, budget=12)
        >>> schedule = optimum(instance).to_schedule()
        >>> schedule.algorithm, schedule.flow_time, schedule.kills
        ('opt', 12, 0)
        >>> schedule.peak_memory <= 12
        True
        """
        output = self.instance.output
        end = self.start + output
        job = np.lexsort((np.arange(self.instance.n), end))
        start = self.start[job]
        length = output[job]
        completed = np.ones(job.shape[0], dtype=bool)
        check = check_schedule(self.instance, job, start, length, completed)
        return Schedule(
            algorithm="opt",
            clairvoyant=True,
            instance=self.instance,
            job=job,
            start=start,
            length=length,
            completed=completed,
            flow_time=self.flow_time,
            kills=0,
            memory=check.memory.copy(),
        )


def optimum(
    instance: Instance,
    *,
    horizon: int | None = None,
    max_variables: int = 20000,
    max_nonzeros: int = 2_000_000,
    time_limit: float = 60.0,
) -> OptimumResult:
    """Solve the time-indexed integer program for the optimal total flow time.

    Parameters
    ----------
    instance : Instance
        The instance; its size decides whether this is tractable.
    horizon : int, optional
        Last round by which every job must complete. The default contains
        every optimal schedule (see Notes). A smaller value restricts the
        search and may cut off all optimal schedules, and the result is then
        only the best schedule within the horizon.
    max_variables : int, default 20000
        Largest number of binary variables ``sum_i (H - o_i + 1)`` to accept.
        The round constraints count too: ``H`` may not exceed it either.
    max_nonzeros : int, default 2000000
        Largest number of nonzero coefficients ``sum_i (H - o_i + 1) * o_i``
        in the memory constraints to accept; it bounds the memory used to
        build the program.
    time_limit : float, default 60.0
        Seconds HiGHS may spend before giving up.

    Returns
    -------
    OptimumResult
        An optimal schedule (status ``"optimal"``, method ``"milp"``).

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance`, an option
        is out of range, the program exceeds ``max_variables`` or
        ``max_nonzeros``, or no schedule fits a given ``horizon``.
    RuntimeError
        If HiGHS does not prove optimality within ``time_limit`` or fails.

    Notes
    -----
    Default horizon. An optimal schedule has a running job in every round
    before its last completion, because shifting all later runs one round
    left would lower the flow time and keep memory feasible. So its makespan
    is at most ``sum_i o_i``. Also its ``n - 1`` earliest completions are at
    least the first ``n - 1`` terms ``t_k`` of
    :func:`kvbook.bounds.lower_bound_terms`, and its total is at most the flow
    time ``U`` of any feasible schedule, so its makespan is at most
    ``U - sum_{k < n} t_k``. ``U`` comes from greedy batching in order of
    output length: start the next jobs together while their peaks
    ``s_i + o_i`` sum to at most ``M``, then wait for the batch to end.

    Examples
    --------
    The worked example: the three jobs do not all fit at once, and the best
    schedules (such as starts 0, 1, 2 or 0, 0, 3) reach ``3 + 4 + 5 = 12``.

    >>> from kvbook.model import make_instance
    >>> result = optimum(make_instance([3, 3, 3], prompt=2, budget=12))
    >>> result.flow_time, result.status
    (12, 'optimal')
    """
    _require_instance(instance, "optimum")
    max_variables = _positive_integer(max_variables, "max_variables")
    max_nonzeros = _positive_integer(max_nonzeros, "max_nonzeros")
    if isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real):
        raise ValueError(f"time_limit must be a number of seconds, got {time_limit!r}")
    if not (math.isfinite(time_limit) and time_limit > 0):
        raise ValueError(
            f"time_limit must be a positive, finite number of seconds, got {time_limit}"
        )

    output = instance.output
    longest = int(output.max())
    terms = lower_bound_terms(instance)
    if horizon is None:
        # Every schedule lasts at least terms[-1] rounds, so this many variables
        # are needed whatever the horizon; reject before any O(n) Python work.
        _check_size(instance, int(terms[-1]), max_variables, max_nonzeros, minimum=True)
        upper = _greedy_batch_flow_time(instance)
        horizon = min(int(output.sum()), upper - int(terms[:-1].sum()))
        explicit = False
    else:
        horizon = _positive_integer(horizon, "horizon")
        if horizon < longest:
            raise ValueError(
                f"horizon {horizon} is shorter than the longest job (o = {longest} "
                f"rounds); give a horizon of at least {longest} or leave it None"
            )
        upper = horizon * instance.n
        explicit = True
    _check_size(instance, horizon, max_variables, max_nonzeros)

    job_of, start_of, cost, assignment, memory = _build_program(instance, horizon)
    n = instance.n
    constraints = [
        LinearConstraint(assignment, np.ones(n), np.ones(n)),
        # Memory rows get no lower bound: with the redundant bound 0, HiGHS
        # (scipy 1.17) returned 135 as optimal for 7 jobs of o = 8, s = 1,
        # M = 16, whose optimum is 134.
        LinearConstraint(memory, -np.inf, np.full(horizon, instance.budget)),
    ]
    # The objective is an integer at most `upper`, so a relative gap below
    # 1 / upper proves the incumbent optimal.
    options = {"time_limit": float(time_limit), "mip_rel_gap": 0.5 / upper}
    with _solver_output_suppressed():
        result = milp(
            cost.astype(np.float64),
            integrality=np.ones(cost.shape[0]),
            bounds=Bounds(0, 1),
            constraints=constraints,
            options=options,
        )

    status = _MILP_STATUS.get(result.status, f"status {result.status}")
    if result.status == 2 and explicit:
        raise ValueError(
            f"no schedule completes every job by round {horizon}; raise the horizon "
            "or leave it None"
        )
    if result.status != 0 or result.x is None:
        raise RuntimeError(
            f"HiGHS did not prove optimality within time_limit={time_limit} s "
            f"(status {result.status}: {status}; {result.message}); raise "
            "time_limit, or use kvbook.bounds.lower_bound for a certified bound"
        )

    start = _starts_from_solution(result.x, job_of, start_of, n)
    flow_time = _checked_flow_time(instance, start)
    if abs(flow_time - result.fun) > 0.5:
        raise RuntimeError(
            f"HiGHS reported objective {result.fun} but its starts give flow time "
            f"{flow_time}; the solution is numerically unreliable"
        )
    return OptimumResult(
        flow_time=flow_time,
        start=start,
        horizon=horizon,
        status="optimal",
        method="milp",
        instance=instance,
    )


def brute_force_optimum(
    instance: Instance, max_jobs: int = 5, max_rounds: int = 40
) -> OptimumResult:
    """Find the optimal total flow time by enumerating start rounds.

    A depth-first search gives each job, in order of output length, every
    start round in ``0 .. H - o_i`` with ``H = sum_i o_i`` (an optimal
    schedule has no idle round before its last completion) that keeps memory
    within ``M``. It prunes a branch once its completions so far plus the
    smallest possible completions of the remaining jobs reach the best total
    found. Jobs with equal prompt and output take non-decreasing starts,
    which loses no optimum because swapping them changes nothing. The cost
    grows like ``H ** n``, so this is for cross-checking :func:`optimum` on
    tiny instances only.

    Parameters
    ----------
    instance : Instance
        A tiny instance.
    max_jobs : int, default 5
        Largest number of jobs to accept.
    max_rounds : int, default 40
        Largest horizon ``sum_i o_i`` to accept.

    Returns
    -------
    OptimumResult
        An optimal schedule (status ``"optimal"``, method ``"brute force"``).

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance` or it has
        more than ``max_jobs`` jobs or more than ``max_rounds`` rounds of
        output in total.

    Examples
    --------
    >>> from kvbook.model import make_instance
    >>> brute_force_optimum(make_instance([3, 3, 3], prompt=2, budget=12)).flow_time
    12
    """
    _require_instance(instance, "brute_force_optimum")
    max_jobs = _positive_integer(max_jobs, "max_jobs")
    max_rounds = _positive_integer(max_rounds, "max_rounds")
    if instance.n > max_jobs:
        raise ValueError(
            f"brute force accepts at most max_jobs={max_jobs} jobs, got {instance.n}; "
            "use optimum for larger instances"
        )
    horizon = int(instance.output.sum())
    if horizon > max_rounds:
        raise ValueError(
            f"brute force accepts at most max_rounds={max_rounds} rounds of output in "
            f"total, got sum(o) = {horizon}; use optimum for longer jobs"
        )

    output = [int(o) for o in instance.output]
    prompt = [int(s) for s in instance.prompt]
    budget = instance.budget
    order = sorted(range(instance.n), key=lambda i: (output[i], prompt[i], i))
    # remaining[d]: smallest total completion of the jobs order[d:], all at 0.
    remaining = [sum(output[i] for i in order[d:]) for d in range(instance.n + 1)]
    # twin_of_next[d]: whether order[d + 1] has the same prompt and output as
    # order[d], so that it may start no earlier.
    twin_of_next = [
        d + 1 < instance.n
        and (output[order[d]], prompt[order[d]])
        == (output[order[d + 1]], prompt[order[d + 1]])
        for d in range(instance.n)
    ]

    memory = [0] * horizon
    starts = [0] * instance.n
    best = {"flow": math.inf, "starts": None}

    def search(depth: int, flow: int, earliest: int) -> None:
        if depth == instance.n:
            if flow < best["flow"]:
                best["flow"], best["starts"] = flow, list(starts)
            return
        i = order[depth]
        o, s = output[i], prompt[i]
        for a in range(earliest, horizon - o + 1):
            if flow + a + remaining[depth] >= best["flow"]:
                break
            if any(memory[a + u] + s + 1 + u > budget for u in range(o)):
                continue
            for u in range(o):
                memory[a + u] += s + 1 + u
            starts[i] = a
            search(depth + 1, flow + a + o, a if twin_of_next[depth] else 0)
            for u in range(o):
                memory[a + u] -= s + 1 + u

    search(0, 0, 0)
    start = np.array(best["starts"], dtype=np.int64)
    return OptimumResult(
        flow_time=_checked_flow_time(instance, start),
        start=start,
        horizon=horizon,
        status="optimal",
        method="brute force",
        instance=instance,
    )


def _require_instance(instance, caller: str) -> None:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"{caller} expects a kvbook.model.Instance, got "
            f"{type(instance).__name__}; build one with kvbook.make_instance"
        )


def _positive_integer(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _check_size(
    instance: Instance,
    horizon: int,
    max_variables: int,
    max_nonzeros: int,
    minimum: bool = False,
) -> None:
    """Raise ValueError if the program over ``horizon`` rounds is too large.

    With ``minimum`` true, ``horizon`` is a lower bound on the horizon, and
    the message gives the counts as lower bounds.
    """
    has = "needs at least" if minimum else "has"
    output = instance.output.astype(object)
    variables = int(np.sum(horizon - output + 1))
    nonzeros = int(np.sum((horizon - output + 1) * output))
    if variables > max_variables or horizon > max_variables:
        raise ValueError(
            f"instance is too large for the exact optimum: the time-indexed program "
            f"{has} {variables} start variables and {horizon} round constraints, "
            f"more than max_variables={max_variables}; use kvbook.bounds.lower_bound "
            "instead, or raise max_variables"
        )
    if nonzeros > max_nonzeros:
        raise ValueError(
            f"instance is too large for the exact optimum: the time-indexed program "
            f"{has} {nonzeros} nonzero memory coefficients, more than "
            f"max_nonzeros={max_nonzeros}; use kvbook.bounds.lower_bound instead, "
            "or raise max_nonzeros"
        )


def _greedy_batch_flow_time(instance: Instance) -> int:
    """Total flow time of greedy batching in order of output length.

    Each batch takes the next jobs while their peaks ``s_i + o_i`` sum to at
    most ``M``, which keeps it feasible in every round, and the next batch
    starts when the batch's longest job ends.
    """
    output = [int(o) for o in instance.output]
    prompt = [int(s) for s in instance.prompt]
    order = sorted(range(instance.n), key=lambda i: (output[i], prompt[i]))
    flow = batch_start = batch_end = peak = 0
    for i in order:
        if peak + prompt[i] + output[i] > instance.budget:
            batch_start, peak = batch_end, 0
        peak += prompt[i] + output[i]
        batch_end = max(batch_end, batch_start + output[i])
        flow += batch_start + output[i]
    return flow


@contextlib.contextmanager
def _solver_output_suppressed():
    """Send file descriptor 1 to ``os.devnull`` while the block runs.

    HiGHS, as shipped with SciPy 1.17, prints some MIP messages from C++
    straight to file descriptor 1. They bypass ``sys.stdout``, and Jupyter
    kernels copy that descriptor into the cell output.
    """
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        # Descriptor 1 or sys.stdout is closed, so there is no output to hide.
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _build_program(instance: Instance, horizon: int):
    """Build the objective and the sparse constraint matrices.

    Variables are grouped by job: job ``i`` owns ``H - o_i + 1`` consecutive
    columns, one per start round. Returns the job and start round of each
    column, the objective, the assignment matrix (one row per job) and the
    memory matrix (one row per round).
    """
    output = instance.output
    prompt = instance.prompt
    n = instance.n
    counts = horizon - output + 1
    offsets = np.concatenate(([0], np.cumsum(counts)))
    columns = int(offsets[-1])
    job_of = np.repeat(np.arange(n, dtype=np.int64), counts)
    start_of = np.arange(columns, dtype=np.int64) - offsets[job_of]
    cost = start_of + output[job_of]

    assignment = sparse.csr_array(
        (np.ones(columns), (job_of, np.arange(columns))), shape=(n, columns)
    )

    rows, cols, values = [], [], []
    for i in range(n):
        starts = np.arange(counts[i], dtype=np.int64)
        progress = np.arange(output[i], dtype=np.int64)
        rows.append((starts[:, None] + progress[None, :]).ravel())
        cols.append(np.repeat(offsets[i] + starts, output[i]))
        values.append(np.tile(prompt[i] + 1 + progress, counts[i]))
    memory = sparse.csr_array(
        (
            np.concatenate(values).astype(np.float64),
            (np.concatenate(rows), np.concatenate(cols)),
        ),
        shape=(horizon, columns),
    )
    return job_of, start_of, cost, assignment, memory


def _starts_from_solution(
    x: np.ndarray, job_of: np.ndarray, start_of: np.ndarray, n: int
) -> np.ndarray:
    """Read each job's start round from the binary solution vector."""
    chosen = np.flatnonzero(x > 0.5)
    one_per_job = np.array_equal(np.sort(job_of[chosen]), np.arange(n))
    if not one_per_job:
        raise RuntimeError(
            f"HiGHS returned a solution with {chosen.shape[0]} chosen starts for {n} "
            "jobs; the solution is numerically unreliable"
        )
    start = np.zeros(n, dtype=np.int64)
    start[job_of[chosen]] = start_of[chosen]
    return start


def _checked_flow_time(instance: Instance, start: np.ndarray) -> int:
    """Validate the one-run-per-job schedule and return its total flow time."""
    n = instance.n
    check = check_schedule(
        instance,
        np.arange(n),
        start,
        instance.output,
        np.ones(n, dtype=bool),
    )
    if not check.valid:
        raise RuntimeError(
            "the schedule found is invalid, which is a bug in kvbook.opt: "
            + "; ".join(check.errors)
        )
    return check.flow_time
