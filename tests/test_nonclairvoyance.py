"""Tests that the non-clairvoyant algorithms do not read output lengths early.

A non-clairvoyant policy learns ``o_i`` only when job ``i`` completes. So if
every job that has not completed by round ``t`` gets a longer output, the
policy cannot tell the difference before round ``t``: every decision it made
at an earlier round must be the same. A clairvoyant algorithm fails this
check, which the negative control shows.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook.algorithms import ALGORITHMS, run
from kvbook.model import make_instance
from kvbook.validate import validate

# Non-clairvoyant algorithms and the options to run them with.
BLIND = [
    ("gsa", {}),
    ("gsa", {"beta": 1.5}),
    ("gsa", {"beta": 3}),
    ("amin", {}),
    ("fcfs_recompute", {}),
]


def decisions_before(schedule, t):
    """Return what a schedule decided before round ``t``.

    That is the ``(job, start)`` pairs of runs started before ``t``, the
    runs that ended (killed or completed) before ``t``, and the memory of
    rounds ``0 .. t - 1``.
    """
    starts = sorted((j, a) for j, a, _, _ in schedule.runs if a < t)
    ended = sorted(run for run in schedule.runs if run[1] + run[2] < t)
    return starts, ended, schedule.memory[:t].tolist()


def lengthen_unfinished(instance, schedule, t, extra):
    """Return the instance with ``extra[i]`` more output for each job not done by ``t``.

    Each increase is capped so the job still fits the budget alone.
    """
    room = instance.budget - instance.prompt - instance.output
    unfinished = schedule.completion > t
    raise_by = np.where(unfinished, np.minimum(np.asarray(extra), room), 0)
    longer = make_instance(instance.output + raise_by, instance.prompt, instance.budget)
    return longer, raise_by


@st.composite
def roomy_instances(draw):
    """Instances where every job has room for at least one more output token."""
    n = draw(st.integers(1, 12))
    output = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    if draw(st.booleans()):
        prompt = draw(st.integers(1, 8))
        peak = max(output) + prompt
    else:
        prompt = draw(st.lists(st.integers(1, 8), min_size=n, max_size=n))
        peak = max(o + s for o, s in zip(output, prompt))
    slack = draw(st.integers(1, 60))
    return make_instance(output, prompt, peak + slack)


@pytest.mark.parametrize("name, params", BLIND)
@settings(max_examples=120, derandomize=True, deadline=None, database=None)
@given(instance=roomy_instances(), data=st.data())
def test_earlier_decisions_unchanged(name, params, instance, data):
    assert not ALGORITHMS[name].clairvoyant
    schedule = run(name, instance, **params)
    t = data.draw(st.integers(0, schedule.rounds - 1), label="t")
    extra = data.draw(
        st.lists(st.integers(1, 40), min_size=instance.n, max_size=instance.n),
        label="extra",
    )
    longer, raise_by = lengthen_unfinished(instance, schedule, t, extra)
    assert raise_by.sum() > 0
    rerun = run(name, longer, **params)
    before, after = decisions_before(schedule, t), decisions_before(rerun, t)
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]
    assert validate(rerun).valid


def find_reaction(name, seed=0, tries=500):
    """Search for an instance where ``name`` reacts early to a longer output.

    Returns ``(instance, longer, t)`` for the first seeded instance where
    lengthening jobs unfinished at ``t`` changes a decision before ``t``,
    or None.
    """
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        n = int(rng.integers(2, 6))
        output = rng.integers(1, 10, n)
        prompt = int(rng.integers(1, 5))
        budget = int(output.max()) + prompt + int(rng.integers(1, 15))
        instance = make_instance(output, prompt, budget)
        schedule = run(name, instance)
        t = int(rng.integers(1, schedule.rounds))
        extra = rng.integers(1, 20, n)
        longer, raise_by = lengthen_unfinished(instance, schedule, t, extra)
        if raise_by.sum() == 0:
            continue
        if decisions_before(run(name, longer), t) != decisions_before(schedule, t):
            return instance, longer, t
    return None


@pytest.mark.parametrize("name", ["mcsf", "sorted_f"])
def test_clairvoyant_reacts_early(name):
    assert ALGORITHMS[name].clairvoyant
    found = find_reaction(name)
    assert found is not None
    instance, longer, t = found
    before = decisions_before(run(name, instance), t)
    after = decisions_before(run(name, longer), t)
    assert after[0] != before[0]


def test_mcsf_reorders_on_longer_job():
    # Only one job at a time fits in M = 5, and MC-SF runs the 2-token job
    # first. Made 4 tokens long, that job goes second. So the start at round 0
    # changes although the job had not completed by round 1.
    instance = make_instance([2, 3], prompt=1, budget=5)
    schedule = run("mcsf", instance)
    longer, _ = lengthen_unfinished(instance, schedule, 1, [2, 0])
    assert longer.output.tolist() == [4, 3]
    assert decisions_before(schedule, 1)[0] == [(0, 0)]
    assert decisions_before(run("mcsf", longer), 1)[0] == [(1, 0)]
