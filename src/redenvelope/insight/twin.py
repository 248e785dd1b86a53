"""The simulation twin: today's business held in arrays, advanced day by day the way `simulate`
advances the real one — discs come back from members (watched 1-7 days, mailed to the DC
nearest their home), a few are lost or broken, and each day's dispatch is solved by the same
engine the product runs (`engine.solve`, with the product's parameters) on the members with an
open slot, their queues' first entries and what is on the shelves — but without a database, so
a month of a 100,000-member business takes seconds and a what-if can run it many times.

A what-if changes a copy of the twin (copies bought or moved, a DC opened or closed, capacity)
and runs both with the same seeds; the difference is the answer. Pure: no Django import.

Left out on purpose (they do not move the shares the planner is asked about): billing, holds,
monthly disc limits, queue additions during the horizon (the real simulator adds none either).
"""

from __future__ import annotations

import copy as _copy
import datetime as dt
from dataclasses import dataclass, field

import numba as nb
import numpy as np

from redenvelope.engine.instance import Instance, Params
from redenvelope.engine.solve import solve

NO_ROUTE = 99
NEW_RELEASE_DAYS = 90


@dataclass
class Twin:
    start: dt.date
    # DCs (D) and regions (R)
    dc_codes: list[str]
    dc_capacity: np.ndarray  # (D,) discs a day
    dc_open: np.ndarray  # (D,) bool
    transit: np.ndarray  # (D, R) days, NO_ROUTE where a DC does not serve a region
    region_lat: np.ndarray
    region_lon: np.ndarray
    region_names: list[str]
    # members (M)
    member_ids: np.ndarray
    region: np.ndarray  # (M,) region index
    slots: np.ndarray  # (M,) discs at once
    out: np.ndarray  # (M,) discs out now
    # queues, in order, as one array per column with member m's entries at q_ptr[m]:q_ptr[m+1]
    q_ptr: np.ndarray
    q_title: np.ndarray  # title index
    q_added: np.ndarray  # day it was queued, relative to start (negative: before)
    # titles (T)
    title_ids: np.ndarray
    release: np.ndarray  # day released, relative to start
    shelf: np.ndarray  # (D, T) copies on the shelf
    # discs out: member, title, and the day each is due back at a DC (relative to start)
    r_member: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    r_title: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    r_back: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    changes: list[str] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        return len(self.member_ids)

    def copy(self) -> Twin:
        return _copy.deepcopy(self)

    def nearest(self) -> np.ndarray:
        """Each region's nearest open DC (where its members mail discs back), -1 if none."""
        t = np.where(self.dc_open[:, None], self.transit, NO_ROUTE)
        best = np.argmin(t, axis=0)
        return np.where(t[best, np.arange(t.shape[1])] < NO_ROUTE, best, -1)

    def back_days(self) -> np.ndarray:
        t = np.where(self.dc_open[:, None], self.transit, NO_ROUTE)
        return t.min(axis=0)

    def demand(self, top: int = 3) -> np.ndarray:
        """(D, T): the first `top` queue entries of members, counted at their nearest DC."""
        near = self.nearest()[self.region]
        m, t = _heads_all(self.q_ptr, self.q_title, top)
        ok = near[m] >= 0
        out = np.zeros(self.shelf.shape, np.int64)
        np.add.at(out, (near[m[ok]], t[ok]), 1)
        return out


@dataclass
class Outcome:
    """What a run of the twin measured, day by day (and for the horizon)."""

    days: int
    seed: int
    shipped: np.ndarray  # (days,)
    next_day: np.ndarray
    top3: np.ndarray
    first_choice: np.ndarray
    open_slots: np.ndarray  # slots waiting before the day's dispatch
    by_dc: np.ndarray  # (days, D) shipments
    # waits (days) of discs of new releases shipped, by title index
    wait_title: np.ndarray
    wait_days: np.ndarray

    @property
    def next_day_share(self) -> float:
        return float(self.next_day.sum() / max(self.shipped.sum(), 1))

    @property
    def top3_share(self) -> float:
        return float(self.top3.sum() / max(self.shipped.sum(), 1))

    def title_wait(self, t: int) -> float | None:
        w = self.wait_days[self.wait_title == t]
        return float(w.mean()) if len(w) else None


@nb.njit(cache=True)
def _heads_all(q_ptr, q_title, top):
    n = len(q_ptr) - 1
    count = 0
    for m in range(n):
        count += min(top, q_ptr[m + 1] - q_ptr[m])
    mm = np.empty(count, np.int64)
    tt = np.empty(count, np.int64)
    k = 0
    for m in range(n):
        for j in range(q_ptr[m], min(q_ptr[m + 1], q_ptr[m] + top)):
            mm[k] = m
            tt[k] = q_title[j]
            k += 1
    return mm, tt


