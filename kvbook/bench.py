"""Benchmark the numba kernels of every algorithm: ``kvbook bench``.

For each algorithm and workload the benchmark measures, each in a fresh
child process:

- ``first_call_seconds``: the first call of the public function in a new
  process, which loads the compiled kernels from numba's cache (a warm-up
  child fills the cache before any row runs) and then runs them;
- ``load_seconds``: the first call on a three-job instance in a new
  process, one per algorithm: the cost of loading the cache alone;
- ``seconds``: the median of the warm calls that follow (``--repeats``,
  capped by ``--max-warm-seconds``);
- ``speedup``: the same kernels run with ``NUMBA_DISABLE_JIT=1`` on the
  first ``interpreted_n`` jobs, divided by the warm jitted time on those
  jobs. ``interpreted_n`` grows from a few jobs until one interpreted run
  takes ``--interpreted-seconds`` or covers the whole workload;
- ``peak_rss_mb``: ``ru_maxrss`` of the child that ran the jitted calls,
  in MiB, so workloads do not share a peak.

Timed calls exclude building the instance (``make_instance`` checks the
inputs there) and validating the schedule. The first schedule of each row
is validated once with :func:`kvbook.validate.validate`, timed apart as
``validate_seconds``.

``kvbook bench --scaling`` times a few algorithms on the uniform family at
growing ``n``, with the budget growing in proportion, and fits the log-log
slope of time against ``n``.

Children run the same interpreter (``sys.executable``). Each reads a JSON
task on stdin and writes one JSON object on stdout. Results from one
machine, and profiles of the missed targets, are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXTRA_FIELDS",
    "FIELDS",
    "SCALING_ALGORITHMS",
    "TRACE_WORKLOADS",
    "WORKLOADS",
    "BenchError",
    "TargetCheck",
    "Workload",
    "add_arguments",
    "build_instance",
    "evaluate_targets",
    "fit_slope",
    "format_scaling",
    "format_table",
    "format_targets",
    "run_benchmark",
    "run_command",
    "run_scaling",
    "scaling_sizes",
    "workload_for",
]

# Keys of every row of `kvbook bench --format json`, in order. Rows also have
# the keys of EXTRA_FIELDS.
FIELDS = (
    "algorithm",
    "workload",
    "n",
    "budget",
    "rounds",
    "first_call_seconds",
    "seconds",
    "interpreted_n",
    "interpreted_seconds",
    "jit_seconds_on_interpreted_n",
    "speedup",
    "peak_rss_mb",
)
EXTRA_FIELDS = ("load_seconds", "warm_calls", "validate_seconds", "valid")

TRACE_WORKLOADS = ("azure-conv", "azure-code")
SYNTHETIC_WORKLOADS = ("uniform-1m", "identical-1m")
WORKLOADS = TRACE_WORKLOADS + SYNTHETIC_WORKLOADS

TRACE_BUDGET = 16_384
LARGE_N = 1_000_000
LARGE_BUDGET = 1_048_576
# Budget tokens per job on the synthetic workloads: 1,048,576 for 10**6 jobs.
BUDGET_PER_JOB = LARGE_BUDGET / LARGE_N
SYNTHETIC_PROMPT = 16
UNIFORM_SEED = 0
UNIFORM_OUTPUT = (1, 256)
IDENTICAL_OUTPUT = 64

# These algorithms run on the first SUBSET_N jobs of the synthetic workloads,
# because a full million-job run takes minutes (see docs/performance.md).
SUBSET_ALGORITHMS = ("mcsf", "sorted_f", "amin")
SUBSET_N = 100_000

SCALING_ALGORITHMS = ("gsa", "gba", "sps", "mcsf")

# --quick sizes: small enough for the tests, same shape as the full run.
QUICK_TRACE_N = 1_000
QUICK_LARGE_N = 4_000
QUICK_SUBSET_N = 1_000
QUICK_INTERPRETED_SECONDS = 0.05
QUICK_SCALING_SIZES = (300, 1_000, 3_000)

# The first interpreted run uses this many jobs; later runs grow from it.
INTERPRETED_START_N = 32
# An interpreted run is stopped after this many times --interpreted-seconds.
INTERPRETED_LIMIT_FACTOR = 5

# A child that runs longer than this is stopped and the benchmark fails.
CHILD_TIMEOUT_SECONDS = 3_600

# The targets. The first-call target applies to load_seconds, the first call
# on three jobs, because the first call on a workload also runs it and
# touches its memory for the first time.
TRACE_SECONDS_TARGET = 0.1
LARGE_SECONDS_TARGET = 10.0
LARGE_RSS_MB_TARGET = 2_048.0
SPEEDUP_TARGET = 100.0
LOAD_SECONDS_TARGET = 1.0


class BenchError(RuntimeError):
    """Error raised when a benchmark child process fails or times out."""


@dataclass(frozen=True)
class Workload:
    """A benchmark workload as one algorithm runs it.

    Attributes
    ----------
    name : str
        One of :data:`WORKLOADS`.
    n : int
        Number of jobs the algorithm runs: the first ``n`` of the workload.
    budget : int
        KV-cache budget ``M`` in tokens.
    """

    name: str
    n: int
    budget: int


def workload_for(name: str, algorithm: str, quick: bool = False) -> Workload:
    """Return the workload ``name`` as ``algorithm`` runs it.

    The synthetic workloads have 10**6 jobs, except for the algorithms in
    :data:`SUBSET_ALGORITHMS`, which run on the first 100,000. ``quick``
    selects the small sizes used by the tests.

    Examples
    --------
    >>> workload_for("uniform-1m", "gsa")
    Workload(name='uniform-1m', n=1000000, budget=1048576)
    >>> workload_for("uniform-1m", "mcsf").n
    100000
    >>> workload_for("azure-code", "sps")
    Workload(name='azure-code', n=8819, budget=16384)
    """
    if name in TRACE_WORKLOADS:
        from kvbook.traces import KNOWN_TRACES

        n = KNOWN_TRACES[name].requests
        if quick:
            n = min(n, QUICK_TRACE_N)
        return Workload(name, n, TRACE_BUDGET)
    if name not in SYNTHETIC_WORKLOADS:
        raise ValueError(
            f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}"
        )
    if quick:
        n = QUICK_SUBSET_N if algorithm in SUBSET_ALGORITHMS else QUICK_LARGE_N
        return Workload(name, n, round(QUICK_LARGE_N * BUDGET_PER_JOB))
    n = SUBSET_N if algorithm in SUBSET_ALGORITHMS else LARGE_N
    return Workload(name, n, LARGE_BUDGET)


def build_instance(workload: Workload, n: int | None = None):
    """Build the first ``n`` jobs (default ``workload.n``) of a workload.

    Traces keep each request's own prompt length. ``uniform-1m`` draws
    10**6 outputs uniformly from 1..256 with ``numpy.random.default_rng(0)``
    and keeps the first ``n``, so every size is a prefix of the same draw.

    Examples
    --------
    >>> instance = build_instance(Workload("identical-1m", 5, 400))
    >>> instance.output.tolist(), instance.budget
    ([64, 64, 64, 64, 64], 400)
    """
    from kvbook.model import make_instance

    count = workload.n if n is None else n
    label = f"{workload.name} n={count}"
    if workload.name in TRACE_WORKLOADS:
        from kvbook.traces import load_trace, trace_instance

        trace = load_trace(workload.name, limit=count)
        instance, _ = trace_instance(trace, workload.budget, name=label)
        return instance
    if workload.name == "uniform-1m":
        low, high = UNIFORM_OUTPUT
        rng = np.random.default_rng(UNIFORM_SEED)
        output = rng.integers(low, high, size=LARGE_N, endpoint=True)[:count]
    elif workload.name == "identical-1m":
        output = np.full(count, IDENTICAL_OUTPUT)
    else:
        raise ValueError(
            f"unknown workload {workload.name!r}; choose from {', '.join(WORKLOADS)}"
        )
    return make_instance(output, SYNTHETIC_PROMPT, workload.budget, name=label)


def scaling_sizes(quick: bool = False) -> list[int]:
    """Return the job counts of ``--scaling``: 10**3 to 10**6 in half decades.

    Examples
    --------
    >>> scaling_sizes()
    [1000, 3162, 10000, 31623, 100000, 316228, 1000000]
    """
    if quick:
        return list(QUICK_SCALING_SIZES)
    return [round(10 ** (exponent / 2)) for exponent in range(6, 13)]


def fit_slope(sizes, seconds) -> float:
    """Fit ``log(seconds) = slope * log(n) + c`` and return the slope.

    A slope of 1 means time linear in ``n``, and 2 means quadratic.

    Examples
    --------
    >>> round(fit_slope([10, 100, 1000], [0.002, 0.2, 20.0]), 6)
    2.0
    """
    sizes = np.asarray(sizes, dtype=float)
    seconds = np.asarray(seconds, dtype=float)
    if sizes.shape[0] < 2 or np.any(sizes <= 0) or np.any(seconds <= 0):
        raise ValueError(
            "a slope needs at least two sizes, all positive, with positive times; "
            f"got sizes {sizes.tolist()} and times {seconds.tolist()}"
        )
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


# ---------------------------------------------------------------------------
# Child processes


def _peak_rss_mb() -> float:
    """Return this process's peak resident memory in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    if sys.platform == "darwin":
        return peak / 2**20
    return peak / 2**10


