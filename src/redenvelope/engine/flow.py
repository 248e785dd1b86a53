"""Repairing an allocation to its optimum by cost scaling (decision 0030).

The day is a min-cost flow: source -> member (its open slots) -> candidate entry (one copy of a
title) -> shelf (its copies) -> DC (its capacity) -> sink, and sink -> source for the shipments
made; an entry -> shelf arc costs minus the shipment's value. The auction allocates it in a
fraction of a flow solver's time and within 0.2% of the optimum on most days; where DC capacity
binds unevenly, its DC prices (learned on a sample) leave allocations that no exchange of single
members reaches ("tight capacity" seed 6: 99.67%). `repair` starts Goldberg's cost-scaling
push-relabel from that allocation and the auction's prices: a handful of refinements instead of
the dozens a cold start takes, on the arcs whose net value comes within `delta` of their
member's threshold (the others would need prices to move further than the auction can be off).
The flow it ends with is `eps_final`-optimal on those arcs, and its node prices are a dual of
the same day, from which the certificate computes a bound close to the objective.

Pure numpy/numba: never imports Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

# Arcs kept: held ones, and those whose net value at the warm start's prices is within DELTA
# of their member's threshold (one day's penalty: 20 units). On "tight capacity" seed 6 the
# optimum was reached with 20 (857,000 arcs of 3.4 M) and missed by 0.002% with 5.
DELTA = 20.0
# The last epsilon: the flow is then within (nodes × EPS_FINAL) of the optimum on its arcs.
EPS_FINAL = 0.05
# Epsilon falls by this factor a refinement, from the warm start's largest violations.
ALPHA = 5.0
# Relabels between two global price updates, per node of the network (2: base seed 6 8.8 s,
# 0.5: 6.3 s, 0.1: 11.3 s — the updates cost more than the relabels they save).
UPDATE_EVERY = 0.5
# Work (arcs scanned and pushes) allowed per arc of the network before giving up (the days
# measured took 20-35).
WORK_PER_ARC = 40
# Entry -> shelf arcs past which the day is not repaired: the repair is one core's push-relabel
# and grows faster than the day (the bench generator's day: 300,000 members 2.25 M arcs, 21 s;
# 700,000 members 7.8 M arcs, 87 s, past the time a national day has). Such days keep the
# auction's allocation and the rest of the pipeline (DC price moves, second opinion, shifting
# exchange).
MAX_ARCS = 3_000_000
# Candidate arcs per kept arc past which the day is not even counted (counting the 23 M
# candidate arcs of the bench generator's 300,000-member day takes 1 s; 2.25 M were kept).
CANDIDATES_PER_KEPT = 10


@dataclass
class Network:
    """The day's network with arcs numbered by tail (a node's arcs are contiguous)."""

    start: np.ndarray  # (N+1,) first arc of each node
    head: np.ndarray  # (2F,) arc heads
    res: np.ndarray  # (2F,) residual capacities
    cost: np.ndarray  # (2F,) costs (minus values)
    rev: np.ndarray  # (2F,) the reverse of each arc
    ej_fwd: np.ndarray  # (K,) the forward arc of each entry -> shelf arc
    ej_rev: np.ndarray  # (K,) its reverse (residual while it carries flow)
    ej_entry: np.ndarray  # (K,) the entry
    ej_shelf: np.ndarray  # (K,) the shelf
    arc_ej: np.ndarray  # (2F,) the entry -> shelf arc an arc belongs to, -1 for others
    shelf_out: np.ndarray  # (J,) each shelf's arc to its DC
    nodes: tuple  # (m0, e0, j0, d0, n): first member, entry, shelf and DC node; node count


@nb.njit(cache=True, inline="always")
def _value(entry_a, e, j, r, pool_dc, dc_cap, days, penalty):
    """A shipment's value, or -inf where the shelf's DC cannot ship to the member's region."""
    d = pool_dc[j]
    dd = days[d, r] if r >= 0 else 0
    if dd == 0 or dc_cap[d] == 0:
        return -np.inf
    return entry_a[e] - penalty * (dd - 1)


@nb.njit(cache=True, inline="always")
def _kept(entry_a, e, j, r, pool_dc, dc_cap, days, penalty, held, pj, threshold, delta):
    """The value of an arc the repair keeps (held, or its net within delta of the member's
    threshold), -inf for the others."""
    v = _value(entry_a, e, j, r, pool_dc, dc_cap, days, penalty)
    if held != j and (v <= 0 or v + pj[j] < threshold - delta):
        return -np.inf
    return v


