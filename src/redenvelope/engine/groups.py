"""Members alike, allocated as one (decision 0031).

Members of the same region with the same open slots and the same candidate entries (titles,
values and shelves alike) are interchangeable: whatever one of them may get, any other may get
for the same value. Where a day has many of them ("ties everywhere": 100,000 members, 1,150
kinds), the auction's bidders raise each other's prices epsilon at a time in a price war, but
the day is a far smaller min-cost flow over kinds:

    source -> kind (c members x s slots) -> kind's entry (c copies: one per member)
           -> shelf (its copies) -> DC (its capacity) -> sink,   sink -> source

with c the kind's members. It is solved by cost scaling (`flow.scale`) from nothing, and each
kind's shipments are dealt to its members in turn: a kind's entry ships at most c copies, its
copies are dealt one after the other, so no member gets the same entry twice, and no member
gets more than ceil(shipments / c) <= s. Any allocation of the members adds up to a flow of the
kinds of the same value, so the dealt allocation is as good as the flow is; the flow's prices
are prices of the whole day, from which the certificate bounds it.

Pure numpy/numba: never imports Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from . import flow
from .flow import _value, empty_arcs

# Kinds are allocated as one where their candidate entries are at most this share of the
# day's (ties: 1.2%); on other days nearly every member is a kind of its own and the auction
# is faster than cost scaling from nothing.
MAX_SHARE = 0.1
# The last epsilon of the kinds' cost scaling: the flow is within nodes x EPS_FINAL of its
# optimum, and its prices bound the day within EPS_FINAL an arc of a path (6 arcs) for each
# member and each shipment of it: 0.001 is under 0.01% of a ties day (the kinds' network is
# small: a finer end costs one more refinement).
EPS_FINAL = 0.001
# Work allowed per arc of the kinds' network before the auction is used instead.
WORK_PER_ARC = 400


@dataclass
class Kinds:
    """Members grouped into kinds (members alike)."""

    of: np.ndarray  # (M,) each member's kind
    rep: np.ndarray  # (K,) a member of each kind (its entries stand for the kind's)
    count: np.ndarray  # (K,) members of each kind
    entries: int  # candidate entries of the representatives


@nb.njit(cache=True)
def _alike(a, b, entry_start, entry_title, entry_a, slots, region, arc_start, arc_pool):
    """Whether members a and b have the same region, slots, candidate entries and shelves."""
    if region[a] != region[b] or slots[a] != slots[b]:
        return False
    n = entry_start[a + 1] - entry_start[a]
    if entry_start[b + 1] - entry_start[b] != n:
        return False
    for i in range(n):
        ea = entry_start[a] + i
        eb = entry_start[b] + i
        if entry_title[ea] != entry_title[eb] or entry_a[ea] != entry_a[eb]:
            return False
        k = arc_start[ea + 1] - arc_start[ea]
        if arc_start[eb + 1] - arc_start[eb] != k:
            return False
        for q in range(k):
            if arc_pool[arc_start[ea] + q] != arc_pool[arc_start[eb] + q]:
                return False
    return True


@nb.njit(cache=True)
def _kinds(key, order, entry_start, entry_title, entry_a, slots, region, arc_start, arc_pool):
    """Each member's kind: members of the same key (a hash) that are alike as `_alike` checks;
    members of one key that are unlike (a hash collision) are told apart by comparing each with
    the first member of every kind of that key so far. `key`: sorted, of the members in
    `order`."""
    n = len(key)
    of = np.full(n, -1, np.int64)
    first = np.empty(n, np.int64)  # the first member of each kind
    kinds = 0
    i = 0
    while i < n:
        j = i
        while j < n and key[j] == key[i]:
            j += 1
        k0 = kinds  # the kinds of this key are k0 .. kinds - 1
        for t in range(i, j):
            m = order[t]
            for g in range(k0, kinds):
                if _alike(first[g], m, entry_start, entry_title, entry_a, slots, region,
                          arc_start, arc_pool):  # fmt: skip
                    of[m] = g
                    break
            if of[m] < 0:
                first[kinds] = m
                of[m] = kinds
                kinds += 1
        i = j
    return of, kinds


@nb.njit(cache=True, inline="always")
def _mix(h, x):
    """One step of a 64-bit hash (splitmix64's finaliser over h ^ x)."""
    z = (h ^ x) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, parallel=True)
