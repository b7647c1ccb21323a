"""Memory reservations of running jobs, sorted by the round they end.

MC-SF and A_min admit a job only if the running jobs, each assumed to hold
memory until its reservation ends, leave room for the new job's whole run.
The reservations are kept sorted by end round in a window ``[head, tail)``
of three arrays, so expired ones leave from the front and the admission
test walks them in order: O(running jobs) per test, no sorting.
"""

from __future__ import annotations

import numba
import numpy as np

_HEAD, _TAIL, _WEIGHT = 0, 1, 2


@numba.njit(cache=True)
def res_new(n):
    """Return an empty reservation list for up to ``n`` jobs."""
    meta = np.zeros(3, dtype=np.int64)
    return (
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        meta,
    )


@numba.njit(cache=True, inline="always")
def res_insert(res, end, weight, j):
    """Add job ``j`` holding ``weight + r`` tokens in rounds before ``end``."""
    ends, weights, jobs, meta = res
    head, tail = meta[_HEAD], meta[_TAIL]
    if tail == ends.shape[0]:
        count = tail - head
        ends[:count] = ends[head:tail].copy()
        weights[:count] = weights[head:tail].copy()
        jobs[:count] = jobs[head:tail].copy()
        head, tail = 0, count
    position = tail
    while position > head and ends[position - 1] > end:
        ends[position] = ends[position - 1]
        weights[position] = weights[position - 1]
        jobs[position] = jobs[position - 1]
        position -= 1
    ends[position] = end
    weights[position] = weight
    jobs[position] = j
    meta[_HEAD] = head
    meta[_TAIL] = tail + 1
    meta[_WEIGHT] += weight


@numba.njit(cache=True, inline="always")
def res_expire(res, t):
    """Drop the reservations that end by round ``t``."""
    ends, weights, jobs, meta = res
    while meta[_HEAD] < meta[_TAIL] and ends[meta[_HEAD]] <= t:
        meta[_WEIGHT] -= weights[meta[_HEAD]]
        meta[_HEAD] += 1


@numba.njit(cache=True, inline="always")
def res_remove(res, j):
    """Drop job ``j``'s reservation if it has one."""
    ends, weights, jobs, meta = res
    head, tail = meta[_HEAD], meta[_TAIL]
    for position in range(head, tail):
        if jobs[position] == j:
            meta[_WEIGHT] -= weights[position]
            for move in range(position, tail - 1):
                ends[move] = ends[move + 1]
                weights[move] = weights[move + 1]
                jobs[move] = jobs[move + 1]
            meta[_TAIL] = tail - 1
            return


@numba.njit(cache=True, inline="always")
def res_fits(res, memory_now, prompt, length, t, budget):
    """Whether a run of ``length`` rounds started at ``t`` fits for sure.

    ``memory_now`` is what every running job holds in round ``t``, which
    also counts jobs already past their reservation (assumed to end after
    round ``t``). In a later round ``r`` only reservations ending after
    ``r`` hold memory, and between two ends the total rises, so checking
    the round before each end and the new run's last round suffices.
    """
    if memory_now + prompt + 1 > budget:
        return False
    ends, weights, jobs, meta = res
    last = t + length - 1
    alive_weight = meta[_WEIGHT]
    alive = meta[_TAIL] - meta[_HEAD]
    position = meta[_HEAD]
    tail = meta[_TAIL]
    while position < tail:
        r = ends[position] - 1
        if r >= last:
            break
        if r > t:
            if alive_weight + alive * r + prompt + 1 + (r - t) > budget:
                return False
        alive_weight -= weights[position]
        alive -= 1
        position += 1
    if last > t:
        return alive_weight + alive * last + prompt + 1 + (last - t) <= budget
    return True


@numba.njit(cache=True)
def res_first_fit(res, memory_now, nrun, prompt, length, t, budget, never, exact):
    """Return the first round ``>= t`` at which a run of ``length`` fits.

    The result assumes no running job completes or is killed in between:
    then the running set holds ``memory_now + nrun * (r - t)`` tokens in
    round ``r``, and reservations end as recorded. With ``exact`` every
    running job has a reservation and holds nothing after it ends, so the
    memory of round ``r`` comes from the reservations alone. Returns
    ``never`` if the run cannot fit before some running job completes. Each
    pass checks the same rounds as :func:`res_fits` and jumps past every
    round that a failed check rules out, so the result equals testing round
    after round.
    """
    ends, weights, jobs, meta = res
    head, tail = meta[_HEAD], meta[_TAIL]
    start = t
    while True:
        if not exact and memory_now + nrun * (start - t) + prompt + 1 > budget:
            return never
        last = start + length - 1
        alive_weight = meta[_WEIGHT]
        alive = tail - head
        position = head
        while position < tail and ends[position] <= start:
            alive_weight -= weights[position]
            alive -= 1
            position += 1
        if exact and alive_weight + alive * start + prompt + 1 > budget:
            # The start round's load only drops once it reaches the next end.
            start = ends[position]
            continue
        jump = start
        while position < tail:
            r = ends[position] - 1
            if r >= last:
                break
            if r > start:
                value = alive_weight + alive * r + prompt + 1 + (r - start)
                if value > budget:
                    # Each round later the new run holds one token less in
                    # round r, which stays in its window until the start
                    # passes r.
                    jump = max(jump, min(value - budget + start, r + 1))
            alive_weight -= weights[position]
            alive -= 1
            position += 1
        if last > start:
            value = alive_weight + alive * last + prompt + 1 + (last - start)
            if value > budget:
                if position == tail:
                    return never
                # The last round's load only drops once it reaches the next end.
                jump = max(jump, ends[position] - length + 1)
        if jump == start:
            return start
        start = jump
