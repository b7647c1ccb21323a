"""Instances of the offline KV-cache scheduling problem and their schedules.

An instance is ``n`` jobs present at round 0, job ``i`` with a prompt of
``prompt[i]`` tokens and an output of ``output[i]`` tokens, and a KV-cache
budget of ``budget`` tokens. A job in the ``u``-th round of a run
(``u = 0, 1, ...``) holds ``prompt[i] + u + 1`` tokens; a run that starts at
round ``a`` and is not killed completes at ``a + output[i]``.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MAX_ROUNDS", "Instance", "Schedule", "make_instance"]

# Every kernel adds round numbers, token counts and flow times in int64. The
# one-job-at-a-time schedule has total flow time n * sum(o); instances whose
# worst schedules could pass this limit are rejected up front.
_MAX_TOTAL = 2**53

# Schedules carry one int64 of memory per round; instances that need more
# rounds than this are rejected up front.
MAX_ROUNDS = 50_000_000


@dataclass(frozen=True)
class Instance:
    """An offline batch instance: prompts, outputs and the KV-cache budget.

    Building one, directly or with :func:`make_instance`, checks its fields
    and stores them as read-only int64 arrays.

    Attributes
    ----------
    prompt : numpy.ndarray
        Prompt length ``s_i`` of each job, in tokens (int64, read-only).
    output : numpy.ndarray
        Output length ``o_i`` of each job, in tokens (int64, read-only).
    budget : int
        KV-cache budget ``M`` in tokens.
    name : str
        Free-form label used in tables and figures.
    """

    prompt: np.ndarray
    output: np.ndarray
    budget: int
    name: str = ""

    def __post_init__(self):
        # Every way of building an instance passes the same checks, so the
        # kernels can trust its arrays.
        prompt, output, budget = _checked_fields(self.output, self.prompt, self.budget)
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "output", output)
        object.__setattr__(self, "budget", budget)
        object.__setattr__(self, "name", str(self.name))

    @property
    def n(self) -> int:
        """Number of jobs."""
        return int(self.output.shape[0])

    @property
    def uniform_prompt(self) -> bool:
        """Whether every job has the same prompt length, as in the paper."""
        return bool(np.all(self.prompt == self.prompt[0]))

    @property
    def area(self) -> np.ndarray:
        """Memory-time area ``o*s + o*(o+1)/2`` of each job, in token-rounds."""
        o = self.output
        return o * self.prompt + o * (o + 1) // 2

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Instance({label}n={self.n}, budget={self.budget}, "
            f"prompt={_summary(self.prompt)}, output={_summary(self.output)})"
        )


def _summary(values: np.ndarray) -> str:
    if values.shape[0] <= 6:
        return "[" + ", ".join(str(int(v)) for v in values) + "]"
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}..{high}"


def _as_lengths(values, what: str, n: int | None) -> np.ndarray:
    """Convert ``values`` to a read-only int64 array of positive integers."""
    try:
        raw = np.asarray(values)
    except ValueError:
        raise ValueError(
            f"{what} must be a flat sequence of token counts, got a ragged "
            "nested list; pass a flat list such as [3, 3, 3]"
        ) from None
    if raw.ndim == 0 and n is not None:
        raw = np.full(n, raw)
    if raw.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-D sequence of token counts, got an array of "
            f"shape {raw.shape}; pass a flat list such as [3, 3, 3]"
        )
    if raw.shape[0] == 0:
        raise ValueError(f"{what} is empty; an instance needs at least one job")
    if raw.dtype == object and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in raw
    ):
        # Python integers too large for int64 arrive as dtype object.
        for i, v in enumerate(raw):
            if abs(int(v)) >= _MAX_TOTAL:
                raise ValueError(
                    f"{what}[{i}] = {int(v)} is too large for int64 arithmetic; "
                    f"keep token counts below {_MAX_TOTAL}"
                )
        raw = raw.astype(np.int64)
    if raw.dtype == bool or not (
        np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)
    ):
        raise ValueError(
            f"{what} must hold integers, got dtype {raw.dtype}; "
            "convert the token counts to int"
        )
    if np.issubdtype(raw.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{what}[{i}] = {raw[i].item()!r} is not a whole number of tokens; "
                "token counts must be integers"
            )
    too_large = np.flatnonzero(raw >= _MAX_TOTAL)
    if too_large.size:
        i = int(too_large[0])
        raise ValueError(
            f"{what}[{i}] = {raw[i].item()!r} is too large for int64 arithmetic; "
            f"keep token counts below {_MAX_TOTAL}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        array = raw.astype(np.int64)
    bad = np.flatnonzero(array < 1)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{what}[{i}] = {int(array[i])} is not positive; every length must "
            "be at least 1 token"
        )
    array.setflags(write=False)
    return array


def _checked_fields(output, prompt, budget) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(prompt, output, budget)`` checked and as int64, or raise."""
    output_array = _as_lengths(output, "output", None)
    n = output_array.shape[0]
    prompt_array = _as_lengths(prompt, "prompt", n)
    if prompt_array.shape[0] != n:
        raise ValueError(
            f"prompt has {prompt_array.shape[0]} entries but output has {n}; "
            "give one prompt length per job, or a single integer for all"
        )
    if isinstance(budget, (bool, np.bool_)) or not isinstance(
        budget, (int, np.integer)
    ):
        if isinstance(budget, (float, np.floating)) and float(budget).is_integer():
            budget = int(budget)
        else:
            raise ValueError(
                f"budget must be a positive integer number of tokens, got {budget!r}"
            )
    budget = int(budget)
    if budget < 1:
        raise ValueError(f"budget must be a positive number of tokens, got {budget}")
    if budget >= _MAX_TOTAL:
        raise ValueError(
            f"budget {budget} is too large for int64 arithmetic; keep it below "
            f"{_MAX_TOTAL}"
        )
    peak = prompt_array + output_array
    over = np.flatnonzero(peak > budget)
    if over.size:
        i = int(over[0])
        raise ValueError(
            f"job {i} needs {int(peak[i])} tokens at its peak (s + o = "
            f"{int(prompt_array[i])} + {int(output_array[i])}) but the budget M "
            f"is {budget}; raise the budget to at least {int(peak.max())} or drop "
            "the job"
        )
    total_output = int(output_array.sum(dtype=object))
    if n * (total_output + int(prompt_array.max())) >= _MAX_TOTAL:
        raise ValueError(
            f"{n} jobs with {total_output} output tokens in all are too large "
            f"for int64 flow-time arithmetic (n * sum(o) must stay below "
            f"{_MAX_TOTAL}); use fewer or shorter jobs"
        )
    # Any schedule runs at least max(o) rounds and ceil(total area / M). The
    # area is summed in floating point because o * s can pass the int64 range
    # and a rounding error cannot matter next to a limit of MAX_ROUNDS.
    lengths = output_array.astype(np.float64)
    area = float(np.sum(lengths * prompt_array + lengths * (lengths + 1) / 2))
    rounds = max(int(output_array.max()), math.ceil(area / budget))
    if rounds > MAX_ROUNDS:
        raise ValueError(
            f"every schedule of this instance runs at least {rounds} rounds, more "
            f"than the {MAX_ROUNDS} whose per-round memory kvbook stores; use "
            "shorter outputs, fewer jobs or a larger budget"
        )
    return prompt_array, output_array, budget


