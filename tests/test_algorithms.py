"""Tests of the scheduling algorithms and their registry.

Every algorithm's schedule is checked by the independent validator on
every synthetic family and on instances with per-job prompts, against the
certified lower bound and, on small instances, against the exact optimum.
"""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook.algorithms import (
    ALGORITHMS,
    gba,
    gsa,
    parse_algorithms,
    run,
    sps,
)
from kvbook.bounds import lower_bound
from kvbook.families import FAMILIES
from kvbook.model import Schedule, make_instance
from kvbook.opt import brute_force_optimum, optimum
from kvbook.validate import check_schedule, validate

# Algorithms that only start jobs they can finish, so they never kill.
NEVER_KILL = ("sps", "gba", "mcsf", "sorted_f", "greedy_batch")

# Run options beyond the defaults; each must still give valid schedules.
VARIANTS = [
    ("gba", {"beta": 1.5}),
    ("gba", {"beta": 3}),
    ("gba", {"beta": 1.5, "lane_length": "longest"}),
    ("gba", {"beta": 2, "lane_length": "longest"}),
    ("gba", {"beta": 3, "lane_length": "longest"}),
    ("gsa", {"beta": 1.5}),
    ("gsa", {"beta": 3}),
]


def check_sound(schedule, name, instance):
    """Assert that a schedule is valid and consistent with its registry entry."""
    result = validate(schedule)
    assert result.errors == []
    assert result.valid
    assert isinstance(schedule, Schedule)
    assert schedule.algorithm == name
    assert schedule.instance is instance
    assert schedule.clairvoyant == ALGORITHMS[name].clairvoyant
    assert schedule.flow_time == int(schedule.completion.sum())
    assert schedule.flow_time >= lower_bound(instance)
    assert np.all(schedule.completion >= instance.output)
    if name in NEVER_KILL:
        assert schedule.kills == 0


@st.composite
def per_job_instances(draw, max_jobs=20, max_output=40, max_prompt=30):
    """Instances with one prompt per job, from tight to roomy budgets."""
    n = draw(st.integers(1, max_jobs))
    output = draw(st.lists(st.integers(1, max_output), min_size=n, max_size=n))
    prompt = draw(st.lists(st.integers(1, max_prompt), min_size=n, max_size=n))
    peak = max(o + s for o, s in zip(output, prompt))
    slack = draw(st.one_of(st.just(0), st.integers(0, 3 * peak)))
    return make_instance(output, prompt, peak + slack)


@st.composite
def mixed_instances(draw):
    """Instances with one prompt for all jobs or one per job."""
    if draw(st.booleans()):
        return draw(per_job_instances())
    n = draw(st.integers(1, 20))
    output = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    prompt = draw(st.integers(1, 30))
    peak = max(output) + prompt
    slack = draw(st.one_of(st.just(0), st.integers(0, 3 * peak)))
    return make_instance(output, prompt, peak + slack)


@st.composite
def small_instances(draw):
    """Instances with n <= 5, o <= 6 and M <= 20, for the exact optimum."""
    n = draw(st.integers(1, 5))
    output = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    if draw(st.booleans()):
        prompt = draw(st.integers(1, 8))
        peak = max(output) + prompt
    else:
        prompt = draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
        peak = max(o + s for o, s in zip(output, prompt))
    budget = draw(st.integers(peak, 20))
    return make_instance(output, prompt, budget)


@pytest.fixture
def worked():
    """The worked example: s = 2, M = 12, three jobs of 3 tokens."""
    return make_instance([3, 3, 3], prompt=2, budget=12)


# The worked example.


def test_worked_all_at_once_rejected(worked):
    result = check_schedule(worked, [0, 1, 2], [0, 0, 0], [3, 3, 3], [True] * 3)
    assert not result.valid
    assert int(result.memory[2]) == 15
    assert result.peak_memory == 15
    assert any("memory exceeds the budget" in error for error in result.errors)


def test_worked_optimum(worked):
    assert optimum(worked).flow_time == 12
    assert brute_force_optimum(worked).flow_time == 12


def test_worked_sps(worked):
    schedule = sps(worked)
    check_sound(schedule, "sps", worked)
    assert schedule.flow_time == 12
    assert schedule.memory.tolist() == [3, 7, 12, 9, 5]
    assert validate(schedule).memory.tolist() == [3, 7, 12, 9, 5]
    assert schedule.runs == [(0, 0, 3, True), (1, 1, 3, True), (2, 2, 3, True)]


