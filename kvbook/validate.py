"""Check a schedule against its instance, independently of any algorithm.

A schedule is a list of runs ``(job, start, length, completed)``. The checks
follow the round model of :mod:`kvbook.model`:

1. runs of one job do not overlap in time;
2. each job has exactly one completed run. It is the job's last run and lasts
   ``o_i`` rounds. Each killed run lasts from 1 to ``o_i - 1`` rounds. Job
   ids are in range, starts are ``>= 0`` and lengths are ``>= 1``;
3. the tokens held in every round are at most the budget ``M``;
4. the total flow time recomputed from the runs equals the reported one.

The validator recomputes the per-round memory profile with difference arrays,
in ``O(runs + rounds)`` time and memory, so it also serves the plots.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kvbook.model import Instance, Schedule

__all__ = ["ScheduleError", "Validation", "assert_valid", "check_schedule", "validate"]

# ScheduleError messages list this many errors and count the rest.
_MAX_LISTED_ERRORS = 20


class ScheduleError(ValueError):
    """Error raised by :func:`assert_valid` for a schedule that breaks the model.

    Attributes
    ----------
    errors : list of str
        Every violation found, one sentence each.
    """

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        listed = self.errors[:_MAX_LISTED_ERRORS]
        noun = "error" if len(self.errors) == 1 else "errors"
        lines = [f"invalid schedule ({len(self.errors)} {noun}):"]
        lines += [f"- {error}" for error in listed]
        hidden = len(self.errors) - len(listed)
        if hidden:
            lines.append(f"- and {hidden} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, eq=False)
class Validation:
    """Result of checking one schedule.

    Attributes
    ----------
    valid : bool
        Whether the schedule breaks no rule (``errors`` is empty).
    errors : list of str
        Every violation found, each a sentence that names the job, the round
        and the numbers involved.
    memory : numpy.ndarray
        Tokens held in each round ``0 .. makespan - 1`` (int64, read-only),
        recomputed from the runs whose job, start and length are well formed.
    flow_time : int
        Total flow time recomputed from the runs: the sum over jobs of the
        round at which the job's completed run ends. It is the objective only
        when the schedule is valid.
    peak_memory : int
        Largest entry of ``memory``, or 0 for a schedule without runs.
    """

    valid: bool
    errors: list[str]
    memory: np.ndarray
    flow_time: int
    peak_memory: int


def check_schedule(
    instance: Instance,
    job,
    start,
    length,
    completed,
    flow_time: int | None = None,
) -> Validation:
    """Check runs against an instance and recompute the memory profile.

    Parameters
    ----------
    instance : Instance
        The instance the runs schedule.
    job, start, length : sequence of int
        For each run: the job it runs, its first round, and the number of
        rounds it lasts.
    completed : sequence of bool
        For each run: true if the run completes the job, false if it is killed.
    flow_time : int, optional
        Total flow time reported for the schedule. If given, it must equal the
        recomputed one.

    Returns
    -------
    Validation
        ``valid`` is true when no rule is broken; ``errors`` lists every
        violation found.

    Raises
    ------
    ValueError
        If ``instance`` is not an :class:`~kvbook.model.Instance`, the four
        run arrays differ in length or are not flat integer (``completed``:
        boolean) arrays, or ``flow_time`` is not an integer. Such input is
        malformed, which is different from an invalid schedule.

    Examples
    --------
    The worked example: ``s = 2``, ``M = 12``, three jobs of 3 tokens started
    at rounds 0, 1 and 2.

    >>> from kvbook.model import make_instance
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> result = check_schedule(
    ...     inst, job=[0, 1, 2], start=[0, 1, 2], length=[3, 3, 3],
    ...     completed=[True, True, True], flow_time=12,
    ... )
    >>> result.valid, result.flow_time, result.memory.tolist()
    (True, 12, [3, 7, 12, 9, 5])

    Starting all three at round 0 needs 15 tokens in round 2:

    >>> result = check_schedule(inst, [0, 1, 2], [0, 0, 0], [3, 3, 3], [1, 1, 1])
    >>> result.valid
    False
    >>> result.errors
    ['memory exceeds the budget M = 12 in 1 round; the first is round 2 with 15 tokens']
    """
    _require_instance(instance, "check_schedule")
    job = _as_integer_array(job, "job")
    start = _as_integer_array(start, "start")
    length = _as_integer_array(length, "length")
    completed = _as_flag_array(completed)
    sizes = {
        "job": job.shape[0],
        "start": start.shape[0],
        "length": length.shape[0],
        "completed": completed.shape[0],
    }
    if len(set(sizes.values())) != 1:
        listed = ", ".join(f"{name}={size}" for name, size in sizes.items())
        raise ValueError(
            f"job, start, length and completed need one entry per run, but their "
            f"lengths are {listed}; pass four arrays of the same length"
        )
    if flow_time is not None:
        flow_time = _as_integer(flow_time, "flow_time")

    errors: list[str] = []
    usable = _check_fields(instance, job, start, length, errors)
    job, start, length, completed = (
        job[usable],
        start[usable],
        length[usable],
        completed[usable],
    )

    _check_overlaps(job, start, length, errors)
    _check_completions(instance, job, start, length, completed, errors)

    memory = _memory_profile(instance.prompt, job, start, length)
    over = np.flatnonzero(memory > instance.budget)
    if over.size:
        first = int(over[0])
        rounds = "round" if over.size == 1 else "rounds"
        errors.append(
            f"memory exceeds the budget M = {instance.budget} in {over.size} "
            f"{rounds}; the first is round {first} with {int(memory[first])} tokens"
        )

    recomputed = _flow_time(instance.n, job, start, length, completed)
    if flow_time is not None and flow_time != recomputed:
        errors.append(
            f"reported flow time {flow_time} differs from the total flow time "
            f"{recomputed} recomputed from the completed runs"
        )

    memory.setflags(write=False)
    peak = int(memory.max()) if memory.shape[0] else 0
    return Validation(
        valid=not errors,
        errors=errors,
        memory=memory,
        flow_time=recomputed,
        peak_memory=peak,
    )


def validate(schedule: Schedule) -> Validation:
    """Check a schedule, its reported flow time, kills and memory profile.

    Runs :func:`check_schedule` on the schedule's runs and reported
    ``flow_time``, then also compares the reported ``memory`` profile with
    the recomputed one and the reported ``kills`` with the number of killed
    runs. A mismatch in either is an error.

    Parameters
    ----------
    schedule : Schedule
        A schedule made by any algorithm.

    Returns
    -------
    Validation

    Raises
    ------
    ValueError
        If ``schedule`` is not a :class:`~kvbook.model.Schedule` or its run
        arrays are malformed (see :func:`check_schedule`).

    Examples
    --------
    >>> import numpy as np
    >>> from kvbook.model import Schedule, make_instance
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> schedule = Schedule(
    ...     algorithm="by hand", clairvoyant=True, instance=inst,
    ...     job=np.array([0, 1, 2]), start=np.array([0, 1, 2]),
    ...     length=np.array([3, 3, 3]), completed=np.array([True, True, True]),
    ...     flow_time=12, kills=0, memory=np.array([3, 7, 12, 9, 4]),
    ... )
    >>> validate(schedule).errors  # doctest: +NORMALIZE_WHITESPACE
    ['reported memory profile differs from the recomputed one in 1 round;
      the first is round 4 (reported 4 tokens, recomputed 5)']
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(
            f"validate expects a kvbook.model.Schedule, got {type(schedule).__name__}; "
            "to check bare runs, call check_schedule(instance, job, start, length, "
            "completed)"
        )
    result = check_schedule(
        schedule.instance,
        schedule.job,
        schedule.start,
        schedule.length,
        schedule.completed,
        flow_time=schedule.flow_time,
    )
    errors = list(result.errors)
    errors += _compare_profiles(np.asarray(schedule.memory), result.memory)

    killed = int(np.count_nonzero(~_as_flag_array(schedule.completed)))
    if schedule.kills != killed:
        runs = "run" if killed == 1 else "runs"
        errors.append(
            f"reported kills = {schedule.kills} but the schedule contains {killed} "
            f"killed {runs}"
        )

    return Validation(
        valid=not errors,
        errors=errors,
        memory=result.memory,
        flow_time=result.flow_time,
        peak_memory=result.peak_memory,
    )


def assert_valid(schedule: Schedule) -> Validation:
    """Validate a schedule and raise :class:`ScheduleError` if it breaks a rule.

    Parameters
    ----------
    schedule : Schedule
        A schedule made by any algorithm.

    Returns
    -------
    Validation
        The result of :func:`validate`, which is valid.

    Raises
    ------
    ScheduleError
        If :func:`validate` finds a violation. The message lists the errors
        and ``ScheduleError.errors`` contains all of them.

    Examples
    --------
    >>> import numpy as np
    >>> from kvbook.model import Schedule, make_instance
    >>> inst = make_instance([3, 3], prompt=2, budget=12)
    >>> schedule = Schedule(
    ...     algorithm="by hand", clairvoyant=True, instance=inst,
    ...     job=np.array([0, 1]), start=np.array([0, 0]), length=np.array([3, 3]),
    ...     completed=np.array([True, True]), flow_time=7, kills=0,
    ...     memory=np.array([6, 8, 10]),
    ... )
    >>> assert_valid(schedule)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    kvbook.validate.ScheduleError: invalid schedule (1 error):
    - reported flow time 7 differs from the total flow time 6 recomputed
      from the completed runs
    """
    result = validate(schedule)
    if not result.valid:
        raise ScheduleError(result.errors)
    return result


def _require_instance(instance, caller: str) -> None:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"{caller} expects a kvbook.model.Instance, got "
            f"{type(instance).__name__}; build one with kvbook.make_instance"
        )