def _time_call(function, instance):
    """Return ``(seconds, schedule)`` of one call, after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    schedule = function(instance)
    return time.perf_counter() - start, schedule


def _time_warm_calls(function, instance, repeats: int, max_seconds: float):
    """Time up to ``repeats`` calls; stop early when the next would pass the cap.

    At least one call runs. The cap applies to the sum of the timed calls.
    """
    times = []
    while len(times) < repeats:
        if times and sum(times) + times[-1] > max_seconds:
            break
        seconds, _ = _time_call(function, instance)
        times.append(seconds)
    return times


def _measure_jit(task: dict) -> dict:
    """Time the first and the warm calls of one algorithm on one workload."""
    from kvbook.algorithms import ALGORITHMS
    from kvbook.validate import validate

    function = ALGORITHMS[task["algorithm"]].function
    workload = Workload(**task["workload"])
    instance = build_instance(workload)

    first_call, schedule = _time_call(function, instance)
    start = time.perf_counter()
    validation = validate(schedule)
    validate_seconds = time.perf_counter() - start
    rounds = schedule.rounds
    del schedule

    times = _time_warm_calls(
        function, instance, task["repeats"], task["max_warm_seconds"]
    )
    result = {
        "n": instance.n,
        "budget": instance.budget,
        "rounds": rounds,
        "first_call_seconds": first_call,
        "seconds": statistics.median(times),
        "warm_calls": len(times),
        "validate_seconds": validate_seconds,
        "valid": bool(validation.valid),
    }

    prefix_n = task.get("prefix_n")
    if prefix_n is not None:
        if prefix_n == instance.n:
            result["jit_seconds_on_interpreted_n"] = result["seconds"]
        else:
            prefix = build_instance(workload, prefix_n)
            _time_call(function, prefix)
            prefix_times = _time_warm_calls(
                function, prefix, task["repeats"], task["max_warm_seconds"]
            )
            result["jit_seconds_on_interpreted_n"] = statistics.median(prefix_times)
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


class _CallTimeout(Exception):
    """Raised inside an interpreted call that ran past its time limit."""


def _time_call_with_limit(function, instance, limit: float):
    """Return the seconds of one call, or None if it ran past ``limit`` seconds.

    The limit uses SIGALRM, which interrupts interpreted Python code between
    bytecodes but not a compiled kernel, so it suits NUMBA_DISABLE_JIT runs.
    Where SIGALRM does not exist the call runs without a limit.
    """
    if not hasattr(signal, "setitimer"):
        return _time_call(function, instance)[0]

    def interrupt(signum, frame):
        raise _CallTimeout

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return _time_call(function, instance)[0]
    except _CallTimeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _measure_interpreted(task: dict) -> dict:
    """Time one interpreted call on a prefix that grows until it is slow enough.

    Runs with ``NUMBA_DISABLE_JIT=1``. The prefix starts at
    :data:`INTERPRETED_START_N` jobs and grows by a factor from 1.5 to 4,
    chosen so the next run should take 1.25 times the target, until a run
    takes ``target_seconds`` or covers the whole workload. Cost can jump
    between two sizes, for example once the jobs no longer all fit at once.
    So a run is stopped after :data:`INTERPRETED_LIMIT_FACTOR` times the
    target, and the search then bisects between the largest size that
    finished and the smallest that did not.
    """
    from kvbook.algorithms import ALGORITHMS

    function = ALGORITHMS[task["algorithm"]].function
    workload = Workload(**task["workload"])
    target = task["target_seconds"]
    limit = INTERPRETED_LIMIT_FACTOR * target
    finished = None  # (jobs, seconds) of the largest prefix that finished
    stopped = None  # jobs of the smallest prefix stopped at the limit
    count = min(INTERPRETED_START_N, workload.n)
    while True:
        instance = build_instance(workload, count)
        seconds = _time_call_with_limit(function, instance, limit)
        if seconds is None:
            stopped = count
        else:
            finished = (count, seconds)
            if seconds >= target or count == workload.n:
                break
        if stopped is None:
            factor = min(4.0, max(1.5, 1.25 * target / max(seconds, 1e-6)))
            count = min(workload.n, math.ceil(count * factor))
            continue
        low = finished[0] if finished is not None else 0
        if stopped - low <= max(1, low // 20):
            if finished is None:
                raise RuntimeError(
                    f"one interpreted call on {stopped} job(s) of {workload.name} "
                    f"took over {limit:g} s; raise --interpreted-seconds"
                )
            break
        count = max(low + 1, math.isqrt(max(low, 1) * stopped))
    return {"interpreted_n": finished[0], "interpreted_seconds": finished[1]}


def _warm_cache(task: dict) -> dict:
    """Call each algorithm on tiny instances so that numba caches its kernels.

    Returns the seconds each first call took: the compile time when the
    cache was empty or stale, else the time to load it.
    """
    from kvbook.algorithms import ALGORITHMS
    from kvbook.model import make_instance

    shared = make_instance([3, 3, 3], prompt=2, budget=12)
    per_job = make_instance([3, 4, 2], prompt=[2, 1, 3], budget=12)
    seconds = {}
    for name in task["algorithms"]:
        start = time.perf_counter()
        ALGORITHMS[name].function(shared)
        ALGORITHMS[name].function(per_job)
        seconds[name] = time.perf_counter() - start
    return {"load_or_compile_seconds": seconds}


def _measure_load(task: dict) -> dict:
    """Time the first call of one algorithm on three jobs in this process."""
    from kvbook.algorithms import ALGORITHMS
    from kvbook.model import make_instance

    instance = make_instance([3, 3, 3], prompt=2, budget=12)
    seconds, _ = _time_call(ALGORITHMS[task["algorithm"]].function, instance)
    return {"load_seconds": seconds}


_CHILD_TASKS = {
    "jit": _measure_jit,
    "load": _measure_load,
    "interpreted": _measure_interpreted,
    "warm_cache": _warm_cache,
}


def _child_main() -> None:
    """Run the task read as JSON from stdin and write its result to stdout."""
    task = json.load(sys.stdin)
    result = _CHILD_TASKS[task["kind"]](task)
    sys.stdout.write(json.dumps(result) + "\n")


def _run_child(task: dict, *, interpreted: bool = False) -> dict:
    """Run ``task`` in a fresh interpreter and return its JSON result."""
    env = dict(os.environ)
    if interpreted:
        env["NUMBA_DISABLE_JIT"] = "1"
    else:
        env.pop("NUMBA_DISABLE_JIT", None)
    command = [sys.executable, "-c", "import kvbook.bench; kvbook.bench._child_main()"]
    try:
        completed = subprocess.run(
            command,
            input=json.dumps(task),
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=CHILD_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(
            f"benchmark task {_describe(task)} timed out after "
            f"{CHILD_TIMEOUT_SECONDS} s; run fewer algorithms or workloads"
        ) from error
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise BenchError(
            f"benchmark task {_describe(task)} failed with exit status "
            f"{completed.returncode}:\n{tail}"
        )
    lines = completed.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"benchmark task {_describe(task)} wrote no result")
    return json.loads(lines[-1])


def _describe(task: dict) -> str:
    parts = [task["kind"]]
    if "algorithm" in task:
        parts.append(task["algorithm"])
    if "workload" in task:
        workload = task["workload"]
        parts.append(f"{workload['name']} n={workload['n']}")
    return "(" + ", ".join(parts) + ")"


# ---------------------------------------------------------------------------
# The benchmark


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, disable=not enabled, unit="task")


def run_benchmark(
    algorithms,
    workloads,
    *,
    repeats: int = 5,
    max_warm_seconds: float = 30.0,
    interpreted_seconds: float = 2.0,
    quick: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Benchmark each algorithm on each workload; return one row per pair.

    Parameters
    ----------
    algorithms : list of str
        Registry names from :data:`kvbook.algorithms.ALGORITHMS`.
    workloads : list of str
        Names from :data:`WORKLOADS`.
    repeats : int, default 5
        Number of warm calls whose median is ``seconds``.
    max_warm_seconds : float, default 30
        Stop the warm calls of a row early when the next one would bring
        their total past this many seconds; at least one always runs. The
        row's ``warm_calls`` is the number that ran.
    interpreted_seconds : float, default 2
        Grow the interpreted prefix until one run takes this long.
    quick : bool, default False
        Use the small sizes of :func:`workload_for`.
    progress : bool, default True
        Show a tqdm progress bar on stderr.

    Returns
    -------
    list of dict
        Rows with the keys of :data:`FIELDS` and then :data:`EXTRA_FIELDS`.

    Raises
    ------
    BenchError
        If a child process fails or times out.
    """
    _locate_traces(workloads)
    pairs = [(a, w) for w in workloads for a in algorithms]
    rows = []
    with _progress(1 + len(algorithms) + 2 * len(pairs), progress) as bar:
        bar.set_description("filling the numba cache")
        _run_child({"kind": "warm_cache", "algorithms": list(algorithms)})
        bar.update()
        load = {}
        for algorithm in algorithms:
            bar.set_description(f"{algorithm}, loading the cache")
            load[algorithm] = _run_child({"kind": "load", "algorithm": algorithm})
            bar.update()
        for algorithm, name in pairs:
            workload = workload_for(name, algorithm, quick)
            spec = {"name": workload.name, "n": workload.n, "budget": workload.budget}

            bar.set_description(f"{algorithm} on {name}, interpreted")
            interpreted = _run_child(
                {
                    "kind": "interpreted",
                    "algorithm": algorithm,
                    "workload": spec,
                    "target_seconds": interpreted_seconds,
                },
                interpreted=True,
            )
            bar.update()

            bar.set_description(f"{algorithm} on {name}, jitted")
            jitted = _run_child(
                {
                    "kind": "jit",
                    "algorithm": algorithm,
                    "workload": spec,
                    "repeats": repeats,
                    "max_warm_seconds": max_warm_seconds,
                    "prefix_n": interpreted["interpreted_n"],
                }
            )
            bar.update()
            jitted.update(load[algorithm])
            rows.append(_make_row(algorithm, name, interpreted, jitted))
    return rows


