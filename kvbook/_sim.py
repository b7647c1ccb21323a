"""The round simulator: the environment every algorithm kernel runs in.

Only the simulator reads the true output lengths. A policy kernel calls
``sim_start`` and ``sim_kill`` at a decision round ``t`` and then
``sim_advance``, which simulates rounds until the round the policy asks for
or the first completion, whichever is earlier, and returns that round. So a
non-clairvoyant policy learns an output length only when its job completes.

The simulator is event driven: between two events the running set is fixed,
so the memory of round ``r`` is ``sum(s_j + 1 - a_j) + nrun * r`` over the
running jobs (started at ``a_j``), and a stretch of rounds costs O(rounds) to
record and nothing per running job. Completions come from a heap keyed by
completion round. State is O(n + rounds): no array is jobs x rounds.

All functions here are numba kernels that trust their inputs; the public
functions in :mod:`kvbook.algorithms` check them.
"""

from __future__ import annotations

import numba
import numpy as np

# Scalar state, held in one int64 array so kernels can update it in place.
NRUN = 0  # running jobs
SUM_S1 = 1  # sum of s_j + 1 over running jobs
SUM_START = 2  # sum of start rounds over running jobs
NLOG = 3  # runs logged
NHEAP = 4  # entries in the completion heap
ROUNDS = 5  # rounds simulated so far (makespan once all complete)
DONE = 6  # completed jobs
KILLS = 7  # killed runs
FLOW = 8  # total flow time of completed jobs
OVERFLOW = 9  # first round whose memory exceeded the budget, or -1
BUDGET = 10
ROUND_LIMIT = 11  # rounds after which the simulator stops a runaway policy
STALLED = 12  # 1 when the policy ran past ROUND_LIMIT or idled forever
NSTATE = 13

INF = np.int64(2**62)


# Columns of the per-job table. One 2-D array instead of ten 1-D ones keeps
# the state tuple short: numba counts references to every array in it on
# each call, and that bookkeeping dominated the run time.
COL_S = 0  # prompt length
COL_O = 1  # output length, read only by the simulator
COL_RUN_START = 2  # start round of the current run, or -1
COL_RUNNING = 3  # running jobs, packed at rows 0 .. NRUN - 1
COL_RUNNING_POS = 4  # row of the job in COL_RUNNING, or -1
COL_HEAP_KEY = 5  # completion heap: completion round
COL_HEAP_JOB = 6  # completion heap: job
COL_HEAP_POS = 7  # row of the job in the heap, or -1
COL_DONE = 8  # 1 once the job has completed
NCOL = 9


@numba.njit(cache=True)
def sim_new(s, o, budget, round_limit):
    """Return a fresh simulator state for prompts ``s`` and outputs ``o``."""
    n = o.shape[0]
    state = np.zeros(NSTATE, dtype=np.int64)
    state[OVERFLOW] = -1
    state[BUDGET] = budget
    state[ROUND_LIMIT] = round_limit
    table = np.zeros((n, NCOL), dtype=np.int64)
    for j in range(n):
        table[j, COL_S] = s[j]
        table[j, COL_O] = o[j]
        table[j, COL_RUN_START] = -1
        table[j, COL_RUNNING_POS] = -1
        table[j, COL_HEAP_POS] = -1
    completed = np.empty(n, dtype=np.int64)
    log = np.empty((max(16, 2 * n), 4), dtype=np.int64)
    memory = np.zeros(max(16, n), dtype=np.int64)
    return (state, table, completed, log, memory)


# Positions in the state tuple returned by sim_new.
_STATE, _TABLE, _COMPLETED, _LOG, _MEMORY = 0, 1, 2, 3, 4


@numba.njit(cache=True, inline="always")
def run_start(sim, j):
    """Start round of job ``j``'s current run, or -1 if it is not running."""
    return sim[_TABLE][j, COL_RUN_START]


@numba.njit(cache=True, inline="always")
def running_job(sim, i):
    """Return the ``i``-th running job (``i < state[NRUN]``, in no fixed order)."""
    return sim[_TABLE][i, COL_RUNNING]


@numba.njit(cache=True, inline="always")
def is_done(sim, j):
    """Return whether job ``j`` has completed."""
    return sim[_TABLE][j, COL_DONE] != 0


@numba.njit(cache=True, inline="always")
def _heap_less(key, job, a, b):
    return key[a] < key[b] or (key[a] == key[b] and job[a] < job[b])


@numba.njit(cache=True, inline="always")
def _heap_swap(key, job, pos, a, b):
    key[a], key[b] = key[b], key[a]
    job[a], job[b] = job[b], job[a]
    pos[job[a]] = a
    pos[job[b]] = b