def _as_integer_array(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be a flat sequence with one entry per run, got an array "
            f"of shape {array.shape}"
        )
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} must contain integers, got dtype {array.dtype}; convert the "
            "run arrays to int"
        )
    return array.astype(np.int64)


def _as_flag_array(values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            "completed must be a flat sequence with one entry per run, got an "
            f"array of shape {array.shape}"
        )
    if array.size == 0:
        return np.zeros(0, dtype=bool)
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.integer) and np.all((array == 0) | (array == 1)):
        return array.astype(bool)
    raise ValueError(
        f"completed must contain booleans (or 0 and 1), got dtype {array.dtype}; "
        "pass True for a run that completes its job and False for a killed run"
    )


def _as_integer(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer)
    ):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _check_fields(
    instance: Instance,
    job: np.ndarray,
    start: np.ndarray,
    length: np.ndarray,
    errors: list[str],
) -> np.ndarray:
    """Report runs with a bad job id, start or length; return the mask of the rest."""
    bad_job = (job < 0) | (job >= instance.n)
    bad_start = start < 0
    bad_length = length < 1
    for k in np.flatnonzero(bad_job):
        errors.append(
            f"run {k} names job {job[k]}, but the instance has jobs 0 to "
            f"{instance.n - 1}"
        )
    for k in np.flatnonzero(bad_start & ~bad_job):
        errors.append(
            f"run {k} of job {job[k]} starts at round {start[k]}; rounds start at 0"
        )
    for k in np.flatnonzero(bad_length & ~bad_job):
        errors.append(
            f"run {k} of job {job[k]} has length {length[k]}; a run lasts at "
            "least 1 round"
        )
    return ~(bad_job | bad_start | bad_length)


