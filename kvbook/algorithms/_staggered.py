"""Staggered pipelining: the lane engine shared by SPS, GBA and GSA.

A stage schedules a list of jobs with lane length ``L``. Each job gets one
run of at most ``cap_j = min(L, M - s_j)`` rounds: it completes inside the
run or is killed at its end. Jobs go to start slots in time order: lane
``l`` of ``k`` starts a run at rounds ``t0 + d_l + m * L`` (``m = 0, 1,
...``) with offsets ``d_l = floor(l * L / k)`` spread evenly over the period,
and ``k`` is the largest lane count whose steady-state peak memory fits
``M``. A stage whose jobs all fit at once starts them all at ``t0``.

With one prompt length the steady-state bound makes every slot safe. With
per-job prompts the lanes are sized for the mean prompt of the stage. A job
then starts at its slot only if its run fits beside the reservations of the
running jobs, and otherwise it waits for the next slot. A clairvoyant caller
reserves each job's output length, a non-clairvoyant one the whole slice.
"""

from __future__ import annotations

import numba
import numpy as np

from kvbook._sim import (
    COL_S,
    run_start,
    INF,
    NRUN,
    STALLED,
    memory_at,
    sim_advance,
    sim_kill,
    sim_start,
)
from kvbook.algorithms._reserve import (
    res_expire,
    res_first_fit,
    res_fits,
    res_insert,
    res_remove,
)


@numba.njit(cache=True)
def lane_offsets(k, period):
    """Return the start offsets ``floor(l * period / k)`` of ``k`` lanes."""
    offsets = np.empty(k, dtype=np.int64)
    for lane in range(k):
        offsets[lane] = (lane * period) // k
    return offsets


@numba.njit(cache=True)
def lane_peak(k, prompt, period):
    """Return the steady-state peak memory of ``k`` staggered lanes.

    Lane ``l`` holds ``prompt + 1 + ((t - d_l) mod period)`` tokens in round
    ``t`` of the steady state. Summed over lanes this is
    ``k * (prompt + 1) + k * t - sum(d) + period * #{l : d_l > t}`` for
    ``t`` in ``[0, period)``, which rises between offsets, so the peak is at
    ``t = period - 1`` or just before one of the offsets.
    """
    offsets = lane_offsets(k, period)
    total = np.int64(0)
    for lane in range(k):
        total += offsets[lane]
    best = k * (period - 1) - total
    lane = 0
    while lane < k:
        d = offsets[lane]
        if d >= 1:
            # Lanes lane..k-1 have offsets >= d > d - 1.
            value = k * (d - 1) - total + period * (k - lane)
            if value > best:
                best = value
        while lane < k and offsets[lane] == d:
            lane += 1
    return k * (prompt + 1) + best


