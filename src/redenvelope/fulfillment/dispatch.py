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
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.bulk import (
    copy_arrays,
    db_timestamp,
    execute,
    is_postgres,
    next_id,
    read_columns,
    reset_sequence,
    temp_table,
)
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.engine import Instance, Params, solve
from redenvelope.inventory.bulk import append_copy_event_arrays
from redenvelope.inventory.models import DistributionCenter

from .models import DispatchRun, Incident
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
    # candidate queue entries: sorted key (member_id << 24 | title_id) and their entry ids
    entry_key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entry_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: float = 0.0
    parts: dict = field(default_factory=dict)

    def entries_for(self, member_id: np.ndarray, title_id: np.ndarray) -> np.ndarray:
        key = member_id.astype(np.int64) << 24 | title_id.astype(np.int64)
        at = np.searchsorted(self.entry_key, key)
        if (
            len(key)
            and (
                (at >= len(self.entry_key))
                | (self.entry_key[np.minimum(at, len(self.entry_key) - 1)] != key)
            ).any()
        ):
            raise Conflict("A shipment's title is no longer in the member's queue.")
        return self.entry_id[at]


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


# Members who may receive discs on a day (the SQL is built from constants and dates only).
_MEMBERS = """
    SELECT m.id, m.region_id,
           p.discs_at_once + CASE WHEN m.bonus_rentals > 0 THEN 1 ELSE 0 END
             - COALESCE(sh.open_n, 0) AS free,
           COALESCE(p.monthly_disc_limit, 1000000) - COALESCE(sh.month_n, 0) AS month_left,
           CASE WHEN m.joined_at >= '{new_since}' THEN 1 ELSE 0 END AS is_new,
           COALESCE(sh.recent_n, 0) AS recent
    FROM membership_member m
    JOIN membership_plan p ON p.id = m.plan_id
    LEFT JOIN (SELECT member_id,
                      SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open_n,
                      SUM(CASE WHEN shipped_at >= '{month_start}' THEN 1 ELSE 0 END) AS month_n,
                      SUM(CASE WHEN shipped_at >= '{recent_since}' THEN 1 ELSE 0 END) AS recent_n
               FROM fulfillment_shipment
               WHERE status = 'open' OR shipped_at >= '{since}'
               GROUP BY member_id) sh ON sh.member_id = m.id
    WHERE m.status IN ('trial', 'active') AND {not_blocked}
      AND NOT EXISTS (SELECT 1 FROM membership_hold h WHERE h.member_id = m.id
                      AND h.cancelled_at IS NULL AND h.starts_on <= '{day}'
                      AND h.ends_on > '{day}')
"""

# Queue entries that may ship now (series discs only the earliest one queued or out, and none
# of a series while an earlier disc is out), the first {top} per member by position.
_QUEUE = """
    WITH mq AS (
        SELECT q.id, q.member_id, q.title_id,
               q.position - MIN(q.position) OVER (PARTITION BY q.member_id) + 1 AS position
        FROM re_dm d JOIN queues_queueentry q ON q.member_id = d.member_id
    ),
    ser AS (
        SELECT id, series_id, season * 1000 + disc_number AS ord
        FROM catalog_title WHERE series_id IS NOT NULL
    ),
    out_series AS (
        SELECT sh.member_id, s.series_id, s.ord
        FROM re_dm d
        JOIN fulfillment_shipment sh ON sh.member_id = d.member_id AND sh.status = 'open'
        JOIN ser s ON s.id = sh.title_id
    ),
    series_first AS (
        SELECT member_id, series_id, MIN(ord) AS first FROM (
            SELECT mq.member_id, s.series_id, s.ord FROM mq JOIN ser s ON s.id = mq.title_id
            UNION ALL
            SELECT member_id, series_id, ord FROM out_series
        ) x
        GROUP BY member_id, series_id
    ),
    eligible AS (
        SELECT mq.id, mq.member_id, mq.position, mq.title_id
        FROM mq
        LEFT JOIN ser s ON s.id = mq.title_id
        LEFT JOIN series_first f ON f.member_id = mq.member_id AND f.series_id = s.series_id
        WHERE s.id IS NULL
           OR (s.ord = f.first AND NOT EXISTS (
                SELECT 1 FROM out_series o
                WHERE o.member_id = mq.member_id AND o.series_id = s.series_id))
    )
    SELECT member_id, position, title_id, id FROM (
        SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.member_id ORDER BY e.position) AS rn
        FROM eligible e
    ) ranked
    WHERE rn <= {top}
    ORDER BY member_id, position
"""


