"""From the contract's id-keyed tables to dense index arrays the kernels work on.

Members keep their input order. Each member's candidate entries are its queue entries, in
position order, whose title is on a shelf at a DC that reaches the member with a positive value;
only the first `open_slots + candidate_margin` of them are kept (deeper entries are worth less than
any of these and are needed only when all of these are taken), each with its shelves within
reach, nearest first (at most `shelves_per_entry` of them when that is not -1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numba as nb
import numpy as np

from .instance import Instance, InstanceError, Params


@dataclass
class Problem:
    member_id: np.ndarray  # (M,) int64, input order
    slots: np.ndarray  # (M,) int32
    region: np.ndarray  # (M,) int32 region index, -1 when no DC reaches it
    entry_start: np.ndarray  # (M+1,) int64, CSR over candidate entries
    entry_title: np.ndarray  # (E,) int32 title index
    entry_pos: np.ndarray  # (E,) int32
    entry_a: np.ndarray  # (E,) float64 priority × base × decay^(pos-1)
    title_id: np.ndarray  # (T,) int64
    title_pool_start: np.ndarray  # (T+1,) int64
    pool_dc: np.ndarray  # (J,) int32
    pool_cap: np.ndarray  # (J,) int32
    dc_id: np.ndarray  # (D,) int32
    dc_cap: np.ndarray  # (D,) int32
    days: np.ndarray  # (D, R) int16, 0 = cannot ship
    penalty: float
    # For explanations: per member, eligible entries before the candidate cut and shelf facts.
    queued: np.ndarray  # (M,) int32 entries in queue (any title)
    stocked: np.ndarray  # (M,) int32 entries whose title is on some shelf
    top_title: np.ndarray  # (M,) int64 the title at the member's lowest position (-1: none)
    # Per candidate entry, the shelves it may ship from (nearest first): CSR into arc_pool.
    arc_start: np.ndarray  # (E+1,) int64
    arc_pool: np.ndarray  # (A,) int32
    # The whole queue (before the candidate cut), for the certificate and for growing candidates:
    # CSR by member over position order; title index (-1: on no shelf) and position.
    q_start: np.ndarray | None = None  # (M+1,) int64
    q_title: np.ndarray | None = None  # (Q,) int32
    q_pos: np.ndarray | None = None  # (Q,) int32
    priority: np.ndarray | None = None  # (M,) float64
    base_value: float = 100.0
    position_decay: float = 0.9

    @property
    def n_members(self) -> int:
        return len(self.member_id)


def build_problem(
    inst: Instance,
    params: Params,
    *,
    margin: int | None = None,
    shelves: int | None = None,
    limits: np.ndarray | None = None,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Problem:
    """margin/shelves: candidate entries beyond open slots, shelves per entry (-1: all).

    Growing the candidates (see `grow.py`): `limits` gives each member's number of candidate
    entries (overrides margin), and `extra` = (shelf prices, DC prices, member thresholds) adds,
    beyond the nearest shelves, every shelf whose net value beats the member's threshold."""
    margin = params.candidate_margin if margin is None else margin
    shelves = params.shelves_per_entry if shelves is None else shelves
    m, q, s, d, t = (inst[k] for k in ("members", "queue", "stock", "dcs", "transit"))

    dc_order = np.argsort(d["dc_id"], kind="stable")
    dc_id = d["dc_id"][dc_order]
    dc_cap = d["capacity"][dc_order].astype(np.int32)

    def dc_index(ids: np.ndarray, where: str) -> np.ndarray:
        idx = np.searchsorted(dc_id, ids)
        idx = np.minimum(idx, len(dc_id) - 1) if len(dc_id) else idx
        if len(ids) and (len(dc_id) == 0 or (dc_id[idx] != ids).any()):
            raise InstanceError(f"{where}: dc_id not in dcs")
        return idx.astype(np.int32)

    regions = np.unique(np.concatenate([m["region_id"], t["region_id"]]))
    days = np.zeros((len(dc_id), len(regions)), dtype=np.int16)
    if len(t["dc_id"]):
        days[dc_index(t["dc_id"], "transit"), np.searchsorted(regions, t["region_id"])] = t["days"]
    region = np.searchsorted(regions, m["region_id"]).astype(np.int32)

    # Shelves: pools of (title, dc) with copies, grouped by title.
    keep = s["available"] > 0
    pool_title_ids = s["title_id"][keep]
    pool_dc = dc_index(s["dc_id"][keep], "stock")
    pool_cap = s["available"][keep].astype(np.int32)
    order = np.lexsort((pool_dc, pool_title_ids))
    pool_title_ids, pool_dc, pool_cap = pool_title_ids[order], pool_dc[order], pool_cap[order]
    title_id, title_first = np.unique(pool_title_ids, return_index=True)
    title_pool_start = np.append(title_first, len(pool_title_ids)).astype(np.int64)

    # Queue entries by member (input order of members), position.
    member_sorted = np.argsort(m["member_id"], kind="stable")
    sorted_ids = m["member_id"][member_sorted]
    q_member, t_idx, unknown, unordered = _index_queue(
        q["member_id"], q["position"], q["title_id"], sorted_ids, member_sorted, title_id
    )
    if unknown:
        raise InstanceError("queue: member_id not in members")
    if unordered:
        order = np.argsort(q_member << 31 | q["position"].astype(np.int64), kind="stable")
        q_title_ids, q_pos = q["title_id"][order], q["position"][order]
        q_member, t_idx = q_member[order], t_idx[order]
    else:
        q_title_ids, q_pos = q["title_id"], q["position"]
    on_shelf = t_idx >= 0

    n = len(m["member_id"])
    counts = np.bincount(q_member, minlength=n)
    q_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=q_start[1:])
    top_title = np.full(n, -1, dtype=np.int64)
    has = counts > 0
    top_title[has] = q_title_ids[q_start[:-1][has]]
    stocked = np.bincount(q_member[on_shelf], minlength=n).astype(np.int32)

    slots = m["open_slots"].astype(np.int32)
    prio = m["priority"].astype(np.float64)
    empty = np.zeros(0, dtype=np.int64)
    whole = Problem(
        arc_start=empty,
        arc_pool=empty.astype(np.int32),
        member_id=m["member_id"],
        slots=slots,
        region=region,
        entry_start=empty,
        entry_title=empty.astype(np.int32),
        entry_pos=empty.astype(np.int32),
        entry_a=empty.astype(np.float64),
        title_id=title_id,
        title_pool_start=title_pool_start,
        pool_dc=pool_dc,
        pool_cap=pool_cap,
        dc_id=dc_id,
        dc_cap=dc_cap,
        days=days,
        penalty=float(params.day_penalty),
        queued=counts.astype(np.int32),
        stocked=stocked,
        top_title=top_title,
        q_start=q_start,
        q_title=t_idx,
        q_pos=q_pos.astype(np.int32, copy=False),
        priority=prio,
        base_value=float(params.base_value),
        position_decay=float(params.position_decay),
    )
    return with_candidates(whole, _limits(slots, margin, limits), shelves, extra)


