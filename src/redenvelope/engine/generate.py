"""Random instances shaped like a national DVD day, for benchmarks and tests.

Skewed title popularity (Zipf), scarce new releases that everyone puts near the top, regions at
different distances from the DCs (1-5 days, some pairs unreachable), DC capacities that bind, and
queue positions with gaps (entries held back by series order or holds are not in the file).
"""

from __future__ import annotations

import numpy as np

from .instance import Instance


def generate(
    members: int,
    seed: int = 0,
    *,
    titles: int | None = None,
    dcs: int | None = None,
    regions: int | None = None,
    queue_mean: float = 20.0,
) -> Instance:
    rng = np.random.default_rng(seed)
    n_titles = titles or int(min(60_000, 2_000 + members // 40))
    n_dcs = dcs or int(min(40, max(5, members // 50_000 + 8)))
    n_regions = regions or int(min(900, max(40, members // 2_000)))

    # Geography on a 4,500 x 2,500 km map; DCs near the biggest regions.
    reg_xy = rng.uniform([0, 0], [4500, 2500], size=(n_regions, 2))
    reg_pop = rng.pareto(1.1, n_regions) + 0.05
    dc_regions = rng.choice(
        n_regions, size=n_dcs, replace=n_dcs > n_regions, p=reg_pop / reg_pop.sum()
    )
    dc_xy = reg_xy[dc_regions] + rng.normal(0, 30, size=(n_dcs, 2))
    dist = np.linalg.norm(dc_xy[:, None, :] - reg_xy[None, :, :], axis=2)
    days = np.select(
        [dist <= 300, dist <= 750, dist <= 1400, dist <= 2300, dist <= 3200], [1, 2, 3, 4, 5], 0
    ).astype(np.int16)
    # Every region is reached by at least its nearest DC.
    nearest = np.argmin(dist, axis=0)
    days[nearest, np.arange(n_regions)] = np.maximum(days[nearest, np.arange(n_regions)], 1)
    dc_i, reg_i = np.nonzero(days)

    # Members with open slots today (returns arrived): mostly one, some two or three.
    member_region = rng.choice(n_regions, size=members, p=reg_pop / reg_pop.sum()).astype(np.int32)
    open_slots = rng.choice([1, 2, 3], size=members, p=[0.62, 0.28, 0.10]).astype(np.int16)
    priority = np.where(rng.random(members) < 0.1, 1.25, 1.0)

    # Titles: Zipf popularity; the 0.5% newest are new releases everyone wants.
    pop = 1.0 / np.arange(1, n_titles + 1) ** 0.9
    rng.shuffle(pop)
    n_new = max(5, n_titles // 200)
    new = rng.choice(n_titles, size=n_new, replace=False)
    pop[new] = pop.max() * rng.uniform(0.5, 2.0, n_new)
    p = pop / pop.sum()

    lengths = np.clip(rng.lognormal(np.log(queue_mean), 0.6, members), 2, 120).astype(np.int64)
    total = int(lengths.sum())
    draws = rng.choice(n_titles, size=int(total * 1.15) + 16, p=p)
    # New releases drift to the top: give them a smaller sort key within each member.
    member_of = np.repeat(np.arange(members), lengths)
    titles_q = draws[:total]
    is_new = np.zeros(n_titles, bool)
    is_new[new] = True
    key = np.where(is_new[titles_q], rng.uniform(0, 0.3, total), rng.uniform(0, 1, total))
    order = np.lexsort((key, member_of))
    titles_q = titles_q[order]
    # Drop duplicates within a member.
    pair = member_of.astype(np.int64) * n_titles + titles_q
    _, first = np.unique(pair, return_index=True)
    keep = np.zeros(total, bool)
    keep[first] = True
    member_q = member_of[keep]
    titles_q = titles_q[keep]
    # Positions 1..n per member, then ~7% held back (series order, holds): gaps stay.
    starts = np.r_[0, np.flatnonzero(np.diff(member_q)) + 1]
    counts = np.diff(np.r_[starts, len(member_q)])
    position = (np.arange(len(member_q)) - np.repeat(starts, counts) + 1).astype(np.int32)
    shown = rng.random(len(member_q)) > 0.07
    member_q, titles_q, position = member_q[shown], titles_q[shown], position[shown]

    # Stock: copies per title by popularity (new releases scarce), spread by regional demand.
    total_slots = int(open_slots.sum())
    demand_share = np.bincount(member_region, minlength=n_regions) / members
    dc_share = np.bincount(nearest, weights=demand_share, minlength=n_dcs) + 0.02
    dc_share /= dc_share.sum()
    weight = pop**0.8
    weight[new] = pop[new] ** 0.5 * 0.3
    copies = np.maximum(0, np.round(weight / weight.sum() * total_slots * 1.3)).astype(np.int64)
    copies += rng.random(n_titles) < 0.5  # long tail: about half the titles have a copy or two
    c_title = np.repeat(np.arange(n_titles), copies)
    c_dc = rng.choice(n_dcs, size=len(c_title), p=dc_share)
    key = c_dc.astype(np.int64) * n_titles + c_title
    uniq, avail = np.unique(key, return_counts=True)

    # Capacity: ~85% of demand overall, unevenly, so several DCs bind.
    capacity = np.round(dc_share * total_slots * 0.85 * rng.uniform(0.6, 1.4, n_dcs)).astype(
        np.int32
    )

    member_ids = np.arange(1, members + 1, dtype=np.int64) * 7 + 1000
    title_ids = np.arange(1, n_titles + 1, dtype=np.int64) + 500_000
    dc_ids = np.arange(1, n_dcs + 1, dtype=np.int32) * 10
    region_ids = np.arange(1, n_regions + 1, dtype=np.int32) + 100
    return Instance.from_arrays(
        members={
            "member_id": member_ids,
            "region_id": region_ids[member_region],
            "open_slots": open_slots,
            "priority": priority,
        },
        queue={
            "member_id": member_ids[member_q],
            "position": position,
            "title_id": title_ids[titles_q],
        },
        stock={
            "dc_id": dc_ids[uniq // n_titles],
            "title_id": title_ids[uniq % n_titles],
            "available": avail.astype(np.int32),
        },
        dcs={"dc_id": dc_ids, "capacity": capacity},
        transit={"dc_id": dc_ids[dc_i], "region_id": region_ids[reg_i], "days": days[dc_i, reg_i]},
    )


# ---------------------------------------------------------------------------------------------
# A family of instance shapes: the engine must be near-optimal on every one, not on one shape.

SWEEP = {
    # name: shape knobs (see `generate_shape`)
    "loose capacity": {"tightness": 1.2},
    "tight capacity": {"tightness": 0.5},
    "scarce new releases": {"new_share": 0.03, "scarcity": 0.05, "tightness": 0.9},
    "short queues": {"queue": (3, 6)},
    "long queues": {"queue": (100, 300), "tightness": 0.8},
    "many DCs, wide reach": {"dcs": 60, "reach": 2.0, "tightness": 0.8},
    "few DCs, narrow reach": {"dcs": 4, "reach": 0.6},
    "priority spread": {"priority": 1.0, "tightness": 0.8},
    "many open slots": {"slots": (1, 8), "tightness": 0.7},
    "ties everywhere": {"ties": True, "tightness": 0.8, "dcs": 12},
    # the same ties, but each member skips a fifth of its shared queue: values still tie across
    # members, yet hardly two members are alike (no kinds to allocate by, decision 0031)
    "ties, queues apart": {"ties": True, "skip": 0.2, "tightness": 0.8, "dcs": 12},
}


def generate_shape(
    members: int,
    seed: int = 0,
    *,
    tightness: float = 0.85,
    new_share: float = 0.005,
    scarcity: float = 0.3,
    queue: tuple[int, int] = (5, 60),
    dcs: int = 20,
    reach: float = 1.0,
    priority: float = 0.0,
    slots: tuple[int, int] = (1, 3),
    ties: bool = False,
    skip: float = 0.0,
    titles: int | None = None,
) -> Instance:
    """An instance made independently of `generate`: members on a clustered map, DCs placed at
    random (not at the biggest regions), transit days from distance scaled by `reach`, queue
    lengths log-uniform in `queue`, open slots uniform in `slots`, priorities log-normal with
    spread `priority` (0: all equal), a `new_share` of titles that everyone queues first with
    copies `scarcity` times their demand, and DC capacity `tightness` times the open slots.
    `ties` puts every member on one of a few shared queues, so values tie everywhere, and
    `skip` drops that share of each member's shared queue at random (positions kept)."""
    rng = np.random.default_rng(seed + 7_919)
    n_titles = titles or int(min(40_000, 1_000 + members // 30))
    n_regions = int(min(600, max(30, members // 3_000)))
    centres = rng.uniform([0, 0], [4000, 3000], size=(8, 2))
    reg_xy = centres[rng.integers(0, 8, n_regions)] + rng.normal(0, 400, size=(n_regions, 2))
    reg_pop = rng.lognormal(0, 1.0, n_regions)
    dc_xy = rng.uniform([0, 0], [4000, 3000], size=(dcs, 2))
    dist = np.linalg.norm(dc_xy[:, None, :] - reg_xy[None, :, :], axis=2) / reach
    days = np.select(
        [dist <= 250, dist <= 600, dist <= 1100, dist <= 1800, dist <= 2600],
        [1, 2, 3, 4, 5],
        0,
    ).astype(np.int16)
    nearest = np.argmin(dist, axis=0)
    days[nearest, np.arange(n_regions)] = np.maximum(days[nearest, np.arange(n_regions)], 1)
    dc_i, reg_i = np.nonzero(days)

    member_region = rng.choice(n_regions, size=members, p=reg_pop / reg_pop.sum())
    open_slots = rng.integers(slots[0], slots[1] + 1, members).astype(np.int16)
    prio = np.exp(rng.normal(0, priority, members)) if priority > 0 else np.ones(members)

    pop = rng.pareto(0.8, n_titles) + 0.01
    n_new = max(3, int(n_titles * new_share))
    new = rng.choice(n_titles, size=n_new, replace=False)
    pop[new] = np.quantile(pop, 0.999) * rng.uniform(1, 5, n_new)
    p = pop / pop.sum()
    lo, hi = np.log(queue[0]), np.log(queue[1] + 1)
    lengths = np.exp(rng.uniform(lo, hi, members)).astype(np.int64).clip(queue[0], queue[1])
    if ties:
        # a few shared queues: the members on one want the same titles in the same order
        n_lists = 4
        lists = [rng.choice(n_titles, size=queue[1], replace=False, p=p) for _ in range(n_lists)]
        which = rng.integers(0, n_lists, members)
        member_q = np.repeat(np.arange(members), lengths)
        offs = np.arange(len(member_q)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        table = np.stack(lists)
        titles_q = table[which[member_q], offs]
        if skip > 0:
            kept = rng.random(len(member_q)) >= skip
            member_q, titles_q, offs = member_q[kept], titles_q[kept], offs[kept]
    else:
        total = int(lengths.sum())
        member_of = np.repeat(np.arange(members), lengths)
        draws = rng.choice(n_titles, size=total, p=p)
        is_new = np.zeros(n_titles, bool)
        is_new[new] = True
        key = np.where(is_new[draws], rng.uniform(0, 0.2, total), rng.uniform(0, 1, total))
        order = np.lexsort((key, member_of))
        titles_q = draws[order]
        pair = member_of.astype(np.int64) * n_titles + titles_q
        _, first = np.unique(pair, return_index=True)
        keep = np.zeros(total, bool)
        keep[first] = True
        member_q, titles_q = member_of[keep], titles_q[keep]
    starts = np.r_[0, np.flatnonzero(np.diff(member_q)) + 1]
    counts = np.diff(np.r_[starts, len(member_q)])
    position = (np.arange(len(member_q)) - np.repeat(starts, counts) + 1).astype(np.int32)
    if ties and skip > 0:
        position = (offs + 1).astype(np.int32)  # the place in the shared queue
    if not ties:
        position = position + np.cumsum(rng.random(len(position)) < 0.05).astype(np.int32) % 3

    # Stock from demand at the head of queues; new releases at `scarcity` of theirs.
    head = position <= 4
    demand = np.bincount(titles_q[head], minlength=n_titles).astype(float)
    copies = demand * rng.uniform(0.2, 0.6, n_titles)
    copies[new] = demand[new] * scarcity
    copies = np.floor(copies + rng.random(n_titles)).astype(np.int64)
    c_title = np.repeat(np.arange(n_titles), copies)
    dc_weight = np.bincount(nearest, weights=reg_pop, minlength=dcs) + reg_pop.mean() * 0.5
    c_dc = rng.choice(dcs, size=len(c_title), p=dc_weight / dc_weight.sum())
    key = c_dc.astype(np.int64) * n_titles + c_title
    uniq, avail = np.unique(key, return_counts=True)

    total_slots = int(open_slots.sum())
    share = dc_weight / dc_weight.sum()
    capacity = np.round(share * total_slots * tightness * rng.uniform(0.7, 1.3, dcs))

    member_ids = rng.permutation(members).astype(np.int64) * 3 + 11
    title_ids = np.arange(n_titles, dtype=np.int64) * 5 + 9_000
    dc_ids = np.arange(1, dcs + 1, dtype=np.int32) * 3
    region_ids = np.arange(n_regions, dtype=np.int32) + 7
    return Instance.from_arrays(
        members={
            "member_id": member_ids,
            "region_id": region_ids[member_region],
            "open_slots": open_slots,
            "priority": prio,
        },
        queue={
            "member_id": member_ids[member_q],
            "position": position,
            "title_id": title_ids[titles_q],
        },
        stock={
            "dc_id": dc_ids[uniq // n_titles],
            "title_id": title_ids[uniq % n_titles],
            "available": avail.astype(np.int32),
        },
        dcs={"dc_id": dc_ids, "capacity": capacity.astype(np.int32)},
        transit={"dc_id": dc_ids[dc_i], "region_id": region_ids[reg_i], "days": days[dc_i, reg_i]},
    )
