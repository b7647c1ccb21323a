import numpy as np
import pytest

from kvbook.model import Schedule, make_instance
from kvbook.validate import (
    ScheduleError,
    Validation,
    assert_valid,
    check_schedule,
    validate,
)


@pytest.fixture
def worked():
    """The worked example: s = 2, M = 12, three jobs of 3 tokens."""
    return make_instance([3, 3, 3], prompt=2, budget=12)


def check_runs(instance, runs, flow_time=None):
    """Call check_schedule on a list of (job, start, length, completed) tuples."""
    job, start, length, completed = (list(column) for column in zip(*runs))
    return check_schedule(instance, job, start, length, completed, flow_time=flow_time)


def make_schedule(instance, runs, flow_time, memory, kills=0):
    job, start, length, completed = (np.array(column) for column in zip(*runs))
    return Schedule(
        algorithm="by hand",
        clairvoyant=True,
        instance=instance,
        job=job,
        start=start,
        length=length,
        completed=completed.astype(bool),
        flow_time=flow_time,
        kills=kills,
        memory=np.array(memory),
    )


def test_worked_example_staggered_valid(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    result = check_runs(worked, runs, flow_time=12)
    assert isinstance(result, Validation)
    assert result.valid
    assert result.errors == []
    assert result.flow_time == 3 + 4 + 5
    assert result.memory.tolist() == [3, 7, 12, 9, 5]
    assert result.peak_memory == 12


def test_worked_example_memory_readonly(worked):
    result = check_runs(worked, [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)])
    with pytest.raises(ValueError):
        result.memory[0] = 0


def test_kill_and_restart_valid():
    instance = make_instance([3, 2], prompt=2, budget=12)
    # Job 0 is killed after 2 rounds while job 1 runs, then restarts from scratch.
    runs = [(0, 0, 2, False), (1, 0, 2, True), (0, 2, 3, True)]
    result = check_runs(instance, runs, flow_time=5 + 2)
    assert result.valid
    assert result.memory.tolist() == [6, 8, 3, 4, 5]
    assert result.flow_time == 7


def test_idle_rounds_hold_no_memory(worked):
    runs = [(0, 0, 3, True), (1, 5, 3, True), (2, 5, 3, True)]
    result = check_runs(worked, runs)
    assert result.valid
    assert result.memory.tolist() == [3, 4, 5, 0, 0, 6, 8, 10]


def test_per_job_prompts_memory():
    instance = make_instance([2, 1], prompt=[1, 5], budget=20)
    result = check_runs(instance, [(0, 0, 2, True), (1, 1, 1, True)])
    assert result.memory.tolist() == [2, 3 + 6]


def test_no_runs_reports_every_job():
    instance = make_instance([1, 1], prompt=1, budget=4)
    result = check_schedule(instance, [], [], [], [])
    assert not result.valid
    assert len(result.errors) == 2
    assert result.memory.shape == (0,)
    assert result.peak_memory == 0


def test_overlap_detected(worked):
    runs = [(0, 0, 2, False), (0, 1, 3, True), (1, 4, 3, True), (2, 7, 3, True)]
    result = check_runs(worked, runs)
    assert not result.valid
    assert len(result.errors) == 1
    assert "job 0 has overlapping runs" in result.errors[0]
    assert "starts at round 1" in result.errors[0]


def test_overlap_with_nonadjacent_run():
    instance = make_instance([10], prompt=1, budget=40)
    # The run at round 5 starts after the short run ends but inside the long one.
    runs = [(0, 0, 9, False), (0, 2, 1, False), (0, 5, 1, False), (0, 20, 10, True)]
    result = check_runs(instance, runs)
    assert len(result.errors) == 2
    assert "another starts at round 2" in result.errors[0]
    assert "one runs from round 0 until round 9, another starts at round 5" in (
        result.errors[1]
    )


def test_missing_completion(worked):
    runs = [(0, 0, 3, True), (1, 0, 2, False), (2, 3, 3, True)]
    result = check_runs(worked, runs)
    assert result.errors == ["job 1 has no completed run; every job must complete once"]


def test_two_completions(worked):
    runs = [(0, 0, 3, True), (0, 3, 3, True), (1, 6, 3, True), (2, 9, 3, True)]
    result = check_runs(worked, runs)
    assert not result.valid
    assert any("job 0 has 2 completed runs" in e for e in result.errors)
    assert any("ending at rounds 3, 6" in e for e in result.errors)


def test_completed_run_not_last(worked):
    runs = [(0, 0, 3, True), (0, 3, 1, False), (1, 4, 3, True), (2, 7, 3, True)]
    result = check_runs(worked, runs)
    assert len(result.errors) == 1
    assert "job 0 completes in the run starting at round 0" in result.errors[0]
    assert "later run starting at round 3" in result.errors[0]


def test_wrong_completed_length(worked):
    runs = [(0, 0, 2, True), (1, 2, 3, True), (2, 5, 3, True)]
    result = check_runs(worked, runs)
    assert len(result.errors) == 1
    assert "after 2 rounds" in result.errors[0]
    assert "o = 3" in result.errors[0]


