"""Grow the candidate network until the prices prove nothing outside it could improve the day.

The engine solves on candidates (each member's first queue entries, each with its nearest
shelves). After a solve, with the shelf and DC prices it found, every member has a threshold: the
net value of the worst disc it holds (0 while a slot is free). An entry or shelf left out can only
improve the day if its net value at these prices beats that threshold (its reduced cost is
positive); the scan reads each member's queue in position order only while the entry's value can
still beat it. Members with such entries or shelves get them added, and the day is solved again.
When no member has one, the candidates hold the optimum at these prices: what is left between the
objective and the certificate's bound is the solver's own, not the cut's.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .problem import CHUNKS


@nb.njit(cache=True, parallel=True)
def thresholds(entry_start, entry_a, slots, region, pool_dc, days, penalty, ent_pool, pi, mu):
    """Each member's threshold: 0 with a free slot, else the lowest net value it holds."""
    n = len(slots)
    u = np.zeros(n)
    for m in nb.prange(n):
        held = 0
        low = 1e300
        for e in range(entry_start[m], entry_start[m + 1]):
            j = ent_pool[e]
            if j < 0:
                continue
            held += 1
            d = pool_dc[j]
            net = entry_a[e] - penalty * (days[d, region[m]] - 1) - pi[j] - mu[d]
            if net < low:
                low = net
        u[m] = max(low, 0.0) if held >= slots[m] else 0.0
    return u


@nb.njit(cache=True, parallel=True)
def violations(
    q_start,
    q_title,
    q_pos,
    slots,
    priority,
    region,
    title_pool_start,
    pool_dc,
    pool_cap,
    dc_cap,
    days,
    base,
    decay,
    penalty,
    pi,
    mu,
    u,
    entry_start,
    arc_start,
    arc_pool,
    tol,
):
    """Per member: how many candidate entries it needs (0: no change) and whether a candidate
    entry misses a shelf worth more than the threshold, and by how much in all: each left-out
    entry's or shelf's net value above what the member has for it (the threshold, or the entry's
    best candidate shelf). Returns (need, missing_shelf, count, mass)."""
    n = len(slots)
    need = np.zeros(n, np.int64)
    missing = np.zeros(n, np.bool_)
    counts = np.zeros(CHUNKS, np.int64)
    masses = np.zeros(CHUNKS)
    for c in nb.prange(CHUNKS):
        seen = np.full(max(1, len(title_pool_start)), -1, np.int64)
        for m in range(n * c // CHUNKS, n * (c + 1) // CHUNKS):
            if slots[m] <= 0:
                continue
            r_m = region[m]
            n_cand = entry_start[m + 1] - entry_start[m]
            k = 0  # eligible entries met so far (the candidates are the first n_cand of them)
            for q in range(q_start[m], q_start[m + 1]):
                t = q_title[q]
                if t < 0 or seen[t] == m:
                    continue
                a = priority[m] * base * decay ** (q_pos[q] - 1)
                best = 0.0
                eligible = False
                for j in range(title_pool_start[t], title_pool_start[t + 1]):
                    d = pool_dc[j]
                    dd = days[d, r_m]
                    if dd == 0 or a - penalty * (dd - 1) <= 0:
                        continue
                    eligible = True
                    if dc_cap[d] == 0 or pool_cap[j] == 0:
                        continue
                    v = a - penalty * (dd - 1) - pi[j] - mu[d]
                    if v > best:
                        best = v
                if not eligible:
                    continue
                seen[t] = m
                if a <= u[m] + tol:
                    break
                if best > u[m] + tol:
                    if k >= n_cand:
                        need[m] = k + 1
                        counts[c] += 1
                        masses[c] += best - u[m]
                    else:
                        e = entry_start[m] + k
                        have = 0.0
                        for aa in range(arc_start[e], arc_start[e + 1]):
                            j = arc_pool[aa]
                            d = pool_dc[j]
                            v = a - penalty * (days[d, r_m] - 1) - pi[j] - mu[d]
                            if v > have:
                                have = v
                        if best > have + tol:
                            missing[m] = True
                            counts[c] += 1
                            masses[c] += best - max(have, u[m])
                k += 1
    return need, missing, counts.sum(), masses.sum()