def _check_overlaps(
    job: np.ndarray, start: np.ndarray, length: np.ndarray, errors: list[str]
) -> None:
    """Report each run that starts before an earlier run of the same job ends."""
    order = np.lexsort((start, job))
    previous_job = -1
    latest_end = latest_start = 0
    for k in order:
        j, a, end = int(job[k]), int(start[k]), int(start[k] + length[k])
        if j != previous_job:
            previous_job, latest_end, latest_start = j, end, a
            continue
        if a < latest_end:
            errors.append(
                f"job {j} has overlapping runs: one runs from round {latest_start} "
                f"until round {latest_end}, another starts at round {a}; a job "
                "runs at most once at a time"
            )
        if end > latest_end:
            latest_end, latest_start = end, a


def _check_completions(
    instance: Instance,
    job: np.ndarray,
    start: np.ndarray,
    length: np.ndarray,
    completed: np.ndarray,
    errors: list[str],
) -> None:
    """Check that each job completes once, in its last run, after ``o_i`` rounds."""
    output = instance.output
    count = np.bincount(job[completed], minlength=instance.n)
    for j in np.flatnonzero(count == 0):
        errors.append(f"job {j} has no completed run; every job must complete once")
    for j in np.flatnonzero(count > 1):
        mine = completed & (job == j)
        ends = np.sort(start[mine] + length[mine]).tolist()
        errors.append(
            f"job {j} has {count[j]} completed runs (ending at rounds "
            f"{', '.join(map(str, ends))}); a job completes exactly once"
        )

    last_start = np.full(instance.n, -1, dtype=np.int64)
    np.maximum.at(last_start, job, start)
    for k in np.flatnonzero(completed & (start < last_start[job])):
        j = job[k]
        errors.append(
            f"job {j} completes in the run starting at round {start[k]} but has a "
            f"later run starting at round {last_start[j]}; the completed run must "
            "be the job's last"
        )

    for k in np.flatnonzero(completed & (length != output[job])):
        j = job[k]
        errors.append(
            f"job {j} completes in the run starting at round {start[k]} after "
            f"{length[k]} rounds, but its output length o = {output[j]} "
            "fixes the completed run's length"
        )

    for k in np.flatnonzero(~completed & (length >= output[job])):
        j = job[k]
        errors.append(
            f"job {j} is killed in the run starting at round {start[k]} after "
            f"{length[k]} rounds, but a run of o = {output[j]} rounds completes "
            f"the job; a killed run lasts at most {output[j] - 1} rounds"
        )


