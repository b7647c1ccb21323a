"""Interactive figures for the notebooks: staggering, GBA's beta, GSA's phases.

Each ``*_widget`` function returns an :mod:`ipywidgets` widget that a
notebook cell displays. The figure itself comes from a plain ``draw_*``
function that the widget calls on every slider change, so the figures can
be drawn (and tested) without a browser or a kernel.

References
----------
Y. Feng, Z. Yang, Y. Zhang, "Competitive Non-Clairvoyant KV-Cache Scheduling
for LLM Inference", arXiv:2601.22996, 2026.
"""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np

from kvbook.algorithms import gba, greedy_batch, gsa
from kvbook.algorithms._staggered import lane_count, lane_offsets
from kvbook.algorithms.gba import geometric_classes
from kvbook.algorithms.gsa import slice_lengths
from kvbook.bounds import lower_bound
from kvbook.families import identical
from kvbook.model import Instance, Schedule
from kvbook.plots import (
    COMPLETED_COLOR,
    KILLED_COLOR,
    plot_gantt,
    plot_memory,
    schedule_from_runs,
)

__all__ = [
    "beta_widget",
    "draw_beta",
    "draw_phases",
    "draw_staggering",
    "gsa_phases",
    "phases_widget",
    "staggered_starts",
    "staggering_widget",
]


def staggered_starts(n: int, lanes: int, period: int) -> np.ndarray:
    """Return the start rounds of ``n`` jobs on ``lanes`` staggered lanes.

    Slot ``m`` belongs to lane ``m mod k`` and starts at
    ``d_(m mod k) + (m div k) * period``, with the lane offsets
    ``d_l = floor(l * period / k)`` of :func:`kvbook.algorithms.sps`. Job
    ``m`` takes slot ``m``. This is SPS's steady state for identical jobs
    with any lane count, so the widget can show what happens above SPS's
    choice of ``k``.

    Parameters
    ----------
    n : int
        Number of jobs.
    lanes : int
        Lane count ``k >= 1``.
    period : int
        Lane length in rounds (the output length ``o`` of identical jobs).

    Returns
    -------
    numpy.ndarray
        Start round of each job (int64).

    Examples
    --------
    >>> staggered_starts(5, lanes=2, period=4).tolist()
    [0, 2, 4, 6, 8]
    """
    for name, value in (("n", n), ("lanes", lanes), ("period", period)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    offsets = lane_offsets(int(lanes), int(period))
    slot = np.arange(n, dtype=np.int64)
    return offsets[slot % lanes] + (slot // lanes) * period


def draw_staggering(lanes=None, s=1, o=16, budget=80, n=32, fig=None):
    """Draw staggered lanes against greedy batching on identical jobs.

    The top panel shows which lane runs which job and the lane offsets; the
    bottom panel shows the memory of both schedules and the budget.

    Parameters
    ----------
    lanes : int, optional
        Lane count ``k``; by default SPS's choice, the largest count whose
        steady-state peak fits the budget (:func:`lane_count`). A larger
        count overflows the budget, which the title reports.
    s, o : int
        Prompt and output length of every job, in tokens.
    budget : int
        KV-cache budget ``M`` in tokens.
    n : int
        Number of jobs.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new one is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a job does not fit alone (``s + o > M``) or a count is not a
        positive integer.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = draw_staggering(s=1, o=16, budget=80, n=32)
    >>> fig.axes[0].get_title()
    '8 staggered lanes (SPS) vs 4 jobs per greedy batch; > marks lane offsets'
    """
    instance = identical(n, s, o, budget)
    chosen = int(lane_count(s, o, budget))
    if lanes is None:
        lanes = chosen
    starts = staggered_starts(n, lanes, o)
    runs = [(j, int(starts[j]), o, True) for j in range(n)]
    label = f"{lanes} staggered lanes" + (" (SPS)" if lanes == chosen else "")
    staggered = schedule_from_runs(instance, runs, algorithm=label)
    greedy = greedy_batch(instance)
    batch = budget // (s + o)

    if fig is None:
        fig = plt.figure(figsize=(8, 5.5), layout="constrained")
    else:
        fig.clear()
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.3])
    lane_of = np.arange(n) % lanes
    top.barh(lane_of, o, left=starts, height=0.7, color=COMPLETED_COLOR,
             edgecolor="white", linewidth=1)
    offsets = lane_offsets(lanes, o)
    top.plot(offsets, np.arange(lanes), ">", color="black", markersize=5,
             clip_on=False)
    top.set_ylim(lanes - 0.5, -0.5)
    top.set_ylabel("lane")
    if lanes <= 24:
        top.set_yticks(range(lanes))
    top.set_title(f"{label} vs {batch} jobs per greedy batch; > marks lane offsets")

    plot_memory([staggered, greedy], ax=bottom, labels=[
        f"{label}: flow time {staggered.flow_time}",
        f"greedy batching: flow time {greedy.flow_time}",
    ])
    over = np.flatnonzero(staggered.memory > budget)
    verdict = (
        f"overflows M = {budget} first in round {int(over[0])}"
        if over.size
        else f"peak {staggered.peak_memory} <= M = {budget}"
    )
    bottom.set_title(f"{lanes} lanes: {verdict}; greedy peak {greedy.peak_memory}")
    fig.suptitle(f"{n} identical jobs, s = {s}, o = {o}")
    return fig