@nb.njit(cache=True, inline="always")
def empty_arcs(f):
    """Room for f forward arcs: tail, head, capacity, cost (0)."""
    return np.empty(f, np.int64), np.empty(f, np.int64), np.empty(f, np.int64), np.zeros(f)


@nb.njit(cache=True)
def _arcs(
    entry_start, entry_a, slots, region, arc_start, arc_pool, pool_dc, pool_cap, dc_cap, days,
    penalty, ent_pool, pj, pm, delta, m0, e0, j0, d0, max_arcs,
):  # fmt: skip
    """Forward arcs (tail, head, capacity, cost, flow) in blocks S->m, m->e, e->j, j->d, d->T,
    T->S (source 0, sink 1); the e->j block is [first, last). Counted first: more than
    `max_arcs` entry -> shelf arcs, and nothing is allocated (first = last = -1)."""
    n_m = len(slots)
    n_e = len(entry_a)
    n_j = len(pool_dc)
    n_d = len(dc_cap)
    kept = 0
    for m in range(n_m):
        for e in range(entry_start[m], entry_start[m + 1]):
            for q in range(arc_start[e], arc_start[e + 1]):
                v = _kept(
                    entry_a, e, arc_pool[q], region[m], pool_dc, dc_cap, days, penalty,
                    ent_pool[e], pj, pm[m], delta,
                )  # fmt: skip
                if v > -np.inf:
                    kept += 1
    if kept > max_arcs:
        none = np.zeros(0, np.int64)
        return none, none, none, np.zeros(0), none, -1, -1
    tail, head, cap, cost = empty_arcs(n_m + n_e + kept + n_j + n_d + 1)
    flow = np.zeros(len(tail), np.int64)
    held = np.zeros(n_m, np.int64)
    p_live = np.zeros(n_j, np.int64)
    d_live = np.zeros(n_d, np.int64)
    for m in range(n_m):
        for e in range(entry_start[m], entry_start[m + 1]):
            j = ent_pool[e]
            if j >= 0:
                held[m] += 1
                p_live[j] += 1
                d_live[pool_dc[j]] += 1
    k = 0
    for m in range(n_m):
        tail[k], head[k], cap[k], flow[k] = 0, m0 + m, slots[m], held[m]
        k += 1
    for m in range(n_m):
        for e in range(entry_start[m], entry_start[m + 1]):
            tail[k], head[k], cap[k] = m0 + m, e0 + e, 1
            flow[k] = 1 if ent_pool[e] >= 0 else 0
            k += 1
    first = k
    for m in range(n_m):
        r = region[m]
        for e in range(entry_start[m], entry_start[m + 1]):
            for q in range(arc_start[e], arc_start[e + 1]):
                j = arc_pool[q]
                v = _kept(
                    entry_a, e, j, r, pool_dc, dc_cap, days, penalty, ent_pool[e], pj, pm[m], delta
                )
                if v == -np.inf:
                    continue
                tail[k], head[k], cap[k], cost[k] = e0 + e, j0 + j, 1, -v
                flow[k] = 1 if ent_pool[e] == j else 0
                k += 1
    last = k
    for j in range(n_j):
        tail[k], head[k], cap[k], flow[k] = j0 + j, d0 + pool_dc[j], pool_cap[j], p_live[j]
        k += 1
    total = 0
    for d in range(n_d):
        tail[k], head[k], cap[k], flow[k] = d0 + d, 1, dc_cap[d], d_live[d]
        total += d_live[d]
        k += 1
    slots_sum = 0
    for m in range(n_m):
        slots_sum += slots[m]
    tail[k], head[k], cap[k], flow[k] = 1, 0, slots_sum, total
    k += 1
    return tail[:k], head[:k], cap[:k], cost[:k], flow[:k], first, last


def nodes(prob) -> tuple[int, int, int, int, int]:
    """The network's node numbering: source 0, sink 1, then members, entries, shelves and DCs
    from (m0, e0, j0, d0); n nodes in all."""
    m0 = 2
    e0 = m0 + prob.n_members
    j0 = e0 + len(prob.entry_a)
    d0 = j0 + len(prob.pool_dc)
    return m0, e0, j0, d0, d0 + len(prob.dc_cap)


