"""Tests of the round simulator kernels in kvbook._sim, driven by hand.

Each test calls ``sim_new``, ``sim_start``, ``sim_kill`` and ``sim_advance``
directly from Python (or from a small numba driver) and checks the log,
the memory profile and the scalar state against the round model: a run
started at round ``a`` uses ``s + 1 + (r - a)`` tokens in round ``r`` and
completes at ``a + o``.
"""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvbook._sim import (
    _COMPLETED,
    BUDGET,
    DONE,
    FLOW,
    KILLS,
    NHEAP,
    NLOG,
    NRUN,
    OVERFLOW,
    ROUNDS,
    STALLED,
    heap_push,
    heap_remove,
    memory_at,
    sim_advance,
    sim_kill,
    sim_new,
    sim_result,
    sim_start,
)

# Far beyond every round these tests reach, but below the simulator's INF.
FAR = 10**9


def new_sim(prompt, output, budget=100, round_limit=10_000):
    """Return a fresh simulator for the given prompts and outputs."""
    s = np.asarray(prompt, dtype=np.int64)
    o = np.asarray(output, dtype=np.int64)
    return sim_new(s, o, budget, round_limit)


def log_rows(sim):
    """Return the logged runs as ``(job, start, length, completed)`` tuples."""
    _, log, _ = sim_result(sim)
    return [tuple(int(v) for v in row) for row in log]


def memory_from_runs(prompt, runs, rounds):
    """Recompute the per-round tokens from runs, one round at a time."""
    memory = [0] * rounds
    for j, a, length, _ in runs:
        for r in range(a, a + length):
            memory[r] += int(prompt[j]) + 1 + (r - a)
    return memory


def test_start_completes_after_output():
    sim = new_sim([2], [3])
    sim, t, count = sim_advance(sim, 0, 4)
    assert (t, count) == (4, 0)
    sim_start(sim, 0, 4)
    sim, t, count = sim_advance(sim, 4, FAR)
    assert t == 7
    assert count == 1
    assert int(sim[_COMPLETED][0]) == 0
    assert log_rows(sim) == [(0, 4, 3, 1)]
    state, _, memory = sim_result(sim)
    assert int(state[FLOW]) == 7
    assert int(state[DONE]) == 1
    assert int(state[NRUN]) == 0
    assert memory.tolist() == [0, 0, 0, 0, 3, 4, 5]


def test_kill_logs_rounds_run():
    sim = new_sim([2], [5])
    sim_start(sim, 0, 2)
    sim, t, count = sim_advance(sim, 2, 4)
    assert (t, count) == (4, 0)
    sim_kill(sim, 0, 4)
    assert log_rows(sim) == [(0, 2, 2, 0)]
    state = sim[0]
    assert int(state[KILLS]) == 1
    assert int(state[NRUN]) == 0
    assert int(state[NHEAP]) == 0
    assert int(state[DONE]) == 0


def test_kill_in_start_round_logs_nothing():
    sim = new_sim([2, 1], [3, 2])
    sim_start(sim, 0, 0)
    sim_start(sim, 1, 0)
    sim_kill(sim, 0, 0)
    state = sim[0]
    assert int(state[NLOG]) == 0
    assert int(state[KILLS]) == 0
    assert int(state[NRUN]) == 1
    assert int(state[NHEAP]) == 1
    assert int(memory_at(sim, 0)) == 2


def test_restart_after_kill_completes():
    sim = new_sim([1], [3])
    sim_start(sim, 0, 0)
    sim, t, _ = sim_advance(sim, 0, 2)
    sim_kill(sim, 0, t)
    sim_start(sim, 0, t)
    sim, t, count = sim_advance(sim, t, FAR)
    assert (t, count) == (5, 1)
    assert log_rows(sim) == [(0, 0, 2, 0), (0, 2, 3, 1)]
    state, _, memory = sim_result(sim)
    assert int(state[FLOW]) == 5
    assert memory.tolist() == [2, 3, 2, 3, 4]


def test_memory_at_formula():
    sim = new_sim([2, 5, 1], [9, 9, 9])
    sim_start(sim, 0, 0)
    sim, t, _ = sim_advance(sim, 0, 3)
    sim_start(sim, 1, 3)
    sim_start(sim, 2, 3)
    # Round r: (2 + 1 + r) + (5 + 1 + r - 3) + (1 + 1 + r - 3).
    for r in range(3, 9):
        assert int(memory_at(sim, r)) == 5 + 3 * r