# Every algorithm on every family and on per-job prompts.


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(
    n=st.integers(1, 40),
    budget=st.integers(2, 600),
    seed=st.integers(0, 2**32 - 1),
)
def test_algorithm_on_family(name, family, n, budget, seed):
    instance = FAMILIES[family](n, budget, seed)
    schedule = run(name, instance)
    check_sound(schedule, name, instance)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@settings(max_examples=120, derandomize=True, deadline=None, database=None)
@given(instance=per_job_instances())
def test_algorithm_per_job_prompts(name, instance):
    schedule = run(name, instance)
    check_sound(schedule, name, instance)


@pytest.mark.parametrize("name, params", VARIANTS)
@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(instance=mixed_instances())
def test_beta_variants_valid(name, params, instance):
    schedule = run(name, instance, **params)
    check_sound(schedule, name, instance)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_single_job_at_budget(name):
    # s + o = M. GSA kills the job after slices of 1, 2 and 4 rounds and
    # completes it in the 8-round slice: 1 + 2 + 4 + 7 = 14.
    instance = make_instance([7], prompt=3, budget=10)
    schedule = run(name, instance)
    check_sound(schedule, name, instance)
    assert schedule.completion.tolist() == ([14] if name == "gsa" else [7])
    assert schedule.peak_memory == 10


# Bounds and the exact optimum.


@settings(max_examples=80, derandomize=True, deadline=None, database=None)
@given(instance=small_instances())
def test_bounds_sandwich_algorithms(instance):
    best = optimum(instance).flow_time
    assert lower_bound(instance) <= best
    for name in ALGORITHMS:
        flow_time = run(name, instance).flow_time
        assert flow_time >= best, name


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(
    n=st.integers(1, 30),
    output=st.integers(1, 50),
    prompt=st.integers(1, 20),
    slack=st.integers(0, 50),
)
def test_sps_identical_fit_optimal(n, output, prompt, slack):
    instance = make_instance([output] * n, prompt, n * (prompt + output) + slack)
    schedule = sps(instance)
    assert schedule.flow_time == n * output
    assert schedule.flow_time == optimum(instance).flow_time
    assert schedule.start.tolist() == [0] * n


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    n=st.integers(1, 8),
    output=st.integers(1, 6),
    prompt=st.integers(1, 4),
    extra=st.integers(0, 40),
)
def test_sps_identical_two_approx(n, output, prompt, extra):
    # Feng, Yang and Zhang (arXiv:2601.22996, 2026) prove SPS within a factor
    # 2 of the optimum on identical jobs. Brute force is exact and fast here
    # because it tries identical jobs in non-decreasing start order only.
    budget = prompt + output + extra
    instance = make_instance([output] * n, prompt, budget)
    best = brute_force_optimum(instance, max_jobs=8, max_rounds=48).flow_time
    assert sps(instance).flow_time <= 2 * best


# A base close to 1 and the simulator's round limit.


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter, so a crash cannot take pytest down."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def test_gsa_kernel_stops_when_stalled():
    # One job of 4 tokens with a round limit of 2 stalls in phase 1. Running
    # the next phase would restart a running job and write past the
    # running-jobs array, which without the JIT raises IndexError.
    code = """
        import numpy as np
        from kvbook._sim import STALLED
        from kvbook.algorithms.gsa import _gsa_kernel
        state, log, memory = _gsa_kernel(
            np.array([1]), 5, np.array([4]), np.array([1, 2, 4, 8]), False, 2
        )
        print(int(state[STALLED]))
    """
    result = run_python(code, NUMBA_DISABLE_JIT="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1"]


