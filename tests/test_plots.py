import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle, StepPatch  # noqa: E402

from kvbook import make_instance  # noqa: E402
from kvbook.algorithms import fcfs_recompute, greedy_batch, gsa, sps  # noqa: E402
from kvbook.plots import (  # noqa: E402
    plot_completions,
    plot_gantt,
    plot_memory,
    plot_ratios,
    plot_schedule,
    schedule_from_runs,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def worked():
    """The worked example: s = 2, M = 12, three jobs of 3 tokens."""
    return make_instance([3, 3, 3], prompt=2, budget=12)


@pytest.fixture
def killing():
    """A GSA schedule with kills: job 1 is killed twice before it completes."""
    return gsa(make_instance([1, 3], prompt=1, budget=8))


def bars(ax):
    return [patch for patch in ax.patches if isinstance(patch, Rectangle)]


def test_gantt_one_bar_per_run(killing):
    ax = plot_gantt(killing)
    assert len(bars(ax)) == len(killing.runs)


def test_gantt_bars_match_runs(killing):
    ax = plot_gantt(killing)
    drawn = sorted(
        (round(p.get_y() + p.get_height() / 2), p.get_x(), p.get_width())
        for p in bars(ax)
    )
    expected = sorted((job, start, length) for job, start, length, _ in killing.runs)
    assert drawn == expected


def test_gantt_killed_runs_hatched(killing):
    ax = plot_gantt(killing)
    hatched = [p for p in bars(ax) if p.get_hatch()]
    assert len(hatched) == killing.kills


def test_gantt_kill_markers_at_kill_rounds(killing):
    ax = plot_gantt(killing)
    (marker,) = [line for line in ax.lines if line.get_label() == "kill"]
    killed = ~killing.completed
    assert marker.get_xdata().tolist() == (
        killing.start[killed] + killing.length[killed]
    ).tolist()
    assert marker.get_ydata().tolist() == killing.job[killed].tolist()


def test_gantt_no_kill_marker_without_kills(worked):
    ax = plot_gantt(sps(worked))
    assert [line for line in ax.lines if line.get_label() == "kill"] == []


def test_gantt_labels_in_rounds(worked):
    ax = plot_gantt(sps(worked))
    assert ax.get_xlabel() == "round"
    assert ax.get_ylabel() == "job"


def test_gantt_custom_colors(worked):
    ax = plot_gantt(sps(worked), colors=["red", "green", "blue"])
    faces = sorted(tuple(p.get_facecolor()) for p in bars(ax))
    expected = sorted(matplotlib.colors.to_rgba(c) for c in ["red", "green", "blue"])
    assert faces == expected


def test_gantt_colors_wrong_length(worked):
    with pytest.raises(ValueError, match="one color per run"):
        plot_gantt(sps(worked), colors=["red"])


def test_memory_curve_is_profile(worked):
    schedule = sps(worked)
    ax = plot_memory(schedule)
    (curve,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert curve.get_data().values.tolist() == schedule.memory.tolist()
    assert curve.get_data().edges.tolist() == list(range(schedule.rounds + 1))


def test_memory_budget_line_at_budget(worked):
    ax = plot_memory(sps(worked))
    (line,) = [line for line in ax.lines if line.get_label().startswith("budget")]
    assert list(line.get_ydata()) == [12, 12]
    assert line.get_linestyle() == "--"


def test_memory_without_budget_line(worked):
    ax = plot_memory(sps(worked), budget_line=False)
    assert len(ax.lines) == 0


def test_memory_overlay_labels(worked):
    schedules = [sps(worked), greedy_batch(worked)]
    ax = plot_memory(schedules)
    labels = [p.get_label() for p in ax.patches if isinstance(p, StepPatch)]
    assert labels == ["sps", "greedy_batch"]


def test_memory_one_budget_line_per_budget(worked):
    other = make_instance([3, 3, 3], prompt=2, budget=20)
    ax = plot_memory([sps(worked), sps(worked), sps(other)])
    budgets = sorted(line.get_ydata()[0] for line in ax.lines)
    assert budgets == [12, 20]


def test_memory_labels_wrong_length(worked):
    with pytest.raises(ValueError, match="one label per schedule"):
        plot_memory([sps(worked)], labels=["a", "b"])


def test_memory_rejects_non_schedule():
    with pytest.raises(ValueError, match="Schedule"):
        plot_memory([np.arange(3)])


def test_memory_rejects_empty_list():
    with pytest.raises(ValueError, match="no schedule"):
        plot_memory([])


def test_schedule_gantt_above_memory(killing):
    fig = plot_schedule(killing)
    top, bottom = fig.axes
    assert len(bars(top)) == len(killing.runs)
    assert any(isinstance(p, StepPatch) for p in bottom.patches)
    assert top.get_position().y0 > bottom.get_position().y0


def test_schedule_shares_round_axis(killing):
    fig = plot_schedule(killing)
    top, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom)


def test_completions_step_counts(worked):
    schedule = fcfs_recompute(worked)
    ax = plot_completions(schedule)
    (line,) = ax.lines
    assert line.get_xdata().tolist() == [0, 3, 3, 6]
    assert line.get_ydata().tolist() == [0, 1, 2, 3]


def test_completions_one_line_per_schedule(worked):
    ax = plot_completions([sps(worked), gsa(worked)])
    assert len(ax.lines) == 2


def test_ratios_curves_and_bounds():
    ax = plot_ratios(
        [1, 2, 3],
        {"gsa": [1.5, 2.0, 2.5], "fcfs": [1.0, 3.0, 9.0]},
        bounds={"paper: 61.92": 61.92},
    )
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["gsa", "fcfs", "paper: 61.92"]
    assert ax.lines[1].get_ydata().tolist() == [1.0, 3.0, 9.0]
    assert list(ax.lines[2].get_ydata()) == [61.92, 61.92]


def test_ratios_log_axes():
    ax = plot_ratios([64, 128], {"amin": [2.0, 2.5]}, logx=True, logy=True)
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"


def test_ratios_length_mismatch():
    with pytest.raises(ValueError, match="one ratio per x"):
        plot_ratios([1, 2, 3], {"gsa": [1.0, 2.0]})


def test_from_runs_overflow_profile(worked):
    schedule = schedule_from_runs(worked, [(j, 0, 3, True) for j in range(3)])
    assert schedule.memory.tolist() == [9, 12, 15]
    assert schedule.flow_time == 9


def test_from_runs_counts_kills(worked):
    runs = [(0, 0, 2, False), (0, 2, 3, True), (1, 0, 3, True), (2, 3, 3, True)]
    schedule = schedule_from_runs(worked, runs)
    assert schedule.kills == 1
    assert schedule.completion.tolist() == [5, 3, 6]


def test_from_runs_rejects_bad_tuple(worked):
    with pytest.raises(ValueError, match="tuple of 4"):
        schedule_from_runs(worked, [(0, 0, 3)])


def test_from_runs_rejects_empty(worked):
    with pytest.raises(ValueError, match="empty"):
        schedule_from_runs(worked, [])


# Widgets: the plain drawing functions and the widget constructors.

from kvbook.algorithms import gba  # noqa: E402
from kvbook.algorithms._staggered import lane_count  # noqa: E402
from kvbook.families import identical, uniform  # noqa: E402
from kvbook.widgets import (  # noqa: E402
    beta_widget,
    draw_beta,
    draw_phases,
    draw_staggering,
    gsa_phases,
    phases_widget,
    staggered_starts,
    staggering_widget,
)


def test_staggered_starts_match_sps():
    instance = identical(20, s=1, o=16, budget=80)
    schedule = sps(instance)
    starts = staggered_starts(20, int(lane_count(1, 16, 80)), 16)
    assert sorted(starts.tolist()) == sorted(schedule.start.tolist())


def test_staggered_starts_one_lane_back_to_back():
    assert staggered_starts(3, lanes=1, period=5).tolist() == [0, 5, 10]


def test_staggered_starts_rejects_zero_lanes():
    with pytest.raises(ValueError, match="lanes must be a positive integer"):
        staggered_starts(3, lanes=0, period=5)


def test_staggering_default_is_sps_memory():
    fig = draw_staggering(s=1, o=16, budget=80, n=32)
    curves = [p for p in fig.axes[1].patches if isinstance(p, StepPatch)]
    expected = sps(identical(32, s=1, o=16, budget=80)).memory
    assert curves[0].get_data().values.tolist() == expected.tolist()


def test_staggering_greedy_curve():
    fig = draw_staggering(s=1, o=16, budget=80, n=32)
    curves = [p for p in fig.axes[1].patches if isinstance(p, StepPatch)]
    expected = greedy_batch(identical(32, s=1, o=16, budget=80)).memory
    assert curves[1].get_data().values.tolist() == expected.tolist()


def test_staggering_one_lane_row_per_lane():
    fig = draw_staggering(lanes=5, s=1, o=16, budget=80, n=32)
    assert len(bars(fig.axes[0])) == 32
    assert fig.axes[0].get_ylim() == (4.5, -0.5)


def test_staggering_too_many_lanes_overflow():
    fig = draw_staggering(lanes=12, s=1, o=16, budget=80, n=32)
    assert "overflows M = 80" in fig.axes[1].get_title()


def test_staggering_rejects_job_too_long():
    with pytest.raises(ValueError, match="budget"):
        draw_staggering(s=10, o=16, budget=20, n=4)


def test_phases_of_worked_gsa_example():
    schedule = gsa(make_instance([1, 3], prompt=1, budget=8))
    phase, end = gsa_phases(schedule)
    assert phase.tolist() == [0, 0, 1, 2]
    assert end.tolist() == [1, 3, 6]


def test_phases_killed_runs_last_one_slice():
    instance = uniform(10, s=2, low=1, high=20, budget=40, seed=5)
    schedule = gsa(instance)
    phase, _ = gsa_phases(schedule)
    killed = ~schedule.completed
    assert np.all(schedule.length[killed] == 2 ** phase[killed])


def test_phases_end_in_order():
    instance = uniform(10, s=2, low=1, high=20, budget=40, seed=5)
    _, end = gsa_phases(gsa(instance))
    assert np.all(np.diff(end) > 0)


def test_phases_rejects_other_algorithm(worked):
    with pytest.raises(ValueError, match="GSA schedule"):
        gsa_phases(sps(worked))


def test_draw_phases_bars_up_to_phase():
    instance = uniform(8, s=2, low=1, high=12, budget=24, seed=1)
    schedule = gsa(instance)
    phase, _ = gsa_phases(schedule)
    fig = draw_phases(instance, phase=1)
    assert len(bars(fig.axes[0])) == int(np.count_nonzero(phase <= 1))


def test_draw_phases_memory_stops_at_phase_end():
    instance = uniform(8, s=2, low=1, high=12, budget=24, seed=1)
    _, end = gsa_phases(gsa(instance))
    fig = draw_phases(instance, phase=1)
    (curve,) = [p for p in fig.axes[1].patches if isinstance(p, StepPatch)]
    assert curve.get_data().edges[-1] == end[1]


def test_draw_phases_rejects_phase_out_of_range():
    instance = make_instance([1, 3], prompt=1, budget=8)
    with pytest.raises(ValueError, match="phases 0 to 2"):
        draw_phases(instance, phase=3)


def test_draw_beta_one_color_per_class():
    instance = uniform(12, s=2, low=1, high=16, budget=40, seed=3)
    fig = draw_beta(instance, beta=2.0)
    faces = {tuple(p.get_facecolor()) for p in bars(fig.axes[1])}
    assert len(faces) == 5


def test_draw_beta_title_flow_time():
    instance = uniform(12, s=2, low=1, high=16, budget=40, seed=3)
    fig = draw_beta(instance, beta=3.0)
    flow = gba(instance, beta=3.0).flow_time
    assert f"total flow time {flow}" in fig.get_suptitle()


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_staggering_widget_sliders():
    widget = staggering_widget(s=1, o=16, budget=80, n=32)
    values = {child.description: child.value for child in widget.children[:-1]}
    assert values["lanes k"] == lane_count(1, 16, 80)
    assert values["budget M"] == 80


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_staggering_widget_resets_lanes():
    widget = staggering_widget(s=1, o=16, budget=80, n=32)
    sliders = {child.description: child for child in widget.children[:-1]}
    sliders["budget M"].value = 160
    assert sliders["lanes k"].value == lane_count(1, 16, 160)


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_beta_widget_slider():
    instance = uniform(12, s=2, low=1, high=16, budget=40, seed=3)
    widget = beta_widget(instance)
    assert widget.children[0].value == 2.0


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_phases_widget_slider_range():
    instance = make_instance([1, 3], prompt=1, budget=8)
    widget = phases_widget(instance)
    assert widget.children[0].max == 2


def test_memory_shades_overflow(worked):
    together = schedule_from_runs(worked, [(j, 0, 3, True) for j in range(3)])
    ax = plot_memory(together)
    labels = [c.get_label() for c in ax.collections]
    assert labels == ["over budget"]


def test_memory_no_shade_within_budget(worked):
    ax = plot_memory(sps(worked))
    assert len(ax.collections) == 0


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")
def test_phases_widget_starting_phase():
    instance = make_instance([1, 3], prompt=1, budget=8)
    widget = phases_widget(instance, phase=2)
    assert widget.children[0].value == 2


def test_phases_widget_rejects_phase_out_of_range():
    instance = make_instance([1, 3], prompt=1, budget=8)
    with pytest.raises(ValueError, match="phases 0 to 2"):
        phases_widget(instance, phase=5)