def _keys(entry_start, entry_title, entry_a, slots, region, arc_start, arc_pool):
    """A hash of each member's region, slots and candidate entries in order (title, value,
    shelves): members alike have the same one."""
    n = len(slots)
    key = np.empty(n, np.uint64)
    for m in nb.prange(n):
        h = _mix(np.uint64(region[m] + 1), np.uint64(slots[m]))
        for e in range(entry_start[m], entry_start[m + 1]):
            h = _mix(h, np.uint64(entry_title[e]))
            h = _mix(h, np.float64(entry_a[e]).view(np.uint64))
            for q in range(arc_start[e], arc_start[e + 1]):
                h = _mix(h, np.uint64(arc_pool[q]))
        key[m] = h
    return key


def find(prob) -> Kinds:
    """The day's kinds of members (members with no open slot or no candidate entry are kinds
    like any other: they ship nothing)."""
    n = prob.n_members
    args = (
        prob.entry_start, prob.entry_title, prob.entry_a, prob.slots, prob.region,
        prob.arc_start, prob.arc_pool,
    )  # fmt: skip
    key = _keys(*args)
    order = np.argsort(key, kind="stable")
    of, k = _kinds(key[order], order, *args)
    count = np.bincount(of, minlength=k)
    rep = np.full(k, -1, np.int64)
    rep[of[::-1]] = np.arange(n - 1, -1, -1)  # the first member of each kind
    return Kinds(of=of, rep=rep, count=count, entries=int(np.diff(prob.entry_start)[rep].sum()))


def worth_it(prob, kinds: Kinds) -> bool:
    return kinds.entries <= MAX_SHARE * len(prob.entry_a)


@nb.njit(cache=True)
def _arcs(rep, count, entry_start, entry_a, slots, region, arc_start, arc_pool, pool_dc,
          pool_cap, dc_cap, days, penalty, m0, e0, j0, d0):  # fmt: skip
    """The kinds' forward arcs (tail, head, capacity, cost, no flow) in blocks S->kind,
    kind->entry, entry->shelf [first, last), shelf->DC, DC->T, T->S; and each kind entry's
    member entry (of the kind's representative)."""
    n_k = len(rep)
    n_j = len(pool_dc)
    n_d = len(dc_cap)
    n_ke = 0
    n_arcs = 0
    for g in range(n_k):
        m = rep[g]
        for e in range(entry_start[m], entry_start[m + 1]):
            n_ke += 1
            for q in range(arc_start[e], arc_start[e + 1]):
                if _value(entry_a, e, arc_pool[q], region[m], pool_dc, dc_cap, days, penalty) > 0:
                    n_arcs += 1
    tail, head, cap, cost = empty_arcs(n_k + n_ke + n_arcs + n_j + n_d + 1)
    ke_entry = np.empty(n_ke, np.int64)
    k = 0
    supply = 0
    for g in range(n_k):
        tail[k], head[k], cap[k] = 0, m0 + g, count[g] * slots[rep[g]]
        supply += cap[k]
        k += 1
    i = 0
    for g in range(n_k):
        m = rep[g]
        for e in range(entry_start[m], entry_start[m + 1]):
            tail[k], head[k], cap[k] = m0 + g, e0 + i, count[g]
            ke_entry[i] = e
            i += 1
            k += 1
    first = k
    i = 0
    for g in range(n_k):
        m = rep[g]
        for e in range(entry_start[m], entry_start[m + 1]):
            for q in range(arc_start[e], arc_start[e + 1]):
                j = arc_pool[q]
                v = _value(entry_a, e, j, region[m], pool_dc, dc_cap, days, penalty)
                if v > 0:
                    tail[k], head[k], cost[k] = e0 + i, j0 + j, -v
                    # not min(c, copies): an arc's own capacity binding below its kind entry's
                    # would hold a price the shelf and DC prices cannot carry to the certificate
                    cap[k] = count[g]
                    k += 1
            i += 1
    last = k
    for j in range(n_j):
        tail[k], head[k], cap[k] = j0 + j, d0 + pool_dc[j], pool_cap[j]
        k += 1
    for d in range(n_d):
        tail[k], head[k], cap[k] = d0 + d, 1, dc_cap[d]
        k += 1
    tail[k], head[k], cap[k] = 1, 0, supply
    return tail, head, cap, cost, first, last, ke_entry


