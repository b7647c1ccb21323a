from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kvbook.opt
from kvbook.bounds import lower_bound
from kvbook.model import Schedule, make_instance
from kvbook.opt import OptimumResult, brute_force_optimum, optimum
from kvbook.validate import check_schedule, validate


@st.composite
def tiny_instances(draw):
    """Instances with up to 4 jobs of up to 4 tokens, one or per-job prompts."""
    n = draw(st.integers(1, 4))
    output = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    if draw(st.booleans()):
        prompt = draw(st.integers(1, 3))
    else:
        prompt = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
    peak = int(np.max(np.asarray(output) + np.asarray(prompt)))
    budget = draw(st.integers(peak, 3 * peak))
    return make_instance(output, prompt, budget)


def check_starts(instance, start):
    n = instance.n
    return check_schedule(
        instance, np.arange(n), start, instance.output, np.ones(n, dtype=bool)
    )


@pytest.fixture
def worked():
    """The worked example: s = 2, M = 12, three jobs of 3 tokens."""
    return make_instance([3, 3, 3], prompt=2, budget=12)


def test_optimum_worked_example(worked):
    result = optimum(worked)
    assert isinstance(result, OptimumResult)
    assert result.flow_time == 12
    assert result.status == "optimal"
    assert result.method == "milp"


def test_optimum_worked_example_schedule_valid(worked):
    result = optimum(worked)
    check = check_starts(worked, result.start)
    assert check.valid
    assert check.flow_time == 12
    assert check.peak_memory <= 12


def test_optimum_horizon_default(worked):
    # sum(o) = 9; greedy batching gives 3 + 3 + 6 = 12 and the first two
    # lower-bound terms are 3 + 3, so the makespan is at most 12 - 6 = 6.
    assert optimum(worked).horizon == 6


def test_optimum_all_fit_at_once():
    instance = make_instance([1, 4, 2], prompt=1, budget=10)
    result = optimum(instance)
    assert result.flow_time == 7
    assert result.start.tolist() == [0, 0, 0]


def test_optimum_identical_jobs():
    instance = make_instance([2, 2, 2, 2], prompt=1, budget=6)
    assert optimum(instance).flow_time == 12


def test_to_schedule(worked):
    schedule = optimum(worked).to_schedule()
    assert isinstance(schedule, Schedule)
    assert schedule.algorithm == "opt"
    assert schedule.clairvoyant
    assert schedule.kills == 0
    assert schedule.flow_time == 12
    assert schedule.completed.all()
    assert sorted(schedule.job.tolist()) == [0, 1, 2]


def test_to_schedule_passes_validate(worked):
    schedule = optimum(worked).to_schedule()
    result = validate(schedule)
    assert result.valid
    assert schedule.memory.tolist() == result.memory.tolist()


def test_to_schedule_runs_in_completion_order():
    instance = make_instance([4, 1, 2], prompt=1, budget=20)
    schedule = optimum(instance).to_schedule()
    assert schedule.job.tolist() == [1, 2, 0]


def test_brute_force_worked_example(worked):
    result = brute_force_optimum(worked)
    assert result.flow_time == 12
    assert result.method == "brute force"
    assert check_starts(worked, result.start).valid


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_milp_matches_brute_force(instance):
    assert optimum(instance).flow_time == brute_force_optimum(instance).flow_time


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_optimum_schedule_valid(instance):
    result = optimum(instance)
    check = check_starts(instance, result.start)
    assert check.valid, check.errors
    assert check.flow_time == result.flow_time


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_optimum_at_least_lower_bound(instance):
    assert optimum(instance).flow_time >= lower_bound(instance)


@settings(max_examples=20, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_default_horizon_loses_nothing(instance):
    full = optimum(instance, horizon=int(instance.output.sum()))
    assert optimum(instance).flow_time == full.flow_time


def test_explicit_horizon_used(worked):
    result = optimum(worked, horizon=9)
    assert result.horizon == 9
    assert result.flow_time == 12


def test_horizon_too_tight_raises(worked):
    with pytest.raises(ValueError, match="no schedule completes every job by round 4"):
        optimum(worked, horizon=4)


def test_horizon_below_longest_job_raises(worked):
    with pytest.raises(ValueError, match="shorter than the longest job"):
        optimum(worked, horizon=2)


def test_too_large_raises():
    instance = make_instance([10] * 300, prompt=2, budget=40)
    with pytest.raises(ValueError, match="too large for the exact optimum") as caught:
        optimum(instance)
    assert "max_variables=20000" in str(caught.value)
    assert "lower_bound" in str(caught.value)


def test_max_variables_counts_variables(worked):
    # Horizon 6 gives 3 * (6 - 3 + 1) = 12 start variables.
    with pytest.raises(ValueError, match="has 12 start variables"):
        optimum(worked, horizon=6, max_variables=11)


def test_max_nonzeros_enforced(worked):
    with pytest.raises(ValueError, match="36 nonzero memory coefficients"):
        optimum(worked, horizon=6, max_nonzeros=35)


def test_time_limit_raises(worked, monkeypatch):
    def stopped_milp(*args, **kwargs):
        return SimpleNamespace(status=1, x=None, fun=None, message="Time limit reached")

    monkeypatch.setattr(kvbook.opt, "milp", stopped_milp)
    with pytest.raises(RuntimeError, match="did not prove optimality") as caught:
        optimum(worked, time_limit=0.5)
    assert "status 1" in str(caught.value)


def test_time_limit_checked(worked):
    with pytest.raises(ValueError, match="time_limit must be a positive"):
        optimum(worked, time_limit=0)


def test_non_instance_raises():
    with pytest.raises(ValueError, match="expects a kvbook.model.Instance"):
        optimum([3, 3, 3])


def test_brute_force_non_instance_raises():
    with pytest.raises(ValueError, match="expects a kvbook.model.Instance"):
        brute_force_optimum([3, 3, 3])


def test_brute_force_rejects_many_jobs():
    instance = make_instance([1] * 6, prompt=1, budget=10)
    with pytest.raises(ValueError, match="at most max_jobs=5 jobs, got 6"):
        brute_force_optimum(instance)


def test_brute_force_rejects_long_jobs():
    instance = make_instance([30, 30], prompt=1, budget=70)
    with pytest.raises(ValueError, match="sum\\(o\\) = 60"):
        brute_force_optimum(instance)


def test_brute_force_five_identical_jobs():
    instance = make_instance([4] * 5, prompt=1, budget=12)
    assert brute_force_optimum(instance).flow_time == optimum(instance).flow_time


def test_optimum_symmetric_identical_jobs():
    # HiGHS once returned 135 here as optimal when the memory rows also had
    # the redundant lower bound 0; starts 0, 2, 8, 10, 16, 18, 24 give 134.
    instance = make_instance([8] * 7, prompt=1, budget=16)
    assert optimum(instance).flow_time == 134


def test_optimum_prints_nothing(capfd):
    optimum(make_instance([8] * 7, prompt=1, budget=16))
    assert capfd.readouterr().out == ""
