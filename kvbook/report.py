"""Result tables, schedule files and figures for runs of several algorithms.

The ``kvbook run`` command and the notebooks share these functions: one row
per algorithm (:func:`result_rows`), a fixed-width text table
(:func:`format_table`), the schedules as CSV files (:func:`save_schedules`),
and a two-panel figure of memory and completions over rounds
(:func:`run_figure`, :func:`save_run_figure`).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kvbook.model import Instance, Schedule
from kvbook.validate import Validation, validate

__all__ = [
    "ROW_KEYS",
    "describe_instance",
    "format_table",
    "result_rows",
    "run_figure",
    "save_run_figure",
    "save_schedules",
]

ROW_KEYS = (
    "algorithm",
    "clairvoyant",
    "flow_time",
    "lower_bound",
    "ratio_to_lower_bound",
    "kills",
    "peak_memory",
    "seconds",
    "valid",
)

# (row key, column header, right-aligned) for each column of format_table.
_COLUMNS = (
    ("algorithm", "algorithm", False),
    ("clairvoyant", "clairvoyant", False),
    ("flow_time", "flow_time", True),
    ("lower_bound", "lower_bound", True),
    ("ratio_to_lower_bound", "ratio", True),
    ("kills", "kills", True),
    ("peak_memory", "peak_memory", True),
    ("seconds", "seconds", True),
    ("valid", "valid", False),
)

# The memory panel averages memory over bins of consecutive rounds, at most
# this many per curve, so that curves of millions of rounds stay readable.
_MAX_MEMORY_POINTS = 300

# With makespans this many times apart, the figure uses a logarithmic round
# axis, or the shorter schedules would be squeezed against the left edge.
_LOG_ROUNDS_SPREAD = 20


def describe_instance(
    instance: Instance, lower_bound: int, prompt_mode: str | None = None
) -> str:
    """Describe an instance in one line: source, size, budget, prompt, bound.

    Parameters
    ----------
    instance : Instance
        The instance.
    lower_bound : int
        The lower bound on its optimal total flow time.
    prompt_mode : str, optional
        How the prompt lengths were chosen (such as ``"median"``), shown in
        brackets after them.

    Returns
    -------
    str

    Examples
    --------
    >>> from kvbook import make_instance
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12, name="worked")
    >>> describe_instance(inst, 9)
    'worked: n = 3 jobs, budget M = 12 tokens, prompt s = 2 tokens, lower bound 9'
    >>> inst = make_instance([3, 4], prompt=[2, 5], budget=12, name="t.csv")
    >>> describe_instance(inst, 7, "trace")
    't.csv: n = 2 jobs, budget M = 12 tokens, prompt s_i = 2..5 tokens (trace), lower bound 7'
    """
    if instance.uniform_prompt:
        prompt = f"prompt s = {int(instance.prompt[0])} tokens"
    else:
        low, high = int(instance.prompt.min()), int(instance.prompt.max())
        prompt = f"prompt s_i = {low}..{high} tokens"
    if prompt_mode is not None:
        prompt += f" ({prompt_mode})"
    label = instance.name or "instance"
    return (
        f"{label}: n = {instance.n} jobs, budget M = {instance.budget} tokens, "
        f"{prompt}, lower bound {lower_bound}"
    )


def result_rows(
    schedules: Sequence[Schedule],
    lower_bound: int,
    seconds: Sequence[float] | None = None,
    validations: Sequence[Validation] | None = None,
) -> list[dict]:
    """Summarise each schedule in one row, with the keys of :data:`ROW_KEYS`.

    Parameters
    ----------
    schedules : sequence of Schedule
        Schedules of one instance, one per algorithm.
    lower_bound : int
        Lower bound on the optimal total flow time of that instance, the
        denominator of ``ratio_to_lower_bound``.
    seconds : sequence of float, optional
        Run time of each algorithm. Without it every ``seconds`` is ``None``.
    validations : sequence of Validation, optional
        Results of :func:`kvbook.validate.validate` for the schedules; the
        schedules are validated here when they are not given.

    Returns
    -------
    list of dict
        One dict per schedule: ``algorithm`` (str), ``clairvoyant`` (bool),
        ``flow_time``, ``lower_bound``, ``kills`` and ``peak_memory`` (int),
        ``ratio_to_lower_bound`` (float, ``flow_time / lower_bound``),
        ``seconds`` (float or None) and ``valid`` (bool). Every value is a
        plain Python type, so ``json.dumps`` accepts the rows.

    Raises
    ------
    ValueError
        If ``lower_bound`` is not a positive integer, or ``seconds`` or
        ``validations`` does not have one entry per schedule.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import run
    >>> schedule = run("sps", make_instance([3, 3, 3], prompt=2, budget=12))
    >>> row = result_rows([schedule], lower_bound=9, seconds=[0.25])[0]
    >>> row["flow_time"], row["ratio_to_lower_bound"], row["valid"]
    (12, 1.3333333333333333, True)
    """
    if isinstance(lower_bound, bool) or not isinstance(lower_bound, (int, np.integer)):
        raise ValueError(
            f"lower_bound must be a positive integer, got {lower_bound!r}; pass "
            "kvbook.bounds.lower_bound(instance)"
        )
    if lower_bound < 1:
        raise ValueError(
            f"lower_bound must be at least 1 (every job takes a round), got "
            f"{lower_bound}; pass kvbook.bounds.lower_bound(instance)"
        )
    for name, values in (("seconds", seconds), ("validations", validations)):
        if values is not None and len(values) != len(schedules):
            raise ValueError(
                f"{name} has {len(values)} entries but there are {len(schedules)} "
                "schedules; give one per schedule, in the same order"
            )
    if validations is None:
        validations = [validate(schedule) for schedule in schedules]

    rows = []
    for k, (schedule, validation) in enumerate(zip(schedules, validations)):
        rows.append(
            {
                "algorithm": schedule.algorithm,
                "clairvoyant": bool(schedule.clairvoyant),
                "flow_time": int(schedule.flow_time),
                "lower_bound": int(lower_bound),
                "ratio_to_lower_bound": int(schedule.flow_time) / int(lower_bound),
                "kills": int(schedule.kills),
                "peak_memory": schedule.peak_memory,
                "seconds": None if seconds is None else float(seconds[k]),
                "valid": bool(validation.valid),
            }
        )
    return rows


def _format_cell(key: str, value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "ratio_to_lower_bound" or key == "seconds":
        return f"{value:.3f}"
    return str(value)


def format_table(rows: Sequence[dict]) -> str:
    """Format result rows as a fixed-width text table with a header line.

    Text columns are left-aligned and numbers right-aligned. Ratios and
    seconds have 3 decimals, booleans read ``yes`` or ``no``, and a missing
    value (``None``) reads ``-``.

    Parameters
    ----------
    rows : sequence of dict
        Rows from :func:`result_rows`.

    Returns
    -------
    str
        The table, without a final newline.

    Raises
    ------
    ValueError
        If a row lacks one of the keys in :data:`ROW_KEYS`.

    Examples
    --------
    >>> row = dict(algorithm="sps", clairvoyant=True, flow_time=12,
    ...            lower_bound=9, ratio_to_lower_bound=12 / 9, kills=0,
    ...            peak_memory=12, seconds=0.0012, valid=True)
    >>> print(format_table([row]))
    algorithm  clairvoyant  flow_time  lower_bound  ratio  kills  peak_memory  seconds  valid
    sps        yes                 12            9  1.333      0           12    0.001  yes
    """
    for number, row in enumerate(rows):
        missing = [key for key in ROW_KEYS if key not in row]
        if missing:
            raise ValueError(
                f"row {number} lacks the keys {', '.join(missing)}; build rows "
                "with result_rows"
            )
    cells = [[header for _, header, _ in _COLUMNS]]
    cells += [[_format_cell(key, row[key]) for key, _, _ in _COLUMNS] for row in rows]
    widths = [max(len(line[c]) for line in cells) for c in range(len(_COLUMNS))]

    lines = []
    for line in cells:
        padded = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, (_, _, right) in zip(line, widths, _COLUMNS)
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def save_schedules(
    instance: Instance, schedules: Sequence[Schedule], directory
) -> list[Path]:
    """Write an instance and its schedules as CSV files in ``directory``.

    The files are ``instance.csv`` (header ``job,prompt,output``, one line per
    job), ``instance.json`` (``{"budget": M}``) and ``<algorithm>.csv`` for
    each schedule (header ``job,start,length,completed``, one line per run in
    the schedule's order, ``completed`` as 1 or 0). ``directory`` and its
    parents are created if missing, and existing files are overwritten.

    Parameters
    ----------
    instance : Instance
        The instance scheduled.
    schedules : sequence of Schedule
        Its schedules; may be empty, to write the instance files alone.
    directory : str or os.PathLike
        Where to write the files.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        If a schedule belongs to another instance, or its algorithm name
        would not make a plain file name.
    OSError
        If the directory cannot be created or a file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import run
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = save_schedules(inst, [run("sps", inst)], folder)
    ...     print(paths[-1].read_text(), end="")
    job,start,length,completed
    0,0,3,1
    1,1,3,1
    2,2,3,1
    """
    for schedule in schedules:
        if schedule.instance is not instance:
            raise ValueError(
                f"the {schedule.algorithm} schedule belongs to another instance; "
                "save the schedules of one instance together"
            )
        name = schedule.algorithm
        if not name or os.sep in name or "/" in name or name in (".", ".."):
            raise ValueError(
                f"algorithm name {name!r} is not a plain file name; rename the "
                "schedule's algorithm"
            )

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    path = folder / "instance.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["job", "prompt", "output"])
        for job in range(instance.n):
            writer.writerow([job, int(instance.prompt[job]), int(instance.output[job])])
    written.append(path)

    path = folder / "instance.json"
    path.write_text(json.dumps({"budget": instance.budget}) + "\n", encoding="utf-8")
    written.append(path)

    for schedule in schedules:
        path = folder / f"{schedule.algorithm}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["job", "start", "length", "completed"])
            for job, start, length, completed in schedule.runs:
                writer.writerow([job, start, length, int(completed)])
        written.append(path)
    return written


def _bin_edges(rounds: int, logarithmic: bool) -> np.ndarray:
    """Start rounds of at most ``_MAX_MEMORY_POINTS`` bins covering ``0 .. rounds``."""
    if rounds <= _MAX_MEMORY_POINTS:
        return np.arange(rounds, dtype=np.int64)
    if logarithmic:
        edges = np.geomspace(1, rounds, _MAX_MEMORY_POINTS - 1).astype(np.int64)
        return np.unique(np.concatenate(([0], edges[edges < rounds])))
    width = math.ceil(rounds / _MAX_MEMORY_POINTS)
    return np.arange(0, rounds, width, dtype=np.int64)


def run_figure(schedules: Sequence[Schedule], title: str, log_rounds=None):
    """Draw memory and completions over rounds for schedules of one instance.

    The left panel shows the tokens held by each schedule over rounds and the
    budget ``M`` as a dashed line. Beyond 300 rounds it plots the mean over
    bins of consecutive rounds (equal bins on a linear axis, geometric ones
    on a logarithmic axis), so peaks are flattened: the peak memory is in the
    result table. The right panel shows the number of completed jobs against
    the round, a step for each completion.

    Parameters
    ----------
    schedules : sequence of Schedule
        Schedules of instances with the same budget, one per algorithm.
    title : str
        Figure title, such as the line from :func:`describe_instance`.
    log_rounds : bool, optional
        Use a logarithmic round axis (symmetric-log, linear below round 1).
        By default it is used when the longest makespan is more than 20
        times the shortest.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot, drawn by the Agg backend; Jupyter
        displays it, and ``savefig`` writes it without a display.

    Raises
    ------
    ValueError
        If ``schedules`` is empty or their budgets differ.

    Examples
    --------
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import run
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> figure = run_figure([run("sps", inst), run("gsa", inst)], "worked example")
    >>> [axes.get_xlabel() for axes in figure.axes]
    ['round', 'round']
    """
    from matplotlib.figure import Figure

    if len(schedules) == 0:
        raise ValueError("no schedules to plot; pass at least one Schedule")
    budgets = sorted({schedule.instance.budget for schedule in schedules})
    if len(budgets) != 1:
        raise ValueError(
            f"the schedules have different budgets {budgets}; plot the schedules "
            "of one instance together"
        )
    budget = budgets[0]
    makespans = [max(schedule.rounds, 1) for schedule in schedules]
    if log_rounds is None:
        log_rounds = max(makespans) > _LOG_ROUNDS_SPREAD * min(makespans)

    figure = Figure(figsize=(12, 4.8), layout="constrained")
    memory_axes, completion_axes = figure.subplots(1, 2)
    colors = [f"C{k % 10}" for k in range(len(schedules))]

    for schedule, color in zip(schedules, colors):
        memory = np.asarray(schedule.memory, dtype=np.int64)
        if memory.shape[0] == 0:
            continue
        edges = _bin_edges(memory.shape[0], bool(log_rounds))
        widths = np.diff(np.append(edges, memory.shape[0]))
        means = np.add.reduceat(memory, edges) / widths
        # Repeat the last value at the makespan so the final step is drawn.
        x = np.append(edges, memory.shape[0])
        y = np.append(means, means[-1])
        memory_axes.plot(x, y, drawstyle="steps-post", color=color, linewidth=1)
    memory_axes.axhline(
        budget, color="black", linestyle="--", linewidth=1, label=f"budget M = {budget}"
    )
    memory_axes.set_xlabel("round")
    memory_axes.set_ylabel("KV-cache memory held (tokens, mean per bin)")
    memory_axes.set_title("Memory over rounds")
    memory_axes.set_ylim(0, budget * 1.08)

    for schedule, color in zip(schedules, colors):
        completion = np.sort(schedule.completion)
        x = np.concatenate(([0], completion))
        y = np.arange(completion.shape[0] + 1)
        completion_axes.plot(
            x, y, drawstyle="steps-post", color=color, linewidth=1,
            label=schedule.algorithm,
        )
    completion_axes.set_xlabel("round")
    completion_axes.set_ylabel("completed jobs (jobs)")
    completion_axes.set_title("Completions over rounds")

    for axes in (memory_axes, completion_axes):
        if log_rounds:
            axes.set_xscale("symlog", linthresh=1)
        else:
            axes.ticklabel_format(axis="x", style="plain")
        axes.set_xlim(left=0)
        axes.grid(True, alpha=0.3)
    figure.legend(
        *completion_axes.get_legend_handles_labels(),
        loc="outside right center",
        fontsize="small",
    )
    memory_axes.legend(loc="lower right", fontsize="small")
    figure.suptitle(title)
    return figure


def save_run_figure(schedules: Sequence[Schedule], path, title: str) -> Path:
    """Draw :func:`run_figure` and save it to ``path``.

    Parameters
    ----------
    schedules : sequence of Schedule
        Schedules of one instance, one per algorithm.
    path : str or os.PathLike
        Output file. Its extension picks the format (``.png``, ``.pdf``,
        ``.svg`` and the others matplotlib writes).
    title : str
        Figure title.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If the schedules cannot be plotted together (see :func:`run_figure`)
        or matplotlib does not know the extension.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    figure = run_figure(schedules, title)
    figure.savefig(path, dpi=120)
    return path
