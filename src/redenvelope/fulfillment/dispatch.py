"""The daily run: gather the engine's inputs from the database in bulk, solve, record it all.

`run_dispatch(date, dc=None)` is the one door (the CLI, the Huey job and the simulator call it).
It is all or nothing (one transaction) and idempotent (one DispatchRun per date and scope): a
second call for the same date and scope returns the first run and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.bulk import copy_rows, db_timestamp, next_id, reset_sequence
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.engine import Instance, Params, solve
from redenvelope.inventory.models import Copy, CopyStatus, DistributionCenter, Transit
from redenvelope.membership.models import SHIPPABLE_STATUSES, Hold, Member
from redenvelope.queues.models import QueueEntry

from .models import DispatchRun, Incident, Shipment
from .notifications import send_run_emails

PRIORITY_POLICIES = {
    "equal": "Every member counts the same (default).",
    "new_members": "Members in their first 30 days count 1.5 times.",
    "light_users": "Members who received fewer discs in the last 30 days count more "
    "(priority = 1 / (1 + discs in 30 days / 10)): the practice known as throttling, made "
    "explicit. Operators turn it on knowingly; members are told in the help pages.",
}


def engine_params() -> Params:
    conf = settings.REDENVELOPE
    return Params(
        base_value=float(conf.get("DISPATCH_BASE_VALUE", 100.0)),
        position_decay=float(conf.get("DISPATCH_POSITION_DECAY", 0.9)),
        day_penalty=float(conf.get("DISPATCH_DAY_PENALTY", 20.0)),
    )


@dataclass
class Gathered:
    instance: Instance
    # (member_id, title_id) -> queue entry id, for removing shipped titles from queues
    entry_of: dict[tuple[int, int], int] = field(default_factory=dict)
    seconds: float = 0.0


def dc_capacity_on(day: dt.date, dcs: list[DistributionCenter]) -> dict[int, int]:
    """Capacity each DC has on `day`: none while suspended or during a shipping incident."""
    closed = set(
        Incident.objects.filter(
            starts_on__lte=day,
            ends_on__gt=day,
            kind__in=[Incident.Kind.SHIPPING, Incident.Kind.BOTH],
        ).values_list("dc_id", flat=True)
    )
    return {
        dc.pk: 0
        if dc.status != DistributionCenter.Status.OPEN or dc.pk in closed
        else dc.daily_capacity
        for dc in dcs
    }


def gather(day: dt.date, dc: DistributionCenter | None = None) -> Gathered:
    started = time.perf_counter()
    policy = settings.REDENVELOPE.get("DISPATCH_PRIORITY", "equal")
    if policy not in PRIORITY_POLICIES:
        raise DomainError(f"Unknown priority policy {policy!r}.")
    on_hold = Hold.objects.filter(cancelled_at=None, starts_on__lte=day, ends_on__gt=day)
    month_start = day.replace(day=1)
    members = np.array(
        Member.objects.filter(status__in=SHIPPABLE_STATUSES, blocked=False)
        .exclude(pk__in=on_hold.values("member_id"))
        .annotate(
            out=Count("shipments", filter=Q(shipments__status=Shipment.Status.OPEN)),
            month=Count("shipments", filter=Q(shipments__shipped_at__date__gte=month_start)),
        )
        .values_list(
            "pk",
            "region_id",
            F("plan__discs_at_once") + F("bonus_rentals"),
            "out",
            "plan__monthly_disc_limit",
            "month",
            "joined_at",
        )
        .order_by("pk"),
        dtype=object,
    ).reshape(-1, 7)
    if len(members):
        limit = members[:, 2].astype(np.int64)
        out = members[:, 3].astype(np.int64)
        slots = np.maximum(limit - out, 0)
        monthly = np.array([x if x is not None else 1 << 30 for x in members[:, 4]], np.int64)
        slots = np.minimum(slots, np.maximum(monthly - members[:, 5].astype(np.int64), 0))
        keep = slots > 0
        members, slots = members[keep], slots[keep]
    else:
        slots = np.zeros(0, np.int64)
    member_ids = members[:, 0].astype(np.int64) if len(members) else np.zeros(0, np.int64)
    priority = np.ones(len(member_ids))
    if policy == "new_members" and len(members):
        cutoff = timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=30), dt.time()))
        priority = np.where(np.array([j >= cutoff for j in members[:, 6]]), 1.5, 1.0)
    elif policy == "light_users" and len(members):
        since = timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=30), dt.time()))
        recent = dict(
            Shipment.objects.filter(shipped_at__gte=since, member_id__in=member_ids.tolist())
            .values("member_id")
            .annotate(n=Count("id"))
            .values_list("member_id", "n")
        )
        n = np.array([recent.get(int(m), 0) for m in member_ids], dtype=np.float64)
        priority = 1.0 / (1.0 + n / 10.0)

    # Queue entries that may ship now: the series rule against what is queued and what is out.
    q = np.array(
        QueueEntry.objects.filter(member_id__in=member_ids.tolist()).values_list(
            "member_id",
            "position",
            "title_id",
            "id",
            "title__series_id",
            "title__season",
            "title__disc_number",
        ),
        dtype=object,
    ).reshape(-1, 7)
    outs = np.array(
        Shipment.objects.filter(
            status=Shipment.Status.OPEN,
            member_id__in=member_ids.tolist(),
            title__series__isnull=False,
        ).values_list("member_id", "title__series_id", "title__season", "title__disc_number"),
        dtype=object,
    ).reshape(-1, 4)
    eligible = _series_eligible(q, outs)
    q = q[eligible]
    entry_of = {(int(m), int(t)): int(i) for m, t, i in zip(q[:, 0], q[:, 2], q[:, 3], strict=True)}

    dcs = list(
        DistributionCenter.objects.all()
        if dc is None
        else DistributionCenter.objects.filter(pk=dc.pk)
    )
    capacity = dc_capacity_on(day, dcs)
    stock = np.array(
        Copy.objects.filter(status=CopyStatus.ON_SHELF, dc__in=dcs)
        .values("dc_id", "title_id")
        .annotate(n=Count("id"))
        .values_list("dc_id", "title_id", "n"),
        dtype=np.int64,
    ).reshape(-1, 3)
    transit = np.array(
        Transit.objects.filter(dc__in=dcs).values_list("dc_id", "region_id", "days"),
        dtype=np.int64,
    ).reshape(-1, 3)
    inst = Instance.from_arrays(
        members={
            "member_id": member_ids,
            "region_id": members[:, 1].astype(np.int32) if len(members) else np.zeros(0, np.int32),
            "open_slots": slots.astype(np.int16),
            "priority": priority,
        },
        queue={
            "member_id": q[:, 0].astype(np.int64),
            "position": q[:, 1].astype(np.int32),
            "title_id": q[:, 2].astype(np.int64),
        },
        stock={"dc_id": stock[:, 0], "title_id": stock[:, 1], "available": stock[:, 2]},
        dcs={
            "dc_id": np.array(list(capacity), np.int32),
            "capacity": np.array(list(capacity.values()), np.int32),
        },
        transit={"dc_id": transit[:, 0], "region_id": transit[:, 1], "days": transit[:, 2]},
    )
    return Gathered(inst, entry_of, time.perf_counter() - started)


def _series_eligible(q: np.ndarray, outs: np.ndarray) -> np.ndarray:
    """Rows of q (member, position, title, id, series, season, disc) that the series rule lets
    ship: a series disc only when no earlier disc of its series is queued or out."""
    ok = np.ones(len(q), dtype=bool)
    is_series = np.array([s is not None for s in q[:, 4]], dtype=bool) if len(q) else ok
    if not is_series.any():
        return ok
    earliest: dict[tuple[int, int], tuple[int, int]] = {}
    rows = [
        (int(m), int(s), int(a), int(b))
        for m, s, a, b in zip(
            q[is_series, 0], q[is_series, 4], q[is_series, 5], q[is_series, 6], strict=True
        )
    ]
    rows += [(int(m), int(s), int(a), int(b)) for m, s, a, b in outs]
    for m, s, a, b in rows:
        key = (m, s)
        if key not in earliest or (a, b) < earliest[key]:
            earliest[key] = (a, b)
    idx = np.flatnonzero(is_series)
    for i, (m, s, a, b) in zip(idx, rows[: len(idx)], strict=True):
        ok[i] = earliest[(m, s)] == (a, b) and (a, b) not in _out_of(outs, m, s)
    return ok


def _out_of(outs: np.ndarray, member: int, series: int) -> set[tuple[int, int]]:
    sel = (outs[:, 0] == member) & (outs[:, 1] == series) if len(outs) else np.zeros(0, bool)
    return {(int(a), int(b)) for a, b in outs[sel][:, 2:4]} if sel.any() else set()


def run_dispatch(
    day: dt.date,
    dc: DistributionCenter | None = None,
    *,
    actor=None,
    notify: bool = True,
    fail_after: str | None = None,
) -> DispatchRun:
    """Allocate and record one day's shipments. `fail_after` (tests only) raises mid-write."""
    scope = dc.code if dc else "ALL"
    existing = DispatchRun.objects.filter(run_date=day, scope=scope).first()
    if existing:
        return existing
    started_at = clock.now()
    gathered = gather(day, dc)
    params = engine_params()
    t = time.perf_counter()
    result = solve(gathered.instance, params)
    solve_s = time.perf_counter() - t
    t = time.perf_counter()
    try:
        with transaction.atomic():
            run = DispatchRun.objects.create(
                run_date=day,
                scope=scope,
                started_at=started_at,
                finished_at=started_at,
                actor=actor,
                params={
                    "base_value": params.base_value,
                    "position_decay": params.position_decay,
                    "day_penalty": params.day_penalty,
                    "priority": settings.REDENVELOPE.get("DISPATCH_PRIORITY", "equal"),
                },
            )
            n = _record(run, gathered, result, day, actor, fail_after)
            figures = {
                **_service_figures(gathered.instance, result),
                "members_considered": gathered.instance.n_members,
                "open_slots": int(gathered.instance["members"]["open_slots"].sum()),
                "shipments": n,
                "objective": round(result.objective, 2),
                "reasons": {
                    k: int(v)
                    for k, v in zip(
                        *np.unique(result.reason.astype(str), return_counts=True), strict=True
                    )
                },
                "seconds": {
                    "gather": round(gathered.seconds, 3),
                    "solve": round(solve_s, 3),
                    "record": round(time.perf_counter() - t, 3),
                },
            }
            DispatchRun.objects.filter(pk=run.pk).update(finished_at=clock.now(), figures=figures)
            if n and notify:
                transaction.on_commit(lambda: send_run_emails(run.pk))
    except IntegrityError:
        # Another process recorded this date and scope first: theirs stands.
        existing = DispatchRun.objects.filter(run_date=day, scope=scope).first()
        if existing:
            return existing
        raise
    run.refresh_from_db()
    return run


