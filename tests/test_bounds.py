import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook.bounds import lower_bound, lower_bound_terms, memory_time_area
from kvbook.model import make_instance
from kvbook.opt import optimum


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


def test_area_worked_example():
    instance = make_instance([3, 3, 3], prompt=2, budget=12)
    area = memory_time_area(instance)
    assert area.tolist() == [12, 12, 12]
    assert area.dtype == np.int64


def test_area_per_job_prompts():
    instance = make_instance([2, 2], prompt=[8, 1], budget=10)
    # 9 + 10 tokens for job 0 and 2 + 3 for job 1.
    assert memory_time_area(instance).tolist() == [19, 5]


def test_terms_worked_example():
    instance = make_instance([3, 3, 3], prompt=2, budget=12)
    # P = 12, 24, 36 and M = 12: max(3, 1), max(3, 2), max(3, 3).
    assert lower_bound_terms(instance).tolist() == [3, 3, 3]


def test_lower_bound_worked_example():
    assert lower_bound(make_instance([3, 3, 3], prompt=2, budget=12)) == 9


def test_lower_bound_identical_jobs():
    instance = make_instance([2, 2, 2, 2], prompt=1, budget=6)
    # Areas 5 each: P = 5, 10, 15, 20 and M = 6 give 1, 2, 3, 4 against o = 2.
    assert lower_bound_terms(instance).tolist() == [2, 2, 3, 4]
    assert lower_bound(instance) == 11


def test_lower_bound_large_budget_is_outputs():
    instance = make_instance([5, 1, 2], prompt=1, budget=100)
    assert lower_bound_terms(instance).tolist() == [1, 2, 5]


def test_lower_bound_sorts_areas_and_outputs_apart():
    instance = make_instance([2, 2], prompt=[8, 1], budget=10)
    # Sorted areas 5, 19: P = 5, 24 and M = 10 give 1, 3 against o = 2, 2.
    assert lower_bound_terms(instance).tolist() == [2, 3]


def test_lower_bound_is_int():
    assert type(lower_bound(make_instance([3], prompt=2, budget=12))) is int


def test_instance_beyond_round_limit_rejected():
    # Areas this large would overflow int64, but such an instance needs more
    # rounds than a schedule's memory profile may hold, so it is never built.
    o, s = 2**39, 2**40
    with pytest.raises(ValueError, match="rounds"):
        make_instance([o, o], prompt=s, budget=s + o)


@pytest.mark.parametrize("function", [memory_time_area, lower_bound_terms, lower_bound])
def test_non_instance_raises(function):
    with pytest.raises(ValueError, match="expects a kvbook.model.Instance"):
        function([3, 3, 3])


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_lower_bound_at_most_optimum(instance):
    assert lower_bound(instance) <= optimum(instance).flow_time


@settings(max_examples=40, derandomize=True, deadline=None, database=None)
@given(tiny_instances())
def test_terms_bound_sorted_completions(instance):
    completion = np.sort(optimum(instance).start + instance.output)
    assert np.all(lower_bound_terms(instance) <= completion)