def _locate_traces(workloads) -> None:
    """Find the trace files in this process, so a missing file fails early.

    :func:`kvbook.traces.locate_trace` raises FileNotFoundError with the
    directories to put the file in.
    """
    from kvbook.traces import locate_trace

    for name in workloads:
        if name in TRACE_WORKLOADS:
            locate_trace(name)


def _make_row(algorithm: str, workload: str, interpreted: dict, jitted: dict) -> dict:
    row = {"algorithm": algorithm, "workload": workload}
    row.update(jitted)
    row.update(interpreted)
    row["speedup"] = row["interpreted_seconds"] / row["jit_seconds_on_interpreted_n"]
    return {key: row[key] for key in FIELDS + EXTRA_FIELDS}


def run_scaling(
    algorithms,
    *,
    repeats: int = 5,
    max_warm_seconds: float = 30.0,
    quick: bool = False,
    progress: bool = True,
) -> tuple[list[dict], dict[str, float]]:
    """Time ``algorithms`` on the uniform family at the sizes of :func:`scaling_sizes`.

    At ``n`` jobs the budget is ``round(n * 1.048576)`` tokens, so about the
    same share of the jobs fits at once at every size. The jobs are the first
    ``n`` of ``uniform-1m``.

    Returns
    -------
    points : list of dict
        One per algorithm and size, with ``algorithm``, ``n``, ``budget``,
        ``rounds``, ``seconds``, ``warm_calls`` and ``peak_rss_mb``.
    slopes : dict
        The log-log slope of :func:`fit_slope` for each algorithm.
    """
    sizes = scaling_sizes(quick)
    points = []
    with _progress(1 + len(sizes) * len(algorithms), progress) as bar:
        bar.set_description("filling the numba cache")
        _run_child({"kind": "warm_cache", "algorithms": list(algorithms)})
        bar.update()
        for algorithm in algorithms:
            for n in sizes:
                budget = round(n * BUDGET_PER_JOB)
                spec = {"name": "uniform-1m", "n": n, "budget": budget}
                bar.set_description(f"{algorithm} at n={n}")
                result = _run_child(
                    {
                        "kind": "jit",
                        "algorithm": algorithm,
                        "workload": spec,
                        "repeats": repeats,
                        "max_warm_seconds": max_warm_seconds,
                    }
                )
                bar.update()
                points.append(
                    {
                        "algorithm": algorithm,
                        "n": result["n"],
                        "budget": result["budget"],
                        "rounds": result["rounds"],
                        "seconds": result["seconds"],
                        "warm_calls": result["warm_calls"],
                        "peak_rss_mb": result["peak_rss_mb"],
                    }
                )
    slopes = {}
    for algorithm in algorithms:
        mine = [p for p in points if p["algorithm"] == algorithm]
        slopes[algorithm] = fit_slope(
            [p["n"] for p in mine], [p["seconds"] for p in mine]
        )
    return points, slopes


