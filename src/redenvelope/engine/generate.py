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
