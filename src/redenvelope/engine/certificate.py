"""A certified upper bound on the day's optimum, from prices (LP duality).

The day's allocation is a linear program whose optimum is integral (a min-cost flow). Its dual has
a price per shelf (π_j ≥ 0, a title at a DC), per DC capacity (μ_d ≥ 0) and per member slot and
queue entry. For *any* non-negative shelf and DC prices the best member and entry prices follow:
an entry is worth r_e = max over every shelf holding its title within reach of
(value − π_j − μ_d)⁺, and a member with s open slots contributes the sum of its s best r_e. So

    bound(π, μ) = Σ_j copies_j·π_j + Σ_d capacity_d·μ_d + Σ_m (sum of m's s_m best r_e)

is never below the optimum (weak duality), whatever the prices, and equals it at optimal prices
(strong duality). It reads the whole queue and every shelf, not only the engine's candidates, so
entries and shelves the engine left out are accounted for: a member's entries are read in
position order only while their value (which falls with position) can still beat its s-th best.

The gap reported with every solve is 1 − objective / bound: the engine is certainly within it.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .kernels import insert_descending
from .problem import CHUNKS  # a fixed count keeps the sum's rounding the same anywhere


@nb.njit(cache=True, parallel=True)
def _bound(
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
):
    n = len(slots)
    part = np.zeros(CHUNKS)
    reads = np.zeros(CHUNKS, np.int64)
    for c in nb.prange(CHUNKS):
        seen = np.full(max(1, len(title_pool_start)), -1, np.int64)
        tops = np.zeros(64)
        total = 0.0
        read = 0
        for m in range(n * c // CHUNKS, n * (c + 1) // CHUNKS):
            s = slots[m]
            if s <= 0:
                continue
            if s > len(tops):
                tops = np.zeros(s)
            for k in range(s):
                tops[k] = 0.0  # sorted descending; zeros stand for "nothing" (r ≥ 0)
            r_m = region[m]
            for q in range(q_start[m], q_start[m + 1]):
                t = q_title[q]
                if t < 0 or seen[t] == m:
                    continue
                seen[t] = m
                a = priority[m] * base * decay ** (q_pos[q] - 1)
                if a <= tops[s - 1]:
                    break  # deeper entries are worth even less
                read += 1
                best = 0.0
                for j in range(title_pool_start[t], title_pool_start[t + 1]):
                    d = pool_dc[j]
                    dd = days[d, r_m]
                    if dd == 0 or dc_cap[d] == 0 or pool_cap[j] == 0:
                        continue
                    v = a - penalty * (dd - 1) - pi[j] - mu[d]
                    if v > best:
                        best = v
                insert_descending(tops, s, best)
            for k in range(s):
                total += tops[k]
        part[c] = total
        reads[c] = read
    total = part.sum()
    for j in range(len(pool_cap)):
        total += pool_cap[j] * pi[j]
    for d in range(len(dc_cap)):
        if dc_cap[d] > 0:
            total += dc_cap[d] * mu[d]
    return total, reads.sum()


def bound(prob, pool_price: np.ndarray, dc_price: np.ndarray) -> tuple[float, int]:
    """(upper bound on the optimum, queue entries read) for these prices (clamped at 0)."""
    pi = np.maximum(np.asarray(pool_price, dtype=np.float64), 0.0)
    mu = np.maximum(np.asarray(dc_price, dtype=np.float64), 0.0)
    total, read = _bound(
        prob.q_start,
        prob.q_title,
        prob.q_pos,
        prob.slots,
        prob.priority,
        prob.region,
        prob.title_pool_start,
        prob.pool_dc,
        prob.pool_cap,
        prob.dc_cap,
        prob.days,
        prob.base_value,
        prob.position_decay,
        prob.penalty,
        pi,
        mu,
    )
    return float(total), int(read)


def gap(objective: float, upper: float) -> float:
    """1 − objective / bound (0 when both are 0)."""
    if upper <= 0:
        return 0.0
    return max(0.0, 1.0 - objective / upper)
