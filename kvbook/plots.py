"""Figures of schedules: Gantt charts, memory profiles, completions, ratios.

Every function draws with matplotlib on the Axes it is given (or on a new
figure) and returns that Axes, so notebooks can combine them. The x axis is
in rounds throughout. A run from round ``a`` of length ``l`` covers
``[a, a + l)`` and the memory of round ``t`` is drawn over ``[t, t + 1)``,
so a Gantt chart and a memory profile on a shared axis line up.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from kvbook.model import Instance, Schedule
from kvbook.validate import check_schedule

__all__ = [
    "plot_completions",
    "plot_gantt",
    "plot_memory",
    "plot_ratios",
    "plot_schedule",
    "schedule_from_runs",
]

COMPLETED_COLOR = "C0"
KILLED_COLOR = "C3"
# Y tick labels for each job stop being readable beyond this many jobs.
_MAX_JOB_TICKS = 24


def schedule_from_runs(
    instance: Instance, runs, algorithm: str = "by hand"
) -> Schedule:
    """Build a :class:`~kvbook.model.Schedule` from hand-written runs.

    The memory profile and flow time are recomputed by
    :func:`kvbook.validate.check_schedule`, so the result can be drawn even
    when it breaks the budget or another rule; check it with
    :func:`kvbook.validate.validate` before trusting it.

    Parameters
    ----------
    instance : Instance
        The instance the runs schedule.
    runs : sequence of (job, start, length, completed)
        One tuple per run.
    algorithm : str, default "by hand"
        Label used in legends and titles.

    Returns
    -------
    Schedule

    Examples
    --------
    All three jobs of the worked example started at round 0 hold 15 tokens
    in round 2, above the budget of 12:

    >>> from kvbook import make_instance
    >>> inst = make_instance([3, 3, 3], prompt=2, budget=12)
    >>> together = schedule_from_runs(inst, [(j, 0, 3, True) for j in range(3)])
    >>> together.memory.tolist(), together.flow_time
    ([9, 12, 15], 9)
    """
    rows = list(runs)
    if not rows:
        raise ValueError("runs is empty; give at least one (job, start, length, "
                         "completed) tuple")
    if any(len(row) != 4 for row in rows):
        raise ValueError(
            "each run must be a (job, start, length, completed) tuple of 4 "
            f"values, got {next(row for row in rows if len(row) != 4)!r}"
        )
    job, start, length = (np.array([row[i] for row in rows], dtype=np.int64)
                          for i in range(3))
    completed = np.array([bool(row[3]) for row in rows])
    check = check_schedule(instance, job, start, length, completed)
    return Schedule(
        algorithm=algorithm,
        clairvoyant=True,
        instance=instance,
        job=job,
        start=start,
        length=length,
        completed=completed,
        flow_time=check.flow_time,
        kills=int(np.count_nonzero(~completed)),
        memory=np.array(check.memory),
    )


def _new_axes(ax, figsize=(7, 3)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_gantt(schedule: Schedule, ax=None, *, colors=None, title=None):
    """Draw one row per job and one bar per run.

    Completed runs are solid. Killed runs are faded and hatched, with an
    ``x`` at the round where the kill happens (the end of the run).

    Parameters
    ----------
    schedule : Schedule
        Any schedule, valid or not.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    colors : sequence of colors, optional
        One matplotlib color per run, in the schedule's run order. By
        default completed runs are blue and killed runs red.
    title : str, optional
        Axes title; by default the algorithm and its total flow time.

    Returns
    -------
    matplotlib.axes.Axes
        The bars are ``ax.patches``, one per run; the kill markers are the
        line labelled ``"kill"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import gsa
    >>> schedule = gsa(make_instance([1, 3], prompt=1, budget=8))
    >>> ax = plot_gantt(schedule)
    >>> len(ax.patches) == len(schedule.runs)
    True
    """
    ax = _new_axes(ax)
    job = np.asarray(schedule.job)
    start = np.asarray(schedule.start)
    length = np.asarray(schedule.length)
    done = np.asarray(schedule.completed, dtype=bool)
    if colors is None:
        colors = np.where(done, COMPLETED_COLOR, KILLED_COLOR)
    elif len(colors) != job.shape[0]:
        raise ValueError(
            f"colors has {len(colors)} entries but the schedule has {job.shape[0]} "
            "runs; give one color per run"
        )
    height = 0.7 if schedule.instance.n <= 60 else 1.0
    colors = np.array(colors, dtype=object)
    ax.barh(job[done], length[done], left=start[done], height=height,
            color=list(colors[done]), edgecolor="white", linewidth=0.5)
    killed = ~done
    if np.any(killed):
        ax.barh(job[killed], length[killed], left=start[killed], height=height,
                facecolor=list(colors[killed]), alpha=0.35,
                edgecolor=list(colors[killed]), hatch="///", linewidth=0.5)
    if np.any(~done):
        ax.plot(start[~done] + length[~done], job[~done], "x", color="black",
                markersize=5, label="kill")
    n = schedule.instance.n
    ax.set_ylim(n - 0.5, -0.5)
    if n <= _MAX_JOB_TICKS:
        ax.set_yticks(range(n))
    ax.set_ylabel("job")
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(int(np.max(start + length, initial=0)), 1))
    if title is None:
        title = f"{schedule.algorithm}: total flow time {schedule.flow_time}"
    ax.set_title(title)
    return ax


def plot_memory(schedule_or_list, ax=None, *, budget_line: bool = True,
                labels=None, title=None):
    """Draw the tokens held in each round, with the budget as a dashed line.

    Parameters
    ----------
    schedule_or_list : Schedule or sequence of Schedule
        Schedules to overlay; each is drawn as a step curve from its
        ``memory`` array, round ``t`` over ``[t, t + 1)``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    budget_line : bool, default True
        Draw each distinct budget ``M`` as a dashed horizontal line.
    labels : sequence of str, optional
        Legend entries; by default each schedule's algorithm name. A legend
        is drawn when there is more than one curve or a budget line.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        One :class:`matplotlib.patches.StepPatch` per schedule in
        ``ax.patches``; budget lines carry the label ``"budget M = ..."``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import sps
    >>> ax = plot_memory(sps(make_instance([3, 3, 3], prompt=2, budget=12)))
    >>> ax.patches[0].get_data().values.tolist()
    [3, 7, 12, 9, 5]
    """
    schedules = _as_schedule_list(schedule_or_list)
    if labels is None:
        labels = [schedule.algorithm for schedule in schedules]
    elif len(labels) != len(schedules):
        raise ValueError(
            f"labels has {len(labels)} entries for {len(schedules)} schedules; "
            "give one label per schedule"
        )
    ax = _new_axes(ax)
    for k, (schedule, label) in enumerate(zip(schedules, labels)):
        memory = np.asarray(schedule.memory)
        ax.stairs(memory, np.arange(memory.shape[0] + 1), color=f"C{k}",
                  linewidth=1.5, label=label, baseline=None)
    if budget_line:
        for budget in sorted({schedule.instance.budget for schedule in schedules}):
            ax.axhline(budget, color="black", linestyle="--", linewidth=1,
                       label=f"budget M = {budget}")
    _shade_overflow(ax, schedules)
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("KV-cache memory (tokens)")
    top = max(max(s.peak_memory for s in schedules),
              max(s.instance.budget for s in schedules))
    ax.set_ylim(0, 1.1 * top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    if len(schedules) > 1 or budget_line:
        ax.legend(loc="best", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_schedule(schedule: Schedule, *, title=None, colors=None, figsize=None):
    """Draw a schedule's Gantt chart above its memory profile.

    Parameters
    ----------
    schedule : Schedule
        Any schedule, valid or not.
    title : str, optional
        Figure title; by default the algorithm and its total flow time.
    colors : sequence of colors, optional
        One color per run, passed to :func:`plot_gantt`.
    figsize : (float, float), optional
        Figure size in inches; by default it grows with the number of jobs.

    Returns
    -------
    matplotlib.figure.Figure
        Two Axes sharing the round axis: the Gantt chart, then the memory.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import sps
    >>> fig = plot_schedule(sps(make_instance([3, 3, 3], prompt=2, budget=12)))
    >>> len(fig.axes)
    2
    """
    if figsize is None:
        gantt_height = min(1.0 + 0.25 * schedule.instance.n, 5.0)
        figsize = (7, gantt_height + 2.2)
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=figsize, layout="constrained",
        height_ratios=[figsize[1] - 2.2, 2.2],
    )
    plot_gantt(schedule, ax=top, colors=colors, title="")
    top.set_xlabel("")
    plot_memory(schedule, ax=bottom)
    if title is None:
        title = f"{schedule.algorithm}: total flow time {schedule.flow_time}"
    fig.suptitle(title)
    return fig


def plot_completions(schedules, ax=None, *, labels=None, title=None):
    """Draw the number of completed jobs at the end of each round.

    Parameters
    ----------
    schedules : Schedule or sequence of Schedule
        Schedules to compare; each is a step curve rising by one at each
        completion round ``C_i``. The area above a curve and below ``n`` is
        its total flow time.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    labels : sequence of str, optional
        Legend entries; by default the algorithm and its flow time.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        One line per schedule in ``ax.lines``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import sps
    >>> ax = plot_completions(sps(make_instance([3, 3, 3], prompt=2, budget=12)))
    >>> ax.lines[0].get_ydata().tolist()
    [0, 1, 2, 3]
    """
    schedules = _as_schedule_list(schedules)
    if labels is None:
        labels = [f"{s.algorithm} (flow time {s.flow_time})" for s in schedules]
    elif len(labels) != len(schedules):
        raise ValueError(
            f"labels has {len(labels)} entries for {len(schedules)} schedules; "
            "give one label per schedule"
        )
    ax = _new_axes(ax)
    for schedule, label in zip(schedules, labels):
        times = np.sort(schedule.completion)
        x = np.concatenate(([0], times))
        y = np.arange(times.shape[0] + 1)
        ax.step(x, y, where="post", label=label)
    ax.set_xlabel("round")
    ax.set_ylabel("completed jobs")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_ratios(x, ratios: Mapping[str, Sequence[float]], ax=None, *,
                bounds: Mapping[str, float] | None = None, xlabel="parameter",
                ylabel="flow time ratio", logx=False, logy=False, title=None):
    """Draw measured ratios against a swept parameter, with claimed bounds.

    Parameters
    ----------
    x : sequence of float
        Values of the swept parameter.
    ratios : mapping of str to sequence of float
        One curve per label, each with one ratio per ``x``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made if omitted.
    bounds : mapping of str to float, optional
        Claimed bounds, each drawn as a dashed horizontal line and labelled.
    xlabel, ylabel : str
        Axis labels. The y label should state whether the ratio is against
        OPT or against the lower bound.
    logx, logy : bool, default False
        Logarithmic axes.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        One marked line per curve, then one dashed line per bound, in
        ``ax.lines``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_ratios([64, 128], {"sps": [1.2, 1.1]}, bounds={"paper": 2})
    >>> [line.get_label() for line in ax.lines]
    ['sps', 'paper']
    """
    x = np.asarray(x, dtype=float)
    ax = _new_axes(ax)
    for k, (label, values) in enumerate(ratios.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != x.shape:
            raise ValueError(
                f"ratios[{label!r}] has {values.shape[0]} values but x has "
                f"{x.shape[0]}; give one ratio per x"
            )
        ax.plot(x, values, marker="o", markersize=4, color=f"C{k}", label=label)
    for k, (label, value) in enumerate((bounds or {}).items()):
        ax.axhline(value, color="black", linestyle=["--", ":", "-."][k % 3],
                   linewidth=1, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
        # Ratios read better as 2, 3, 5 than as 2 x 10^0.
        plain = FuncFormatter(lambda value, _: _ratio_label(ax, value))
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


def _ratio_label(ax, value: float) -> str:
    """Label a log-axis tick as a plain number, thinned out over many decades.

    Over more than one decade only the ticks whose leading digit is 1, 2, 3
    or 5 get a label, so minor labels do not overlap.
    """
    if value <= 0:
        return ""
    low, high = ax.get_ylim()
    mantissa = value / 10 ** np.floor(np.log10(value) + 1e-9)
    if np.log10(high / low) > 1 and round(mantissa) not in (1, 2, 3, 5):
        return ""
    return f"{value:g}"


def _shade_overflow(ax, schedules) -> None:
    """Fill in red the rounds where a schedule exceeds its budget."""
    for schedule in schedules:
        memory = np.asarray(schedule.memory)
        budget = schedule.instance.budget
        over = memory > budget
        if not np.any(over):
            continue
        rounds = np.arange(memory.shape[0] + 1)
        top = np.append(np.where(over, memory, budget), budget)
        ax.fill_between(rounds, budget, top, step="post", color=KILLED_COLOR,
                        alpha=0.3, linewidth=0, label="over budget")


def _as_schedule_list(value) -> list[Schedule]:
    schedules = [value] if isinstance(value, Schedule) else list(value)
    if not schedules:
        raise ValueError("no schedule given; pass a Schedule or a list of them")
    for item in schedules:
        if not isinstance(item, Schedule):
            raise ValueError(
                f"expected kvbook Schedule objects, got {type(item).__name__}; "
                "run an algorithm from kvbook.algorithms or use "
                "schedule_from_runs for hand-made runs"
            )
    return schedules