def _record(run, gathered, result, day, actor, fail_after) -> int:
    n = len(result.member_id)
    if n == 0:
        return 0
    # Pick specific copies for each (dc, title): the lowest ids on the shelf, locked.
    pairs = {}
    for d, t in zip(result.dc_id.tolist(), result.title_id.tolist(), strict=True):
        pairs[(d, t)] = pairs.get((d, t), 0) + 1
    shelf = (
        Copy.objects.select_for_update()
        .filter(
            status=CopyStatus.ON_SHELF,
            title_id__in={t for _, t in pairs},
            dc_id__in={d for d, _ in pairs},
        )
        .order_by("id")
        .values_list("id", "dc_id", "title_id")
    )
    by_pair: dict[tuple[int, int], list[int]] = {}
    for cid, d, t in shelf:
        if (d, t) in pairs:
            by_pair.setdefault((d, t), []).append(cid)
    copy_ids = np.empty(n, dtype=np.int64)
    taken = dict.fromkeys(pairs, 0)
    for i, (d, t) in enumerate(zip(result.dc_id.tolist(), result.title_id.tolist(), strict=True)):
        lst = by_pair.get((d, t), [])
        k = taken[(d, t)]
        if k >= len(lst):
            raise Conflict(f"Stock changed while dispatching: no copy of title {t} at DC {d}.")
        copy_ids[i] = lst[k]
        taken[(d, t)] = k + 1
    updated = Copy.objects.filter(pk__in=copy_ids.tolist(), status=CopyStatus.ON_SHELF).update(
        status=CopyStatus.SHIPPED
    )
    if updated != n:
        raise Conflict("Copies changed while dispatching; nothing was recorded.")
    now = clock.now()
    picked_at = db_timestamp(now - dt.timedelta(minutes=30))
    shipped_at = db_timestamp(now)
    ref = f"run:{run.pk}"
    ev0 = next_id("inventory_copyevent")
    rows = []
    for i in range(n):
        cid, d = int(copy_ids[i]), int(result.dc_id[i])
        actor_id = actor.pk if actor else None
        rows.append(
            (ev0 + 2 * i, cid, "picked", "on_shelf", "picked", d, picked_at, actor_id, ref, "")
        )
        rows.append(
            (ev0 + 2 * i + 1, cid, "shipped", "picked", "shipped", d, shipped_at, actor_id, ref, "")
        )
    copy_rows(
        "inventory_copyevent",
        [
            "id",
            "copy_id",
            "kind",
            "from_status",
            "to_status",
            "dc_id",
            "at",
            "actor_id",
            "ref",
            "note",
        ],
        rows,
    )
    reset_sequence("inventory_copyevent")
    if fail_after == "events":
        raise RuntimeError("injected failure after copy events")
    sh0 = next_id("fulfillment_shipment")
    copy_rows(
        "fulfillment_shipment",
        [
            "id",
            "member_id",
            "copy_id",
            "title_id",
            "dc_id",
            "shipped_at",
            "status",
            "closed_at",
            "returned_to_id",
            "run_id",
        ],
        [
            (
                sh0 + i,
                int(result.member_id[i]),
                int(copy_ids[i]),
                int(result.title_id[i]),
                int(result.dc_id[i]),
                shipped_at,
                "open",
                None,
                None,
                run.pk,
            )
            for i in range(n)
        ],
    )
    reset_sequence("fulfillment_shipment")
    # Shipped titles leave their queues; the rest close up (positions stay 1..n).
    entry_ids = [
        gathered.entry_of[(int(m), int(t))]
        for m, t in zip(result.member_id, result.title_id, strict=True)
    ]
    QueueEntry.objects.filter(pk__in=entry_ids).delete()
    renumber_queues(sorted({int(m) for m in result.member_id}))
    if fail_after == "shipments":
        raise RuntimeError("injected failure after shipments")
    return n