@numba.njit(cache=True, inline="always")
def _heap_up(key, job, pos, i):
    while i > 0:
        parent = (i - 1) // 2
        if _heap_less(key, job, i, parent):
            _heap_swap(key, job, pos, i, parent)
            i = parent
        else:
            break


@numba.njit(cache=True, inline="always")
def _heap_down(key, job, pos, i, size):
    while True:
        smallest = i
        left = 2 * i + 1
        right = left + 1
        if left < size and _heap_less(key, job, left, smallest):
            smallest = left
        if right < size and _heap_less(key, job, right, smallest):
            smallest = right
        if smallest == i:
            break
        _heap_swap(key, job, pos, i, smallest)
        i = smallest


@numba.njit(cache=True, inline="always")
def heap_push(key, job, pos, size, k, j):
    """Push job ``j`` with key ``k``; return the new size."""
    key[size] = k
    job[size] = j
    pos[j] = size
    _heap_up(key, job, pos, size)
    return size + 1


@numba.njit(cache=True, inline="always")
def heap_remove(key, job, pos, size, j):
    """Remove job ``j`` from the heap; return the new size."""
    i = pos[j]
    last = size - 1
    if i != last:
        _heap_swap(key, job, pos, i, last)
    pos[j] = -1
    if i != last:
        _heap_down(key, job, pos, i, last)
        _heap_up(key, job, pos, i)
    return last


@numba.njit(cache=True, inline="always")
def _table_less(table, a, b):
    ka = table[a, COL_HEAP_KEY]
    kb = table[b, COL_HEAP_KEY]
    return ka < kb or (ka == kb and table[a, COL_HEAP_JOB] < table[b, COL_HEAP_JOB])


@numba.njit(cache=True, inline="always")
def _table_swap(table, a, b):
    for col in (COL_HEAP_KEY, COL_HEAP_JOB):
        value = table[a, col]
        table[a, col] = table[b, col]
        table[b, col] = value
    table[table[a, COL_HEAP_JOB], COL_HEAP_POS] = a
    table[table[b, COL_HEAP_JOB], COL_HEAP_POS] = b


@numba.njit(cache=True, inline="always")
def _table_up(table, i):
    while i > 0:
        parent = (i - 1) // 2
        if _table_less(table, i, parent):
            _table_swap(table, i, parent)
            i = parent
        else:
            break


@numba.njit(cache=True, inline="always")
def _table_down(table, i, size):
    while True:
        smallest = i
        left = 2 * i + 1
        right = left + 1
        if left < size and _table_less(table, left, smallest):
            smallest = left
        if right < size and _table_less(table, right, smallest):
            smallest = right
        if smallest == i:
            break
        _table_swap(table, i, smallest)
        i = smallest


@numba.njit(cache=True, inline="always")
def _table_push(table, size, key, j):
    table[size, COL_HEAP_KEY] = key
    table[size, COL_HEAP_JOB] = j
    table[j, COL_HEAP_POS] = size
    _table_up(table, size)
    return size + 1


@numba.njit(cache=True, inline="always")
def _table_remove(table, size, j):
    i = table[j, COL_HEAP_POS]
    last = size - 1
    if i != last:
        _table_swap(table, i, last)
    table[j, COL_HEAP_POS] = -1
    if i != last:
        _table_down(table, i, last)
        _table_up(table, i)
    return last


@numba.njit(cache=True, inline="always")
def _append_log(log, state, j, a, length, completed):
    count = state[NLOG]
    if count == log.shape[0]:
        bigger = np.empty((2 * count, 4), dtype=np.int64)
        bigger[:count] = log[:count]
        log = bigger
    log[count, 0] = j
    log[count, 1] = a
    log[count, 2] = length
    log[count, 3] = completed
    state[NLOG] = count + 1
    return log


@numba.njit(cache=True, inline="always")
def _remove_running(state, table, j):
    a = table[j, COL_RUN_START]
    i = table[j, COL_RUNNING_POS]
    last = state[NRUN] - 1
    moved = table[last, COL_RUNNING]
    table[i, COL_RUNNING] = moved
    table[moved, COL_RUNNING_POS] = i
    table[j, COL_RUNNING_POS] = -1
    state[NRUN] = last
    state[SUM_S1] -= table[j, COL_S] + 1
    state[SUM_START] -= a
    table[j, COL_RUN_START] = -1