# ---------------------------------------------------------------------------
# Targets and output


@dataclass(frozen=True)
class TargetCheck:
    """One target applied to one benchmark row.

    Attributes
    ----------
    target : str
        The target, such as ``"warm seconds <= 0.1 on traces"``.
    algorithm, workload : str
        The row checked.
    value : float
        The row's measured value.
    met : bool
        Whether the value meets the target.
    """

    target: str
    algorithm: str
    workload: str
    value: float
    met: bool


def evaluate_targets(rows) -> list[TargetCheck]:
    """Check each row against the targets that apply to it.

    Every row must reach a speedup of at least 100, and its algorithm must
    load from numba's cache within 1 s (``load_seconds``). Rows on the
    traces must take at most 0.1 s warm. Rows on the synthetic workloads
    must take at most 10 s warm and 2 GiB of peak resident memory.

    Examples
    --------
    >>> row = {"algorithm": "gsa", "workload": "azure-code", "seconds": 0.25,
    ...        "load_seconds": 0.5, "speedup": 300.0, "peak_rss_mb": 200.0}
    >>> [(check.target, check.met) for check in evaluate_targets([row])]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('warm seconds <= 0.1 on traces', False), ('speedup >= 100', True),
     ('cache load <= 1 s', True)]
    """
    checks = []
    for row in rows:
        for target, value, met in _row_targets(row):
            checks.append(
                TargetCheck(
                    target, row["algorithm"], row["workload"], float(value), met
                )
            )
    return checks


