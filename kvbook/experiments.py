"""Measured ratios, sweeps, adversarial search and the reproduction table.

Every number here is a measured ratio ``ALG / reference``: the algorithm's
total flow time over the exact optimum (``"OPT"``) when the instance is small
enough to solve, else over the certified lower bound of
:func:`kvbook.bounds.lower_bound` (``"LB"``), which can only overstate the
true ratio. Every schedule is checked by :func:`kvbook.validate.assert_valid`
before it is measured.

* :func:`measure` runs one algorithm on one instance and returns a
  :class:`Measurement`; :func:`sweep` runs a list of algorithms over a list
  of instances.
* :func:`large_memory_instances` and :func:`large_memory_sweep` grow the
  budget ``M`` with the prompt length and the length distribution fixed, and
  the number of jobs growing with ``M`` so that memory stays the bottleneck.
* :func:`adversarial_search` looks for small instances on which an algorithm's
  ratio to the optimum is high.
* :func:`reproduction_table` measures the six claims of the paper's table and
  :func:`table_markdown` renders the result.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kvbook.algorithms import ALGORITHMS, run
from kvbook.bounds import lower_bound
from kvbook.families import FAMILIES, identical, load_instance_json
from kvbook.model import Instance, make_instance
from kvbook.opt import _solver_output_suppressed, brute_force_optimum, optimum
from kvbook.validate import assert_valid

__all__ = [
    "BRUTE_FORCE_MAX_JOBS",
    "BRUTE_FORCE_MAX_ROUNDS",
    "CLAIMS",
    "OPT_MAX_VARIABLES",
    "Claim",
    "Measurement",
    "Reference",
    "SearchResult",
    "TableRow",
    "adversarial_search",
    "exact_optimum",
    "large_memory_instances",
    "large_memory_sweep",
    "measure",
    "reference",
    "reproduction_table",
    "sweep",
    "table_markdown",
]

# NOTE: both thresholds are estimates from timing random instances with
# n <= 8, M <= 32 and o <= 12 on a 2-core x86 machine (HiGHS through SciPy
# 1.17). Up to 150 start variables every program solved in under 0.4 s, and
# the brute force below took at most 0.13 s up to 6 jobs of at most 8 rounds.
# Harder instances of the same size may take longer.
OPT_MAX_VARIABLES = 150
"""Largest time-indexed program that ``reference="auto"`` solves with HiGHS."""

BRUTE_FORCE_MAX_JOBS = 6
"""Largest job count for which the exact optimum uses enumeration."""

BRUTE_FORCE_MAX_ROUNDS = 48
"""Largest ``sum(o)`` for which the exact optimum uses enumeration."""

# Largest job count large_memory_instances builds, so that a typo in `load`
# or `exponent` fails fast instead of filling memory.
_MAX_SWEEP_JOBS = 2_000_000


# ---------------------------------------------------------------------------
# Argument checks


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {int(value)}")
    return int(value)


def _check_positive_number(value, name: str) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_algorithm(name) -> str:
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}"
        )
    return name


def _check_algorithms(names) -> list[str]:
    if isinstance(names, str):
        names = list(ALGORITHMS) if names == "all" else [names]
    names = list(names)
    if not names:
        raise ValueError("algorithms is empty; name at least one, or pass 'all'")
    return [_check_algorithm(name) for name in names]


def _check_instance(instance, caller: str) -> Instance:
    if not isinstance(instance, Instance):
        raise ValueError(
            f"{caller} expects a kvbook Instance, got {type(instance).__name__}; "
            "build one with kvbook.make_instance"
        )
    return instance


def _check_params(params, algorithms: Sequence[str]) -> dict[str, dict]:
    """Return per-algorithm keyword arguments, ``{}`` for each one not given."""
    if params is None:
        return {name: {} for name in algorithms}
    if not isinstance(params, Mapping):
        raise ValueError(
            "params must map algorithm names to keyword dicts, such as "
            f"{{'gsa': {{'beta': 2}}}}; got {type(params).__name__}"
        )
    unknown = [name for name in params if name not in algorithms]
    if unknown:
        raise ValueError(
            f"params names {', '.join(map(repr, unknown))}, which is not among the "
            f"algorithms measured ({', '.join(algorithms)})"
        )
    return {name: dict(params.get(name, {})) for name in algorithms}


# ---------------------------------------------------------------------------
# References: the exact optimum or the lower bound


def _fits_brute_force(instance: Instance) -> bool:
    return (
        instance.n <= BRUTE_FORCE_MAX_JOBS
        and int(instance.output.sum()) <= BRUTE_FORCE_MAX_ROUNDS
    )


def exact_optimum(
    instance: Instance, *, method: str = "auto", max_variables: int = 20000
) -> int:
    """Compute the optimal total flow time of a small instance.

    Two independent methods are available. Enumeration
    (:func:`kvbook.opt.brute_force_optimum`) is the faster one up to
    :data:`BRUTE_FORCE_MAX_JOBS` jobs with ``sum(o) <=
    BRUTE_FORCE_MAX_ROUNDS``. The time-indexed integer program
    (:func:`kvbook.opt.optimum`, solved by HiGHS) handles larger instances.
    HiGHS's console output is suppressed.

    Parameters
    ----------
    instance : Instance
        The instance.
    method : {"auto", "enumeration", "milp"}, default "auto"
        ``"auto"`` enumerates when the instance is within the enumeration
        limits and solves the integer program otherwise.
    max_variables : int, default 20000
        Largest integer program to build, in start variables.

    Returns
    -------
    int
        The optimal total flow time.

    Raises
    ------
    ValueError
        If ``method`` is unknown, or the instance is too large for the chosen
        method.
    RuntimeError
        If HiGHS fails to prove optimality within its time limit.

    Examples
    --------
    >>> instance = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> exact_optimum(instance), exact_optimum(instance, method="milp")
    (12, 12)
    """
    _check_instance(instance, "exact_optimum")
    if method not in ("auto", "enumeration", "milp"):
        raise ValueError(
            f"method must be 'auto', 'enumeration' or 'milp', got {method!r}"
        )
    if method == "enumeration" or (method == "auto" and _fits_brute_force(instance)):
        result = brute_force_optimum(
            instance, max_jobs=BRUTE_FORCE_MAX_JOBS, max_rounds=BRUTE_FORCE_MAX_ROUNDS
        )
        return int(result.flow_time)
    with _solver_output_suppressed():
        return int(optimum(instance, max_variables=max_variables).flow_time)


@dataclass(frozen=True)
class Reference:
    """The value a flow time is divided by to give a ratio.

    Attributes
    ----------
    value : int
        Optimal total flow time, or a lower bound on it.
    kind : str
        ``"OPT"`` for the exact optimum, ``"LB"`` for the lower bound.
    """

    value: int
    kind: str


def reference(instance: Instance, kind: str = "auto") -> Reference:
    """Compute the reference of a ratio: the optimum or the lower bound.

    Parameters
    ----------
    instance : Instance
        The instance.
    kind : {"auto", "opt", "lb"}, default "auto"
        ``"opt"`` solves for the exact optimum and raises if the instance
        is too large. ``"lb"`` takes :func:`kvbook.bounds.lower_bound`.
        ``"auto"`` solves for the optimum when enumeration applies (see
        :func:`exact_optimum`) or when the integer program has at most
        :data:`OPT_MAX_VARIABLES` start variables. Otherwise it takes the
        lower bound.

    Returns
    -------
    Reference

    Raises
    ------
    ValueError
        If ``kind`` is unknown, or ``kind="opt"`` and the instance is too
        large for the exact optimum.

    Examples
    --------
    >>> instance = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> reference(instance), reference(instance, "lb")
    (Reference(value=12, kind='OPT'), Reference(value=9, kind='LB'))
    """
    _check_instance(instance, "reference")
    if kind == "lb":
        return Reference(lower_bound(instance), "LB")
    if kind == "opt":
        return Reference(exact_optimum(instance), "OPT")
    if kind != "auto":
        raise ValueError(f"reference kind must be 'auto', 'opt' or 'lb', got {kind!r}")
    if _fits_brute_force(instance):
        return Reference(exact_optimum(instance), "OPT")
    try:
        return Reference(
            exact_optimum(instance, max_variables=OPT_MAX_VARIABLES), "OPT"
        )
    except ValueError:
        # The program exceeds OPT_MAX_VARIABLES (optimum checks the size first).
        return Reference(lower_bound(instance), "LB")


def _resolve_reference(instance: Instance, value) -> Reference:
    if isinstance(value, Reference):
        if value.kind not in ("OPT", "LB"):
            raise ValueError(
                f"Reference.kind must be 'OPT' or 'LB', got {value.kind!r}"
            )
        return value
    if isinstance(value, str):
        return reference(instance, value)
    raise ValueError(
        "reference must be 'auto', 'opt', 'lb' or a Reference, got "
        f"{type(value).__name__}"
    )


# ---------------------------------------------------------------------------
# Measurements and sweeps


@dataclass(frozen=True)
class Measurement:
    """One algorithm's measured result on one instance.

    Attributes
    ----------
    algorithm : str
        Registry name of the algorithm.
    instance : str
        The instance's name.
    n : int
        Number of jobs.
    budget : int
        KV-cache budget ``M`` in tokens.
    flow_time : int
        Total flow time of the algorithm's schedule.
    reference : int
        The value the flow time is divided by.
    reference_kind : str
        ``"OPT"`` (exact optimum) or ``"LB"`` (lower bound, so the ratio can
        only overstate the true one).
    ratio : float
        ``flow_time / reference``.
    kills : int
        Number of killed runs.
    utilization : float
        Mean tokens held per round over the makespan, divided by ``M``.
    valid : bool
        Whether the validator accepted the schedule; :func:`measure` raises
        on an invalid schedule, so a returned row always has ``True``.
    """

    algorithm: str
    instance: str
    n: int
    budget: int
    flow_time: int
    reference: int
    reference_kind: str
    ratio: float
    kills: int
    utilization: float
    valid: bool

    def as_dict(self) -> dict:
        """Return the fields as a dict, for ``pandas.DataFrame`` rows."""
        return asdict(self)


def measure(algorithm: str, instance: Instance, *, reference="auto", **params):
    """Run one algorithm, validate its schedule and measure its ratio.

    Parameters
    ----------
    algorithm : str
        Registry name, one of :data:`kvbook.algorithms.ALGORITHMS`.
    instance : Instance
        The instance.
    reference : {"auto", "opt", "lb"} or Reference, default "auto"
        What the flow time is divided by (see :func:`reference`). Pass a
        :class:`Reference` to reuse one across algorithms.
    **params
        Keyword arguments of the algorithm, such as ``beta`` for GSA.

    Returns
    -------
    Measurement

    Raises
    ------
    ValueError
        If the algorithm is unknown, an argument is invalid, or the schedule
        breaks the model (:class:`kvbook.validate.ScheduleError`).

    Examples
    --------
    GSA kills each job of the worked example after its 1- and 2-round
    slices:

    >>> row = measure("gsa", make_instance([3, 3, 3], prompt=2, budget=12))
    >>> row.flow_time, row.reference, row.reference_kind, row.ratio, row.kills
    (24, 12, 'OPT', 2.0, 6)
    """
    algorithm = _check_algorithm(algorithm)
    instance = _check_instance(instance, "measure")
    ref = _resolve_reference(instance, reference)
    schedule = run(algorithm, instance, **params)
    assert_valid(schedule)
    rounds = max(schedule.rounds, 1)
    utilization = float(schedule.memory.sum()) / (rounds * instance.budget)
    return Measurement(
        algorithm=algorithm,
        instance=instance.name,
        n=instance.n,
        budget=instance.budget,
        flow_time=int(schedule.flow_time),
        reference=int(ref.value),
        reference_kind=ref.kind,
        ratio=schedule.flow_time / ref.value,
        kills=int(schedule.kills),
        utilization=utilization,
        valid=True,
    )


def sweep(algorithms, instances: Iterable[Instance], *, reference="auto", params=None):
    """Measure every algorithm on every instance.

    The reference is computed once per instance and shared by the
    algorithms.

    Parameters
    ----------
    algorithms : str or sequence of str
        Registry names, one name, or ``"all"``.
    instances : iterable of Instance
        The instances.
    reference : {"auto", "opt", "lb"}, default "auto"
        See :func:`reference`.
    params : mapping of str to dict, optional
        Keyword arguments per algorithm, such as ``{"gsa": {"beta": 3}}``.

    Returns
    -------
    list of Measurement
        Instance by instance, then algorithm by algorithm.

    Examples
    --------
    >>> instances = [make_instance([3, 3, 3], prompt=2, budget=m) for m in (12, 15)]
    >>> [(row.algorithm, row.budget, row.ratio) for row in sweep(["sps"], instances)]
    [('sps', 12, 1.0), ('sps', 15, 1.0)]
    """
    names = _check_algorithms(algorithms)
    keywords = _check_params(params, names)
    if isinstance(reference, Reference):
        raise ValueError(
            "sweep computes one reference per instance; pass 'auto', 'opt' or 'lb'"
        )
    rows = []
    for instance in instances:
        _check_instance(instance, "sweep")
        ref = _resolve_reference(instance, reference)
        for name in names:
            rows.append(measure(name, instance, reference=ref, **keywords[name]))
    return rows


def _check_budgets(budgets) -> list[int]:
    budgets = [_check_int(budget, "each budget", 2) for budget in budgets]
    if not budgets:
        raise ValueError("budgets is empty; give at least one budget M")
    if any(b <= a for a, b in zip(budgets, budgets[1:])):
        raise ValueError(f"budgets must increase strictly, got {budgets}")
    return budgets


def _check_lengths(output) -> np.ndarray:
    if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
        values = [output]
    else:
        values = list(output)
    if not values:
        raise ValueError("output is empty; give one length or a list of lengths")
    return np.array([_check_int(value, "each output length", 1) for value in values])


def large_memory_instances(
    budgets,
    *,
    prompt: int,
    output,
    load: float = 4.0,
    exponent: float = 1.0,
    seed: int = 0,
) -> list[Instance]:
    """Build one instance per budget ``M``, with ``s`` and the lengths fixed.

    This is the paper's large-memory regime: ``M`` grows while the prompt
    length ``s`` and the output lengths stay fixed. The number of jobs grows
    with ``M``: with ``c = M / (s + max(o))`` jobs fitting at once at their
    peaks, ``n = ceil(load * c ** exponent)``. With ``exponent = 1`` there
    are always about ``load`` budgets' worth of jobs. With ``exponent > 1``
    that multiple grows too, as needed for the identical-jobs limit, where
    ``n`` also tends to infinity.

    Parameters
    ----------
    budgets : sequence of int
        Budgets ``M`` in tokens, strictly increasing.
    prompt : int
        Prompt length ``s`` of every job, in tokens.
    output : int or sequence of int
        One output length for identical jobs, or the lengths each job draws
        from uniformly at random (a fixed length distribution).
    load : float, default 4
        Multiplier of the job count.
    exponent : float, default 1
        Growth exponent of the job count in ``c``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; each budget uses it afresh, so
        one budget's instance does not depend on the others.

    Returns
    -------
    list of Instance
        One per budget, named with ``s``, the lengths, ``M`` and ``n``.

    Raises
    ------
    ValueError
        If an argument is invalid, the longest job does not fit the smallest
        budget, or a budget needs more than 2,000,000 jobs.

    Examples
    --------
    >>> [inst.n for inst in large_memory_instances([64, 128], prompt=4, output=4)]
    [32, 64]
    """
    budgets = _check_budgets(budgets)
    prompt = _check_int(prompt, "prompt", 1)
    lengths = _check_lengths(output)
    load = _check_positive_number(load, "load")
    exponent = _check_positive_number(exponent, "exponent")
    _check_int(seed, "seed", 0)
    peak = prompt + int(lengths.max())
    if peak > budgets[0]:
        raise ValueError(
            f"the longest job needs s + max(o) = {peak} tokens but the smallest "
            f"budget is {budgets[0]}; start the budgets at {peak} or more"
        )
    if lengths.shape[0] == 1:
        described = f"o={int(lengths[0])}"
    else:
        described = f"o~{{{','.join(str(int(v)) for v in lengths)}}}"
    instances = []
    for budget in budgets:
        fitting = budget / peak
        n = math.ceil(load * fitting**exponent)
        if n > _MAX_SWEEP_JOBS:
            raise ValueError(
                f"budget {budget} needs n = {n} jobs, more than {_MAX_SWEEP_JOBS}; "
                "lower load, exponent or the largest budget"
            )
        if lengths.shape[0] == 1:
            drawn = np.full(n, lengths[0])
        else:
            drawn = np.random.default_rng(seed).choice(lengths, size=n)
        name = f"large memory s={prompt} {described} M={budget} n={n}"
        instances.append(make_instance(drawn, prompt, budget, name=name))
    return instances


def large_memory_sweep(
    algorithms,
    budgets,
    *,
    prompt: int,
    output,
    load: float = 4.0,
    exponent: float = 1.0,
    seed: int = 0,
    reference: str = "lb",
    params=None,
):
    """Measure algorithms as the budget grows (the paper's large-memory regime).

    Builds the instances with :func:`large_memory_instances` and measures
    them with :func:`sweep`. The default reference is the lower bound, so
    that all budgets are compared against the same kind of reference.

    Parameters
    ----------
    algorithms : str or sequence of str
        Registry names, one name, or ``"all"``.
    budgets, prompt, output, load, exponent, seed
        See :func:`large_memory_instances`.
    reference : {"lb", "auto", "opt"}, default "lb"
        See :func:`reference`.
    params : mapping of str to dict, optional
        Keyword arguments per algorithm.

    Returns
    -------
    list of Measurement
        Budget by budget, then algorithm by algorithm.

    Examples
    --------
    >>> rows = large_memory_sweep(
    ...     "sps", [256, 4096], prompt=8, output=16, load=1, exponent=1.5
    ... )
    >>> [(row.budget, row.n, round(row.ratio, 2)) for row in rows]
    [(256, 35, 1.53), (4096, 2230, 1.19)]
    """
    instances = large_memory_instances(
        budgets, prompt=prompt, output=output, load=load, exponent=exponent, seed=seed
    )
    return sweep(algorithms, instances, reference=reference, params=params)


# ---------------------------------------------------------------------------
# Adversarial search


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The worst instance an adversarial search found, and how it got there.

    Attributes
    ----------
    algorithm : str
        Registry name of the algorithm searched against.
    instance : Instance
        The instance with the highest ratio found (the first one found, on
        ties).
    ratio : float
        ``flow_time / optimum`` on that instance.
    flow_time : int
        The algorithm's total flow time on it.
    optimum : int
        Its optimal total flow time.
    seed : int
        Seed of the search.
    steps : int
        Number of candidate instances drawn.
    identical : bool
        Whether the search was restricted to identical jobs.
    params : dict
        Keyword arguments passed to the algorithm.
    best : numpy.ndarray
        Highest ratio found up to each step.
    current : numpy.ndarray
        Ratio of the instance the local search stood on after each step.
    optima : int
        Number of exact optima computed (distinct up to job order).
    """

    algorithm: str
    instance: Instance
    ratio: float
    flow_time: int
    optimum: int
    seed: int
    steps: int
    identical: bool
    params: dict
    best: np.ndarray = field(repr=False)
    current: np.ndarray = field(repr=False)
    optima: int

    def save(self, path) -> Path:
        """Write the instance and how it was found to a JSON file.

        The file is readable by :func:`kvbook.families.load_instance_json`,
        which ignores the extra keys (``algorithm``, ``ratio``,
        ``flow_time``, ``optimum``, ``seed``, ``steps``, ``identical``,
        ``params``).

        Parameters
        ----------
        path : str or os.PathLike
            File to write; its directory must exist.

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        fields = {
            "name": self.instance.name,
            "budget": self.instance.budget,
            "prompt": [int(v) for v in self.instance.prompt],
            "output": [int(v) for v in self.instance.output],
            "algorithm": self.algorithm,
            "ratio": self.ratio,
            "flow_time": self.flow_time,
            "optimum": self.optimum,
            "seed": self.seed,
            "steps": self.steps,
            "identical": self.identical,
            "params": self.params,
        }
        # One key per line, like kvbook.families.save_instance_json.
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in fields.items()]
        path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        return path


class _Searcher:
    """State of one adversarial search: limits, caches and the evaluator."""

    def __init__(self, algorithm, rng, limits, identical, params):
        self.algorithm = algorithm
        self.rng = rng
        self.max_jobs, self.max_output, self.max_prompt, self.max_budget = limits
        self.identical = identical
        self.params = params
        self.optima: dict[tuple, int] = {}

    def draw(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high, endpoint=True))

    def random_state(self) -> tuple[int, int, tuple[int, ...]]:
        budget = self.draw(2, self.max_budget)
        prompt = self.draw(1, min(self.max_prompt, budget - 1))
        room = min(self.max_output, budget - prompt)
        n = self.draw(1, self.max_jobs)
        if self.identical:
            return prompt, budget, (self.draw(1, room),) * n
        return prompt, budget, tuple(self.draw(1, room) for _ in range(n))

    def mutate(self, state):
        """Return a neighbour: one length, one job, ``M``, ``s`` or an order change."""
        prompt, budget, output = state
        n, longest = len(output), max(output)
        moves = ["length", "budget", "prompt"]
        if n < self.max_jobs:
            moves.append("add")
        if n > 1:
            moves.append("remove")
            if not self.identical:
                moves.append("swap")
        move = moves[self.draw(0, len(moves) - 1)]
        room = min(self.max_output, budget - prompt)
        output = list(output)
        if move == "length":
            value = self.draw(1, room)
            if self.identical:
                output = [value] * n
            else:
                output[self.draw(0, n - 1)] = value
        elif move == "add":
            value = output[0] if self.identical else self.draw(1, room)
            output.insert(self.draw(0, n), value)
        elif move == "remove":
            del output[self.draw(0, n - 1)]
        elif move == "swap":
            i, j = self.draw(0, n - 1), self.draw(0, n - 1)
            output[i], output[j] = output[j], output[i]
        elif move == "budget":
            budget = self.draw(prompt + longest, max(self.max_budget, prompt + longest))
        else:
            prompt = self.draw(1, max(1, min(self.max_prompt, budget - longest)))
        return prompt, budget, tuple(output)

    def evaluate(self, state, threshold: float):
        """Return ``(ratio, flow_time, optimum)``, or None below ``threshold``.

        ``ALG / LB`` bounds ``ALG / OPT`` from above, so a candidate whose
        ``ALG / LB`` is below the threshold is rejected without solving for
        the optimum.
        """
        prompt, budget, output = state
        instance = make_instance(list(output), prompt, budget)
        schedule = run(self.algorithm, instance, **self.params)
        assert_valid(schedule)
        flow = int(schedule.flow_time)
        if flow / lower_bound(instance) < threshold:
            return None
        # The optimum does not depend on job order, so sorted lengths key it.
        key = (prompt, budget, tuple(sorted(output)))
        if key not in self.optima:
            self.optima[key] = exact_optimum(instance)
        opt = self.optima[key]
        return flow / opt, flow, opt


def adversarial_search(
    algorithm: str,
    *,
    seed: int,
    steps: int = 400,
    max_jobs: int = 6,
    max_output: int = 8,
    max_prompt: int = 4,
    max_budget: int = 24,
    identical: bool = False,
    restart_every: int = 100,
    **params,
) -> SearchResult:
    """Search small instances for a high ratio of the algorithm to the optimum.

    A seeded local search with random restarts. Every ``restart_every``
    steps it draws a fresh random instance within the limits (``M`` first,
    then ``s``, then ``n`` and the lengths). Each other step mutates the
    current instance: it changes one output length, adds or removes a job,
    draws a new ``M`` or ``s``, or swaps two jobs (job order matters to
    algorithms that serve jobs in index order). The search moves to the
    mutated instance when its ratio ``ALG / OPT`` is at least the current
    one, so it also walks along plateaus. One prompt length ``s`` is shared
    by all jobs, as in the paper's model.

    Parameters
    ----------
    algorithm : str
        Registry name of the algorithm.
    seed : int
        Seed of ``numpy.random.default_rng``; one seed gives one result.
    steps : int, default 400
        Number of candidate instances drawn, restarts included.
    max_jobs, max_output, max_prompt, max_budget : int
        Limits on ``n``, each ``o_i``, ``s`` and ``M``. The exact optimum
        uses enumeration up to 6 jobs of 48 rounds in total and HiGHS
        beyond, and its cost grows quickly with ``n`` and the lengths.
    identical : bool, default False
        Restrict the search to identical jobs (one output length), the
        setting of SPS's guarantee.
    restart_every : int, default 100
        Steps between random restarts.
    **params
        Keyword arguments of the algorithm, such as ``beta``.

    Returns
    -------
    SearchResult
        The worst instance, its ratio and the trajectory.

    Raises
    ------
    ValueError
        If the algorithm is unknown or a limit is invalid.

    Examples
    --------
    >>> result = adversarial_search("greedy_batch", seed=1, steps=30)
    >>> result.ratio >= 1, result.best.shape
    (True, (30,))
    >>> result.ratio == measure("greedy_batch", result.instance, reference="opt").ratio
    True
    """
    algorithm = _check_algorithm(algorithm)
    seed = _check_int(seed, "seed", 0)
    steps = _check_int(steps, "steps", 1)
    limits = (
        _check_int(max_jobs, "max_jobs", 1),
        _check_int(max_output, "max_output", 1),
        _check_int(max_prompt, "max_prompt", 1),
        _check_int(max_budget, "max_budget", 2),
    )
    restart_every = _check_int(restart_every, "restart_every", 1)
    if not isinstance(identical, (bool, np.bool_)):
        raise ValueError(f"identical must be True or False, got {identical!r}")

    searcher = _Searcher(
        algorithm, np.random.default_rng(seed), limits, bool(identical), params
    )
    best_ratio, best_found = 0.0, None
    current_ratio, current_state = 0.0, None
    best_curve = np.zeros(steps)
    current_curve = np.zeros(steps)
    for step in range(steps):
        if step % restart_every == 0:
            candidate = searcher.random_state()
            found = searcher.evaluate(candidate, threshold=0.0)
            current_ratio, current_state = found[0], candidate
        else:
            candidate = searcher.mutate(current_state)
            found = searcher.evaluate(candidate, threshold=current_ratio)
            if found is not None and found[0] >= current_ratio:
                current_ratio, current_state = found[0], candidate
        if found is not None and found[0] > best_ratio:
            best_ratio, best_found = found[0], (candidate, found)
        best_curve[step] = best_ratio
        current_curve[step] = current_ratio

    (prompt, budget, output), (ratio, flow, opt) = best_found
    kind = "identical " if identical else ""
    name = f"adversarial {kind}{algorithm} seed={seed}"
    instance = make_instance(list(output), prompt, budget, name=name)
    return SearchResult(
        algorithm=algorithm,
        instance=instance,
        ratio=ratio,
        flow_time=flow,
        optimum=opt,
        seed=seed,
        steps=steps,
        identical=bool(identical),
        params=dict(params),
        best=best_curve,
        current=current_curve,
        optima=len(searcher.optima),
    )


# ---------------------------------------------------------------------------
# The reproduction table


@dataclass(frozen=True)
class Claim:
    """One row of the paper's results table.

    Attributes
    ----------
    algorithm : str
        Registry name of the algorithm the row is about.
    setting : str
        Information model and algorithm, as the table's first column.
    instances : str
        ``"general"``, ``"large memory"`` or ``"large memory, n -> infinity"``.
    bound : float
        The paper's ratio bound, or the limit for the last row.
    prior : str
        The best bound before the paper, with its source.
    """

    algorithm: str
    setting: str
    instances: str
    bound: float
    prior: str


CLAIMS = (
    Claim("gsa", "non-clairvoyant (GSA)", "general", 61.92, "unknown"),
    Claim(
        "gsa",
        "non-clairvoyant (GSA)",
        "large memory",
        32,
        "O(log M) (Chen et al. 2025)",
    ),
    Claim("gba", "clairvoyant (GBA)", "general", 10.67, "9216 (Jaillet et al. 2025)"),
    Claim(
        "gba",
        "clairvoyant (GBA)",
        "large memory",
        6.75,
        "48 (Wang et al. 2025, heterogeneous prompts)",
    ),
    Claim(
        "sps",
        "clairvoyant, identical jobs (SPS)",
        "general",
        2,
        "4 (Jaillet et al. 2025)",
    ),
    Claim(
        "sps",
        "clairvoyant, identical jobs (SPS)",
        "large memory, n -> infinity",
        1,
        "4 (Jaillet et al. 2025)",
    ),
)
"""The six claims of the paper's table (Feng, Yang and Zhang, 2026)."""


@dataclass(frozen=True)
class TableRow:
    """One measured row of the reproduction table.

    Attributes
    ----------
    claim : Claim
        The paper's claim.
    measured : float
        The worst ratio measured; for the limit row, the ratio at the
        largest budget.
    reference : str
        ``"vs OPT"`` or ``"vs LB"``: what ``measured`` divides by.
    found : str
        Where the measured value comes from. When a general row's worst
        ratio is against LB, also the worst ratio against OPT and its
        source: a lower bound on the competitive ratio.
    verdict : str
        ``"pass"`` or ``"FAIL"``, then the criterion and the numbers.
    passed : bool
        Whether the measurement agrees with the claim.
    """

    claim: Claim
    measured: float
    reference: str
    found: str
    verdict: str
    passed: bool


def _family_instances(budgets, jobs: int, seeds: int, only=None):
    """Yield ``(source, instance)`` for every synthetic family, budget and seed."""
    for name, family in FAMILIES.items():
        if only is not None and name not in only:
            continue
        for budget in budgets:
            for seed in range(seeds):
                instance = family(jobs, budget, seed)
                yield f"{name} family, n={jobs}, M={budget}, seed={seed}", instance
                if name == "identical":
                    break  # identical jobs do not depend on the seed


def _identical_grid(budgets, jobs: int):
    """Yield every identical-jobs instance with n <= jobs, s <= 3, o <= 8."""
    for budget in budgets:
        for prompt in (1, 2, 3):
            for length in range(1, min(8, budget - prompt) + 1):
                for n in range(2, jobs + 1):
                    instance = identical(n, prompt, length, budget)
                    yield (
                        f"identical grid, n={n}, s={prompt}, o={length}, M={budget}",
                        instance,
                    )


def _adversarial_files(directory):
    """Yield ``(source, instance)`` for each ``adversarial_*.json`` file."""
    if directory is None:
        return
    directory = Path(directory)
    for path in sorted(directory.glob("adversarial_*.json")):
        yield f"{directory.name}/{path.name}", load_instance_json(path)


def _with_references(sources):
    """Return ``(source, instance, reference)`` for each ``(source, instance)``."""
    return [(source, instance, reference(instance)) for source, instance in sources]


def _worst(algorithm: str, sources, params) -> tuple[Measurement, str]:
    """Measure the algorithm on every ``(source, instance, reference)``.

    Returns the row with the highest ratio (the first one, on ties) and its
    source. When that ratio is against LB, the source also names the worst
    ratio against OPT, which bounds the competitive ratio from below.
    """
    worst, where = None, ""
    worst_opt, where_opt = None, ""
    for source, instance, ref in sources:
        row = measure(algorithm, instance, reference=ref, **params)
        if worst is None or row.ratio > worst.ratio:
            worst, where = row, source
        if row.reference_kind == "OPT" and (
            worst_opt is None or row.ratio > worst_opt.ratio
        ):
            worst_opt, where_opt = row, source
    if worst.reference_kind == "LB" and worst_opt is not None:
        where += f"; worst vs OPT: {worst_opt.ratio:.3f} on {where_opt}"
    return worst, where


def _bound_verdict(claim: Claim, row: Measurement) -> tuple[str, bool]:
    bound = f"{claim.bound:g}"
    if row.ratio <= claim.bound:
        return f"pass: {row.ratio:.3f} <= {bound}", True
    if row.reference_kind == "LB":
        return (
            f"FAIL (inconclusive): {row.ratio:.3f} > {bound}, but only against the "
            "lower bound, which understates OPT",
            False,
        )
    return f"FAIL: {row.ratio:.3f} > {bound} against the exact optimum", False


def reproduction_table(
    adversarial_dir=None,
    *,
    seeds: int = 3,
    small_budgets: Sequence[int] = (8, 12, 16, 24, 32),
    small_jobs: int = 6,
    large_budgets: Sequence[int] = (1024, 8192),
    large_jobs: int = 2000,
    memory_budgets: Sequence[int] = tuple(2**k for k in range(10, 17)),
    limit_budgets: Sequence[int] = tuple(2**k for k in range(8, 17)),
    limit_slope: float = -0.25,
    params=None,
) -> list[TableRow]:
    """Measure the six claims of the paper's table.

    General rows (GSA and GBA): the worst ratio over the adversarial
    instances in ``adversarial_dir`` (every algorithm's worst instance is
    tried on every algorithm), each synthetic family of
    :data:`kvbook.families.FAMILIES` at ``small_jobs`` jobs and each of
    ``small_budgets`` (against OPT), and each family at ``large_jobs`` jobs
    and each of ``large_budgets`` (against LB), with seeds ``0 .. seeds-1``.

    Large-memory rows (GSA and GBA): the worst ratio to LB in two
    :func:`large_memory_sweep` runs over ``memory_budgets``, with ``s = 8``,
    4 budgets' worth of jobs and lengths drawn from ``1 .. 64`` or from
    ``{2, 3, 5, 9, 17, 33, 65}`` (each just past a power of two, so every
    geometric slice but the last falls one round short).

    SPS, general: the worst ratio on identical jobs: the identical-jobs
    adversarial instances, every identical instance with ``n <=
    small_jobs``, ``s <= 3``, ``o <= 8`` and ``M`` in ``small_budgets``
    (against OPT), and the identical family at ``large_budgets``.

    SPS, large memory with ``n -> infinity``: the ratio to LB on identical
    jobs (``s = 8``, ``o = 16``) over ``limit_budgets``, with ``n =
    ceil(c ** 1.5)`` for ``c = M / (s + o)``. The claim's limit 1 passes
    when the sequence never increases and the gap ``r - 1`` shrinks like
    ``M ** a`` with ``a <= limit_slope``, fitted by least squares on a
    log-log scale over the last half of the budgets (at least 3). A gap
    that levels off above 0 has a fitted slope near 0 and fails. A ratio
    to LB bounds the ratio to OPT from above, and both are at least 1, so
    the ratio to OPT tends to 1 too.

    Parameters
    ----------
    adversarial_dir : str or os.PathLike, optional
        Folder with ``adversarial_*.json`` files; None skips them.
    seeds : int, default 3
        Seeds per family and budget.
    small_budgets, large_budgets : sequence of int
        Budgets of the family sweeps against OPT and against LB.
    small_jobs, large_jobs : int
        Job counts of those sweeps.
    memory_budgets, limit_budgets : sequence of int
        Budgets of the large-memory sweeps, increasing.
    limit_slope : float, default -0.25
        Largest fitted log-log slope of ``r - 1`` against ``M`` that counts
        as tending to 1 (negative).
    params : mapping of str to dict, optional
        Keyword arguments for ``"gsa"``, ``"gba"`` or ``"sps"``.

    Returns
    -------
    list of TableRow
        The six rows in the order of :data:`CLAIMS`.

    Examples
    --------
    A tiny run; the defaults take about a minute.

    >>> rows = reproduction_table(
    ...     seeds=1, small_budgets=(12,), small_jobs=3, large_budgets=(256,),
    ...     large_jobs=50, memory_budgets=(128, 256),
    ...     limit_budgets=(256, 1024, 4096, 16384),
    ... )
    >>> [row.passed for row in rows]
    [True, True, True, True, True, True]
    """
    seeds = _check_int(seeds, "seeds", 1)
    small_budgets = _check_budgets(small_budgets)
    large_budgets = _check_budgets(large_budgets)
    small_jobs = _check_int(small_jobs, "small_jobs", 1)
    large_jobs = _check_int(large_jobs, "large_jobs", 1)
    memory_budgets = _check_budgets(memory_budgets)
    limit_budgets = _check_budgets(limit_budgets)
    if not isinstance(limit_slope, (int, float)) or not limit_slope < 0:
        raise ValueError(
            f"limit_slope must be a negative number, got {limit_slope!r}; the gap "
            "r - 1 must shrink as M grows"
        )
    keywords = _check_params(params, ["gsa", "gba", "sps"])
    if adversarial_dir is not None and not Path(adversarial_dir).is_dir():
        raise ValueError(
            f"adversarial_dir {str(adversarial_dir)!r} is not a folder; pass the "
            "folder with the adversarial_*.json files, or None to skip them"
        )
    adversarial = list(_adversarial_files(adversarial_dir))
    # GSA and GBA share these instances, so their references are computed once.
    general = _with_references(
        [
            *adversarial,
            *_family_instances(small_budgets, small_jobs, seeds),
            *_family_instances(large_budgets, large_jobs, seeds),
        ]
    )

    rows = []
    for claim in CLAIMS:
        params_here = keywords[claim.algorithm]
        if claim.algorithm in ("gsa", "gba") and claim.instances == "general":
            worst, where = _worst(claim.algorithm, general, params_here)
            verdict, passed = _bound_verdict(claim, worst)
        elif claim.algorithm in ("gsa", "gba"):
            worst, where = _large_memory_worst(
                claim.algorithm, memory_budgets, params_here
            )
            verdict, passed = _bound_verdict(claim, worst)
        elif claim.instances == "general":
            sources = [
                (source, instance)
                for source, instance in adversarial
                if np.all(instance.output == instance.output[0])
                and instance.uniform_prompt
            ]
            sources += list(_identical_grid(small_budgets, small_jobs))
            sources += list(
                _family_instances(large_budgets, large_jobs, 1, only=["identical"])
            )
            worst, where = _worst("sps", _with_references(sources), params_here)
            verdict, passed = _bound_verdict(claim, worst)
        else:
            worst, where, verdict, passed = _limit_row(
                limit_budgets, limit_slope, params_here
            )
        rows.append(
            TableRow(
                claim=claim,
                measured=worst.ratio,
                reference=f"vs {worst.reference_kind}",
                found=where,
                verdict=verdict,
                passed=passed,
            )
        )
    return rows


def _large_memory_worst(algorithm: str, budgets, params):
    distributions = [
        ("lengths 1..64", list(range(1, 65))),
        ("lengths 2^k + 1", [2, 3, 5, 9, 17, 33, 65]),
    ]
    worst, where = None, ""
    for label, lengths in distributions:
        rows = large_memory_sweep(
            algorithm,
            budgets,
            prompt=8,
            output=lengths,
            params={algorithm: params},
        )
        for row in rows:
            if worst is None or row.ratio > worst.ratio:
                worst = row
                where = (
                    f"large-memory sweep, s=8, {label}, M={row.budget}, n={row.n} "
                    f"(M = {budgets[0]} .. {budgets[-1]})"
                )
    return worst, where


def _gap_slope(budgets: Sequence[int], ratios: np.ndarray) -> float:
    """Fit the log-log slope of ``ratio - 1`` against ``M``.

    A ratio that tends to 1 like ``1 + c * M**a`` gives slope ``a < 0``. A
    ratio that levels off above 1 gives a slope that tends to 0. The result
    is ``-inf`` when the last ratio is exactly 1, and NaN when an earlier
    one is, since the logarithm of 0 is undefined.
    """
    gaps = ratios - 1
    if gaps[-1] == 0:
        return -math.inf
    if np.any(gaps <= 0):
        return math.nan
    return float(np.polyfit(np.log(budgets), np.log(gaps), 1)[0])


def _limit_row(budgets, slope_limit: float, params):
    rows = large_memory_sweep(
        "sps",
        budgets,
        prompt=8,
        output=16,
        load=1.0,
        exponent=1.5,
        params={"sps": params},
    )
    ratios = np.array([row.ratio for row in rows])
    last = rows[-1]
    trend = ", ".join(f"{ratio:.3f}" for ratio in ratios)
    where = (
        f"large-memory sweep, identical s=8, o=16, n = ceil((M/24)^1.5), "
        f"M = {budgets[0]} .. {budgets[-1]}: {trend}"
    )

    increases = [
        (rows[k].budget, rows[k + 1].budget)
        for k in range(len(rows) - 1)
        if ratios[k + 1] > ratios[k]
    ]
    tail = max(3, (len(rows) + 1) // 2)
    slope = _gap_slope([row.budget for row in rows[-tail:]], ratios[-tail:])
    criterion = (
        f"the ratio never increases and r - 1 falls like M^a with a <= {slope_limit:g} "
        f"over the last {tail} budgets"
    )
    passed = not increases and slope <= slope_limit

    if passed:
        verdict = (
            f"pass: last {last.ratio:.3f} at M={last.budget}, fitted a = {slope:.2f}; "
            f"criterion: {criterion}"
        )
    elif increases:
        low, high = increases[0]
        verdict = (
            f"FAIL: the ratio rises from M={low} to M={high}; criterion: {criterion}"
        )
    else:
        verdict = (
            f"FAIL: last {last.ratio:.3f} at M={last.budget}, fitted a = {slope:.2f}; "
            f"criterion: {criterion}"
        )
    return last, where, verdict, passed


def table_markdown(rows: Sequence[TableRow]) -> str:
    """Render the reproduction table as a Markdown table.

    Parameters
    ----------
    rows : sequence of TableRow
        Rows from :func:`reproduction_table`.

    Returns
    -------
    str
        A header line, a separator line and one line per row, each ending in
        a newline. Pipes inside cells are escaped.

    Examples
    --------
    >>> row = TableRow(CLAIMS[4], 1.5, "vs OPT", "grid", "pass: 1.500 <= 2", True)
    >>> print(table_markdown([row]), end="")
    | setting | instances | paper | prior work | measured | reference | found on | verdict |
    |---|---|---|---|---|---|---|---|
    | clairvoyant, identical jobs (SPS) | general | 2 | 4 (Jaillet et al. 2025) | 1.500 | vs OPT | grid | pass: 1.500 <= 2 |
    """
    header = [
        "setting",
        "instances",
        "paper",
        "prior work",
        "measured",
        "reference",
        "found on",
        "verdict",
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        if not isinstance(row, TableRow):
            raise ValueError(
                f"table_markdown expects TableRow items, got {type(row).__name__}"
            )
        cells = [
            row.claim.setting,
            row.claim.instances,
            f"{row.claim.bound:g}",
            row.claim.prior,
            f"{row.measured:.3f}",
            row.reference,
            row.found,
            row.verdict,
        ]
        cells = [cell.replace("|", "\\|") for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