def network(
    prob, ent_pool: np.ndarray, p: np.ndarray, delta: float, max_arcs: int = MAX_ARCS
) -> Network | None:
    """The day's network at potentials p, or None where it has more than `max_arcs` entry ->
    shelf arcs."""
    m0, e0, j0, d0, n = nodes(prob)
    n_j = len(prob.pool_dc)
    tail, head, cap, cost, flow, first, last = _arcs(
        prob.entry_start, prob.entry_a, prob.slots, prob.region, prob.arc_start, prob.arc_pool,
        prob.pool_dc, prob.pool_cap, prob.dc_cap, prob.days, prob.penalty,
        ent_pool.astype(np.int64), p[j0:d0], p[m0:e0], delta, m0, e0, j0, d0, max_arcs,
    )  # fmt: skip
    if first < 0:
        return None
    return assemble(tail, head, cap, cost, flow, first, last, (m0, e0, j0, d0, n), n_j)


def assemble(tail, head, cap, cost, flow, first, last, nodes, n_j) -> Network:
    """A network from forward arcs (tail, head, capacity, cost, flow) whose entry -> shelf arcs
    are [first, last) and whose shelf -> DC arcs are the n_j that follow, in shelf order."""
    m0, e0, j0, d0, n = nodes
    f = len(tail)
    # arc 2k is forward arc k, 2k + 1 its reverse; then renumbered by tail
    tails = np.empty(2 * f, np.int64)
    tails[0::2], tails[1::2] = tail, head
    order = np.argsort(tails, kind="stable")
    new = np.empty(2 * f, np.int64)
    new[order] = np.arange(2 * f)
    heads = np.empty(2 * f, np.int64)
    heads[0::2], heads[1::2] = head, tail
    res = np.empty(2 * f, np.int64)
    res[0::2], res[1::2] = cap - flow, flow
    costs = np.empty(2 * f)
    costs[0::2], costs[1::2] = cost, -cost
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=start[1:])
    ks = np.arange(first, last)
    arc_ej = np.full(2 * f, -1, np.int64)
    arc_ej[new[2 * ks]] = ks - first
    arc_ej[new[2 * ks + 1]] = ks - first
    return Network(
        start=start,
        head=heads[order],
        res=res[order],
        cost=costs[order],
        rev=new[order ^ 1],
        ej_fwd=new[2 * ks],
        ej_rev=new[2 * ks + 1],
        ej_entry=tail[first:last] - e0,
        ej_shelf=head[first:last] - j0,
        arc_ej=arc_ej,
        shelf_out=new[2 * (last + np.arange(n_j, dtype=np.int64))],
        nodes=nodes,
    )


@nb.njit(cache=True, inline="always")
def _flow_changed(a, res, arc_ej, ej_rev, ej_shelf, hl_start, hl_arc, hl_len, hl_pos):
    """Keeps each shelf's list of the entry arcs carrying flow into it (its residual arcs
    besides the one to its DC) after arc a's residual changed: a shelf scans those, not every
    entry that lists it."""
    k = arc_ej[a]
    if k < 0:
        return
    j = ej_shelf[k]
    if res[ej_rev[k]] > 0:
        if hl_pos[k] < 0:
            i = hl_start[j] + hl_len[j]
            hl_arc[i] = k
            hl_pos[k] = i
            hl_len[j] += 1
    elif hl_pos[k] >= 0:
        i = hl_pos[k]
        last = hl_start[j] + hl_len[j] - 1
        moved = hl_arc[last]
        hl_arc[i] = moved
        hl_pos[moved] = i
        hl_pos[k] = -1
        hl_len[j] -= 1


