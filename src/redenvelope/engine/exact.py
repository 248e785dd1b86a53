"""The exact reference: the same problem as a min-cost flow, solved by OR-Tools.

source -> member (open slots) -> member x title (1) -> shelf pool (-value) -> DC (copies) -> sink
(capacity), with a free source -> sink arc so that shipping nothing is allowed. Optional: needs the
`ortools` package (installed with the dev extra); the product never calls it.
"""

from __future__ import annotations

import numpy as np

from .instance import Instance, Params
from .problem import build_problem
from .solve import Result, result_from

SCALE = 10_000  # costs are integers: values in units of 1/10,000


def solve_exact(inst: Instance, params: Params | None = None) -> Result:
    from ortools.graph.python import min_cost_flow

    params = params or Params()
    prob = build_problem(inst, params, margin=-1, shelves=-1)  # every entry and shelf
    n_m = prob.n_members
    n_e = len(prob.entry_title)
    n_j = len(prob.pool_dc)
    n_d = len(prob.dc_cap)
    # node numbering: source, members, entries, pools, dcs, sink
    src = 0
    m0 = 1
    e0 = m0 + n_m
    j0 = e0 + n_e
    d0 = j0 + n_j
    sink = d0 + n_d

    entry_member = np.repeat(np.arange(n_m), np.diff(prob.entry_start))
    # entry -> pool arcs (only those with positive value)
    counts = np.diff(prob.title_pool_start)[prob.entry_title]
    arc_entry = np.repeat(np.arange(n_e), counts)
    offsets = np.arange(len(arc_entry)) - np.repeat(np.cumsum(counts) - counts, counts)
    arc_pool = prob.title_pool_start[prob.entry_title[arc_entry]] + offsets
    days = prob.days[prob.pool_dc[arc_pool], prob.region[entry_member[arc_entry]]].astype(float)
    value = prob.entry_a[arc_entry] - prob.penalty * (days - 1)
    ok = (days > 0) & (value > 0) & (prob.dc_cap[prob.pool_dc[arc_pool]] > 0)
    arc_entry, arc_pool, value = arc_entry[ok], arc_pool[ok], value[ok]

    supply = int(prob.slots[prob.slots > 0].astype(np.int64).sum())
    tails = np.concatenate(
        [
            np.full(n_m, src),
            m0 + entry_member,
            e0 + arc_entry,
            j0 + np.arange(n_j),
            d0 + np.arange(n_d),
            [src],
        ]
    ).astype(np.int32)
    heads = np.concatenate(
        [
            m0 + np.arange(n_m),
            e0 + np.arange(n_e),
            j0 + arc_pool,
            d0 + prob.pool_dc,
            np.full(n_d, sink),
            [sink],
        ]
    ).astype(np.int32)
    caps = np.concatenate(
        [
            np.maximum(prob.slots, 0),
            np.ones(n_e),
            np.ones(len(arc_entry)),
            prob.pool_cap,
            prob.dc_cap,
            [supply],
        ]
    ).astype(np.int64)
    costs = np.concatenate(
        [
            np.zeros(n_m),
            np.zeros(n_e),
            -np.round(value * SCALE),
            np.zeros(n_j),
            np.zeros(n_d),
            [0],
        ]
    ).astype(np.int64)

    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    smcf.set_nodes_supplies(
        np.array([src, sink], dtype=np.int32), np.array([supply, -supply], dtype=np.int64)
    )
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"OR-Tools min-cost flow ended with status {status}")
    first = n_m + n_e
    flows = smcf.flows(np.arange(first, first + len(arc_entry)))
    chosen = flows > 0
    ent_pool = np.full(n_e, -1, dtype=np.int32)
    ent_pool[arc_entry[chosen]] = arc_pool[chosen]
    return result_from(prob, ent_pool)