def test_advance_stops_at_first_completion():
    sim = new_sim([1, 1, 1], [4, 2, 6])
    for j in range(3):
        sim_start(sim, j, 0)
    sim, t, count = sim_advance(sim, 0, FAR)
    assert (t, count) == (2, 1)
    assert int(sim[_COMPLETED][0]) == 1
    assert int(sim[0][NRUN]) == 2
    sim, t, count = sim_advance(sim, t, FAR)
    assert (t, count) == (4, 1)
    assert int(sim[_COMPLETED][0]) == 0


def test_advance_reports_simultaneous_completions():
    sim = new_sim([1, 1, 1], [3, 5, 3])
    for j in (2, 1, 0):
        sim_start(sim, j, 0)
    sim, t, count = sim_advance(sim, 0, FAR)
    assert (t, count) == (3, 2)
    assert sorted(sim[_COMPLETED][:2].tolist()) == [0, 2]
    assert int(sim[0][DONE]) == 2
    assert int(sim[0][FLOW]) == 6


def test_advance_stops_at_requested_round():
    sim = new_sim([1], [5])
    sim_start(sim, 0, 0)
    sim, t, count = sim_advance(sim, 0, 3)
    assert (t, count) == (3, 0)
    assert int(sim[0][NRUN]) == 1
    assert int(sim[0][ROUNDS]) == 3
    assert int(sim[0][STALLED]) == 0


def test_advance_when_idle_stalls():
    sim = new_sim([1], [2])
    sim, t, count = sim_advance(sim, 0, 2**62)
    assert (t, count) == (0, 0)
    assert int(sim[0][STALLED]) == 1


def test_advance_past_round_limit_stalls():
    sim = new_sim([1], [50], round_limit=20)
    sim_start(sim, 0, 0)
    sim, t, count = sim_advance(sim, 0, FAR)
    assert (t, count) == (0, 0)
    assert int(sim[0][STALLED]) == 1
    assert int(sim[0][DONE]) == 0


def test_overflow_records_first_round():
    # Two jobs of s = 1, o = 3 started at round 0 use 4, 6 and 8 tokens.
    sim = new_sim([1, 1], [3, 3], budget=5)
    sim_start(sim, 0, 0)
    sim_start(sim, 1, 0)
    sim, _, _ = sim_advance(sim, 0, FAR)
    assert int(sim[0][OVERFLOW]) == 1
    assert int(sim[0][BUDGET]) == 5


def test_overflow_keeps_earliest_round():
    # Rounds 0 to 2 use 4, 6 and 8 tokens. Job 2 alone later uses 8 in round 7.
    sim = new_sim([1, 1, 3], [3, 3, 6], budget=7)
    sim_start(sim, 0, 0)
    sim_start(sim, 1, 0)
    sim, t, _ = sim_advance(sim, 0, FAR)
    assert int(sim[0][OVERFLOW]) == 2
    sim_start(sim, 2, t)
    sim, _, _ = sim_advance(sim, t, FAR)
    _, _, memory = sim_result(sim)
    assert int(memory[7]) == 8
    assert int(sim[0][OVERFLOW]) == 2


def test_no_overflow_at_budget():
    sim = new_sim([1, 1], [3, 3], budget=8)
    sim_start(sim, 0, 0)
    sim_start(sim, 1, 0)
    sim, _, _ = sim_advance(sim, 0, FAR)
    assert int(sim[0][OVERFLOW]) == -1


def test_log_and_memory_grow():
    # One job killed 30 times overflows the initial 16-row log and
    # 16-round memory arrays; the state sim_advance returns must carry the
    # bigger ones.
    sim = new_sim([1], [2])
    t = 0
    for _ in range(30):
        sim_start(sim, 0, t)
        sim, t, _ = sim_advance(sim, t, t + 1)
        sim_kill(sim, 0, t)
    sim_start(sim, 0, t)
    sim, t, _ = sim_advance(sim, t, FAR)
    state, log, memory = sim_result(sim)
    assert t == 32
    assert log.shape == (31, 4)
    assert int(state[KILLS]) == 30
    assert log[:30, 2].tolist() == [1] * 30
    assert log[30].tolist() == [0, 30, 2, 1]
    assert memory.tolist() == [2] * 31 + [3]


@st.composite
def driver_scripts(draw):
    """A small instance and a script of start, kill and advance actions."""
    n = draw(st.integers(1, 5))
    prompt = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    output = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    budget = draw(st.integers(2, 30))
    action = st.one_of(
        st.tuples(st.just("start"), st.integers(0, n - 1)),
        st.tuples(st.just("kill"), st.integers(0, n - 1)),
        st.tuples(st.just("advance"), st.integers(1, 4)),
    )
    script = draw(st.lists(action, min_size=1, max_size=30))
    return prompt, output, budget, script