@nb.njit(cache=True)
def _price_update(start, head, res, cost, rev, p, excess, eps, dist, done, bucket, e_node, e_next):
    """Goldberg's global price update: each node's distance, in units of eps, to a node short
    of flow over residual arcs of length floor(reduced cost / eps) + 1 (0 when admissible);
    each price is lowered by eps times it, so that excess flows straight to where flow is
    missing (eps-optimality kept). Dial's buckets (distances past the node count wait in the
    last one); it stops once every node with excess is reached, the others lowered as far as
    the last distance. Returns the arcs scanned."""
    n = len(p)
    nb_ = len(bucket)
    bucket[:] = -1
    active = 0
    used = 0
    for v in range(n):
        done[v] = False
        dist[v] = np.int64(1) << 60
        if excess[v] > 0:
            active += 1
        elif excess[v] < 0:
            dist[v] = 0
            e_node[used] = v
            e_next[used] = bucket[0]
            bucket[0] = used
            used += 1
    pending = used
    scanned = 0
    top = 0
    k = 0
    while pending > 0 and active > 0 and k < nb_:
        i = bucket[k]
        if i < 0:
            k += 1
            continue
        bucket[k] = e_next[i]
        pending -= 1
        w = e_node[i]
        if done[w] or dist[w] != k:
            continue
        done[w] = True
        top = k
        if excess[w] > 0:
            active -= 1
            if active == 0:
                break
        for a in range(start[w], start[w + 1]):
            b = rev[a]  # the arc x -> w
            if res[b] <= 0:
                continue
            x = head[a]
            rc = cost[b] + p[x] - p[w]
            nd = k if rc < 0.0 else k + np.int64(rc / eps) + 1
            if nd >= nb_:
                nd = nb_ - 1
            if nd < dist[x] and used < len(e_node):
                dist[x] = nd
                e_node[used] = x
                e_next[used] = bucket[nd]
                bucket[nd] = used
                used += 1
                pending += 1
        scanned += start[w + 1] - start[w]
    for v in range(n):
        p[v] -= eps * (dist[v] if done[v] else top)
    return scanned


@nb.njit(cache=True)
def _refine(
    start, head, res, cost, rev, p, excess, eps, max_work, update_every, j0, d0, shelf_out,
    arc_ej, ej_rev, ej_shelf, hl_start, hl_arc, hl_len, hl_pos, counts,
):  # fmt: skip
    """One refinement at `eps`: saturate every residual arc of negative reduced cost, then push
    and relabel (FIFO) until no node has excess, with a global price update at the start and
    every `update_every` relabels. A shelf's residual arcs are its arc to its DC and its list
    of entry arcs carrying flow (`hl_*`). Returns the work done (pushes and arcs scanned), -1
    when `max_work` ran out first, -2 if a node with excess had no residual arc (impossible
    in a circulation). counts: [relabels, price updates]."""
    n = len(p)
    for a in range(len(head)):
        if res[a] > 0:
            w = head[a]
            v = head[rev[a]]
            if cost[a] + p[v] - p[w] < 0.0:
                r = res[a]
                res[a] = 0
                res[rev[a]] += r
                excess[v] -= r
                excess[w] += r
                _flow_changed(a, res, arc_ej, ej_rev, ej_shelf, hl_start, hl_arc, hl_len, hl_pos)
    dist = np.empty(n, np.int64)
    done = np.empty(n, np.bool_)
    bucket = np.empty(n + 1, np.int64)
    e_node = np.empty(len(head) + n, np.int64)
    e_next = np.empty(len(head) + n, np.int64)
    work = _price_update(
        start, head, res, cost, rev, p, excess, eps, dist, done, bucket, e_node, e_next
    )
    counts[1] += 1
    size = n + 1
    queue = np.empty(size, np.int64)
    in_q = np.zeros(n, np.bool_)
    qh = 0
    qt = 0
    for v in range(n):
        if excess[v] > 0:
            queue[qt] = v
            qt += 1
            in_q[v] = True
    cur = np.zeros(n, np.int64)
    since = 0
    while qh != qt:
        v = queue[qh]
        qh = qh + 1 if qh + 1 < size else 0
        in_q[v] = False
        shelf = j0 <= v < d0
        s0 = hl_start[v - j0] if shelf else start[v]
        while excess[v] > 0:
            # a shelf's arcs: the one to its DC (position 0), then its list
            end = s0 + hl_len[v - j0] + 1 if shelf else start[v + 1]
            i = s0 + cur[v]
            emptied = False
            while i < end:
                a = i  # a shelf's: its DC's at position 0, then its list
                if shelf:
                    a = shelf_out[v - j0] if i == s0 else ej_rev[hl_arc[i - 1]]
                if res[a] > 0:
                    w = head[a]
                    if cost[a] + p[v] - p[w] < 0.0:
                        delta = excess[v] if excess[v] < res[a] else res[a]
                        res[a] -= delta
                        res[rev[a]] += delta
                        excess[v] -= delta
                        excess[w] += delta
                        _flow_changed(
                            a, res, arc_ej, ej_rev, ej_shelf, hl_start, hl_arc, hl_len, hl_pos
                        )
                        work += 1
                        if excess[w] > 0 and not in_q[w]:
                            queue[qt] = w
                            qt = qt + 1 if qt + 1 < size else 0
                            in_q[w] = True
                        if excess[v] == 0:
                            emptied = True
                            break
                        if shelf:
                            end = s0 + hl_len[v - j0] + 1
                            continue  # the list changed under i: look at position i again
                i += 1
            cur[v] = i - s0
            if emptied:
                break
            # relabel: just below the highest price at which a residual arc is admissible
            best = -np.inf
            best_a = -1
            if shelf:
                a = shelf_out[v - j0]
                if res[a] > 0:
                    best = p[head[a]] - cost[a]
                    best_a = a
                for i2 in range(s0, s0 + hl_len[v - j0]):
                    a = ej_rev[hl_arc[i2]]
                    t = p[head[a]] - cost[a]
                    if t > best:
                        best = t
                        best_a = a
                work += 1 + hl_len[v - j0]
            else:
                for a in range(start[v], start[v + 1]):
                    if res[a] > 0:
                        t = p[head[a]] - cost[a]
                        if t > best:
                            best = t
                            best_a = a
                work += start[v + 1] - start[v]
            cur[v] = 0
            if best_a < 0:
                return -2
            if cost[best_a] + p[v] - p[head[best_a]] < 0.0:
                continue  # an admissible arc was passed over while a list changed: look again
            p[v] = best - eps
            counts[0] += 1
            since += 1
            if since >= update_every:
                since = 0
                work += _price_update(
                    start, head, res, cost, rev, p, excess, eps, dist, done, bucket, e_node, e_next
                )
                counts[1] += 1
                cur[:] = 0
            if work > max_work:
                return -1
    return work