@numba.njit(cache=True, inline="always")
def sim_start(sim, j, t):
    """Start job ``j`` at round ``t``. The job must be waiting."""
    state = sim[_STATE]
    table = sim[_TABLE]
    table[j, COL_RUN_START] = t
    table[state[NRUN], COL_RUNNING] = j
    table[j, COL_RUNNING_POS] = state[NRUN]
    state[NRUN] += 1
    state[SUM_S1] += table[j, COL_S] + 1
    state[SUM_START] += t
    state[NHEAP] = _table_push(table, state[NHEAP], t + table[j, COL_O], j)


@numba.njit(cache=True, inline="always")
def sim_kill(sim, j, t):
    """Kill running job ``j`` at round ``t``.

    A run killed in the round it started never ran, so it is dropped without
    a log entry or a kill count. The log has room: ``sim_advance`` leaves a
    free row for every running job, and only a job that ran before ``t``
    leaves a log entry.
    """
    state = sim[_STATE]
    table = sim[_TABLE]
    a = table[j, COL_RUN_START]
    state[NHEAP] = _table_remove(table, state[NHEAP], j)
    _remove_running(state, table, j)
    if t > a:
        log = sim[_LOG]
        if state[NLOG] == log.shape[0]:
            # Only a policy that breaks the rule above gets here.
            state[STALLED] = 1
            return
        state[KILLS] += 1
        _append_log(log, state, j, a, t - a, 0)


@numba.njit(cache=True, inline="always")
def memory_at(sim, r):
    """Tokens the current running set holds in round ``r`` if none ends."""
    state = sim[_STATE]
    return state[SUM_S1] + state[NRUN] * r - state[SUM_START]


@numba.njit(cache=True)
def sim_advance(sim, t, t_stop):
    """Simulate from round ``t`` until ``t_stop`` or the first completion.

    Returns ``(sim, t_end, ncompleted)``: the updated state (its log and
    memory arrays may have been reallocated), the round the policy acts at
    next, and the number of jobs that completed at ``t_end``, whose ids are
    in ``sim[_COMPLETED][:ncompleted]``.
    """
    state = sim[_STATE]
    table = sim[_TABLE]
    log = sim[_LOG]
    memory = sim[_MEMORY]
    grown = False
    next_completion = table[0, COL_HEAP_KEY] if state[NHEAP] > 0 else INF
    t_end = min(next_completion, t_stop)
    if t_end >= INF or t_end > state[ROUND_LIMIT]:
        state[STALLED] = 1
        return sim, t, 0
    if t_end > t:
        if t_end > memory.shape[0]:
            size = memory.shape[0]
            while size < t_end:
                size *= 2
            bigger = np.zeros(size, dtype=np.int64)
            bigger[: memory.shape[0]] = memory
            memory = bigger
            grown = True
        base = state[SUM_S1] - state[SUM_START]
        nrun = state[NRUN]
        for r in range(t, t_end):
            memory[r] = base + nrun * r
        if state[OVERFLOW] < 0 and memory[t_end - 1] > state[BUDGET]:
            for r in range(t, t_end):
                if memory[r] > state[BUDGET]:
                    state[OVERFLOW] = r
                    break
        if t_end > state[ROUNDS]:
            state[ROUNDS] = t_end
    ncompleted = 0
    if next_completion == t_end:
        completed = sim[_COMPLETED]
        while state[NHEAP] > 0 and table[0, COL_HEAP_KEY] == t_end:
            j = table[0, COL_HEAP_JOB]
            state[NHEAP] = _table_remove(table, state[NHEAP], j)
            a = table[j, COL_RUN_START]
            _remove_running(state, table, j)
            if state[NLOG] == log.shape[0]:
                grown = True
            log = _append_log(log, state, j, a, t_end - a, 1)
            table[j, COL_DONE] = 1
            state[DONE] += 1
            state[FLOW] += t_end
            completed[ncompleted] = j
            ncompleted += 1
    if state[NLOG] + state[NRUN] > log.shape[0]:
        # Room for a kill of every running job before the next advance.
        bigger = np.empty((2 * (state[NLOG] + state[NRUN]), 4), dtype=np.int64)
        bigger[: state[NLOG]] = log[: state[NLOG]]
        log = bigger
        grown = True
    if grown:
        return (state, table, sim[_COMPLETED], log, memory), t_end, ncompleted
    return sim, t_end, ncompleted


@numba.njit(cache=True)
def sim_result(sim):
    """Return ``(state, log, memory)`` trimmed to what was recorded."""
    state = sim[_STATE]
    log = sim[_LOG][: state[NLOG]].copy()
    memory = sim[_MEMORY][: state[ROUNDS]].copy()
    return state, log, memory