def with_candidates(
    prob: Problem,
    limits: np.ndarray,
    shelves: int,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Problem:
    """The same day with other candidates: each member's first limits[m] eligible entries, each
    with its nearest `shelves` shelves (and, with `extra`, the further ones worth it). Reads only
    the problem's whole queue, so growing the candidates does not parse the instance again."""
    n = prob.n_members
    keep_mask, per_member = _select(
        prob.q_start,
        prob.q_title,
        prob.q_pos,
        prob.slots,
        prob.priority,
        prob.region,
        prob.title_pool_start,
        prob.pool_dc,
        prob.days,
        prob.base_value,
        prob.position_decay,
        prob.penalty,
        np.asarray(limits, dtype=np.int64),
    )
    kept = np.flatnonzero(keep_mask)
    entry_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per_member, out=entry_start[1:])
    kept_member = np.repeat(np.arange(n, dtype=np.int64), per_member)
    entry_pos = prob.q_pos[kept].astype(np.int32)
    entry_a = (
        prob.priority[kept_member]
        * prob.base_value
        * prob.position_decay ** (entry_pos.astype(np.float64) - 1)
    )
    entry_title = prob.q_title[kept]
    arc_start, arc_pool = _arcs(
        kept_member,
        entry_title,
        entry_a,
        prob.region,
        prob.title_pool_start,
        prob.pool_dc,
        prob.pool_cap,
        prob.days,
        prob.penalty,
        shelves,
        *_extra(extra, len(prob.pool_dc), len(prob.dc_cap), n),
    )
    return replace(
        prob,
        arc_start=arc_start,
        arc_pool=arc_pool,
        entry_start=entry_start,
        entry_title=entry_title,
        entry_pos=entry_pos,
        entry_a=entry_a,
    )