def _row_targets(row) -> list[tuple[str, float, bool]]:
    """Return ``(target, value, met)`` for each target that applies to ``row``."""
    seconds = row["seconds"]
    results = []
    if row["workload"] in TRACE_WORKLOADS:
        results.append(
            (
                f"warm seconds <= {TRACE_SECONDS_TARGET:g} on traces",
                seconds,
                seconds <= TRACE_SECONDS_TARGET,
            )
        )
    else:
        results.append(
            (
                f"warm seconds <= {LARGE_SECONDS_TARGET:g} on synthetic workloads",
                seconds,
                seconds <= LARGE_SECONDS_TARGET,
            )
        )
        results.append(
            (
                f"peak RSS <= {LARGE_RSS_MB_TARGET:g} MiB on synthetic workloads",
                row["peak_rss_mb"],
                row["peak_rss_mb"] <= LARGE_RSS_MB_TARGET,
            )
        )
    results.append(
        (
            f"speedup >= {SPEEDUP_TARGET:g}",
            row["speedup"],
            row["speedup"] >= SPEEDUP_TARGET,
        )
    )
    results.append(
        (
            f"cache load <= {LOAD_SECONDS_TARGET:g} s",
            row["load_seconds"],
            row["load_seconds"] <= LOAD_SECONDS_TARGET,
        )
    )
    return results