@numba.njit(cache=True)
def lane_count(prompt, period, budget):
    """Return the largest lane count whose steady-state peak fits the budget.

    The peak is at least the average ``k * (prompt + (period + 1) / 2)``, so
    the search starts at the count that average allows and steps down.
    """
    k = (2 * budget) // (2 * prompt + period + 1)
    k = min(k, budget // (prompt + 1))
    while k > 1 and lane_peak(k, prompt, period) > budget:
        k -= 1
    return max(k, 1)


@numba.njit(cache=True, inline="always")
def _first_slot(t0, offsets, step, time):
    """Return the index of the first slot at or after round ``time``."""
    k = offsets.shape[0]
    if time <= t0:
        return 0
    period = (time - t0) // step
    base = t0 + period * step
    lane = np.searchsorted(offsets, time - base)
    return period * k + lane


@numba.njit(cache=True)
def run_stage(sim, t0, jobs, period, budget, check, res, known):
    """Run one stage of staggered lanes from round ``t0``.

    Returns ``(sim, t_end)`` with ``t_end`` the round after the stage's last
    run ended. ``check`` turns on the reservation test for per-job prompts,
    which reserves memory for ``min(cap_j, known[j])`` rounds: a clairvoyant
    caller passes the output lengths, a non-clairvoyant one the budget.
    """
    s = sim[1][:, COL_S]
    count = jobs.shape[0]
    caps = np.empty(count, dtype=np.int64)
    fit_all = np.int64(0)
    prompt_sum = np.int64(0)
    for q in range(count):
        j = jobs[q]
        caps[q] = min(period, budget - s[j])
        fit_all += s[j] + min(caps[q], known[j])
        prompt_sum += s[j]
    t = t0

    # Kill times are known to the policy: a min-heap of (round, job).
    kill_key = np.empty(count, dtype=np.int64)
    kill_job = np.empty(count, dtype=np.int64)
    kill_start = np.empty(count, dtype=np.int64)
    kill_size = 0

    if fit_all <= budget:
        k = count
        offsets = np.zeros(count, dtype=np.int64)
        step = period
        check = False
    else:
        prompt_ref = (prompt_sum + count - 1) // count
        step = min(period, budget - prompt_ref)
        k = lane_count(prompt_ref, step, budget)
        offsets = lane_offsets(k, step)

    q = 0
    slot = 0
    blocked_until = t0
    state = sim[0]
    while True:
        # Kills due now: runs that reached the end of their slice.
        while kill_size > 0 and kill_key[0] <= t:
            j = kill_job[0]
            a = kill_start[0]
            kill_size -= 1
            kill_key[0] = kill_key[kill_size]
            kill_job[0] = kill_job[kill_size]
            kill_start[0] = kill_start[kill_size]
            _sift_down(kill_key, kill_job, kill_start, kill_size)
            if run_start(sim, j) == a:
                sim_kill(sim, j, t)

        # Starts due now. Slots before `blocked_until` are known to fail.
        while q < count:
            slot_time = t0 + offsets[slot % k] + (slot // k) * step
            if slot_time > t:
                break
            if slot_time < blocked_until:
                # Skip only slots up to now: a completion before the block
                # ends reopens the later ones.
                slot = _first_slot(t0, offsets, step, min(blocked_until, t + 1))
                continue
            j = jobs[q]
            reserve = min(caps[q], known[j])
            if check and not res_fits(res, memory_at(sim, t), s[j], reserve, t, budget):
                # Every reservation is exact here, so the first round the
                # job fits unless a run completes early is known now.
                blocked_until = res_first_fit(
                    res, 0, 0, s[j], reserve, t, budget, INF, True
                )
            else:
                sim_start(sim, j, t)
                if check:
                    res_insert(res, t + reserve, s[j] + 1 - t, j)
                kill_key[kill_size] = t + caps[q]
                kill_job[kill_size] = j
                kill_start[kill_size] = t
                kill_size += 1
                _sift_up(kill_key, kill_job, kill_start, kill_size - 1)
                q += 1
            slot += 1

        if q == count and state[NRUN] == 0:
            return sim, t
        t_next = INF
        if q < count:
            t_next = t0 + offsets[slot % k] + (slot // k) * step
            if t_next < blocked_until:
                later = _first_slot(t0, offsets, step, blocked_until)
                t_next = t0 + offsets[later % k] + (later // k) * step
        if kill_size > 0 and kill_key[0] < t_next:
            t_next = kill_key[0]
        if state[NRUN] == 0 and t_next >= INF:
            return sim, t
        sim, t, completions = sim_advance(sim, t, t_next)
        if state[STALLED] != 0:
            return sim, t
        if check:
            # Completed jobs release their reservation; killed ones expire.
            for i in range(completions):
                res_remove(res, sim[2][i])
            res_expire(res, t)
            if completions > 0:
                blocked_until = t


@numba.njit(cache=True, inline="always")
def _sift_up(key, job, start, i):
    while i > 0:
        parent = (i - 1) // 2
        if key[i] < key[parent]:
            key[i], key[parent] = key[parent], key[i]
            job[i], job[parent] = job[parent], job[i]
            start[i], start[parent] = start[parent], start[i]
            i = parent
        else:
            break


@numba.njit(cache=True, inline="always")
def _sift_down(key, job, start, size):
    i = 0
    while True:
        smallest = i
        left = 2 * i + 1
        if left < size and key[left] < key[smallest]:
            smallest = left
        if left + 1 < size and key[left + 1] < key[smallest]:
            smallest = left + 1
        if smallest == i:
            return
        key[i], key[smallest] = key[smallest], key[i]
        job[i], job[smallest] = job[smallest], job[i]
        start[i], start[smallest] = start[smallest], start[i]
        i = smallest
