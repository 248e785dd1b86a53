"""The engine's file contract (five Parquet files) and its in-memory form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = {
    "members": {
        "member_id": "int64",
        "region_id": "int32",
        "open_slots": "int16",
        "priority": "float64",
    },
    "queue": {"member_id": "int64", "position": "int32", "title_id": "int64"},
    "stock": {"dc_id": "int32", "title_id": "int64", "available": "int32"},
    "dcs": {"dc_id": "int32", "capacity": "int32"},
    "transit": {"dc_id": "int32", "region_id": "int32", "days": "int16"},
}


class InstanceError(ValueError):
    """The input breaks the file contract; the message says where."""


@dataclass(frozen=True)
class Params:
    """value = priority × base_value × position_decay^(position − 1) − day_penalty × (days − 1)."""

    base_value: float = 100.0
    position_decay: float = 0.9
    day_penalty: float = 20.0
    # Entries per member the engine considers beyond its open slots (queue order, reachable ones).
    candidate_margin: int = 10
    # Shelves (DCs holding the title) per entry the engine considers, nearest first; -1: every
    # shelf that reaches the member with a positive value (decision 0024: with four, the nearest
    # were often sold out and the farther ones with copies to spare cost a grow round — a whole
    # second solve — on most days). A cap bounds memory where reach is extreme; growing adds
    # what it leaves out.
    shelves_per_entry: int = -1
    # Days with at most this many queue entries are solved to the exact optimum (no candidate
    # cut, and cycle cancelling after the auction); larger days rely on auction + exchange.
    exact_below_entries: int = 20_000
    # The auction's last bid increment: the allocation is within slots × epsilon of the best
    # at its prices (0.01 × 200,000 slots is 0.03% of a day). 0.001 cost ties days 3-10 times
    # the bids for nothing: a shelf of c copies takes c bids for each epsilon its price climbs.
    epsilon: float = 0.01
    # Rounds of growing the candidates where the prices show an entry or shelf left out could
    # improve the day (see grow.py); 0 keeps the first cut.
    grow_rounds: int = 3
    # ... and only while what the left-out entries and shelves are worth above what members
    # have (at the prices, summed) is more than this share of the objective: below it a round
    # costs a whole solve for less than the solver's own loss.
    grow_min_share: float = 0.0005
    # When the certified gap is above this, tighten the bound's prices and, if it is still
    # above, allocate the day a second way (DC capacity priced inside the auction, decision
    # 0015) and keep the better of the two. 0.2%: a day certified within it is within the
    # issue's 99.8% of the optimum; with 0.3% (the certificate's own target) "tight capacity"
    # seed 2 certified 0.28% after tightening and stopped at 99.755% (decision 0026).
    second_opinion_gap: float = 0.002
    # Allocate the second opinion at the same time as the first, in a forked process on a spare
    # core, where one is spare and forking is safe (see `solve._Aside`); dropped when the first
    # day's certificate does not ask for it. False: only after, when asked for.
    second_opinion_side_by_side: bool = True
    # Rounds of tightening the bound's shelf prices (certificate.tighten, decision 0026) when
    # the certified gap is above second_opinion_gap; 0 keeps the auction's own prices.
    tighten_rounds: int = 3
    # Scans of the shifting exchange (decision 0028) on the kept allocation when its certified
    # gap is still above second_opinion_gap; 0: never.
    shift_scans: int = 1
    # Repair the allocation by cost scaling (`flow.repair`, decision 0030) when its certified
    # gap is still above second_opinion_gap after tightening the shelf prices; False: never.
    repair: bool = True
    # Allocate members alike (same region, slots and candidate entries) as one kind, by cost
    # scaling over kinds (`groups`, decision 0031), where their entries are at most
    # groups.MAX_SHARE of the day's; False: always by the auction.
    kinds: bool = True


@dataclass
class Instance:
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> dict[str, np.ndarray]:
        return self.tables[name]

    @classmethod
    def from_arrays(cls, **tables: dict[str, np.ndarray]) -> Instance:
        inst = cls()
        for name, cols in SCHEMA.items():
            if name not in tables:
                raise InstanceError(f"missing table {name!r}")
            given = tables[name]
            out = {}
            for col, dtype in cols.items():
                if col not in given:
                    raise InstanceError(f"{name}: missing column {col!r}")
                out[col] = np.ascontiguousarray(np.asarray(given[col]).astype(dtype, copy=False))
            lengths = {len(v) for v in out.values()}
            if len(lengths) > 1:
                raise InstanceError(f"{name}: columns differ in length")
            inst.tables[name] = out
        inst.validate()
        return inst

    @classmethod
    def from_parquet(cls, directory: str | Path) -> Instance:
        directory = Path(directory)
        tables = {}
        for name in SCHEMA:
            path = directory / f"{name}.parquet"
            if not path.exists():
                raise InstanceError(f"missing file {path}")
            t = pq.read_table(path)
            tables[name] = {c: t.column(c).to_numpy() for c in t.column_names}
        return cls.from_arrays(**tables)

    def to_parquet(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, cols in self.tables.items():
            pq.write_table(pa.table(cols), directory / f"{name}.parquet")

    def validate(self) -> None:
        m, q, s, d, t = (self.tables[k] for k in ("members", "queue", "stock", "dcs", "transit"))
        if len(np.unique(m["member_id"])) != len(m["member_id"]):
            raise InstanceError("members: member_id repeats")
        if (m["open_slots"] < 0).any():
            raise InstanceError("members: open_slots must be >= 0")
        if not (m["priority"] > 0).all():
            raise InstanceError("members: priority must be > 0")
        if (q["position"] < 1).any():
            raise InstanceError("queue: position must be >= 1")
        if (s["available"] < 0).any():
            raise InstanceError("stock: available must be >= 0")
        if len(np.unique(d["dc_id"])) != len(d["dc_id"]):
            raise InstanceError("dcs: dc_id repeats")
        if (d["capacity"] < 0).any():
            raise InstanceError("dcs: capacity must be >= 0")
        if (t["days"] < 1).any():
            raise InstanceError("transit: days must be >= 1")
        key = t["dc_id"].astype(np.int64) << 32 | t["region_id"].astype(np.int64)
        if len(np.unique(key)) != len(key):
            raise InstanceError("transit: a (dc_id, region_id) pair repeats")
        key = s["dc_id"].astype(np.int64) << 40 | s["title_id"].astype(np.int64)
        if len(np.unique(key)) != len(key):
            raise InstanceError("stock: a (dc_id, title_id) pair repeats")

    @property
    def n_members(self) -> int:
        return len(self.tables["members"]["member_id"])