def staggering_widget(s=1, o=16, budget=80, n=32):
    """Return sliders for lanes ``k``, ``s``, ``o``, ``M`` and ``n`` over
    :func:`draw_staggering`.

    Changing ``s``, ``o`` or ``M`` resets ``k`` to SPS's choice for them.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    k_slider = widgets.IntSlider(
        value=int(lane_count(s, o, budget)), min=1, max=40,
        description="lanes k", continuous_update=False, style=style,
    )
    s_slider = widgets.IntSlider(value=s, min=1, max=16, description="prompt s",
                                 continuous_update=False, style=style)
    o_slider = widgets.IntSlider(value=o, min=1, max=32, description="output o",
                                 continuous_update=False, style=style)
    m_slider = widgets.IntSlider(value=budget, min=4, max=240, description="budget M",
                                 continuous_update=False, style=style)
    n_slider = widgets.IntSlider(value=n, min=1, max=80, description="jobs n",
                                 continuous_update=False, style=style)

    def reset_lanes(change):
        if s_slider.value + o_slider.value <= m_slider.value:
            k_slider.value = int(
                lane_count(s_slider.value, o_slider.value, m_slider.value)
            )

    for slider in (s_slider, o_slider, m_slider):
        slider.observe(reset_lanes, names="value")

    def show(lanes, s, o, budget, n):
        _show(draw_staggering, lanes=lanes, s=s, o=o, budget=budget, n=n)

    return widgets.interactive(show, lanes=k_slider, s=s_slider, o=o_slider,
                               budget=m_slider, n=n_slider)


def draw_beta(instance: Instance, beta: float = 2.0, fig=None):
    """Draw GBA's classes for one ``beta`` and the schedule they give.

    The left panel shows each job's output length and the class edges
    ``floor(beta**c)``. The right panel shows GBA's Gantt chart with runs
    colored by class. The title gives the total flow time and its ratio to
    the lower bound of :func:`kvbook.bounds.lower_bound`.

    Parameters
    ----------
    instance : Instance
        The jobs and the budget.
    beta : float, default 2
        Geometric base of the classes (> 1).
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new one is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> fig = draw_beta(make_instance([1, 2, 3, 5, 8], prompt=2, budget=20))
    >>> fig.get_suptitle()
    'GBA with beta = 2: 4 classes, total flow time 35 (1.84 x lower bound 19)'
    """
    schedule = gba(instance, beta=beta)
    classes, top = geometric_classes(instance.output, float(beta))
    used = np.unique(classes)
    palette = {int(c): f"C{k % 10}" for k, c in enumerate(used)}

    if fig is None:
        fig = plt.figure(figsize=(9, 4), layout="constrained")
    else:
        fig.clear()
    left, right = fig.subplots(1, 2, width_ratios=[1, 2])
    # Jobs sorted by length, so the classes form a staircase.
    order = np.argsort(instance.output, kind="stable")
    rank = np.empty(instance.n, dtype=np.int64)
    rank[order] = np.arange(instance.n)
    for c in used:
        members = classes == c
        left.plot(rank[members], instance.output[members], "o",
                  color=palette[int(c)], label=f"class {int(c)}: o <= {int(top[c])}")
    for c in range(int(used.max()) + 1):
        left.axhline(top[c], color="0.6", linestyle=":", linewidth=1)
    left.set_xlabel("job rank by output length")
    left.set_ylabel("output length o (tokens)")
    left.set_title(f"classes (beta^(c-1), beta^c], beta = {beta:g}")
    left.legend(fontsize="x-small", loc="upper left")

    colors = [palette[int(classes[j])] for j in schedule.job]
    plot_gantt(schedule, ax=right, colors=colors, title="GBA schedule, by class")
    bound = lower_bound(instance)
    fig.suptitle(
        f"GBA with beta = {beta:g}: {used.shape[0]} classes, total flow time "
        f"{schedule.flow_time} ({schedule.flow_time / bound:.2f} x lower bound "
        f"{bound})"
    )
    return fig


def beta_widget(instance: Instance, beta: float = 2.0):
    """Return a slider for GBA's ``beta`` over :func:`draw_beta`.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=beta, min=1.25, max=6.0, step=0.25,
                                 description="beta", continuous_update=False)

    def show(beta):
        _show(draw_beta, instance, beta=beta)

    return widgets.interactive(show, beta=slider)


