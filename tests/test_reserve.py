"""The reservation list behind MC-SF, A_min and per-prompt staggering."""

from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook._sim import INF
from kvbook.algorithms._reserve import res_first_fit, res_fits, res_insert, res_new

BUDGET = 60


@st.composite
def reservations(draw):
    """A round t, reservations of jobs started before t, and a new run."""
    t = draw(st.integers(0, 20))
    count = draw(st.integers(0, 6))
    entries = []
    for j in range(count):
        start = draw(st.integers(0, t))
        end = draw(st.integers(t + 1, t + 25))
        prompt = draw(st.integers(1, 8))
        entries.append((j, start, end, prompt))
    prompt = draw(st.integers(1, 10))
    length = draw(st.integers(1, BUDGET - prompt))
    extra = draw(st.integers(0, 20))
    return t, entries, prompt, length, extra


def build(entries):
    res = res_new(8)
    for j, start, end, prompt in entries:
        res_insert(res, end, prompt + 1 - start, j)
    return res


def held(entries, r):
    """Tokens the reservations hold in round r."""
    return sum(p + 1 + r - a for _, a, end, p in entries if r < end)


def first_round_by_scan(entries, t, prompt, length, memory_now, nrun, exact):
    res = build(entries)
    for r in range(t, t + 200):
        now = held(entries, r) if exact else memory_now + nrun * (r - t)
        if res_fits(res, now, prompt, length, r, BUDGET):
            return r
    return INF


@settings(max_examples=300, deadline=None, derandomize=True)
@given(reservations())
def test_first_fit_exact_matches_scan(case):
    t, entries, prompt, length, _ = case
    res = build(entries)
    found = res_first_fit(res, 0, 0, prompt, length, t, BUDGET, INF, True)
    assert found == first_round_by_scan(entries, t, prompt, length, 0, 0, True)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(reservations())
def test_first_fit_estimates_matches_scan(case):
    # Jobs past their reservation still hold memory: `extra` tokens more now.
    t, entries, prompt, length, extra = case
    nrun = len(entries) + (1 if extra else 0)
    memory_now = held(entries, t) + extra
    res = build(entries)
    found = res_first_fit(res, memory_now, nrun, prompt, length, t, BUDGET, INF, False)
    expected = first_round_by_scan(entries, t, prompt, length, memory_now, nrun, False)
    assert found == expected


def test_fits_counts_round_before_end():
    # One job of prompt 5 started at 0 reserves rounds 0..9 and holds 15
    # tokens in round 9, where a new run of prompt 3 started at 0 holds 13.
    res = res_new(2)
    res_insert(res, 10, 5 + 1 - 0, 0)
    assert res_fits(res, 6, 3, 10, 0, 28)
    assert not res_fits(res, 6, 3, 10, 0, 27)


def test_first_fit_waits_for_end():
    res = res_new(2)
    res_insert(res, 10, 5 + 1 - 0, 0)
    # Started at round a, the new run holds 4 + 9 - a tokens in round 9
    # beside the job's 15, so with 20 tokens it fits from a = 8 on.
    assert res_first_fit(res, 0, 0, 3, 10, 0, 20, INF, True) == 8
    # A second job past its reservation holds 11 more tokens now and grows,
    # so the run never fits until some job completes.
    assert res_first_fit(res, 17, 2, 3, 10, 0, 20, INF, False) == INF