_TABLE_COLUMNS = (
    ("algorithm", "algorithm", "<", "{}"),
    ("workload", "workload", "<", "{}"),
    ("n", "n", ">", "{:,}"),
    ("budget", "M", ">", "{:,}"),
    ("rounds", "rounds", ">", "{:,}"),
    ("load_seconds", "load s", ">", "{:.3g}"),
    ("first_call_seconds", "first s", ">", "{:.3g}"),
    ("seconds", "warm s", ">", "{:.3g}"),
    ("warm_calls", "calls", ">", "{}"),
    ("interpreted_n", "interp n", ">", "{:,}"),
    ("interpreted_seconds", "interp s", ">", "{:.3g}"),
    ("jit_seconds_on_interpreted_n", "jit s", ">", "{:.3g}"),
    ("speedup", "speedup", ">", "{:,.0f}"),
    ("peak_rss_mb", "RSS MiB", ">", "{:,.0f}"),
)


def _render(headers, aligns, cells) -> str:
    widths = [len(h) for h in headers]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line)]
    lines = []
    for line in [headers, *cells]:
        padded = [
            c.ljust(w) if a == "<" else c.rjust(w)
            for c, w, a in zip(line, widths, aligns)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def format_table(rows, checks=None) -> str:
    """Return the rows as a text table, with the missed targets of each row.

    ``checks`` defaults to :func:`evaluate_targets` of the rows. The last
    column lists the targets a row did not meet, or ``met``. A row whose
    schedule failed validation is marked ``INVALID``.
    """
    if checks is None:
        checks = evaluate_targets(rows)
    headers = [header for _, header, _, _ in _TABLE_COLUMNS] + ["targets"]
    aligns = [align for _, _, align, _ in _TABLE_COLUMNS] + ["<"]
    cells = []
    for row in rows:
        line = [fmt.format(row[key]) for key, _, _, fmt in _TABLE_COLUMNS]
        missed = [
            _short_target(c.target)
            for c in checks
            if not c.met
            and (c.algorithm, c.workload) == (row["algorithm"], row["workload"])
        ]
        verdict = "not met: " + ", ".join(missed) if missed else "met"
        if not row.get("valid", True):
            verdict = "INVALID schedule; " + verdict
        cells.append(line + [verdict])
    return _render(headers, aligns, cells)


def _short_target(target: str) -> str:
    return target.split(" on ")[0]


def format_targets(checks) -> str:
    """Return one line per target: met on how many rows, and every miss.

    Examples
    --------
    >>> checks = [TargetCheck("speedup >= 100", "sps", "azure-code", 250.0, True),
    ...           TargetCheck("speedup >= 100", "gsa", "azure-code", 40.0, False)]
    >>> print(format_targets(checks))
    speedup >= 100: not met on 1 of 2 rows: gsa/azure-code (40)
    """
    lines = []
    for target in dict.fromkeys(c.target for c in checks):
        mine = [c for c in checks if c.target == target]
        missed = [c for c in mine if not c.met]
        if not missed:
            lines.append(f"{target}: met on all {len(mine)} rows")
            continue
        listed = ", ".join(
            f"{c.algorithm}/{c.workload} ({c.value:.3g})" for c in missed
        )
        lines.append(
            f"{target}: not met on {len(missed)} of {len(mine)} rows: {listed}"
        )
    return "\n".join(lines)


def format_scaling(points, slopes) -> str:
    """Return the scaling times as a table of sizes by algorithm, then the slopes."""
    algorithms = list(slopes)
    sizes = sorted({p["n"] for p in points})
    seconds = {(p["algorithm"], p["n"]): p["seconds"] for p in points}
    budgets = {p["n"]: p["budget"] for p in points}
    headers = ["n", "M"] + [f"{a} s" for a in algorithms]
    aligns = [">"] * len(headers)
    cells = [
        [f"{n:,}", f"{budgets[n]:,}"] + [f"{seconds[(a, n)]:.3g}" for a in algorithms]
        for n in sizes
    ]
    table = _render(headers, aligns, cells)
    slope_line = "log-log slope of seconds against n: " + ", ".join(
        f"{a} {slopes[a]:.2f}" for a in algorithms
    )
    return table + "\n" + slope_line


# ---------------------------------------------------------------------------
# Command line


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _workload_list(text: str) -> list[str]:
    names = _comma_list(text)
    if not names:
        raise argparse.ArgumentTypeError(
            f"no workload named; pass a comma-separated list of {', '.join(WORKLOADS)}"
        )
    for name in names:
        if name not in WORKLOADS:
            raise argparse.ArgumentTypeError(
                f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}"
            )
    return names