@nb.njit(cache=True)
def _heads(q_ptr, q_title, alive, released, members, depth):
    """The first `depth[i]` live, released entries of each member: (member, rank, title, entry)."""
    count = 0
    for i in range(len(members)):
        m = members[i]
        got = 0
        for j in range(q_ptr[m], q_ptr[m + 1]):
            if alive[j] and released[q_title[j]]:
                got += 1
                if got >= depth[i]:
                    break
        count += got
    mm = np.empty(count, np.int64)
    pos = np.empty(count, np.int32)
    tt = np.empty(count, np.int64)
    ee = np.empty(count, np.int64)
    k = 0
    for i in range(len(members)):
        m = members[i]
        rank = 0
        got = 0
        for j in range(q_ptr[m], q_ptr[m + 1]):
            if not alive[j]:
                continue
            rank += 1  # the member sees every live entry, released or not, in its queue
            if not released[q_title[j]]:
                continue
            mm[k] = m
            pos[k] = rank
            tt[k] = q_title[j]
            ee[k] = j
            k += 1
            got += 1
            if got >= depth[i]:
                break
    return mm, pos, tt, ee


def _u(seed: int, day: int, salt: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, day, salt]).random(n)


def run(
    twin: Twin,
    days: int,
    *,
    seed: int = 1,
    params: Params | None = None,
    loss_rate: float = 0.004,
    damage_rate: float = 0.01,
    lost_after: int = 28,
) -> Outcome:
    """Advance a copy of the twin `days` days; the twin given is left as it was."""
    params = params or Params()
    D, T = twin.shelf.shape
    shelf = twin.shelf.copy()
    out = twin.out.astype(np.int64).copy()
    alive = np.ones(len(twin.q_title), np.bool_)
    near = twin.nearest()
    back_days = twin.back_days()
    region = twin.region.astype(np.int64)
    # discs out, bucketed by the day they come back (member, title, returns to a shelf?)
    due: dict[int, list] = {}

    def put(day, members, titles, shelved):
        due.setdefault(max(day, 0), []).append((members, titles, shelved))

    put_days = np.maximum(twin.r_back, 0)
    for d in np.unique(put_days):
        sel = put_days == d
        put(int(d), twin.r_member[sel], twin.r_title[sel], np.ones(sel.sum(), np.bool_))
    open_dc = np.flatnonzero(twin.dc_open)
    tr_d, tr_r = np.nonzero((twin.transit < NO_ROUTE) & twin.dc_open[:, None])
    transit_tab = {
        "dc_id": tr_d.astype(np.int32),
        "region_id": tr_r.astype(np.int32),
        "days": twin.transit[tr_d, tr_r].astype(np.int16),
    }
    dcs_tab = {
        "dc_id": open_dc.astype(np.int32),
        "capacity": twin.dc_capacity[open_dc].astype(np.int32),
    }
    res = {
        k: np.zeros(days, np.int64)
        for k in ("shipped", "next_day", "top3", "first_choice", "open_slots")
    }
    by_dc = np.zeros((days, D), np.int64)
    wait_t, wait_d = [], []
    for day in range(days):
        # discs back today: the member's slot frees, the disc is shelved where it came back
        for members, titles, shelved in due.pop(day, []):
            np.subtract.at(out, members, 1)
            dcs = near[region[members]]
            ok = shelved & (dcs >= 0)
            np.add.at(shelf, (dcs[ok], titles[ok]), 1)
        open_slots = np.maximum(twin.slots - out, 0)
        who = np.flatnonzero(open_slots > 0)
        res["open_slots"][day] = open_slots.sum()
        released = twin.release <= day
        depth = open_slots[who] + params.candidate_margin
        mm, pos, tt, ee = _heads(twin.q_ptr, twin.q_title, alive, released, who, depth)
        if not len(mm):
            continue
        sd, st = np.nonzero(shelf)
        inst = Instance.from_arrays(
            members={
                "member_id": who,
                "region_id": region[who].astype(np.int32),
                "open_slots": open_slots[who].astype(np.int16),
                "priority": np.ones(len(who)),
            },
            queue={"member_id": mm, "position": pos, "title_id": tt},
            stock={"dc_id": sd.astype(np.int32), "title_id": st, "available": shelf[sd, st]},
            dcs=dcs_tab,
            transit=transit_tab,
        )
        result = solve(inst, params, explain=False)
        m = result.member_id.astype(np.int64)
        t = result.title_id.astype(np.int64)
        dc = result.dc_id.astype(np.int64)
        n = len(m)
        if not n:
            continue
        # the shipped entries leave their queues
        key = mm << 24 | tt
        order = np.argsort(key)
        at = order[np.searchsorted(key[order], m << 24 | t)]
        alive[ee[at]] = False
        np.add.at(shelf, (dc, t), -1)
        np.add.at(out, m, 1)
        days_out = twin.transit[dc, region[m]]
        res["shipped"][day] = n
        res["next_day"][day] = int((days_out == 1).sum())
        res["top3"][day] = int((pos[at] <= 3).sum())
        res["first_choice"][day] = int((pos[at] == 1).sum())
        by_dc[day] = np.bincount(dc, minlength=D)
        fresh = (day - twin.release[t] < NEW_RELEASE_DAYS) & (twin.release[t] <= day)
        if fresh.any():
            since = np.maximum(twin.q_added[ee[at]], twin.release[t])
            wait_t.append(t[fresh])
            wait_d.append((day - since)[fresh])
        # at home 1-7 days, then mailed to the nearest DC; a few lost, a few broken
        u = _u(seed, day, 1, n)
        watch = 1 + np.floor(u * 7).astype(np.int64)
        lost = _u(seed, day, 2, n) < loss_rate
        broken = _u(seed, day, 3, n) < damage_rate
        back = day + days_out + watch + back_days[region[m]]
        back = np.where(lost, day + lost_after, back)
        for d in np.unique(back):
            sel = back == d
            put(int(d), m[sel], t[sel], ~(lost | broken)[sel])
    return Outcome(
        days=days,
        seed=seed,
        by_dc=by_dc,
        wait_title=np.concatenate(wait_t) if wait_t else np.zeros(0, np.int64),
        wait_days=np.concatenate(wait_d) if wait_d else np.zeros(0, np.int64),
        **res,
    )