def renumber_queues(member_ids: list[int]) -> None:
    """Close gaps in these members' queues: park positions above 1,000,000, then write 1..n in
    order with CASE updates of a few thousand rows per statement."""
    for start in range(0, len(member_ids), 5000):
        rows = QueueEntry.objects.filter(member_id__in=member_ids[start : start + 5000])
        rows.update(position=F("position") + 1_000_000)
        ordered = rows.order_by("member_id", "position").values_list("id", "member_id")
        updates, prev, k = [], None, 0
        for entry_id, member_id in ordered:
            k = k + 1 if member_id == prev else 1
            prev = member_id
            updates.append(QueueEntry(id=entry_id, position=k))
        QueueEntry.objects.bulk_update(updates, ["position"], batch_size=2000)


def _service_figures(inst: Instance, result) -> dict:
    """Share of shipments from the top 3 of the member's queue, and delivered the next day."""
    n = len(result.member_id)
    if not n:
        return {"top3_share": 0.0, "next_day_share": 0.0}
    q = inst["queue"]
    pos = dict(
        zip(
            zip(q["member_id"].tolist(), q["title_id"].tolist(), strict=True),
            q["position"].tolist(),
            strict=True,
        )
    )
    m = inst["members"]
    region = dict(zip(m["member_id"].tolist(), m["region_id"].tolist(), strict=True))
    t = inst["transit"]
    days = dict(
        zip(
            zip(t["dc_id"].tolist(), t["region_id"].tolist(), strict=True),
            t["days"].tolist(),
            strict=True,
        )
    )
    top3 = sum(
        1
        for a, b in zip(result.member_id.tolist(), result.title_id.tolist(), strict=True)
        if pos.get((a, b), 99) <= 3
    )
    next_day = sum(
        1
        for a, d in zip(result.member_id.tolist(), result.dc_id.tolist(), strict=True)
        if days.get((d, region[a])) == 1
    )
    return {"top3_share": round(top3 / n, 4), "next_day_share": round(next_day / n, 4)}
