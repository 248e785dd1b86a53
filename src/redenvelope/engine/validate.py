"""Check an engine output against its input: every constraint, and the objective it reaches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instance import Instance, Params


@dataclass
class Validation:
    objective: float
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def validate(
    inst: Instance, member_id, title_id, dc_id, params: Params | None = None
) -> Validation:
    params = params or Params()
    member_id = np.asarray(member_id, dtype=np.int64)
    title_id = np.asarray(title_id, dtype=np.int64)
    dc_id = np.asarray(dc_id, dtype=np.int64)
    out: list[str] = []
    m, q, s, d, t = (inst[k] for k in ("members", "queue", "stock", "dcs", "transit"))
    n = len(member_id)

    members = {int(i): k for k, i in enumerate(m["member_id"])}
    idx = np.array([members.get(int(i), -1) for i in member_id], dtype=np.int64)
    if (idx < 0).any():
        out.append(f"unknown member: {member_id[idx < 0][:5].tolist()}")
        idx = np.where(idx < 0, 0, idx)

    pairs = member_id * (1 << 24) + title_id
    if len(np.unique(pairs)) != n:
        out.append("a member gets the same title twice")

    got = np.bincount(idx, minlength=len(m["member_id"]))
    over = np.flatnonzero(got > m["open_slots"])
    if len(over):
        out.append(f"members over open_slots: {m['member_id'][over][:5].tolist()}")

    queue_pos: dict[tuple[int, int], int] = {}  # lowest position per (member, title)
    for a, b, p in zip(q["member_id"], q["title_id"], q["position"], strict=True):
        key = (int(a), int(b))
        if key not in queue_pos or p < queue_pos[key]:
            queue_pos[key] = int(p)
    pos = np.array(
        [queue_pos.get((int(a), int(b)), -1) for a, b in zip(member_id, title_id, strict=True)]
    )
    if (pos < 0).any():
        out.append(f"titles not in the member's queue: {int((pos < 0).sum())}")

    stock = {
        (int(a), int(b)): int(c)
        for a, b, c in zip(s["dc_id"], s["title_id"], s["available"], strict=True)
    }
    used: dict[tuple[int, int], int] = {}
    for a, b in zip(dc_id, title_id, strict=True):
        used[(int(a), int(b))] = used.get((int(a), int(b)), 0) + 1
    bad = [k for k, v in used.items() if v > stock.get(k, 0)]
    if bad:
        out.append(f"(dc, title) shipped beyond available: {bad[:5]}")

    caps = {int(a): int(c) for a, c in zip(d["dc_id"], d["capacity"], strict=True)}
    per_dc = {}
    for a in dc_id:
        per_dc[int(a)] = per_dc.get(int(a), 0) + 1
    bad = [k for k, v in per_dc.items() if v > caps.get(k, 0)]
    if bad:
        out.append(f"DCs over capacity: {bad[:5]}")

    transit = {
        (int(a), int(b)): int(c)
        for a, b, c in zip(t["dc_id"], t["region_id"], t["days"], strict=True)
    }
    region = m["region_id"][idx]
    days = np.array([transit.get((int(a), int(b)), -1) for a, b in zip(dc_id, region, strict=True)])
    if (days < 0).any():
        out.append(f"shipments on a (dc, region) pair not in transit: {int((days < 0).sum())}")

    prio = m["priority"][idx]
    value = prio * params.base_value * params.position_decay ** (
        np.maximum(pos, 1) - 1
    ) - params.day_penalty * (np.maximum(days, 1) - 1)
    if (value <= 0).any():
        out.append(f"shipments with value <= 0: {int((value <= 0).sum())}")
    return Validation(objective=float(value.sum()), violations=out)