def _limits(slots: np.ndarray, margin: int, limits: np.ndarray | None) -> np.ndarray:
    if limits is not None:
        return np.asarray(limits, dtype=np.int64)
    if margin is None or margin < 0:
        return np.full(len(slots), 1 << 30, dtype=np.int64)
    return slots.astype(np.int64) + margin


def _extra(extra, n_pools: int, n_dcs: int, n_members: int):
    if extra is None:
        return np.zeros(n_pools), np.zeros(n_dcs), np.full(n_members, np.inf), False
    pi, mu, u = extra
    return (
        np.asarray(pi, dtype=np.float64),
        np.asarray(mu, dtype=np.float64),
        np.asarray(u, dtype=np.float64),
        True,
    )


@nb.njit(cache=True, parallel=True)
def _index_queue(q_ids, q_pos, q_titles, sorted_ids, member_sorted, title_id):
    """Per queue row: the member's index (input order) and the title's index among the shelved
    titles (-1: on no shelf), by binary search (a row of the same member as the row before reuses
    its answer: queues come grouped by member). Returns (member, title, rows whose member is
    unknown, rows out of (member, position) order)."""
    n = len(q_ids)
    q_member = np.empty(n, dtype=np.int64)
    t_idx = np.empty(n, dtype=np.int32)
    unknown = np.zeros(CHUNKS, dtype=np.int64)
    unordered = np.zeros(CHUNKS, dtype=np.int64)
    n_m = len(sorted_ids)
    n_t = len(title_id)
    for c in nb.prange(CHUNKS):
        prev_id = np.int64(-1)
        prev_m = np.int64(-1)
        have = False
        for i in range(n * c // CHUNKS, n * (c + 1) // CHUNKS):
            x = q_ids[i]
            if not (have and x == prev_id):
                k = np.searchsorted(sorted_ids, x)
                if k < n_m and sorted_ids[k] == x:
                    prev_m = member_sorted[k]
                else:
                    prev_m = 0
                    unknown[c] += 1
                prev_id = x
                have = True
            q_member[i] = prev_m
            y = q_titles[i]
            k = np.searchsorted(title_id, y)
            t_idx[i] = k if k < n_t and title_id[k] == y else -1
        lo = max(1, n * c // CHUNKS)
        for i in range(lo, n * (c + 1) // CHUNKS):
            if q_member[i] < q_member[i - 1] or (
                q_member[i] == q_member[i - 1] and q_pos[i] < q_pos[i - 1]
            ):
                unordered[c] += 1
    return q_member, t_idx, unknown.sum(), unordered.sum()


# Kernels that go member by member (or entry by entry) split the work into this many chunks,
# run on every core (numba prange); a fixed count keeps results the same on any machine.
CHUNKS = 64


@nb.njit(cache=True, parallel=True)
def _select(
    q_start,
    t_idx,
    q_pos,
    slots,
    prio,
    region,
    title_pool_start,
    pool_dc,
    days,
    base,
    decay,
    penalty,
    limits,
):
    """Keep, per member, the first limits[m] entries that can ship with a positive value from
    some DC holding the title; a title queued twice counts once. Returns (keep, kept per member)."""
    keep = np.zeros(len(t_idx), dtype=np.bool_)
    n = len(slots)
    got_m = np.zeros(n, dtype=np.int64)
    for c in nb.prange(CHUNKS):
        seen = np.full(max(1, len(title_pool_start)), -1, dtype=np.int64)
        for i in range(n * c // CHUNKS, n * (c + 1) // CHUNKS):
            if slots[i] <= 0:
                continue
            limit = limits[i]
            got = 0
            r = region[i]
            for e in range(q_start[i], q_start[i + 1]):
                if got >= limit:
                    break
                t = t_idx[e]
                if t < 0 or seen[t] == i:
                    continue
                a = prio[i] * base * decay ** (q_pos[e] - 1)
                ok = False
                for j in range(title_pool_start[t], title_pool_start[t + 1]):
                    dd = days[pool_dc[j], r]
                    if dd > 0 and a - penalty * (dd - 1) > 0:
                        ok = True
                        break
                if ok:
                    seen[t] = i
                    keep[e] = True
                    got += 1
            got_m[i] = got
    return keep, got_m


@nb.njit(cache=True)
def _shelves(e, r, t, entry_a, title_pool_start, pool_dc, pool_cap, days, penalty, top, cand, key):
    """The shelves holding entry e's title that reach region r with a positive value, nearest
    first (more copies first among equals), into cand[:c]; returns c. With top >= 0 only the
    `top` first of them (the same ones a full sort would put first)."""
    if top == 0:
        return 0
    c = 0
    for j in range(title_pool_start[t], title_pool_start[t + 1]):
        dd = days[pool_dc[j], r]
        if dd > 0 and entry_a[e] - penalty * (dd - 1) > 0:
            k = np.int64(dd) * 1_000_000_000 - pool_cap[j]
            if c == top:
                if k >= key[c - 1]:
                    continue  # not among the first `top` (ties keep the earlier shelf)
                i = c - 1
            else:
                i = c
                c += 1
            while i > 0 and key[i - 1] > k:
                key[i] = key[i - 1]
                cand[i] = cand[i - 1]
                i -= 1
            key[i] = k
            cand[i] = j
    return c


@nb.njit(cache=True)
def _extras(
    e, r, t, c, entry_a, title_pool_start, pool_dc, pool_cap, days, penalty, x_pi, x_mu, u, cand,
    key,
):  # fmt: skip
    """After the c nearest shelves in cand[:c]: every further shelf of entry e's title whose net
    value at the prices beats u, nearest first, appended to cand; returns the new count."""
    n = c
    for j in range(title_pool_start[t], title_pool_start[t + 1]):
        dd = days[pool_dc[j], r]
        if dd <= 0 or entry_a[e] - penalty * (dd - 1) <= 0:
            continue
        if entry_a[e] - penalty * (dd - 1) - x_pi[j] - x_mu[pool_dc[j]] <= u:
            continue
        near = False
        for i in range(c):
            if cand[i] == j:
                near = True
                break
        if near:
            continue
        k = np.int64(dd) * 1_000_000_000 - pool_cap[j]
        i = n
        while i > c and key[i - 1] > k:
            key[i] = key[i - 1]
            cand[i] = cand[i - 1]
            i -= 1
        key[i] = k
        cand[i] = j
        n += 1
    return n


@nb.njit(cache=True)
def _entry_arcs(
    e,
    entry_member,
    entry_title,
    entry_a,
    region,
    title_pool_start,
    pool_dc,
    pool_cap,
    days,
    penalty,
    per_entry,
    x_pi,
    x_mu,
    x_u,
    use_extra,
    cand,
    key,
):
    t = entry_title[e]
    r = region[entry_member[e]]
    c = _shelves(
        e, r, t, entry_a, title_pool_start, pool_dc, pool_cap, days, penalty, per_entry, cand, key
    )
    if use_extra and per_entry >= 0:
        u = x_u[entry_member[e]]
        if u < np.inf:
            c = _extras(
                e, r, t, c, entry_a, title_pool_start, pool_dc, pool_cap, days, penalty, x_pi,
                x_mu, u, cand, key,
            )  # fmt: skip
    return c


@nb.njit(cache=True, parallel=True)
def _arc_pass(arc_start, arc_pool, write, entry_member, *shelf_args):  # fmt: skip
    """One pass over chunks of entries on every core: count each entry's shelves into
    arc_start[e + 1], or (write) put them at arc_pool[arc_start[e]:]."""
    n = len(arc_start) - 1
    size = max(1, len(shelf_args[4]))  # pool_dc: at most every shelf of a title
    for ch in nb.prange(CHUNKS):
        cand = np.empty(size, dtype=np.int64)
        key = np.empty(size, dtype=np.int64)
        for e in range(n * ch // CHUNKS, n * (ch + 1) // CHUNKS):
            c = _entry_arcs(e, entry_member, *shelf_args, cand, key)
            if write:
                for i in range(c):
                    arc_pool[arc_start[e] + i] = cand[i]
            else:
                arc_start[e + 1] = c


def _arcs(entry_member, *shelf_args):
    """For each entry, the shelves holding its title that reach the member with a positive value,
    nearest first (more copies first among equals), at most per_entry of them (-1: all); with
    use_extra, also every further shelf whose net value (value − x_pi − x_mu) beats x_u[member].
    shelf_args: entry_title, entry_a, region, title_pool_start, pool_dc, pool_cap, days, penalty,
    per_entry, x_pi, x_mu, x_u, use_extra. Two passes: count, then write."""
    arc_start = np.zeros(len(shelf_args[0]) + 1, dtype=np.int64)
    _arc_pass(arc_start, np.zeros(0, np.int32), False, entry_member, *shelf_args)
    np.cumsum(arc_start, out=arc_start)
    arc_pool = np.empty(arc_start[-1], dtype=np.int32)
    _arc_pass(arc_start, arc_pool, True, entry_member, *shelf_args)
    return arc_start, arc_pool