@nb.njit(cache=True)
def _deal(of, rep, count, entry_start, ke_start, ke_entry, ej_entry, ej_shelf, shipped, n_e):
    """Each kind's shipments dealt to its members in turn: the kind's i-th shipment (entries in
    order) goes to its (i mod c)-th member, at the same place in that member's entries."""
    n_k = len(rep)
    members_start = np.zeros(n_k + 1, np.int64)
    for m in range(len(of)):
        members_start[of[m] + 1] += 1
    for g in range(n_k):
        members_start[g + 1] += members_start[g]
    fill = members_start[:-1].copy()
    members = np.empty(len(of), np.int64)
    for m in range(len(of)):
        members[fill[of[m]]] = m
        fill[of[m]] += 1
    # the entry -> shelf arcs of each kind entry (they are numbered in kind entry order)
    out = np.full(n_e, -1, np.int32)
    dealt = np.zeros(n_k, np.int64)
    for k in range(len(ej_entry)):
        units = shipped[k]
        if units == 0:
            continue
        ke = ej_entry[k]
        g = _kind_of(ke_start, ke)
        offset = ke_entry[ke] - entry_start[rep[g]]
        for _ in range(units):
            m = members[members_start[g] + dealt[g] % count[g]]
            dealt[g] += 1
            out[entry_start[m] + offset] = ej_shelf[k]
    return out


@nb.njit(cache=True, inline="always")
def _kind_of(ke_start, ke):
    lo, hi = 0, len(ke_start) - 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ke_start[mid] <= ke:
            lo = mid
        else:
            hi = mid - 1
    return lo


def allocate(prob, kinds: Kinds, *, eps_final: float = EPS_FINAL, alpha: float = flow.ALPHA):
    """The day allocated by kinds: (allocation, shelf prices, DC prices, info), or None where
    the work allowed ran out."""
    n_k = len(kinds.rep)
    m0 = 2
    e0 = m0 + n_k
    j0 = e0 + kinds.entries
    d0 = j0 + len(prob.pool_dc)
    n = d0 + len(prob.dc_cap)
    tail, head, cap, cost, first, last, ke_entry = _arcs(
        kinds.rep, kinds.count, prob.entry_start, prob.entry_a, prob.slots, prob.region,
        prob.arc_start, prob.arc_pool, prob.pool_dc, prob.pool_cap, prob.dc_cap, prob.days,
        prob.penalty, m0, e0, j0, d0,
    )  # fmt: skip
    net = flow.assemble(
        tail, head, cap, cost, np.zeros(len(tail), np.int64), first, last,
        (m0, e0, j0, d0, n), len(prob.pool_dc),
    )  # fmt: skip
    p = np.zeros(n)
    # from nothing: the empty flow is (largest value)-optimal at zero prices
    eps = float(-cost.min(initial=0.0)) * alpha
    scaled = flow.scale(
        net, p, max(eps, eps_final), eps_final, alpha, flow.UPDATE_EVERY,
        int(WORK_PER_ARC * len(net.head)),
    )  # fmt: skip
    if scaled is None:
        return None
    shipped = cap[first:last] - net.res[net.ej_fwd]
    ke_start = np.zeros(n_k + 1, np.int64)
    np.cumsum(np.diff(prob.entry_start)[kinds.rep], out=ke_start[1:])
    ent_pool = _deal(
        kinds.of, kinds.rep, kinds.count, prob.entry_start, ke_start, ke_entry, net.ej_entry,
        net.ej_shelf, shipped, len(prob.entry_a),
    )  # fmt: skip
    mu = p[1] - p[d0:]
    pi = p[d0 + prob.pool_dc] - p[j0:d0]
    # a shelf or DC with room to spare may be priced up to eps: priced 0, its copies no longer
    # add eps each to the bound (any prices give a valid bound)
    held = ent_pool[ent_pool >= 0]
    pi[np.bincount(held, minlength=len(pi)) < prob.pool_cap] = 0.0
    mu[np.bincount(prob.pool_dc[held], minlength=len(mu)) < prob.dc_cap] = 0.0
    return ent_pool, pi, mu, {**scaled, "kinds": n_k, "arcs": len(net.ej_rev)}