def _memory_profile(
    prompt: np.ndarray, job: np.ndarray, start: np.ndarray, length: np.ndarray
) -> np.ndarray:
    """Tokens held in each round, from well-formed runs, by difference arrays.

    A run of job ``j`` starting at ``a`` holds ``prompt[j] + 1 + (r - a)``
    tokens in round ``r``: a constant ``prompt[j] + 1 - a`` plus the round
    number. Two difference arrays accumulate the constants and the number of
    running jobs, and ``memory[r] = constant[r] + running[r] * r``.
    """
    if job.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    end = start + length
    rounds = int(end.max())
    offset = prompt[job] + 1 - start
    constant = np.zeros(rounds + 1, dtype=np.int64)
    running = np.zeros(rounds + 1, dtype=np.int64)
    np.add.at(constant, start, offset)
    np.add.at(constant, end, -offset)
    np.add.at(running, start, 1)
    np.add.at(running, end, -1)
    constant = np.cumsum(constant[:rounds])
    running = np.cumsum(running[:rounds])
    return constant + running * np.arange(rounds, dtype=np.int64)


def _flow_time(
    n: int,
    job: np.ndarray,
    start: np.ndarray,
    length: np.ndarray,
    completed: np.ndarray,
) -> int:
    """Sum of completion rounds; a job with several completed runs counts its last."""
    completion = np.zeros(n, dtype=np.int64)
    np.maximum.at(completion, job[completed], (start + length)[completed])
    return int(completion.sum())


def _compare_profiles(reported: np.ndarray, recomputed: np.ndarray) -> list[str]:
    if reported.ndim != 1:
        return [
            f"reported memory profile has shape {reported.shape}; it must be a "
            "flat array with one entry per round"
        ]
    errors = []
    if reported.shape[0] != recomputed.shape[0]:
        errors.append(
            f"reported memory profile covers {reported.shape[0]} rounds, but the "
            f"runs end at round {recomputed.shape[0]}"
        )
    common = min(reported.shape[0], recomputed.shape[0])
    differ = np.flatnonzero(reported[:common] != recomputed[:common])
    if differ.size:
        first = int(differ[0])
        rounds = "round" if differ.size == 1 else "rounds"
        errors.append(
            f"reported memory profile differs from the recomputed one in "
            f"{differ.size} {rounds}; the first is round {first} (reported "
            f"{reported[first]} tokens, recomputed {recomputed[first]})"
        )
    return errors
