"""Instance families: synthetic generators, the Azure traces and JSON files.

Every random family takes a ``seed`` and draws from
``numpy.random.default_rng(seed)``, so one seed gives one instance on every
platform that numpy's generator supports. All synthetic families use one
prompt length ``s`` for every job, as the model of Feng, Yang and Zhang
(2026) does.

:data:`FAMILIES` maps a name to a callable ``(n, budget, seed) -> Instance``
with defaults scaled to the budget, so tests and notebooks can loop over
every synthetic family. Small instances found by adversarial search live
under ``data/`` as JSON files (:func:`load_instance_json`,
:func:`save_instance_json`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kvbook.model import Instance, make_instance
from kvbook.traces import load_trace, trace_instance

__all__ = [
    "FAMILIES",
    "azure",
    "bimodal",
    "heavy_tailed",
    "identical",
    "load_instance_json",
    "save_instance_json",
    "uniform",
]


def _check_int(value, parameter: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, np.integer)
    ):
        raise ValueError(f"{parameter} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(
            f"{parameter} must be at least {minimum}, got {int(value)}"
        )
    return int(value)


def _check_room(s: int, longest: int, budget: int, parameter: str) -> None:
    """Raise unless a job of output ``longest`` fits alone: ``s + longest <= M``."""
    if s + longest > budget:
        raise ValueError(
            f"{parameter} = {longest} with prompt s = {s} needs {s + longest} "
            f"tokens at its peak but the budget is {budget}; lower {parameter} to "
            f"at most {budget - s} or raise the budget"
        )


def _check_common(n, s, budget) -> tuple[int, int, int]:
    n = _check_int(n, "n", 1)
    s = _check_int(s, "s", 1)
    budget = _check_int(budget, "budget", 2)
    if s >= budget:
        raise ValueError(
            f"prompt s = {s} leaves no room for output in a budget of {budget} "
            f"tokens; every job needs s + o <= budget with o >= 1, so use "
            f"s <= {budget - 1}"
        )
    return n, s, budget


def identical(n: int, s: int, o: int, budget: int) -> Instance:
    """Build ``n`` identical jobs, each with prompt ``s`` and output ``o``.

    Parameters
    ----------
    n : int
        Number of jobs, at least 1.
    s : int
        Prompt length of every job, in tokens.
    o : int
        Output length of every job, in tokens.
    budget : int
        KV-cache budget ``M`` in tokens; needs ``s + o <= M``.

    Returns
    -------
    Instance

    Examples
    --------
    The worked example of the model: three jobs that do not all fit at once.

    >>> identical(3, s=2, o=3, budget=12).output.tolist()
    [3, 3, 3]
    """
    n, s, budget = _check_common(n, s, budget)
    o = _check_int(o, "o", 1)
    _check_room(s, o, budget, "o")
    return make_instance(
        np.full(n, o), s, budget, name=f"identical n={n} s={s} o={o} M={budget}"
    )


def uniform(
    n: int, s: int, low: int, high: int, budget: int, seed
) -> Instance:
    """Draw output lengths uniformly from the integers ``low .. high``.

    Parameters
    ----------
    n : int
        Number of jobs, at least 1.
    s : int
        Prompt length of every job, in tokens.
    low, high : int
        Smallest and largest output length, both included; ``1 <= low <=
        high`` and ``s + high <= budget``.
    budget : int
        KV-cache budget ``M`` in tokens.
    seed : int or None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    Instance

    Examples
    --------
    >>> instance = uniform(5, s=4, low=1, high=10, budget=64, seed=0)
    >>> bool(instance.output.min() >= 1 and instance.output.max() <= 10)
    True
    """
    n, s, budget = _check_common(n, s, budget)
    low = _check_int(low, "low", 1)
    high = _check_int(high, "high", 1)
    if low > high:
        raise ValueError(
            f"low = {low} is above high = {high}; the output range low .. high "
            "needs low <= high"
        )
    _check_room(s, high, budget, "high")
    rng = np.random.default_rng(seed)
    output = rng.integers(low, high, size=n, endpoint=True)
    return make_instance(
        output, s, budget, name=f"uniform n={n} s={s} o={low}..{high} M={budget}"
    )


def heavy_tailed(
    n: int,
    s: int,
    budget: int,
    seed,
    kind: str = "pareto",
    *,
    shape: float | None = None,
    scale: float | None = None,
) -> Instance:
    """Draw heavy-tailed output lengths from a Pareto or log-normal law.

    The parameters follow ``scipy.stats``. For ``kind="pareto"`` the law is
    ``pareto(b=shape, scale=scale)``: ``scale`` is the smallest value, and
    the tail is ``P(X > x) = (scale / x) ** shape``. For
    ``kind="lognormal"`` the law is ``lognorm(s=shape, scale=scale)``:
    ``scale`` is the median, and ``shape`` the standard deviation of
    ``log X``.

    Each draw is rounded up to an integer and then clipped to
    ``[1, budget - s]``, so that every job fits alone. Clipping piles the
    tail's mass onto the longest output ``budget - s``. The clipped
    distribution is therefore not heavy-tailed beyond that point.

    Parameters
    ----------
    n : int
        Number of jobs, at least 1.
    s : int
        Prompt length of every job, in tokens.
    budget : int
        KV-cache budget ``M`` in tokens.
    seed : int or None
        Seed of ``numpy.random.default_rng``.
    kind : {"pareto", "lognormal"}, optional
        The law of the output lengths.
    shape : float, optional
        Tail index (Pareto, default 1.5: finite mean, infinite variance) or
        log-scale standard deviation (log-normal, default 1.0).
    scale : float, optional
        Smallest value (Pareto, default 8) or median (log-normal, default
        32), in tokens.

    Returns
    -------
    Instance

    Examples
    --------
    >>> instance = heavy_tailed(1000, s=16, budget=1024, seed=1)
    >>> int(instance.output.min()) >= 8, int(instance.output.max()) <= 1008
    (True, True)
    """
    n, s, budget = _check_common(n, s, budget)
    defaults = {"pareto": (1.5, 8.0), "lognormal": (1.0, 32.0)}
    if kind not in defaults:
        raise ValueError(
            f"kind must be 'pareto' or 'lognormal', got {kind!r}"
        )
    shape = defaults[kind][0] if shape is None else shape
    scale = defaults[kind][1] if scale is None else scale
    for parameter, value in (("shape", shape), ("scale", scale)):
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)
            or value <= 0
        ):
            raise ValueError(
                f"{parameter} must be a positive finite number, got {value!r}"
            )

    rng = np.random.default_rng(seed)
    if kind == "pareto":
        # numpy's pareto draws the Lomax law (Pareto minus 1, scale 1).
        draws = scale * (1.0 + rng.pareto(shape, size=n))
    else:
        draws = scale * rng.lognormal(mean=0.0, sigma=shape, size=n)
    output = np.clip(np.ceil(draws), 1, budget - s).astype(np.int64)
    return make_instance(
        output,
        s,
        budget,
        name=f"{kind} n={n} s={s} shape={shape:g} scale={scale:g} M={budget}",
    )


def bimodal(
    n: int,
    s: int,
    budget: int,
    seed,
    *,
    short: int = 8,
    long: int = 256,
    long_fraction: float = 0.1,
    long_first: bool = False,
) -> Instance:
    """Build many short jobs and a few long ones.

    This is the adversary of first-come-first-served admission: long jobs
    admitted early hold memory that many short jobs wait for.
    ``round(long_fraction * n)`` jobs get output ``long`` and the others
    ``short``. The seed picks which job indices are long, unless
    ``long_first`` puts them at the lowest indices (first in FCFS order).

    Parameters
    ----------
    n : int
        Number of jobs, at least 1.
    s : int
        Prompt length of every job, in tokens.
    budget : int
        KV-cache budget ``M`` in tokens; needs ``s + long <= M``.
    seed : int or None
        Seed of ``numpy.random.default_rng``; unused when ``long_first``.
    short, long : int, optional
        Output lengths of the short and the long jobs, ``1 <= short <=
        long``.
    long_fraction : float, optional
        Share of long jobs, between 0 and 1.
    long_first : bool, optional
        Give the long jobs the lowest indices.

    Returns
    -------
    Instance

    Examples
    --------
    >>> bimodal(5, s=2, budget=64, seed=0, short=1, long=40, long_fraction=0.4,
    ...         long_first=True).output.tolist()
    [40, 40, 1, 1, 1]
    """
    n, s, budget = _check_common(n, s, budget)
    short = _check_int(short, "short", 1)
    long = _check_int(long, "long", 1)
    if short > long:
        raise ValueError(
            f"short = {short} is above long = {long}; pass short <= long"
        )
    _check_room(s, long, budget, "long")
    if (
        isinstance(long_fraction, (bool, np.bool_))
        or not isinstance(long_fraction, (int, float, np.integer, np.floating))
        or not 0 <= long_fraction <= 1
    ):
        raise ValueError(
            f"long_fraction must be a number between 0 and 1, got "
            f"{long_fraction!r}"
        )

    long_count = int(round(long_fraction * n))
    output = np.full(n, short, dtype=np.int64)
    if long_first:
        output[:long_count] = long
    else:
        rng = np.random.default_rng(seed)
        output[rng.permutation(n)[:long_count]] = long
    order = ", long first" if long_first else ""
    return make_instance(
        output,
        s,
        budget,
        name=(
            f"bimodal n={n} s={s} o={short}|{long} long={long_count}{order} "
            f"M={budget}"
        ),
    )


def azure(
    name: str,
    budget: int,
    *,
    prompt="trace",
    limit: int | None = None,
    drop_infeasible: bool = True,
) -> Instance:
    """Build an instance from an Azure LLM inference trace of 2023.

    Output lengths are the ``GeneratedTokens`` column; prompt lengths are
    ``ContextTokens`` or one ``s`` (see ``prompt``). This wraps
    :func:`kvbook.traces.load_trace` and :func:`kvbook.traces.trace_instance`.
    Use those directly to learn how many jobs were dropped; here the count
    appears in the instance name when it is not zero.

    Parameters
    ----------
    name : str
        ``"azure-conv"`` or ``"azure-code"``, or the path of a trace file.
    budget : int
        KV-cache budget ``M`` in tokens.
    prompt : {"trace", "median"} or int, optional
        Each request's own prompt length, the median prompt length for all
        jobs, or a given one.
    limit : int, optional
        Keep only the first ``limit`` requests of the trace.
    drop_infeasible : bool, optional
        Drop the jobs with ``s_i + o_i > budget`` (the default) instead of
        raising ValueError.

    Returns
    -------
    Instance

    Raises
    ------
    FileNotFoundError
        If the trace is not on disk and cannot be downloaded.
    ValueError
        As for :func:`kvbook.traces.load_trace` and
        :func:`kvbook.traces.trace_instance`.
    """
    trace = load_trace(name, limit=limit)
    label = f"{trace.source} M={budget}"
    if prompt != "trace":
        label += f" s={prompt}"
    instance, dropped = trace_instance(
        trace, budget, prompt=prompt, drop_infeasible=drop_infeasible, name=label
    )
    if dropped:
        instance = dataclasses.replace(
            instance, name=f"{label} ({dropped} jobs with s + o > M dropped)"
        )
    return instance


def _default_prompt(budget: int) -> int:
    # One sixteenth of the budget, like a 1,024-token prompt in 16,384 tokens.
    return max(1, budget // 16)


def _identical_default(n: int, budget: int, seed=None) -> Instance:
    s = _default_prompt(budget)
    return identical(n, s, max(1, (budget - s) // 4), budget)


def _uniform_default(n: int, budget: int, seed=None) -> Instance:
    s = _default_prompt(budget)
    return uniform(n, s, 1, max(1, (budget - s) // 2), budget, seed)


def _pareto_default(n: int, budget: int, seed=None) -> Instance:
    s = _default_prompt(budget)
    scale = max(1, (budget - s) // 64)
    return heavy_tailed(n, s, budget, seed, "pareto", scale=scale)


def _lognormal_default(n: int, budget: int, seed=None) -> Instance:
    s = _default_prompt(budget)
    median = max(1, (budget - s) // 16)
    return heavy_tailed(n, s, budget, seed, "lognormal", scale=median)


def _bimodal_default(n: int, budget: int, seed=None) -> Instance:
    s = _default_prompt(budget)
    room = budget - s
    return bimodal(n, s, budget, seed, short=max(1, room // 32), long=room)


FAMILIES: dict[str, Callable[..., Instance]] = {
    "identical": _identical_default,
    "uniform": _uniform_default,
    "pareto": _pareto_default,
    "lognormal": _lognormal_default,
    "bimodal": _bimodal_default,
}
"""Synthetic families by name, each a callable ``(n, budget, seed) -> Instance``.

