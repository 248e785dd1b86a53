"""Today's business read into a `Twin` (a copy of its state: the planner never changes the
records). Set-wise reads; a member's queue is read to its first QUEUE_DEPTH entries."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.bulk import is_postgres, read_columns
from redenvelope.inventory.models import DistributionCenter, Region, Transit
from redenvelope.membership.models import SHIPPABLE_STATUSES

from .twin import NO_ROUTE, Twin

QUEUE_DEPTH = 60


def _index(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted id in sorted `ids` (-1 where absent)."""
    at = np.searchsorted(ids, wanted)
    at = np.minimum(at, max(len(ids) - 1, 0))
    return np.where(len(ids) and (ids[at] == wanted), at, -1) if len(ids) else -np.ones_like(wanted)


def load_twin(day: dt.date | None = None, *, seed: int = 1) -> Twin:
    from redenvelope.workforce.queries import rota_capacity

    day = day or clock.today()
    dcs = list(DistributionCenter.objects.order_by("id"))
    regions = list(Region.objects.order_by("id"))
    dc_index = {d.pk: i for i, d in enumerate(dcs)}
    region_index = {r.pk: j for j, r in enumerate(regions)}
    transit = np.full((len(dcs), len(regions)), NO_ROUTE, np.int16)
    for dc_id, region_id, days in Transit.objects.values_list("dc_id", "region_id", "days"):
        transit[dc_index[dc_id], region_index[region_id]] = days
    # A staffed day's capacity as dispatch reads it (a published rota × the DC's measured rate,
    # or an override): the most of the coming week's days that have shifts, since the rota of a
    # day not yet worked may still be filling up; the typed capacity where no rota decides.
    ids = [d.pk for d in dcs]
    staffed: dict[int, int] = {}
    for k in range(7):
        for dc_id, n in rota_capacity(day + dt.timedelta(days=k), ids).items():
            staffed[dc_id] = max(staffed.get(dc_id, 0), n)
    capacity = np.array([staffed.get(d.pk) or d.daily_capacity for d in dcs], np.int64)
    dc_open = np.array([d.status == DistributionCenter.Status.OPEN for d in dcs], np.bool_)

    statuses = ", ".join(f"'{s}'" for s in SHIPPABLE_STATUSES)
    members = read_columns(
        "SELECT m.id, m.region_id, p.discs_at_once FROM membership_member m "  # noqa: S608
        "JOIN membership_plan p ON p.id = m.plan_id "
        f"WHERE m.status IN ({statuses}) AND NOT m.blocked AND p.discs_at_once > 0 "
        "AND m.region_id IS NOT NULL ORDER BY m.id",
        [("id", "int64"), ("region_id", "int64"), ("slots", "int64")],
    )
    member_ids = members["id"]
    region_of = np.array([region_index[int(r)] for r in members["region_id"]], np.int64)

    titles = read_columns(
        "SELECT id, release_date FROM catalog_title ORDER BY id",
        [("id", "int64"), ("release_date", "object")],
    )
    title_ids = titles["id"]
    release = np.array(
        [
            -10_000
            if r is None
            else ((dt.date.fromisoformat(r) if isinstance(r, str) else r) - day).days
            for r in titles["release_date"]
        ],
        np.int64,
    )

    q = read_columns(
        f"SELECT member_id, title_id, {_epoch('added_at')} FROM (SELECT member_id, title_id, "  # noqa: S608
        "added_at, position, ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY position) AS rn "
        f"FROM queues_queueentry) x WHERE rn <= {QUEUE_DEPTH} ORDER BY member_id, position",
        [("member_id", "int64"), ("title_id", "int64"), ("added_at", "int64")],
    )
    qm = _index(member_ids, q["member_id"])
    qt = _index(title_ids, q["title_id"])
    keep = (qm >= 0) & (qt >= 0)
    qm, qt = qm[keep], qt[keep]
    added = _days_from(q["added_at"][keep], day)
    q_ptr = np.zeros(len(member_ids) + 1, np.int64)
    np.add.at(q_ptr, qm + 1, 1)
    q_ptr = np.cumsum(q_ptr)

    shelf = np.zeros((len(dcs), len(title_ids)), np.int64)
    stock = read_columns(
        "SELECT dc_id, title_id, COUNT(*) FROM inventory_copy WHERE status = 'on_shelf' "
        "GROUP BY dc_id, title_id",
        [("dc_id", "int64"), ("title_id", "int64"), ("n", "int64")],
    )
    st = _index(title_ids, stock["title_id"])
    sd = np.array([dc_index.get(int(d), -1) for d in stock["dc_id"]], np.int64)
    ok = (st >= 0) & (sd >= 0)
    np.add.at(shelf, (sd[ok], st[ok]), stock["n"][ok])

    # discs out now, due back as the simulator has them: out + 1-7 days watching + back
    out_rows = read_columns(
        f"SELECT member_id, title_id, dc_id, {_epoch('shipped_at')} FROM fulfillment_shipment "  # noqa: S608
        "WHERE status = 'open'",
        [("member_id", "int64"), ("title_id", "int64"), ("dc_id", "int64"),
         ("shipped_at", "int64")],
    )  # fmt: skip
    rm = _index(member_ids, out_rows["member_id"])
    rt = _index(title_ids, out_rows["title_id"])
    keep = (rm >= 0) & (rt >= 0)
    rm, rt = rm[keep], rt[keep]
    shipped = _days_from(out_rows["shipped_at"][keep], day)
    rd = np.array([dc_index.get(int(d), 0) for d in out_rows["dc_id"][keep]], np.int64)
    days_out = np.minimum(transit[rd, region_of[rm]], 5)
    watch = 1 + np.floor(np.random.default_rng([seed, 99]).random(len(rm)) * 7).astype(np.int64)
    t = np.where(dc_open[:, None], transit, NO_ROUTE)
    back = shipped + days_out + watch + np.minimum(t.min(axis=0)[region_of[rm]], 5)
    out = np.bincount(rm, minlength=len(member_ids)).astype(np.int64)

    return Twin(
        start=day,
        dc_codes=[d.code for d in dcs],
        dc_capacity=capacity,
        dc_open=dc_open,
        transit=transit,
        region_lat=np.array([r.latitude for r in regions]),
        region_lon=np.array([r.longitude for r in regions]),
        region_names=[f"{r.name} ({r.zip3})" for r in regions],
        member_ids=member_ids,
        region=region_of,
        slots=members["slots"],
        out=out,
        q_ptr=q_ptr,
        q_title=qt.astype(np.int64),
        q_added=added,
        title_ids=title_ids,
        release=release,
        shelf=shelf,
        r_member=rm.astype(np.int64),
        r_title=rt.astype(np.int64),
        r_back=back,
    )


def _epoch(column: str) -> str:
    if is_postgres():
        return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _days_from(epochs: np.ndarray, day: dt.date) -> np.ndarray:
    """Unix seconds as business days from `day` (the offset at `day`'s midnight: a change of
    clocks within the horizon moves an instant near midnight by a day at most, harmless here)."""
    midnight = timezone.make_aware(dt.datetime.combine(day, dt.time()))
    return np.floor_divide(epochs.astype(np.int64) - int(midnight.timestamp()), 86400)
