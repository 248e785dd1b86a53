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

from dataclasses import replace

import numba as nb
import numpy as np

from .kernels import _net, _sift_down, _sift_up, insert_descending, segments
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
    picks,
):
    """The bound (less nothing: every term) and the queue entries read. Where `picks` has a row
    per chunk (CHUNKS x DCs x 2, else 0 x 0 x 2), also counts, per DC, the members' s best entries
    whose best shelf is there ([..., 0]) and of those the ones at a shelf priced 0 ([..., 1])."""
    n = len(slots)
    count = picks.shape[0] > 0
    part = np.zeros(CHUNKS)
    reads = np.zeros(CHUNKS, np.int64)
    for c in nb.prange(CHUNKS):
        seen = np.full(max(1, len(title_pool_start)), -1, np.int64)
        tops = np.zeros(64)
        where = np.zeros(64, np.int64)
        total = 0.0
        read = 0
        for m in range(n * c // CHUNKS, n * (c + 1) // CHUNKS):
            s = slots[m]
            if s <= 0:
                continue
            if s > len(tops):
                tops = np.zeros(s)
                where = np.zeros(s, np.int64)
            for k in range(s):
                tops[k] = 0.0  # sorted descending; zeros stand for "nothing" (r ≥ 0)
                where[k] = -1
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
                best_j = -1
                for j in range(title_pool_start[t], title_pool_start[t + 1]):
                    v = _net(a, j, r_m, pool_dc, pool_cap, dc_cap, days, penalty, pi, mu)
                    if v > best:
                        best = v
                        best_j = j
                if best <= tops[s - 1]:
                    continue
                i = s - 1
                while i > 0 and tops[i - 1] < best:
                    tops[i] = tops[i - 1]
                    where[i] = where[i - 1]
                    i -= 1
                tops[i] = best
                where[i] = best_j
            for k in range(s):
                total += tops[k]
                if count and where[k] >= 0:
                    d = pool_dc[where[k]]
                    picks[c, d, 0] += 1.0
                    if pi[where[k]] <= 0.0:
                        picks[c, d, 1] += 1.0
        part[c] = total
        reads[c] = read
    total = part.sum()
    for j in range(len(pool_cap)):
        total += pool_cap[j] * pi[j]
    for d in range(len(dc_cap)):
        if dc_cap[d] > 0:
            total += dc_cap[d] * mu[d]
    return total, reads.sum()


def queue_args(prob) -> tuple:
    """The arrays the kernels that read a problem's whole queue take first, in their order."""
    return (
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
    )


NO_PICKS = np.zeros((0, 0, 2))


def bound(prob, pool_price: np.ndarray, dc_price: np.ndarray) -> tuple[float, int]:
    """(upper bound on the optimum, queue entries read) for these prices (clamped at 0)."""
    pi = np.maximum(np.asarray(pool_price, dtype=np.float64), 0.0)
    mu = np.maximum(np.asarray(dc_price, dtype=np.float64), 0.0)
    total, read = _bound(*queue_args(prob), pi, mu, NO_PICKS)
    return float(total), int(read)


def candidate_bound(prob, pool_price: np.ndarray, dc_price: np.ndarray) -> float:
    """The same function of the prices over the candidate entries only, in place of the whole
    queue: not a bound on the day, but a like-for-like way to compare prices on a sample
    (`kernels.refine_dc_prices`), whose problem has no whole queue."""
    entries = replace(
        prob, q_start=prob.entry_start, q_title=prob.entry_title, q_pos=prob.entry_pos
    )
    return bound(entries, pool_price, dc_price)[0]


def gap(objective: float, upper: float) -> float:
    """1 − objective / bound (0 when both are 0)."""
    if upper <= 0:
        return 0.0
    return max(0.0, 1.0 - objective / upper)


# ---------------------------------------------------------------------------------------------
# Tightening the bound (decision 0026). The auction's shelf prices are its standing bids, and a
# member's bid raises a shelf's price by how much better its best entry is than its k-th best —
# not than the same title from another shelf. Where a title is on two shelves within reach the
# bid overpays: a shelf ends priced above what anyone would pay for it while its holder would
# take the title as well from the other shelf, and the bound counts the difference for every
# member who is priced out (on the bench generator's day 51,000 of the bound's 85,000 over the
# allocation). Bidding with the right increment fixes it but takes three times the bids. So the
# prices are tightened after the allocation: each shelf's price is moved to the price at which
# the members who would take it, everything else priced as it is, number its copies (an exact
# step of coordinate descent on the bound, for every shelf at once), and kept where the bound
# falls. Any prices give a valid bound, so this can only lower it.


@nb.njit(cache=True, inline="always")
def _heap_offer(key, ent, ver, length, base, j, cap, w):
    """Keep the cap largest offers for shelf j in a min-heap key[base : base + cap] (the
    auction's heaps; ent and ver ride along unused)."""
    n = length[j]
    if n < cap:
        key[base + n] = w
        length[j] = n + 1
        _sift_up(key, ent, ver, base, n)
    elif w > key[base]:
        key[base] = w
        _sift_down(key, ent, ver, base, cap, 0)


@nb.njit(cache=True, parallel=True)
def _offers(
    lo,
    hi,
    entry_start,
    entry_a,
    arc_start,
    arc_pool,
    pool_dc,
    pool_cap,
    dc_cap,
    days,
    region,
    penalty,
    slots,
    pi,
    mu,
    out,
):
    """What members lo..hi-1 would pay for each of their arcs' shelves, the other prices as
    they are (out[arc - first arc of lo]; <= 0: nothing): up to the shelf's price plus how much
    better the entry is there than from its next best shelf or than the member's best other use
    of the slot (its s-th best other entry, or its (s+1)-th if this one is among its s best)."""
    base = arc_start[entry_start[lo]]
    n = hi - lo
    for c in nb.prange(CHUNKS):
        for m in range(lo + n * c // CHUNKS, lo + n * (c + 1) // CHUNKS):
            first = entry_start[m]
            n_e = entry_start[m + 1] - first
            s = slots[m]
            if s <= 0:
                for q in range(arc_start[first], arc_start[first + n_e]):
                    out[q - base] = 0.0
                continue
            r_m = region[m]
            r1 = np.zeros(n_e)
            r2 = np.zeros(n_e)
            tops = np.zeros(s + 1)
            for i in range(n_e):
                e = first + i
                b1 = 0.0
                b2 = 0.0
                for q in range(arc_start[e], arc_start[e + 1]):
                    a, j = entry_a[e], arc_pool[q]
                    v = _net(a, j, r_m, pool_dc, pool_cap, dc_cap, days, penalty, pi, mu)
                    if v > b1:
                        b2 = b1
                        b1 = v
                    elif v > b2:
                        b2 = v
                r1[i] = b1
                r2[i] = b2
                insert_descending(tops, s + 1, b1)
            for i in range(n_e):
                e = first + i
                other_use = tops[s] if r1[i] > 0 and r1[i] >= tops[s - 1] else tops[s - 1]
                for q in range(arc_start[e], arc_start[e + 1]):
                    a, j = entry_a[e], arc_pool[q]
                    net = _net(a, j, r_m, pool_dc, pool_cap, dc_cap, days, penalty, pi, mu)
                    w = 0.0
                    if net > -np.inf:
                        other_shelf = r2[i] if net >= r1[i] else r1[i]
                        w = pi[j] + net - max(other_shelf, other_use)
                    out[q - base] = w


@nb.njit(cache=True)
def _take_offers(base, n, w, arc_pool, pool_cap, h_start, h_key, h_ent, h_len, root):
    """Offers into their shelves' heaps; root[j]: the least offer kept once shelf j's heap is
    full (-inf before), read first: most offers are below it."""
    for q in range(n):
        if w[q] > 0:
            j = arc_pool[base + q]
            if w[q] <= root[j]:
                continue
            _heap_offer(h_key, h_ent, h_ent, h_len, h_start[j], j, pool_cap[j], w[q])
            if h_len[j] == pool_cap[j]:
                root[j] = h_key[h_start[j]]


def _shelf_targets(prob, pi, mu, h_start, h_key, h_ent, h_len, block_arcs: int = 4_000_000):
    """Each shelf's price at which as many members would take it as it has copies (the
    pool_cap-th largest offer, 0 with fewer offers), members read in blocks of about
    `block_arcs` arcs (the offers of a block in parallel, then into each shelf's heap)."""
    h_len[:] = 0
    root = np.full(len(h_len), -np.inf)
    member_arcs = prob.arc_start[prob.entry_start]
    bounds = np.unique(
        np.r_[
            0,
            np.searchsorted(
                member_arcs, np.arange(block_arcs, member_arcs[-1], block_arcs), side="right"
            ),
            prob.n_members,
        ]
    )
    w = np.empty(0)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        n = int(member_arcs[hi] - member_arcs[lo])
        if n == 0:
            continue
        if len(w) < n:
            w = np.empty(n)
        _offers(
            lo,
            hi,
            prob.entry_start,
            prob.entry_a,
            prob.arc_start,
            prob.arc_pool,
            prob.pool_dc,
            prob.pool_cap,
            prob.dc_cap,
            prob.days,
            prob.region,
            prob.penalty,
            prob.slots,
            pi,
            mu,
            w,
        )
        first = int(member_arcs[lo])
        _take_offers(first, n, w, prob.arc_pool, prob.pool_cap, h_start, h_key, h_ent, h_len, root)
    full = (prob.pool_cap > 0) & (h_len >= prob.pool_cap)
    return np.where(full, h_key[np.minimum(h_start[:-1], len(h_key) - 1)], 0.0)


TIGHTEN_MIN_STEP = 0.25


def tighten(prob, pool_price, dc_price, upper: float, rounds: int = 3, goal: float = 0.0):
    """Lower the bound `upper` (= bound(prob, pool_price, dc_price)) by moving shelf prices
    towards their targets (`_shelf_targets`), halving the step where the bound would rise, for
    at most `rounds` rounds and not once the bound is at or below `goal`. Returns (bound, shelf
    prices, rounds that lowered it)."""
    pi = np.maximum(np.asarray(pool_price, dtype=np.float64), 0.0)
    mu = np.maximum(np.asarray(dc_price, dtype=np.float64), 0.0)
    cap = prob.pool_cap.astype(np.int64)
    h_start = np.zeros(len(cap) + 1, np.int64)
    np.cumsum(cap, out=h_start[1:])
    h_key = np.zeros(max(1, int(h_start[-1])))
    h_ent = np.zeros(len(h_key), np.int32)
    h_len = np.zeros(len(cap), np.int64)
    lowered = 0
    for _ in range(rounds):
        if upper <= goal:
            break
        target = _shelf_targets(prob, pi, mu, h_start, h_key, h_ent, h_len)
        step = 1.0
        while step >= TIGHTEN_MIN_STEP:
            trial = pi + step * (target - pi)
            b = bound(prob, trial, mu)[0]
            if b < upper:
                break
            step /= 2
        else:
            break
        gain = upper - b
        pi, upper = trial, b
        lowered += 1
        if gain <= 1e-5 * upper:
            break
    return upper, pi, lowered


# ---------------------------------------------------------------------------------------------
# Moving price between a DC and its shelves (decision 0029). The DC prices come from a sample of
# the day (`kernels.dc_prices`), and where several DCs bind they are off by a few units: on the
# bench generator's day seed 3 the best bound at the engine's DC prices sat 0.25% above the
# optimum, whatever the shelf prices. Raising a DC's price by δ while lowering each of its priced
# shelves by δ leaves what a member nets from those shelves as it was, and changes the bound by
# δ·(capacity − copies on priced shelves) less what members lose on its unpriced shelves: where
# a DC has fewer slots to fill than its priced shelves have copies, the bound falls. Raising
# the DC's price alone changes it by δ·(capacity − shipments the bound counts there): it falls
# where more would ship from the DC than it can send. Lowering either way is the reverse. Each
# DC is moved along its steepest falling direction (the slopes estimated from one reading of
# the queue) by a line search on the bound itself; any prices give a valid bound, so this too
# can only lower it.


def dc_picks(prob, pi: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many of the members' s best entries at these prices (those the bound counts) take
    their best shelf at each DC, and how many of those at a shelf priced 0."""
    picks = np.zeros((CHUNKS, len(prob.dc_cap), 2))
    _bound(*queue_args(prob), pi, mu, picks)
    total = picks.sum(axis=0)
    return total[:, 0], total[:, 1]


# A DC is moved where its slope (the bound's change per unit of δ, estimated from the picks) is
# at least this share of its capacity; the line search starts at DC_STEP value units (a disc is
# worth ~100, a day's penalty 20), doubles while the bound falls, and tries DC_STEP / 4 where the
# first step does not help.
DC_MIN_SLOPE = 0.002
DC_STEP = 0.5
DC_MAX_STEP = 64.0


def _shifted(prob, pi, mu, d, delta, shelves_too):
    """The prices with DC d raised by delta (lowered where delta < 0, to 0 at most) and, with
    `shelves_too`, its priced shelves moved the other way (never below 0)."""
    p2 = pi.copy()
    m2 = mu.copy()
    if shelves_too:
        shelves = prob.pool_dc == d
        if delta > 0:
            p2[shelves] = np.maximum(pi[shelves] - delta, 0.0)
        else:
            p2[shelves & (pi > 0)] -= delta
    m2[d] = max(0.0, mu[d] + delta)
    return p2, m2


def _line_search(prob, pi, mu, d, sign, shelves_too, upper, first):
    """The lowest bound along one direction for DC d: a step of `first` doubled while the
    bound falls, or DC_STEP / 4 where the first step does not help. (bound, pi, mu, step) or
    None where the bound does not fall."""
    best = None
    delta = first
    while delta <= DC_MAX_STEP:
        step = delta if sign > 0 else -min(delta, mu[d])
        p2, m2 = _shifted(prob, pi, mu, d, step, shelves_too)
        b = bound(prob, p2, m2)[0]
        if b >= (upper if best is None else best[0]):
            break
        best = (b, p2, m2, delta)
        if sign < 0 and delta >= mu[d]:
            break  # the DC's price is at 0
        delta *= 2
    if best is None and first > DC_STEP / 4:
        step = DC_STEP / 4 if sign > 0 else -min(DC_STEP / 4, mu[d])
        p2, m2 = _shifted(prob, pi, mu, d, step, shelves_too)
        b = bound(prob, p2, m2)[0]
        if b < upper:
            best = (b, p2, m2, DC_STEP / 4)
    return best


# Members the DC moves' line searches read (a random share of the day where it is larger): each
# trial is a reading of the queue, and on a 300,000-member day 140 full readings took 14 s. The
# sample's bound (its members' terms, copies and capacities scaled to its share of the open
# slots) steers the moves; every round's moves are kept only if the whole day's bound falls.
DC_SAMPLE_MEMBERS = 40_000


def member_sample(prob, members: int, seed: int = 0):
    """The day seen through a random `members` of its members with open slots (the problem
    itself when it has no more): their whole queues, every shelf and DC, copies and capacity
    scaled (as floats) to the sample's share of the open slots, so that its bound estimates the
    day's."""
    open_ = np.flatnonzero(prob.slots > 0)
    if len(open_) <= members:
        return prob
    keep = np.sort(np.random.default_rng(seed).choice(open_, size=members, replace=False))
    idx, q_start = segments(prob.q_start, keep)
    share = prob.slots[keep].astype(np.int64).sum() / prob.slots[open_].astype(np.int64).sum()
    return replace(  # for the bound's kernel only: its candidate arrays stay the day's
        prob,
        member_id=prob.member_id[keep],
        q_start=q_start,
        q_title=prob.q_title[idx],
        q_pos=prob.q_pos[idx],
        slots=prob.slots[keep],
        priority=prob.priority[keep],
        region=prob.region[keep],
        pool_cap=prob.pool_cap * share,
        dc_cap=prob.dc_cap * share,
    )


def tighten_dc(prob, pool_price, dc_price, upper: float, rounds: int = 3, goal: float = 0.0):
    """Lower the bound `upper` (= bound(prob, pool_price, dc_price)) by moving each DC's price,
    with its priced shelves moved the other way or alone (see above), then the shelf prices
    once more (`tighten`), for at most `rounds` rounds and not once the bound is at or below
    `goal`. Returns (bound, shelf prices, DC prices, DC moves that lowered it)."""
    pi = np.maximum(np.asarray(pool_price, dtype=np.float64), 0.0)
    mu = np.maximum(np.asarray(dc_price, dtype=np.float64), 0.0)
    view = member_sample(prob, DC_SAMPLE_MEMBERS)
    sampled = view is not prob
    cap = view.dc_cap.astype(np.float64)
    n_d = len(cap)
    moves = 0
    last = np.zeros((n_d, 2))  # where the last round's move of each kind ended
    for _ in range(rounds):
        if upper <= goal:
            break
        start, start_pi, start_mu, start_moves = upper, pi, mu, moves
        upper_v = bound(view, pi, mu)[0] if sampled else upper
        goal_v = -np.inf if sampled else goal
        picks, zero = dc_picks(view, pi, mu)
        priced = np.bincount(view.pool_dc, weights=view.pool_cap * (pi > 0), minlength=n_d)
        # the bound's slope (per unit of price, from the picks) of raising each DC with its
        # priced shelves lowered, and of raising it alone; lowering: the opposite
        shift = cap - priced - zero
        alone = cap - picks
        ways = []
        for d in range(n_d):
            for slope, kind in ((shift[d], 1), (alone[d], 0)):
                sign = -1.0 if slope > 0 else 1.0
                steep = cap[d] > 0 and abs(slope) >= DC_MIN_SLOPE * cap[d]
                if steep and (sign > 0 or mu[d] > 0):  # a DC priced 0 cannot go lower
                    ways.append((-abs(slope) / cap[d], d, sign, kind))
        ways.sort()
        done = np.zeros(n_d, bool)
        for _, d, sign, kind in ways:  # steepest first, one move a DC a round
            if upper_v <= goal_v:
                break
            if done[d]:
                continue
            first = max(DC_STEP, last[d, kind] / 2)
            found = _line_search(view, pi, mu, d, sign, kind == 1, upper_v, first)
            if found is not None:
                upper_v, pi, mu, last[d, kind] = found
                moves += 1
                done[d] = True
        if sampled and moves > start_moves:
            whole = bound(prob, pi, mu)[0]
            if whole >= upper:  # the sample misled: the round's moves are undone
                pi, mu, moves = start_pi, start_mu, start_moves
                break
            upper = whole
        elif not sampled:
            upper = upper_v
        upper, pi, _ = tighten(prob, pi, mu, upper, rounds=1, goal=goal)
        if start - upper <= 1e-5 * start:
            break
    return upper, pi, mu, moves