def test_gsa_beta_near_one_finishes():
    # The job is killed at the end of slices 1 .. 326 and completes in the
    # 327-round slice: 326 * 327 / 2 + 327 = 53628 rounds. With beta = 1.01
    # the slices grow by one round, so the round limit must count them all.
    code = """
        from kvbook import make_instance
        from kvbook.algorithms import gsa
        from kvbook.validate import validate
        schedule = gsa(make_instance([327], prompt=1, budget=328), beta=1.01)
        print(validate(schedule).valid, schedule.flow_time)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "53628"]


def test_gsa_beta_near_one_shorter_job():
    # One token shorter: 325 * 326 / 2 + 326 rounds.
    schedule = gsa(make_instance([326], prompt=1, budget=327), beta=1.01)
    check_sound(schedule, "gsa", schedule.instance)
    assert schedule.flow_time == 53301
    assert schedule.kills == 325


# Parameter and input checks.


@pytest.mark.parametrize("function", [gba, gsa])
@pytest.mark.parametrize("beta", [1, 1.0, 0, -2, math.nan, math.inf, "x", None])
def test_invalid_beta_rejected(function, beta, worked):
    with pytest.raises(ValueError, match="beta"):
        function(worked, beta=beta)


def test_invalid_lane_length_rejected(worked):
    with pytest.raises(ValueError, match="lane_length"):
        gba(worked, lane_length="shortest")


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
@pytest.mark.parametrize("value", [[3, 3, 3], None, {"output": [3]}])
def test_non_instance_rejected(name, value):
    with pytest.raises(TypeError, match="Instance"):
        ALGORITHMS[name].function(value)


def test_sps_short_period_rejected():
    instance = make_instance([2, 5, 3], prompt=1, budget=20)
    with pytest.raises(ValueError, match="period 4 is shorter"):
        sps(instance, period=4)


@pytest.mark.parametrize("period", [0, -1, 2.5, "6", True])
def test_sps_bad_period_rejected(period):
    instance = make_instance([2, 5, 3], prompt=1, budget=20)
    with pytest.raises(ValueError, match="period"):
        sps(instance, period=period)


@pytest.mark.parametrize("period", [5, 6, 11])
def test_sps_long_period_valid(period):
    instance = make_instance([2, 5, 3, 5, 1], prompt=1, budget=14)
    schedule = sps(instance, period=period)
    check_sound(schedule, "sps", instance)


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(instance=mixed_instances(), data=st.data())
def test_sps_any_period_valid(instance, data):
    longest = int(instance.output.max())
    period = data.draw(st.integers(longest, 3 * longest + 5), label="period")
    schedule = sps(instance, period=period)
    check_sound(schedule, "sps", instance)


# The registry.


def test_registry_names():
    assert sorted(ALGORITHMS) == [
        "amin",
        "fcfs_recompute",
        "gba",
        "greedy_batch",
        "gsa",
        "mcsf",
        "sorted_f",
        "sps",
    ]
    for name, entry in ALGORITHMS.items():
        assert entry.name == name


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_registry_runs(name, worked):
    schedule = run(name, worked)
    check_sound(schedule, name, worked)


def test_registry_clairvoyance():
    known = {name for name, entry in ALGORITHMS.items() if entry.clairvoyant}
    assert known == {"sps", "gba", "mcsf", "sorted_f", "greedy_batch"}


def test_run_passes_params(worked):
    assert run("gsa", worked, beta=3).runs == gsa(worked, beta=3).runs
    assert run("sps", worked, period=5).runs == sps(worked, period=5).runs


def test_run_unknown_rejected(worked):
    with pytest.raises(ValueError, match="unknown algorithm 'fifo'"):
        run("fifo", worked)


def test_parse_all():
    assert parse_algorithms("all") == list(ALGORITHMS)
    assert parse_algorithms(" all ") == list(ALGORITHMS)


def test_parse_list():
    assert parse_algorithms("sps") == ["sps"]
    assert parse_algorithms("gsa, sps") == ["gsa", "sps"]
    assert parse_algorithms("amin,,mcsf ,") == ["amin", "mcsf"]


@pytest.mark.parametrize("text", ["fifo", "sps,fifo", "SPS", "all,sps"])
def test_parse_unknown_rejected(text):
    with pytest.raises(ValueError, match="unknown algorithm"):
        parse_algorithms(text)


@pytest.mark.parametrize("text", ["", " , "])
def test_parse_empty_rejected(text):
    with pytest.raises(ValueError, match="no algorithm"):
        parse_algorithms(text)


def test_parse_non_string_rejected():
    with pytest.raises((TypeError, ValueError)):
        parse_algorithms(["sps"])


def test_one_lane_long_makespan_finishes():
    # 300 short jobs and one of 1000 rounds: one lane of 1000 rounds runs
    # the jobs one after another for about 301,000 rounds, which is valid.
    instance = make_instance([1] * 300 + [1000], prompt=10, budget=1100)
    schedule = sps(instance)
    assert validate(schedule).valid
    assert schedule.rounds == 301 * 1000


def test_huge_beta_runs_in_one_class():
    instance = make_instance([6, 3, 3], [1, 1, 3], 1007)
    for function in (gba, gsa):
        schedule = function(instance, beta=1000)
        assert validate(schedule).valid


@pytest.mark.parametrize("beta", ["2", 1e19])
def test_beta_string_or_huge_rejected(beta, worked):
    with pytest.raises(ValueError, match="beta"):
        gsa(worked, beta=beta)


def test_parse_algorithms_drops_repeats():
    assert parse_algorithms("gsa,gsa,sps") == ["gsa", "sps"]