def gsa_phases(schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """Return the GSA phase of each run and the round each phase ends.

    GSA gives every job that is not yet completed exactly one run per
    phase, and phases run one after another. So a job's ``m``-th run
    (in start order) belongs to phase ``m``, and a phase ends when its last
    run ends.

    Parameters
    ----------
    schedule : Schedule
        A schedule made by :func:`kvbook.algorithms.gsa`.

    Returns
    -------
    phase : numpy.ndarray
        Phase of each run, in the schedule's run order (int64).
    end : numpy.ndarray
        Round at which each phase ``0, 1, ...`` ends (int64).

    Examples
    --------
    >>> from kvbook import make_instance
    >>> from kvbook.algorithms import gsa
    >>> phase, end = gsa_phases(gsa(make_instance([1, 3], prompt=1, budget=8)))
    >>> phase.tolist(), end.tolist()
    ([0, 0, 1, 2], [1, 3, 6])
    """
    if not isinstance(schedule, Schedule) or schedule.algorithm != "gsa":
        name = getattr(schedule, "algorithm", type(schedule).__name__)
        raise ValueError(
            f"gsa_phases reads phases from a GSA schedule, got {name!r}; make one "
            "with kvbook.algorithms.gsa"
        )
    job = np.asarray(schedule.job)
    start = np.asarray(schedule.start)
    order = np.lexsort((start, job))
    phase = np.zeros(job.shape[0], dtype=np.int64)
    previous = -1
    count = 0
    for k in order:
        count = count + 1 if job[k] == previous else 0
        previous = job[k]
        phase[k] = count
    ends = start + np.asarray(schedule.length)
    end = np.array([ends[phase == p].max() for p in range(phase.max() + 1)],
                   dtype=np.int64)
    return phase, end


def draw_phases(instance: Instance, phase: int = 0, beta: float = 2.0, fig=None):
    """Draw GSA's schedule up to the end of one phase.

    Runs of the chosen phase are in full color (blue: completed, red and
    hatched: killed at the slice end); runs of earlier phases are pale. An
    ``x`` marks each kill and a ``>`` each restart (a run after a kill).
    Dashed lines separate the phases, labelled with their slice lengths.

    Parameters
    ----------
    instance : Instance
        A small instance; GSA runs on it with base ``beta``.
    phase : int, default 0
        Last phase to draw, from 0.
    beta : float, default 2
        Geometric base of the slice lengths.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on (cleared first); a new one is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        Two Axes: the Gantt chart and the memory profile.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from kvbook import make_instance
    >>> fig = draw_phases(make_instance([1, 3], prompt=1, budget=8), phase=1)
    >>> fig.get_suptitle()
    'GSA up to phase 1 (slice length 2): 1 of 2 jobs completed, 2 kills so far'
    """
    schedule = gsa(instance, beta=beta)
    run_phase, phase_end = gsa_phases(schedule)
    last = int(phase_end.shape[0]) - 1
    _check_phase(phase, last)
    slices = slice_lengths(float(beta), instance.budget)
    up_to_phase = run_phase <= phase
    end = int(phase_end[phase])
    part = dataclasses.replace(
        schedule,
        job=schedule.job[up_to_phase],
        start=schedule.start[up_to_phase],
        length=schedule.length[up_to_phase],
        completed=schedule.completed[up_to_phase],
        memory=schedule.memory[:end],
    )
    current = run_phase[up_to_phase] == phase
    done = part.completed.astype(bool)
    colors = np.where(
        current,
        np.where(done, COMPLETED_COLOR, KILLED_COLOR),
        np.where(done, "#a6c8e6", "0.55"),
    )

    if fig is None:
        fig = plt.figure(figsize=(8, 2.2 + min(0.3 * instance.n, 5)),
                         layout="constrained")
    else:
        fig.clear()
    top, bottom = fig.subplots(2, 1, sharex=True,
                               height_ratios=[min(0.3 * instance.n, 5), 2.2])
    plot_gantt(part, ax=top, colors=list(colors), title="")
    restart = run_phase[up_to_phase] > 0
    if np.any(restart):
        top.plot(part.start[restart], part.job[restart], ">", color="black",
                 markersize=4, label="restart")
    begin = 0
    for p in range(phase + 1):
        top.axvline(phase_end[p], color="0.3", linestyle="--", linewidth=0.8)
        top.text((begin + phase_end[p]) / 2, -0.6, f"L={int(slices[p])}",
                 ha="center", va="bottom", fontsize="x-small")
        begin = int(phase_end[p])
    top.set_xlabel("")
    top.set_xlim(0, max(end, 1))
    if instance.n <= 24:
        top.legend(loc="upper right", fontsize="x-small")
    plot_memory(part, ax=bottom)

    completed = int(np.count_nonzero(done))
    kills = int(np.count_nonzero(~done))
    fig.suptitle(
        f"GSA up to phase {phase} (slice length {int(slices[phase])}): "
        f"{completed} of {instance.n} jobs completed, {kills} kills so far"
    )
    return fig


def phases_widget(instance: Instance, beta: float = 2.0, phase: int = 0):
    """Return a slider stepping through GSA's phases over :func:`draw_phases`.

    The slider starts at ``phase``, which must be a phase GSA uses on the
    instance.

    Returns
    -------
    ipywidgets.Widget
    """
    import ipywidgets as widgets

    _, phase_end = gsa_phases(gsa(instance, beta=beta))
    last = int(phase_end.shape[0]) - 1
    _check_phase(phase, last)
    slider = widgets.IntSlider(value=int(phase), min=0, max=last,
                               description="phase k", continuous_update=False)

    def show(phase):
        _show(draw_phases, instance, phase=phase, beta=beta)

    return widgets.interactive(show, phase=slider)


def _check_phase(phase, last: int) -> None:
    """Raise ValueError unless ``phase`` is an integer from 0 to ``last``."""
    if isinstance(phase, bool) or not isinstance(phase, (int, np.integer)):
        raise ValueError(f"phase must be an integer from 0 to {last}, got {phase!r}")
    if not 0 <= phase <= last:
        raise ValueError(
            f"phase {phase} is out of range; GSA used phases 0 to {last} on this "
            "instance"
        )


def _show(draw, *args, **kwargs) -> None:
    """Call a ``draw_*`` function for a widget; print its ValueError, if any."""
    try:
        fig = draw(*args, **kwargs)
    except ValueError as error:
        print(f"cannot draw: {error}")
        return
    plt.show()
    plt.close(fig)