def _algorithm_list(text: str) -> list[str]:
    from kvbook.algorithms import parse_algorithms

    try:
        return parse_algorithms(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds, got {text!r}"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``kvbook bench`` to ``parser``."""
    parser.description = (
        "Time every algorithm's numba kernels on fixed workloads: first call, "
        "warm calls, speedup over the interpreter (NUMBA_DISABLE_JIT=1) and "
        "peak memory, each in its own child process, and check the targets."
    )
    parser.add_argument(
        "--workloads",
        type=_workload_list,
        default=list(WORKLOADS),
        help=f"comma-separated workloads (default: {','.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--algorithms",
        type=_algorithm_list,
        default=None,
        help="comma-separated algorithm names, or 'all' (default: all; with "
        f"--scaling: {','.join(SCALING_ALGORITHMS)})",
    )
    parser.add_argument(
        "--repeats",
        type=_positive_int,
        default=5,
        help="warm calls per row; the row reports their median (default: 5)",
    )
    parser.add_argument(
        "--max-warm-seconds",
        type=_positive_float,
        default=30.0,
        help="stop a row's warm calls early when the next would bring their "
        "total past this many seconds; at least one runs (default: 30)",
    )
    parser.add_argument(
        "--interpreted-seconds",
        type=_positive_float,
        default=None,
        help="grow the interpreted prefix until one run takes this many "
        f"seconds (default: 2, or {QUICK_INTERPRETED_SECONDS:g} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="use small workloads, for tests: traces cut to "
        f"{QUICK_TRACE_N:,} requests, synthetic workloads of {QUICK_LARGE_N:,} "
        f"jobs ({QUICK_SUBSET_N:,} for {', '.join(SUBSET_ALGORITHMS)})",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="time the algorithms on the uniform family from 10^3 to 10^6 jobs "
        "and fit the log-log slope, instead of the workload table",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--json-file",
        metavar="PATH",
        default=None,
        help="also write the JSON output to PATH, whatever --format is",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="hide the progress bar on stderr",
    )


def run_command(args: argparse.Namespace) -> int:
    """Run ``kvbook bench`` with parsed arguments; return the exit status.

    Returns 0 when every child process succeeded, whether or not the
    targets were met. Returns 1 when a child failed, a trace file is
    missing or the ``--json-file`` path cannot be written.
    """
    from kvbook.algorithms import ALGORITHMS

    if args.json_file is not None:
        # Fail now rather than after a run of several minutes.
        try:
            open(args.json_file, "w", encoding="utf-8").close()
        except OSError as error:
            print(
                f"kvbook bench: error: cannot write --json-file {args.json_file}: "
                f"{error.strerror}; pass a path in a writable folder",
                file=sys.stderr,
            )
            return 1

    interpreted_seconds = args.interpreted_seconds
    if interpreted_seconds is None:
        interpreted_seconds = QUICK_INTERPRETED_SECONDS if args.quick else 2.0
    try:
        if args.scaling:
            algorithms = args.algorithms or list(SCALING_ALGORITHMS)
            points, slopes = run_scaling(
                algorithms,
                repeats=args.repeats,
                max_warm_seconds=args.max_warm_seconds,
                quick=args.quick,
                progress=args.progress,
            )
            text = json.dumps({"points": points, "slopes": slopes}, indent=2)
            _write_json_file(args.json_file, text)
            if args.format == "json":
                print(text)
            else:
                print(format_scaling(points, slopes))
            return 0

        algorithms = args.algorithms or list(ALGORITHMS)
        rows = run_benchmark(
            algorithms,
            args.workloads,
            repeats=args.repeats,
            max_warm_seconds=args.max_warm_seconds,
            interpreted_seconds=interpreted_seconds,
            quick=args.quick,
            progress=args.progress,
        )
    except (BenchError, FileNotFoundError) as error:
        print(f"kvbook bench: error: {error}", file=sys.stderr)
        return 1

    checks = evaluate_targets(rows)
    text = json.dumps(rows, indent=2)
    _write_json_file(args.json_file, text)
    if args.format == "json":
        print(text)
        # stdout carries only the JSON list, so the verdicts go to stderr.
        print(format_targets(checks), file=sys.stderr)
    else:
        print(format_table(rows, checks))
        print()
        heading = "targets"
        if args.quick:
            heading += " (--quick sizes, not the real workloads)"
        print(heading)
        print(format_targets(checks))
    return 0


def _write_json_file(path, text: str) -> None:
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


def main(argv=None) -> int:
    """Run the benchmark as ``python -m kvbook.bench``; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m kvbook.bench")
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