def gather(day: dt.date, dc: DistributionCenter | None = None) -> Gathered:
    """The engine's five tables, read set-wise (COPY on PostgreSQL)."""
    started = time.perf_counter()
    policy = settings.REDENVELOPE.get("DISPATCH_PRIORITY", "equal")
    if policy not in PRIORITY_POLICIES:
        raise DomainError(f"Unknown priority policy {policy!r}.")
    members_sql = _MEMBERS.format(
        day=day.isoformat(),
        month_start=db_timestamp(
            timezone.make_aware(dt.datetime.combine(day.replace(day=1), dt.time()))
        ),
        recent_since=db_timestamp(
            timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=30), dt.time()))
        ),
        new_since=db_timestamp(
            timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=30), dt.time()))
        ),
        not_blocked="m.blocked = false" if is_postgres() else "m.blocked = 0",
        since=db_timestamp(
            timezone.make_aware(
                dt.datetime.combine(min(day.replace(day=1), day - dt.timedelta(days=30)), dt.time())
            )
        ),
    )
    # Members who may receive discs today, kept in a temp table the queue query joins.
    execute("DROP TABLE IF EXISTS re_dm")
    execute(
        "CREATE TEMPORARY TABLE re_dm (member_id bigint PRIMARY KEY, region_id integer, "
        "free integer, month_left integer, is_new integer, recent integer)"
    )
    execute("INSERT INTO re_dm " + members_sql)
    execute("DELETE FROM re_dm WHERE free <= 0 OR month_left <= 0")
    if is_postgres():
        execute("ANALYZE re_dm")
    m = read_columns(
        "SELECT member_id, region_id, free, month_left, is_new, recent FROM re_dm "
        "ORDER BY member_id",
        [
            ("member_id", "int64"),
            ("region_id", "int32"),
            ("free", "int64"),
            ("month_left", "int64"),
            ("is_new", "int8"),
            ("recent", "int64"),
        ],
    )
    slots = np.clip(np.minimum(m["free"], m["month_left"]), 0, 32000)
    keep = slots > 0
    members = {k: v[keep] for k, v in m.items()}
    slots = slots[keep]
    if policy == "new_members":
        priority = np.where(members["is_new"] == 1, 1.5, 1.0)
    elif policy == "light_users":
        priority = 1.0 / (1.0 + members["recent"] / 10.0)
    else:
        priority = np.ones(len(slots))

    parts = {"members": round(time.perf_counter() - started, 3)}
    t = time.perf_counter()
    q = read_columns(
        _QUEUE.format(top=QUEUE_TOP),
        [("member_id", "int64"), ("position", "int32"), ("title_id", "int64"), ("id", "int64")],
    )
    parts["queues"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    key = q["member_id"] << 24 | q["title_id"]
    order = np.argsort(key, kind="stable")

    dcs = list(
        DistributionCenter.objects.all()
        if dc is None
        else DistributionCenter.objects.filter(pk=dc.pk)
    )
    capacity = dc_capacity_on(day, dcs)
    dc_filter = "" if dc is None else f" AND dc_id = {int(dc.pk)}"
    stock = read_columns(
        "SELECT dc_id, title_id, COUNT(*) FROM inventory_copy WHERE status = 'on_shelf'"  # noqa: S608
        f"{dc_filter} GROUP BY dc_id, title_id",
        [("dc_id", "int32"), ("title_id", "int64"), ("available", "int32")],
    )
    transit = read_columns(
        f"SELECT dc_id, region_id, days FROM inventory_transit WHERE 1 = 1{dc_filter}",  # noqa: S608
        [("dc_id", "int32"), ("region_id", "int32"), ("days", "int16")],
    )
    inst = Instance.from_arrays(
        members={
            "member_id": members["member_id"],
            "region_id": members["region_id"],
            "open_slots": slots.astype(np.int16),
            "priority": priority,
        },
        queue={"member_id": q["member_id"], "position": q["position"], "title_id": q["title_id"]},
        stock=stock,
        dcs={
            "dc_id": np.array(list(capacity), np.int32),
            "capacity": np.array(list(capacity.values()), np.int32),
        },
        transit=transit,
    )
    parts["stock, transit, instance"] = round(time.perf_counter() - t, 3)
    return Gathered(inst, key[order], q["id"][order], time.perf_counter() - started, parts)


# Queue entries per member the run reads (the engine looks at open slots + 10 of them).
QUEUE_TOP = 24


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
            parts: dict[str, float] = {}
            n = _record(run, gathered, result, day, actor, fail_after, parts)
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
                    "gather_parts": gathered.parts,
                    "solve": round(solve_s, 3),
                    "record": round(time.perf_counter() - t, 3),
                    "record_parts": parts,
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


def _record(run, gathered, result, day, actor, fail_after, parts=None) -> int:
    """Every shipment of the run, set-wise: copies chosen and marked shipped, picked and shipped
    events, shipments, and the titles out of their queues (queues closed up). `parts` receives
    the seconds each step took."""
    n = len(result.member_id)
    if n == 0:
        return 0
    parts = {} if parts is None else parts
    last = [time.perf_counter()]

    def done(step: str) -> None:
        now = time.perf_counter()
        parts[step] = round(now - last[0], 3)
        last[0] = now

    # Copies: for each (dc, title) the lowest ids still on the shelf, as many as it ships.
    pair = result.dc_id.astype(np.int64) << 32 | result.title_id.astype(np.int64)
    uniq, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    temp_table(
        "re_need",
        "dc_id integer, title_id bigint, n integer",
        [(int(k >> 32), int(k & 0xFFFFFFFF), int(c)) for k, c in zip(uniq, counts, strict=True)],
    )
    chosen = read_columns(
        "SELECT id, dc_id, title_id FROM (SELECT c.id, c.dc_id, c.title_id, nd.n, "
        "ROW_NUMBER() OVER (PARTITION BY c.dc_id, c.title_id ORDER BY c.id) AS rn "
        "FROM inventory_copy c JOIN re_need nd ON nd.dc_id = c.dc_id "
        "AND nd.title_id = c.title_id WHERE c.status = 'on_shelf') x WHERE rn <= n "
        "ORDER BY dc_id, title_id, id",
        [("id", "int64"), ("dc_id", "int64"), ("title_id", "int64")],
    )
    if len(chosen["id"]) != n:
        raise Conflict("Stock changed while dispatching; nothing was recorded.")
    # chosen rows are grouped by (dc, title) in the same order as uniq; hand them out in turn
    order = np.argsort(inverse, kind="stable")
    copy_ids = np.empty(n, dtype=np.int64)
    copy_ids[order] = chosen["id"]
    done("choose copies")
    temp_table("re_chosen", "copy_id bigint", {"copy_id": copy_ids})
    updated = execute(
        "UPDATE inventory_copy SET status = 'shipped' WHERE status = 'on_shelf' "
        "AND id IN (SELECT copy_id FROM re_chosen)"
    )
    if updated != n:
        raise Conflict("Copies changed while dispatching; nothing was recorded.")
    done("copies shipped")
    now = clock.now()
    picked_at = db_timestamp(now - dt.timedelta(minutes=30))
    shipped_at = db_timestamp(now)
    ref = f"run:{run.pk}"
    actor_id = actor.pk if actor else None
    append_copy_event_arrays(
        copy_id=np.repeat(copy_ids, 2),
        kind=np.tile(np.array(["picked", "shipped"]), n),
        from_status=np.tile(np.array(["on_shelf", "picked"]), n),
        to_status=np.tile(np.array(["picked", "shipped"]), n),
        dc_id=np.repeat(result.dc_id.astype(np.int64), 2),
        at=np.tile(np.array([picked_at, shipped_at]), n),
        actor_id=actor_id,
        ref=ref,
        note="",
    )
    done("copy events")
    if fail_after == "events":
        raise RuntimeError("injected failure after copy events")
    sh0 = next_id("fulfillment_shipment")
    copy_arrays(
        "fulfillment_shipment",
        {
            "id": np.arange(sh0, sh0 + n, dtype=np.int64),
            "member_id": result.member_id.astype(np.int64),
            "copy_id": copy_ids,
            "title_id": result.title_id.astype(np.int64),
            "dc_id": result.dc_id.astype(np.int64),
            "shipped_at": shipped_at,
            "status": "open",
            "closed_at": None,
            "returned_to_id": None,
            "run_id": run.pk,
        },
    )
    reset_sequence("fulfillment_shipment")
    done("shipments")
    # Shipped titles leave their queues; the queues close up (positions stay 1..n).
    entries = gathered.entries_for(result.member_id, result.title_id)
    temp_table("re_gone", "entry_id bigint", {"entry_id": entries})
    close_queue_gaps("re_gone")
    done("queue entries removed, queues closed up")
    # A disc shipped into the bonus slot (more out than the plan allows) uses one bonus rental
    # (the partial index on members with bonus rentals keeps this to those few).
    execute(
        "UPDATE membership_member SET bonus_rentals = bonus_rentals - 1 WHERE bonus_rentals > 0 "
        "AND id IN (SELECT DISTINCT member_id FROM re_gone_pos) AND (SELECT COUNT(*) FROM "
        "fulfillment_shipment s WHERE s.member_id = membership_member.id AND s.status = 'open') "
        "> (SELECT p.discs_at_once FROM membership_plan p WHERE p.id = membership_member.plan_id)"
    )
    done("bonus rentals")
    if fail_after == "shipments":
        raise RuntimeError("injected failure after shipments")
    return n


def close_queue_gaps(gone: str) -> None:
    """Delete the queue entries listed (by id) in the temp table `gone` and close the gaps they
    leave, keeping each queue's bottom where it is: an entry moves down one place for each
    deleted entry below it, so only entries above a deleted one move, and shipped titles are
    mostly the top ones (the temp tables are analysed, so the planner knows their sizes)."""
    execute("DROP TABLE IF EXISTS re_gone_pos")
    execute("CREATE TEMPORARY TABLE re_gone_pos (member_id bigint, position integer)")
    execute(
        "INSERT INTO re_gone_pos SELECT q.member_id, q.position FROM queues_queueentry q "  # noqa: S608
        f"WHERE q.id IN (SELECT entry_id FROM {gone})"
    )
    execute("CREATE INDEX re_gone_pos_member ON re_gone_pos (member_id, position)")
    if is_postgres():
        execute("ANALYZE re_gone_pos")
    execute(
        f"DELETE FROM queues_queueentry WHERE id IN (SELECT entry_id FROM {gone})"  # noqa: S608
    )
    execute("DROP TABLE IF EXISTS re_moves")
    execute("CREATE TEMPORARY TABLE re_moves (id bigint PRIMARY KEY, newpos integer)")
    # Each entry above a removed one moves down by the number removed below it.
    execute(
        "INSERT INTO re_moves (id, newpos) "
        "SELECT q.id, q.position + COUNT(*) FROM re_gone_pos g "
        "JOIN queues_queueentry q ON q.member_id = g.member_id AND q.position < g.position "
        "GROUP BY q.id, q.position"
    )
    _apply_moves()


def _apply_moves() -> None:
    """Give the queue entries in re_moves their new positions. On SQLite (which checks the unique
    (member, position) at each row) the moving rows are parked out of the way first."""
    if is_postgres():
        execute(
            "UPDATE queues_queueentry AS q SET position = m.newpos FROM re_moves m "
            "WHERE q.id = m.id"
        )
        return
    execute(
        "UPDATE queues_queueentry SET position = position + 1000000 "
        "WHERE id IN (SELECT id FROM re_moves)"
    )
    execute(
        "UPDATE queues_queueentry SET position = (SELECT newpos FROM re_moves "
        "WHERE re_moves.id = queues_queueentry.id) WHERE id IN (SELECT id FROM re_moves)"
    )


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing) -> np.ndarray:
    """values[keys == wanted] for each wanted key (missing where absent), by sorted search."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), bool)
    return np.where(found, values[at] if len(keys) else missing, missing)


def _service_figures(inst: Instance, result) -> dict:
    """Share of shipments from the top 3 of the member's queue, and delivered the next day
    (set-wise lookups: a national day has millions of queue rows)."""
    n = len(result.member_id)
    if not n:
        return {"top3_share": 0.0, "next_day_share": 0.0}
    q, m, t = inst["queue"], inst["members"], inst["transit"]
    position = _lookup(
        q["member_id"] << 24 | q["title_id"],
        q["position"],
        result.member_id.astype(np.int64) << 24 | result.title_id.astype(np.int64),
        99,
    )
    region = _lookup(
        m["member_id"], m["region_id"].astype(np.int64), result.member_id.astype(np.int64), -1
    )
    days = _lookup(
        t["dc_id"].astype(np.int64) << 32 | t["region_id"].astype(np.int64),
        t["days"].astype(np.int64),
        result.dc_id.astype(np.int64) << 32 | region,
        0,
    )
    return {
        "top3_share": round(float((position <= 3).sum()) / n, 4),
        "next_day_share": round(float((days == 1).sum()) / n, 4),
    }