class ReferenceSimulator:
    """A round-by-round model of the simulator in plain Python."""

    def __init__(self, output):
        self.output = output
        self.running = {}
        self.done = set()
        self.runs = []

    def start(self, j, t):
        self.running[j] = t

    def kill(self, j, t):
        a = self.running.pop(j)
        if t > a:
            self.runs.append((j, a, t - a, 0))

    def advance(self, t, t_stop):
        ends = [a + self.output[j] for j, a in self.running.items()]
        t_end = min([t_stop] + ends)
        finished = sorted(
            j for j, a in self.running.items() if a + self.output[j] == t_end
        )
        for j in finished:
            a = self.running.pop(j)
            self.runs.append((j, a, t_end - a, 1))
            self.done.add(j)
        return t_end, finished


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(driver_scripts())
def test_simulator_matches_reference(case):
    prompt, output, budget, script = case
    sim = new_sim(prompt, output, budget=budget)
    reference = ReferenceSimulator(output)
    t = 0
    for kind, value in script:
        if kind == "start" and value not in reference.running:
            if value not in reference.done:
                sim_start(sim, value, t)
                reference.start(value, t)
        elif kind == "kill" and value in reference.running:
            sim_kill(sim, value, t)
            reference.kill(value, t)
        elif kind == "advance":
            sim, t_end, count = sim_advance(sim, t, t + value)
            expected_end, finished = reference.advance(t, t + value)
            assert t_end == expected_end
            assert sorted(sim[_COMPLETED][:count].tolist()) == finished
            t = t_end
    while reference.running:
        sim, t, count = sim_advance(sim, t, FAR)
        expected_end, finished = reference.advance(t, FAR)
        assert t == expected_end
        assert sorted(sim[_COMPLETED][:count].tolist()) == finished

    state, log, memory = sim_result(sim)
    expected_memory = memory_from_runs(prompt, reference.runs, memory.shape[0])
    over = [r for r, tokens in enumerate(expected_memory) if tokens > budget]
    completed = [run for run in reference.runs if run[3]]
    assert [tuple(int(v) for v in row) for row in log] == reference.runs
    assert memory.tolist() == expected_memory
    assert int(state[ROUNDS]) == max([t] + [a + n for _, a, n, _ in reference.runs])
    assert int(state[OVERFLOW]) == (over[0] if over else -1)
    assert int(state[KILLS]) == len(reference.runs) - len(completed)
    assert int(state[DONE]) == len(completed)
    assert int(state[FLOW]) == sum(a + n for _, a, n, _ in completed)
    assert int(state[NRUN]) == 0
    assert int(state[STALLED]) == 0


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 9), st.integers(0, 20)),
        max_size=40,
    )
)
def test_heap_matches_sorted_list(operations):
    size = 10
    key = np.empty(size, dtype=np.int64)
    job = np.empty(size, dtype=np.int64)
    pos = np.full(size, -1, dtype=np.int64)
    count = 0
    reference = {}
    for push, j, k in operations:
        if push and j not in reference:
            count = heap_push(key, job, pos, count, k, j)
            reference[j] = k
        elif not push and j in reference:
            count = heap_remove(key, job, pos, count, j)
            del reference[j]
        assert count == len(reference)
        if reference:
            smallest = min(reference.items(), key=lambda item: (item[1], item[0]))
            assert (int(job[0]), int(key[0])) == smallest
        for member in reference:
            assert int(job[pos[member]]) == member


@numba.njit(cache=True)
def _run_all_at_once(s, o, budget):
    """Start every job at round 0 and advance until all complete."""
    sim = sim_new(s, o, budget, 10_000)
    for j in range(o.shape[0]):
        sim_start(sim, j, 0)
    t = 0
    while sim[0][NRUN] > 0:
        sim, t, _ = sim_advance(sim, t, 2**62)
    return sim_result(sim)


def test_numba_driver_runs_batch():
    s = np.array([2, 2, 2], dtype=np.int64)
    o = np.array([3, 1, 2], dtype=np.int64)
    state, log, memory = _run_all_at_once(s, o, 12)
    assert log.tolist() == [[1, 0, 1, 1], [2, 0, 2, 1], [0, 0, 3, 1]]
    assert memory.tolist() == [9, 8, 5]
    assert int(state[FLOW]) == 6
    assert int(state[OVERFLOW]) == -1


@pytest.mark.parametrize("budget, first", [(8, 0), (9, 1), (14, 2), (15, -1)])
def test_numba_driver_overflow(budget, first):
    # The worked example started all at once: 9, 12 and 15 tokens.
    s = np.array([2, 2, 2], dtype=np.int64)
    o = np.array([3, 3, 3], dtype=np.int64)
    state, _, memory = _run_all_at_once(s, o, budget)
    assert memory.tolist() == [9, 12, 15]
    assert int(state[OVERFLOW]) == first