def make_instance(output, prompt, budget, name: str = "") -> Instance:
    """Build and check an instance.

    Parameters
    ----------
    output : sequence of int
        Output length ``o_i >= 1`` of each job, in tokens.
    prompt : int or sequence of int
        Prompt length ``s >= 1``: one value for every job (the paper's
        setting) or one per job (real traces).
    budget : int
        KV-cache budget ``M`` in tokens.
    name : str, optional
        Label shown in tables and figures.

    Returns
    -------
    Instance

    Raises
    ------
    ValueError
        If a length is not a positive integer, the instance is empty, the
        prompt and output lists differ in length, the budget is not a
        positive integer, a job cannot fit even alone
        (``s_i + o_i > M``), or the numbers are too large for int64
        arithmetic, or every schedule would run more than ``MAX_ROUNDS``
        rounds. The message names the offending value and the fix.

    Examples
    --------
    The worked example: three jobs of 3 tokens with a 2-token prompt do not
    all fit at once in 12 tokens, since at their third round they need 15.

    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> inst.n, int(inst.area.sum())
    (3, 36)
    >>> make_instance([3, 11], prompt=2, budget=12)
    Traceback (most recent call last):
    ...
    ValueError: job 1 needs 13 tokens at its peak (s + o = 2 + 11) but the budget M is 12; raise the budget to at least 13 or drop the job
    """
    return Instance(prompt=prompt, output=output, budget=budget, name=name)


@dataclass
class Schedule:
    """The output of a scheduling algorithm on one instance.

    A schedule is a list of runs ``(job, start, length, completed)``: job
    ``job`` runs from round ``start`` for ``length`` rounds and then either
    completes (``completed`` true, ``length == o_job``) or is killed and
    loses its progress.

    Attributes
    ----------
    algorithm : str
        Registry name of the algorithm that made the schedule.
    clairvoyant : bool
        Whether the algorithm was given the output lengths in advance.
    instance : Instance
        The instance scheduled.
    job, start, length, completed : numpy.ndarray
        The runs, one entry each, in the order they ended.
    flow_time : int
        Total flow time ``sum_i C_i`` the algorithm reports.
    kills : int
        Number of killed runs.
    memory : numpy.ndarray
        Tokens held in each round ``0 .. rounds - 1``, as the simulator
        measured it.
    notes : list of str
        Remarks on choices the algorithm made for this instance.
    """

    algorithm: str
    clairvoyant: bool
    instance: Instance
    job: np.ndarray
    start: np.ndarray
    length: np.ndarray
    completed: np.ndarray
    flow_time: int
    kills: int
    memory: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> list[tuple[int, int, int, bool]]:
        """The runs as ``(job, start, length, completed)`` tuples."""
        return [
            (int(j), int(a), int(length), bool(c))
            for j, a, length, c in zip(
                self.job, self.start, self.length, self.completed
            )
        ]

    @property
    def completion(self) -> np.ndarray:
        """Completion round ``C_i`` of each job (its flow time)."""
        times = np.zeros(self.instance.n, dtype=np.int64)
        done = self.completed.astype(bool)
        times[self.job[done]] = self.start[done] + self.length[done]
        return times

    @property
    def rounds(self) -> int:
        """Makespan: the round after the last run ends."""
        return int(self.memory.shape[0])

    @property
    def peak_memory(self) -> int:
        """Largest number of tokens held in any round."""
        return int(self.memory.max()) if self.memory.shape[0] else 0

    def __repr__(self) -> str:
        return (
            f"Schedule(algorithm={self.algorithm!r}, flow_time={self.flow_time}, "
            f"kills={self.kills}, runs={self.job.shape[0]}, rounds={self.rounds}, "
            f"peak_memory={self.peak_memory}/{self.instance.budget})"
        )