def test_killed_run_too_long(worked):
    runs = [(0, 0, 3, False), (0, 3, 3, True), (1, 6, 3, True), (2, 9, 3, True)]
    result = check_runs(worked, runs)
    assert len(result.errors) == 1
    assert "job 0 is killed" in result.errors[0]
    assert "at most 2 rounds" in result.errors[0]


def test_memory_overflow(worked):
    runs = [(0, 0, 3, True), (1, 0, 3, True), (2, 0, 3, True)]
    result = check_runs(worked, runs)
    assert result.errors == [
        "memory exceeds the budget M = 12 in 1 round; the first is round 2 with "
        "15 tokens"
    ]
    assert result.memory.tolist() == [9, 12, 15]


def test_memory_overflow_first_round(worked):
    runs = [(0, 0, 3, True), (1, 0, 3, True), (2, 1, 3, True)]
    result = check_runs(worked, runs)
    assert result.memory.tolist() == [6, 11, 14, 5]
    assert "in 1 round; the first is round 2 with 14 tokens" in result.errors[0]


def test_wrong_flow_time(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    result = check_runs(worked, runs, flow_time=13)
    assert result.errors == [
        "reported flow time 13 differs from the total flow time 12 recomputed from "
        "the completed runs"
    ]


def test_bad_job_id(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True), (3, 0, 1, False)]
    result = check_runs(worked, runs)
    assert result.errors == ["run 3 names job 3, but the instance has jobs 0 to 2"]
    assert result.memory.tolist() == [3, 7, 12, 9, 5]


def test_negative_start(worked):
    runs = [(0, -1, 1, False), (0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    result = check_runs(worked, runs)
    assert result.errors == ["run 0 of job 0 starts at round -1; rounds start at 0"]


def test_zero_length(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True), (1, 9, 0, False)]
    result = check_runs(worked, runs)
    assert result.errors == [
        "run 3 of job 1 has length 0; a run lasts at least 1 round"
    ]


def test_mismatched_lengths_raise(worked):
    with pytest.raises(ValueError, match="start=2"):
        check_schedule(worked, [0, 1, 2], [0, 1], [3, 3, 3], [True] * 3)


def test_non_instance_raises():
    with pytest.raises(ValueError, match="expects a kvbook.model.Instance"):
        check_schedule([3, 3, 3], [0], [0], [3], [True])


def test_float_runs_raise(worked):
    with pytest.raises(ValueError, match="start must contain integers"):
        check_schedule(worked, [0], [0.5], [3], [True])


def test_completed_flags_checked(worked):
    with pytest.raises(ValueError, match="completed must contain booleans"):
        check_schedule(worked, [0], [0], [3], [2])


def test_flow_time_must_be_integer(worked):
    with pytest.raises(ValueError, match="flow_time must be an integer"):
        check_schedule(worked, [0], [0], [3], [True], flow_time=3.0)


def test_validate_accepts_valid_schedule(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=12, memory=[3, 7, 12, 9, 5])
    result = validate(schedule)
    assert result.valid
    assert result.memory.tolist() == [3, 7, 12, 9, 5]


def test_validate_memory_mismatch(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=12, memory=[3, 7, 11, 9, 4])
    result = validate(schedule)
    assert result.errors == [
        "reported memory profile differs from the recomputed one in 2 rounds; the "
        "first is round 2 (reported 11 tokens, recomputed 12)"
    ]


def test_validate_memory_length_mismatch(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=12, memory=[3, 7, 12, 9, 5, 0])
    result = validate(schedule)
    assert result.errors == [
        "reported memory profile covers 6 rounds, but the runs end at round 5"
    ]


def test_validate_kills_mismatch():
    instance = make_instance([3, 2], prompt=2, budget=12)
    runs = [(0, 0, 2, False), (1, 0, 2, True), (0, 2, 3, True)]
    schedule = make_schedule(instance, runs, flow_time=7, memory=[6, 8, 3, 4, 5])
    result = validate(schedule)
    assert result.errors == [
        "reported kills = 0 but the schedule contains 1 killed run"
    ]


def test_validate_checks_flow_time(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=11, memory=[3, 7, 12, 9, 5])
    assert not validate(schedule).valid


def test_validate_rejects_non_schedule(worked):
    with pytest.raises(ValueError, match="expects a kvbook.model.Schedule"):
        validate(worked)


def test_assert_valid_raises_schedule_error(worked):
    runs = [(0, 0, 3, True), (1, 0, 3, True), (2, 0, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=9, memory=[9, 12, 15])
    with pytest.raises(ScheduleError, match="memory exceeds the budget") as caught:
        assert_valid(schedule)
    assert isinstance(caught.value, ValueError)
    assert len(caught.value.errors) == 1


def test_assert_valid_lists_many_errors(worked):
    runs = [(5, 0, 1, False)] * 30
    schedule = make_schedule(worked, runs, flow_time=0, memory=[], kills=30)
    with pytest.raises(ScheduleError, match="and 13 more") as caught:
        assert_valid(schedule)
    assert len(caught.value.errors) == 33


def test_assert_valid_returns_validation(worked):
    runs = [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]
    schedule = make_schedule(worked, runs, flow_time=12, memory=[3, 7, 12, 9, 5])
    assert assert_valid(schedule).flow_time == 12