# --- changes a what-if makes (each on a copy) ---------------------------------------------------


def add_copies(twin: Twin, title: int, per_dc: dict[int, int]) -> Twin:
    for d, n in per_dc.items():
        twin.shelf[d, title] += n
    twin.changes.append(f"bought {sum(per_dc.values())} copies of title #{twin.title_ids[title]}")
    return twin


def move_copies(twin: Twin, moves: list[tuple[int, int, int, int]]) -> Twin:
    """(from DC, to DC, title, copies): shelved copies moved (they arrive before the first day)."""
    for a, b, t, n in moves:
        n = min(n, int(twin.shelf[a, t]))
        twin.shelf[a, t] -= n
        twin.shelf[b, t] += n
    twin.changes.append(f"moved {sum(n for *_, n in moves)} copies")
    return twin


def add_dc(
    twin: Twin, code: str, transit_row: np.ndarray, capacity: int, stock_from_demand: bool = True
) -> Twin:
    """A new DC serving regions by `transit_row`; with `stock_from_demand`, stocked by moving
    shelved copies of the titles its members queue first from the DCs that served them."""
    before = twin.nearest()
    twin.dc_codes = [*twin.dc_codes, code]
    twin.dc_capacity = np.append(twin.dc_capacity, capacity)
    twin.dc_open = np.append(twin.dc_open, True)
    twin.transit = np.vstack([twin.transit, transit_row[None, :]]).astype(twin.transit.dtype)
    twin.shelf = np.vstack([twin.shelf, np.zeros((1, twin.shelf.shape[1]), twin.shelf.dtype)])
    new = len(twin.dc_codes) - 1
    twin.changes.append(f"opened DC {code}")
    if stock_from_demand:
        after = twin.nearest()
        moved = np.flatnonzero((after == new) & (before >= 0))
        if len(moved):
            demand = twin.demand()
            # the share of each old DC's top-3 demand that now belongs to the new DC
            for old in np.unique(before[moved]):
                mine = demand[new]
                theirs = demand[old] + mine
                share = np.divide(mine, theirs, out=np.zeros(len(mine)), where=theirs > 0)
                n = np.floor(twin.shelf[old] * share).astype(twin.shelf.dtype)
                twin.shelf[old] -= n
                twin.shelf[new] += n
    return twin


def close_dc(twin: Twin, dc: int) -> Twin:
    """A DC closed: its shelved copies go to the DCs its regions now mail to."""
    twin.dc_open = twin.dc_open.copy()
    twin.dc_open[dc] = False
    near = twin.nearest()
    served = np.flatnonzero(twin.transit[dc] == twin.transit[dc].min())
    to = (
        near[served[0]]
        if len(served) and near[served[0]] >= 0
        else int(np.flatnonzero(twin.dc_open)[0])
    )
    twin.shelf[to] += twin.shelf[dc]
    twin.shelf[dc] = 0
    twin.changes.append(f"closed DC {twin.dc_codes[dc]}")
    return twin


def set_capacity(twin: Twin, dc: int, capacity: int) -> Twin:
    twin.dc_capacity = twin.dc_capacity.copy()
    twin.dc_capacity[dc] = capacity
    twin.changes.append(f"{twin.dc_codes[dc]} capacity {capacity}/day")
    return twin