@nb.njit(cache=True)
def _fill_lists(res, ej_rev, ej_shelf, hl_start, hl_arc, hl_len, hl_pos):
    for k in range(len(ej_rev)):
        if res[ej_rev[k]] > 0:
            j = ej_shelf[k]
            i = hl_start[j] + hl_len[j]
            hl_arc[i] = k
            hl_pos[k] = i
            hl_len[j] += 1


@nb.njit(cache=True)
def _levels(
    entry_start, entry_a, slots, region, arc_start, arc_pool, pool_dc, dc_cap, days, penalty,
    ent_pool, pj,
):  # fmt: skip
    """Entry and member potentials consistent with the allocation at the shelves' potentials:
    an entry's held net (else its best net, at least 0); a member's lowest held net when its
    slots are full, else 0 (`grow.thresholds`, but not raised to 0 where that net is below:
    here it comes with the entries' levels, in the same pass)."""
    n_m = len(slots)
    pe = np.zeros(len(entry_a))
    pm = np.zeros(n_m)
    for m in range(n_m):
        r = region[m]
        held = 0
        low = np.inf
        for e in range(entry_start[m], entry_start[m + 1]):
            best = 0.0
            for q in range(arc_start[e], arc_start[e + 1]):
                j = arc_pool[q]
                v = _value(entry_a, e, j, r, pool_dc, dc_cap, days, penalty)
                if v == -np.inf:
                    continue
                net = v + pj[j]
                if ent_pool[e] == j:
                    best = net
                    break
                if net > best:
                    best = net
            pe[e] = best
            if ent_pool[e] >= 0:
                held += 1
                low = min(low, best)
        pm[m] = low if held >= slots[m] and held > 0 else 0.0
    return pe, pm


def potentials(prob, ent_pool, pool_price, dc_price) -> np.ndarray:
    """Node potentials from (shelf, DC) prices: source and sink 0, a DC minus its price, a shelf
    its DC's less its own price, entries and members as `_levels` says."""
    m0, e0, j0, d0, n = nodes(prob)
    p = np.zeros(n)
    p[d0:] = -np.maximum(dc_price, 0.0)
    p[j0:d0] = p[d0 + prob.pool_dc] - np.maximum(pool_price, 0.0)
    pe, pm = _levels(
        prob.entry_start, prob.entry_a, prob.slots, prob.region, prob.arc_start, prob.arc_pool,
        prob.pool_dc, prob.dc_cap, prob.days, prob.penalty, ent_pool.astype(np.int64), p[j0:d0],
    )  # fmt: skip
    p[e0:j0] = pe
    p[m0:e0] = pm
    return p