Defaults scale with the budget ``M`` (needs ``M >= 2``): prompt
``s = max(1, M // 16)`` and room ``R = M - s`` for outputs.

- ``identical``: every output ``max(1, R // 4)``; ignores the seed.
- ``uniform``: outputs uniform on ``1 .. max(1, R // 2)``.
- ``pareto``: Pareto with shape 1.5 and smallest value ``max(1, R // 64)``,
  clipped to ``R``.
- ``lognormal``: log-normal with sigma 1 and median ``max(1, R // 16)``,
  clipped to ``R``.
- ``bimodal``: 10% of jobs with output ``R``, the rest ``max(1, R // 32)``,
  at seeded positions.
"""


def save_instance_json(instance: Instance, path) -> Path:
    """Write an instance to a JSON file.

    The file contains one object, ``{"name": str, "budget": int, "prompt":
    [int, ...], "output": [int, ...]}``, with one prompt per job.

    Parameters
    ----------
    instance : Instance
        The instance to store.
    path : str or os.PathLike
        File to write; its directory must exist. An existing file is
        replaced.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> instance = identical(3, s=2, o=3, budget=12)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_instance_json(instance, pathlib.Path(folder) / "x.json")
    ...     loaded = load_instance_json(path)
    >>> loaded.output.tolist(), loaded.budget
    ([3, 3, 3], 12)
    """
    if not isinstance(instance, Instance):
        raise ValueError(
            f"instance must be a kvbook Instance, got {type(instance).__name__}"
        )
    path = Path(path)
    fields = {
        "name": instance.name,
        "budget": instance.budget,
        "prompt": [int(v) for v in instance.prompt],
        "output": [int(v) for v in instance.output],
    }
    # One field per line keeps small instances readable in a diff.
    lines = [
        f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in fields.items()
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def load_instance_json(path) -> Instance:
    """Read an instance written by :func:`save_instance_json`.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file containing an object with keys ``budget`` (int), ``prompt``
        (a list with one int per job, or one int for all), ``output`` (a
        list of ints) and optionally ``name`` (defaults to the file's stem).
        Other keys are ignored, so a file may carry notes such as how it was
        found.

    Returns
    -------
    Instance

    Raises
    ------
    ValueError
        If the file is not valid JSON, a key is missing, or the instance is
        invalid (see :func:`kvbook.model.make_instance`). The message names
        the file.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}: invalid JSON at line {error.lineno} ({error.msg}); an "
            'instance file holds {"name": ..., "budget": ..., "prompt": [...], '
            '"output": [...]}'
        ) from error
    if not isinstance(record, dict):
        raise ValueError(
            f"{path}: expected a JSON object, got {type(record).__name__}"
        )
    missing = [key for key in ("budget", "prompt", "output") if key not in record]
    if missing:
        raise ValueError(
            f"{path}: missing key {', '.join(map(repr, missing))}; an instance "
            "file needs 'budget', 'prompt' and 'output'"
        )
    name = record.get("name", path.stem)
    if not isinstance(name, str):
        raise ValueError(f"{path}: 'name' must be a string, got {name!r}")
    budget = record["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise ValueError(
            f"{path}: 'budget' must be an integer number of tokens, got {budget!r}"
        )
    try:
        return make_instance(record["output"], record["prompt"], budget, name=name)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