def repair(
    prob,
    ent_pool: np.ndarray,
    pool_price: np.ndarray,
    dc_price: np.ndarray,
    *,
    delta: float = DELTA,
    eps_final: float = EPS_FINAL,
    alpha: float = ALPHA,
    update_every: float = UPDATE_EVERY,
    work_per_arc: float = WORK_PER_ARC,
    max_arcs: int = MAX_ARCS,
    eps_start: float | None = None,
):
    """Cost scaling from the allocation `ent_pool` and (shelf, DC) prices. Returns (allocation,
    shelf prices, DC prices, info), or None where the day has more than `max_arcs` arcs to
    repair or the work allowed ran out (the allocation given stands). `eps_start`: the first
    epsilon, in place of the warm start's violations (for measuring: lower starts took two to
    four times the work)."""
    if len(prob.arc_pool) > CANDIDATES_PER_KEPT * max_arcs:
        return None  # not worth counting: far more than max_arcs would be kept
    p = potentials(prob, ent_pool, pool_price, dc_price)
    net = network(prob, ent_pool, p, delta, max_arcs)
    if net is None:
        return None
    m0, e0, j0, d0, n = net.nodes
    # the first epsilon: near the largest violations of the warm start
    tails = np.repeat(np.arange(n), np.diff(net.start))
    rc = net.cost + p[tails] - p[net.head]
    viol = -rc[(net.res > 0) & (rc < 0)]
    eps = max(float(np.quantile(viol, 0.999)) if len(viol) else 0.0, eps_final)
    if eps_start is not None:
        eps = max(eps_start, eps_final)
    scaled = scale(net, p, eps, eps_final, alpha, update_every, int(work_per_arc * len(net.head)))
    if scaled is None:
        return None
    used = net.res[net.ej_fwd] == 0
    out = np.full(len(prob.entry_a), -1, np.int32)
    out[net.ej_entry[used]] = net.ej_shelf[used].astype(np.int32)
    mu = p[1] - p[d0:]
    pi = p[d0 + prob.pool_dc] - p[j0:d0]
    return out, pi, mu, {**scaled, "arcs": len(net.ej_rev)}


def scale(
    net: Network,
    p: np.ndarray,
    eps: float,
    eps_final: float,
    alpha: float,
    update_every: float,
    limit: int,
) -> dict | None:
    """Refinements of the flow in `net` (its residuals) and the potentials `p`, both changed in
    place, with epsilon falling by `alpha` from `eps` (the flow is eps-optimal at p) down to
    `eps_final`. Returns its counts, or None when `limit` units of work ran out first."""
    m0, e0, j0, d0, n = net.nodes
    n_j = d0 - j0
    hl_start = np.zeros(n_j + 1, np.int64)
    np.cumsum(np.bincount(net.ej_shelf, minlength=n_j), out=hl_start[1:])
    hl_arc = np.zeros(max(1, hl_start[-1]), np.int64)
    hl_len = np.zeros(n_j, np.int64)
    hl_pos = np.full(len(net.ej_rev), -1, np.int64)
    _fill_lists(net.res, net.ej_rev, net.ej_shelf, hl_start, hl_arc, hl_len, hl_pos)
    excess = np.zeros(n, np.int64)
    counts = np.zeros(2, np.int64)
    work = 0
    refines = 0
    while True:
        eps = max(eps / alpha, eps_final)
        done = _refine(
            net.start, net.head, net.res, net.cost, net.rev, p, excess, eps, limit - work,
            max(1, int(update_every * n)), j0, d0, net.shelf_out, net.arc_ej, net.ej_rev,
            net.ej_shelf, hl_start, hl_arc, hl_len, hl_pos, counts,
        )  # fmt: skip
        refines += 1
        if done == -2:
            raise RuntimeError("cost scaling: a node with excess and no residual arc")
        if done < 0:
            return None
        work += done
        if eps <= eps_final:
            break
    return {
        "refines": refines,
        "work": work,
        "relabels": int(counts[0]),
        "price_updates": int(counts[1]),
    }
