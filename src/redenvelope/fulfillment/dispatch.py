"""The daily run: gather the engine's inputs from the database in bulk, solve, record it all.

`run_dispatch(date, dc=None)` is the one door (the CLI, the Huey job and the simulator call it).
It is all or nothing (one transaction) and idempotent (one DispatchRun per date and scope): a
second call for the same date and scope returns the first run and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
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
    index_joins,
    is_postgres,
    read_columns,
    read_packed,
    temp_table,
)
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.engine import Instance, Params, solve
from redenvelope.inventory.bulk import append_copy_event_arrays
from redenvelope.inventory.models import DistributionCenter
from redenvelope.rights.queries import disc_blocked_sql

from .models import DispatchRun
from .notifications import queue_run_emails
from .rules import billing_month_starts_sql, dc_capacity_on, home_regions, midnight

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
    # The queue entries read (the first QUEUE_TOP of each member's queue, eligible or not),
    # sorted by member and position: what the write needs to remove shipped titles without
    # looking them up again.
    entry_member: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entry_position: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entry_title: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    entry_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: float = 0.0
    parts: dict = field(default_factory=dict)

    def entries_for(self, member_id: np.ndarray, title_id: np.ndarray) -> np.ndarray:
        """Index (into the entry arrays) of each shipment's queue entry."""
        have = self.entry_member << 24 | self.entry_title
        order = np.argsort(have, kind="stable")
        key = member_id.astype(np.int64) << 24 | title_id.astype(np.int64)
        at = np.searchsorted(have[order], key)
        if (
            len(key)
            and ((at >= len(have)) | (have[order][np.minimum(at, len(have) - 1)] != key)).any()
        ):
            raise Conflict("A shipment's title is no longer in the member's queue.")
        return order[at]


# Members who may receive discs on a day, and their shipments that count against their plan:
# two reads (run at once on PostgreSQL), joined by member id in numpy. The SQL is built from
# constants and dates only.
_MEMBERS = """
    SELECT m.id, m.region_id,
           p.discs_at_once + CASE WHEN m.bonus_rentals > 0 THEN 1 ELSE 0 END AS cap,
           COALESCE(p.monthly_disc_limit, 1000000) AS month_cap,
           CASE WHEN m.joined_at >= '{new_since}' THEN 1 ELSE 0 END AS is_new
    FROM membership_member m
    JOIN membership_plan p ON p.id = m.plan_id
    WHERE m.status IN ('trial', 'active') AND {not_blocked}{dc_members}
      AND NOT EXISTS (SELECT 1 FROM membership_hold h WHERE h.member_id = m.id
                      AND h.cancelled_at IS NULL AND h.starts_on <= '{day}'
                      AND h.ends_on > '{day}')
"""
_MEMBER_SHIPMENTS = """
    SELECT s.member_id, s.title_id,
           CASE WHEN s.status = 'open' THEN 1 ELSE 0 END AS open_n,
           CASE WHEN s.shipped_at >= {month_start} THEN 1 ELSE 0 END AS month_n,
           CASE WHEN s.shipped_at >= '{recent_since}' THEN 1 ELSE 0 END AS recent_n
    FROM fulfillment_shipment s JOIN membership_member m ON m.id = s.member_id
    WHERE (s.status = 'open' OR s.shipped_at >= '{since}'){dc_members}
"""
_SHIPMENT_COLUMNS = [
    ("member_id", "int64"),
    ("title_id", "int64"),
    ("open_n", "int8"),
    ("month_n", "int8"),
    ("recent_n", "int8"),
]


def _read_member_shipments(sql: str) -> dict:
    """The shipments that count against the members' plans, one row each: what is out (also
    what the queue read must not ship again) and what shipped this month and in 30 days."""
    return read_packed(sql, _SHIPMENT_COLUMNS)


# The first {top} entries of each member's queue, with `later` = 1 where an earlier disc of
# the same series is queued anywhere in the member's queue (series discs are a small share:
# the check looks those up by index).
# PostgreSQL walks each member's (member, position) index for just those rows; SQLite, which
# has no LATERAL, numbers the rows.
_QUEUE = """
    SELECT x.member_id, x.position, x.title_id, x.id,
           CASE WHEN x.title_id IN (SELECT title_id FROM re_earlier) AND EXISTS (
               SELECT 1 FROM re_earlier e
               JOIN queues_queueentry q2 ON q2.member_id = x.member_id
                    AND q2.title_id = e.earlier_id
               WHERE e.title_id = x.title_id) THEN 1 ELSE 0 END AS later
    FROM ({source}) x
"""
_TOP_PG = """
    SELECT d.member_id, q.position, q.title_id, q.id
    FROM {members} d CROSS JOIN LATERAL (
        SELECT position, title_id, id FROM queues_queueentry q
        WHERE q.member_id = d.member_id ORDER BY position LIMIT {top}) q
"""
_TOP_SQLITE = """
    SELECT member_id, position, title_id, id FROM (
        SELECT q.member_id, q.position, q.title_id, q.id,
               ROW_NUMBER() OVER (PARTITION BY q.member_id ORDER BY q.position) AS rn
        FROM re_dm d JOIN queues_queueentry q ON q.member_id = d.member_id) t
    WHERE rn <= {top}
"""


def _earlier_table() -> None:
    """re_earlier (title, an earlier disc of its series) on this connection."""
    execute("DROP TABLE IF EXISTS re_earlier")
    execute(
        "CREATE TEMPORARY TABLE re_earlier AS SELECT a.id AS title_id, b.id AS earlier_id "
        "FROM catalog_title a JOIN catalog_title b ON b.series_id = a.series_id "
        "AND (b.season < a.season OR (b.season = a.season AND b.disc_number < a.disc_number))"
    )
    execute("CREATE INDEX re_earlier_title ON re_earlier (title_id)")
    if is_postgres():
        execute("ANALYZE re_earlier")


_QUEUE_COLUMNS = [
    ("member_id", "int64"),
    ("position", "int64"),
    ("title_id", "int64"),
    ("id", "int64"),
    ("later", "int8"),
]
# Above this many members, PostgreSQL reads the queues over two connections at once (the read
# is index lookups, one core's work per connection).
PARALLEL_ABOVE = 100_000


def _read_part(member_ids: np.ndarray, top: int) -> dict:
    """One share of the members' queues (run by a _Background, on its own connection)."""
    temp_table("re_dm_part", "member_id bigint", {"member_id": member_ids})
    _earlier_table()
    with index_joins():  # the series check probes (member, title), never merges a queue
        return read_packed(
            _QUEUE.format(source=_TOP_PG.format(top=top, members="re_dm_part")), _QUEUE_COLUMNS
        )


def _read_queues(top: int, member_ids: np.ndarray, out: dict) -> dict:
    """The top of each waiting member's queue (members in re_dm, also given as `member_ids`),
    sorted by member and position, with `ok` where the entry may ship now (the series rule of
    queues.series, and not a title already out: `out` holds member_id and title_id of the
    discs out with them)."""
    from django.db import connection

    _earlier_table()
    if is_postgres() and len(member_ids) > PARALLEL_ABOVE and not connection.in_atomic_block:
        # Two halves on their own connections (they see only committed rows: never inside a
        # transaction).
        halves = [_Background(_read_part, ids, top) for ids in np.array_split(member_ids, 2)]
        got = [h.result() for h in halves]
        q = {c: np.concatenate([g[c] for g in got]) for c, _ in _QUEUE_COLUMNS}
    else:
        with index_joins():
            q = read_packed(
                _QUEUE.format(
                    source=(_TOP_PG if is_postgres() else _TOP_SQLITE).format(
                        top=top, members="re_dm"
                    )
                ),
                _QUEUE_COLUMNS,
            )
    # Rows come member by member, each in queue order; sort only if they did not.
    m, p = q["member_id"], q["position"]
    if len(m) > 1 and not np.all((m[1:] > m[:-1]) | ((m[1:] == m[:-1]) & (p[1:] > p[:-1]))):
        order = np.lexsort((p, m))
        q = {k: v[order] for k, v in q.items()}
    q["ok"] = (q["later"] == 0) & ~_blocked_by_discs_out(q, out)
    return q


def _blocked_by_discs_out(q: dict, out: dict) -> np.ndarray:
    """Per queue row: the title is out with the member, or is a series disc while a disc of
    its series with an earlier order is out (queues.series)."""
    blocked = np.zeros(len(q["member_id"]), bool)
    if not len(out["member_id"]) or not len(q["member_id"]):
        return blocked
    key = q["member_id"] << 24 | q["title_id"]
    out_key = out["member_id"] << 24 | out["title_id"]
    blocked |= _lookup(out_key, np.ones(len(out_key), bool), key, False)
    ser = read_columns(
        "SELECT id, series_id, season * 1000 + disc_number FROM catalog_title "
        "WHERE series_id IS NOT NULL",
        [("id", "int64"), ("series", "int64"), ("ord", "int64")],
    )
    o_series = _lookup(ser["id"], ser["series"], out["title_id"], -1)
    is_ser = o_series >= 0
    if not is_ser.any():
        return blocked
    # The lowest order out per (member, series).
    o_key = out["member_id"][is_ser] << 24 | o_series[is_ser]
    o_ord = _lookup(ser["id"], ser["ord"], out["title_id"][is_ser], 0)
    by = np.lexsort((o_ord, o_key))
    o_key, o_ord = o_key[by], o_ord[by]
    first = np.r_[True, o_key[1:] != o_key[:-1]]
    q_series = _lookup(ser["id"], ser["series"], q["title_id"], -1)
    q_ord = _lookup(ser["id"], ser["ord"], q["title_id"], 0)
    lowest_out = _lookup(
        o_key[first], o_ord[first], q["member_id"] << 24 | q_series, np.iinfo(np.int64).max
    )
    return blocked | ((q_series >= 0) & (lowest_out < q_ord))


def gather(day: dt.date, dc: DistributionCenter | None = None) -> Gathered:
    """The engine's five tables, read set-wise (COPY on PostgreSQL)."""
    started = time.perf_counter()
    policy = settings.REDENVELOPE.get("DISPATCH_PRIORITY", "equal")
    if policy not in PRIORITY_POLICIES:
        raise DomainError(f"Unknown priority policy {policy!r}.")
    # The monthly limit counts each member's billing month (rules.py).
    month_start, earliest = billing_month_starts_sql(day)
    last_30_days = db_timestamp(midnight(day - dt.timedelta(days=30)))
    dates = {
        "day": day.isoformat(),
        "month_start": month_start,
        "recent_since": last_30_days,
        "new_since": last_30_days,
        "since": min(earliest, last_30_days),
        "not_blocked": "m.blocked = false" if is_postgres() else "m.blocked = 0",
        # A DC's own run reads only its members: the regions it is the nearest open DC to
        # (rules.home_regions), so the scheduler's runs of a day partition the members.
        "dc_members": ""
        if dc is None
        else f" AND m.region_id IN ({','.join(map(str, home_regions(day, dc))) or 'NULL'})",
    }
    shipments = _Background(_read_member_shipments, _MEMBER_SHIPMENTS.format(**dates))
    try:
        m = read_packed(
            _MEMBERS.format(**dates),
            [
                ("id", "int64"),
                ("region_id", "int32"),
                ("cap", "int64"),
                ("month_cap", "int64"),
                ("is_new", "int8"),
            ],
        )
    finally:
        sh = shipments.result()  # waited for even when the members' read failed
    order = np.argsort(m["id"], kind="stable")
    m = {k: v[order] for k, v in m.items()}

    # Per member, how many of its shipments count in each column (rows sorted by member).
    by = np.argsort(sh["member_id"], kind="stable")
    sh = {k: v[by] for k, v in sh.items()}
    firsts = (
        np.flatnonzero(np.r_[True, sh["member_id"][1:] != sh["member_id"][:-1]]) if len(by) else by
    )

    def counted(col: str) -> np.ndarray:
        sums = (
            np.add.reduceat(sh[col].astype(np.int64), firsts) if len(by) else np.zeros(0, np.int64)
        )
        return _lookup(sh["member_id"][firsts], sums, m["id"], 0)

    m = {
        "member_id": m["id"],
        "region_id": m["region_id"],
        "free": m["cap"] - counted("open_n"),
        "month_left": m["month_cap"] - counted("month_n"),
        "is_new": m["is_new"],
        "recent": counted("recent_n"),
    }
    slots = np.clip(np.minimum(m["free"], m["month_left"]), 0, 32000)
    keep = slots > 0
    members = {k: v[keep] for k, v in m.items()}
    slots = slots[keep]
    # Members who may receive discs today, kept in a temp table the queue reads join.
    temp_table(
        "re_dm",
        "member_id bigint PRIMARY KEY, region_id integer",
        {"member_id": members["member_id"], "region_id": members["region_id"]},
    )
    if policy == "new_members":
        priority = np.where(members["is_new"] == 1, 1.5, 1.0)
    elif policy == "light_users":
        priority = 1.0 / (1.0 + members["recent"] / 10.0)
    else:
        priority = np.ones(len(slots))

    parts = {"members": round(time.perf_counter() - started, 3)}
    t = time.perf_counter()
    is_out = sh["open_n"] == 1
    q = _read_queues(
        QUEUE_TOP,
        members["member_id"],
        {"member_id": sh["member_id"][is_out], "title_id": sh["title_id"][is_out]},
    )
    # The engine's position is the place in the queue as the member sees it (1 = top): the
    # rows read are the top of each queue in order, so it is the row's place among them.
    member = q["member_id"]
    starts = np.r_[True, member[1:] != member[:-1]] if len(member) else np.zeros(0, bool)
    head = np.maximum.accumulate(np.where(starts, np.arange(len(member)), 0))
    rank = np.arange(len(member)) - head + 1
    ok = q["ok"]
    parts["queues"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()

    dcs = list(
        DistributionCenter.objects.all()
        if dc is None
        else DistributionCenter.objects.filter(pk=dc.pk)
    )
    capacity = dc_capacity_on(day, dcs)
    dc_filter = "" if dc is None else f" AND dc_id = {int(dc.pk)}"
    # Titles whose disc-rental windows are all closed today do not ship (rights).
    blocked = disc_blocked_sql(midnight(day))
    stock = read_columns(
        "SELECT dc_id, title_id, COUNT(*) FROM inventory_copy WHERE status = 'on_shelf'"  # noqa: S608
        f"{dc_filter} AND title_id NOT IN ({blocked}) GROUP BY dc_id, title_id",
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
        queue={
            "member_id": member[ok],
            "position": rank[ok].astype(np.int32),
            "title_id": q["title_id"][ok],
        },
        stock=stock,
        dcs={
            "dc_id": np.array(list(capacity), np.int32),
            "capacity": np.array(list(capacity.values()), np.int32),
        },
        transit=transit,
    )
    parts["stock, transit, instance"] = round(time.perf_counter() - t, 3)
    return Gathered(
        inst,
        entry_member=member,
        entry_position=q["position"],
        entry_title=q["title_id"],
        entry_id=q["id"],
        seconds=time.perf_counter() - started,
        parts=parts,
    )


# Queue entries per member the run reads from the top: a member has at most a few open slots,
# and a title 14 places down is worth 0.9^13 = a quarter of the top one.
QUEUE_TOP = 14


def run_dispatch(
    day: dt.date,
    dc: DistributionCenter | None = None,
    *,
    actor=None,
    notify: bool = True,
    documents: bool = False,
    fail_after: str | None = None,
) -> DispatchRun:
    """Allocate and record one day's shipments. With `documents`, the pick lists and labels are
    drawn too (in worker processes while the shipments are written) and their paths left in
    `run.documents`. `fail_after` (tests only) raises mid-write."""
    from .documents import Renderer, rows_from_memory, write_run_documents

    scope = dc.code if dc else "ALL"
    existing = DispatchRun.objects.filter(run_date=day, scope=scope).first()
    if existing:
        if documents:
            existing.documents = write_run_documents(existing)
        return existing
    started_at = clock.now()
    gathered = gather(day, dc)
    params = engine_params()
    t = time.perf_counter()
    # Names and addresses for the labels are read meanwhile (another connection, another core).
    addresses = (
        _Background(_addresses, gathered.instance["members"]["member_id"])
        if (documents or notify) and gathered.instance.n_members
        else None
    )
    try:
        result = solve(gathered.instance, params)
    finally:
        people = addresses.result() if addresses else None  # waited for even if solve failed
    solve_s = time.perf_counter() - t
    t = time.perf_counter()
    renderer = None
    # The DCs the run ships from, for the labels and the emails.
    dcs = {
        d.pk: (d.code, d.name, d.city, d.state)
        for d in DistributionCenter.objects.filter(pk__in=np.unique(result.dc_id).tolist())
    }

    def draw(run, copies):
        nonlocal renderer
        if documents and people is not None:
            codes, counts = np.unique(result.dc_id, return_counts=True)
            renderer = Renderer(
                run,
                lambda codes: rows_from_memory(result, copies, people, dcs, codes),
                {dcs[int(c)][0]: int(n) for c, n in zip(codes, counts, strict=True)},
            )

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
            service = _service_arrays(gathered.instance, result)
            n = _record(run, gathered, result, day, actor, fail_after, parts, draw, service)
            figures = {
                **_service_figures(gathered.instance, result, service),
                "members_considered": gathered.instance.n_members,
                "open_slots": int(gathered.instance["members"]["open_slots"].sum()),
                "shipments": n,
                "objective": round(result.objective, 2),
                # the certificate: no allocation of this day is worth more than the bound
                "bound": round(result.stats.get("bound", result.objective), 2),
                "gap": round(result.stats.get("gap", 0.0), 6),
                # how the engine got there: rounds of grown candidates, whether ties set off a
                # price war (settled by epsilon scaling), whether the auction ran out of steps,
                # whether a second allocation (DC capacity priced in the auction) was kept, the
                # exchange's scans, the rounds that tightened the bound (decision 0026) and the
                # scans of the shifting exchange on a day still short of its bound (0028), and
                # the moves of price between a DC and its shelves that lowered the bound (0029),
                # whether the day was repaired by cost scaling (0030), and the kinds of members
                # alike it was allocated by (0031; absent: by the auction)
                "engine": {
                    k: result.stats[k]
                    for k in (
                        "grow_rounds",
                        "price_war",
                        "truncated",
                        "second_opinion",
                        "exchange_scans",
                        "bound_tightened",
                        "shift_scans",
                        "bound_dc_moves",
                        "repaired",
                        "kinds",
                    )
                    if k in result.stats
                },
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
            if n and notify:
                # Queued with the run (a crash after the commit loses none); delivered after it.
                t_mail = time.perf_counter()
                cities = {pk: d[2] for pk, d in dcs.items()}
                figures["emails_queued"] = queue_run_emails(run, result, people, cities)
                figures["seconds"]["emails"] = round(time.perf_counter() - t_mail, 3)
            DispatchRun.objects.filter(pk=run.pk).update(finished_at=clock.now(), figures=figures)
    except IntegrityError:
        if renderer:
            renderer.abandon()
        # Another process recorded this date and scope first: theirs stands.
        existing = DispatchRun.objects.filter(run_date=day, scope=scope).first()
        if existing:
            return run_dispatch(day, dc, documents=documents) if documents else existing
        raise
    except BaseException:
        if renderer:
            renderer.abandon()
        raise
    run.refresh_from_db()
    if documents:
        t = time.perf_counter()
        run.documents = renderer.finish() if renderer else []
        run.documents_wait_s = time.perf_counter() - t
    return run


class _Background:
    """fn(*args) in a thread with its own database connection, on PostgreSQL outside a
    transaction (another connection sees only committed rows); otherwise at once, here."""

    def __init__(self, fn, *args):
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connection

        self.pool = None
        if is_postgres() and not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(1)
            self.future = self.pool.submit(self._run, fn, *args)
        else:
            self.value = fn(*args)

    @staticmethod
    def _run(fn, *args):
        from django.db import connection

        try:
            return fn(*args)
        finally:
            connection.close()

    def result(self):
        if self.pool is None:
            return self.value
        try:
            return self.future.result()
        finally:
            self.pool.shutdown()


def _addresses(member_id: np.ndarray) -> dict:
    """For the labels: name and address of each member considered (sorted by member id) and
    every title's name (under "titles")."""
    ids = np.unique(member_id.astype(np.int64))
    temp_table("re_ship_members", "member_id bigint", {"member_id": ids})
    cols = ["first_name", "last_name", "username", "street", "city", "state", "zip_code", "email"]
    got = read_columns(
        "SELECT m.id, u.first_name, u.last_name, u.username, m.street, m.city, m.state, "
        "m.zip_code, u.email FROM re_ship_members s JOIN membership_member m ON m.id = s.member_id "
        "JOIN auth_user u ON u.id = m.user_id ORDER BY m.id",
        [("id", "int64")] + [(c, "object") for c in cols],
    )
    titles = read_columns(
        "SELECT id, name FROM catalog_title", [("id", "int64"), ("name", "object")]
    )
    got["titles"] = dict(zip(titles["id"].tolist(), titles["name"].tolist(), strict=True))
    return got


def _record(
    run, gathered, result, day, actor, fail_after, parts=None, draw=None, service=None
) -> int:
    """Every shipment of the run, set-wise: copies chosen and marked shipped, a shipped event
    each, shipments, and the titles out of their queues. `parts` receives
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
        # The first n of each shelf, walked on the shelves' index (copies_by_shelf).
        "SELECT c.id, c.dc_id, c.title_id, c.barcode, c.format FROM re_need nd "
        "CROSS JOIN LATERAL (SELECT id, dc_id, title_id, barcode, format FROM inventory_copy "
        "WHERE dc_id = nd.dc_id AND title_id = nd.title_id AND status = 'on_shelf' "
        "ORDER BY id LIMIT nd.n) c ORDER BY c.dc_id, c.title_id, c.id"
        if is_postgres()
        else "SELECT id, dc_id, title_id, barcode, format FROM (SELECT c.id, c.dc_id, "
        "c.title_id, c.barcode, c.format, nd.n, "
        "ROW_NUMBER() OVER (PARTITION BY c.dc_id, c.title_id ORDER BY c.id) AS rn "
        "FROM inventory_copy c JOIN re_need nd ON nd.dc_id = c.dc_id "
        "AND nd.title_id = c.title_id WHERE c.status = 'on_shelf') x WHERE rn <= n "
        "ORDER BY dc_id, title_id, id",
        [
            ("id", "int64"),
            ("dc_id", "int64"),
            ("title_id", "int64"),
            ("barcode", "object"),
            ("format", "object"),
        ],
    )
    if len(chosen["id"]) != n:
        raise Conflict("Stock changed while dispatching; nothing was recorded.")
    # chosen rows are grouped by (dc, title) in the same order as uniq; hand them out in turn
    order = np.argsort(inverse, kind="stable")
    copy_ids = np.empty(n, dtype=np.int64)
    copy_ids[order] = chosen["id"]
    if draw:
        copies = {k: np.empty(n, dtype=object) for k in ("barcode", "format")}
        for k, v in copies.items():
            v[order] = chosen[k]
        draw(run, copies)
    done("choose copies")
    temp_table("re_chosen", "copy_id bigint", {"copy_id": np.sort(copy_ids)})
    with index_joins():
        updated = execute(
            "UPDATE inventory_copy AS c SET status = 'shipped' FROM re_chosen r "
            "WHERE c.id = r.copy_id AND c.status = 'on_shelf'"
            if is_postgres()
            else "UPDATE inventory_copy SET status = 'shipped' WHERE status = 'on_shelf' "
            "AND id IN (SELECT copy_id FROM re_chosen)"
        )
    if updated != n:
        raise Conflict("Copies changed while dispatching; nothing was recorded.")
    done("copies shipped")
    now = clock.now()
    shipped_at = db_timestamp(now)
    ref = f"run:{run.pk}"
    actor_id = actor.pk if actor else None
    # One event per disc, shelf to mail (its pick is the run's pick list), appended in copy
    # order: the (copy, id) index then takes them page after page instead of one random page
    # each.
    by_copy = np.argsort(copy_ids)
    append_copy_event_arrays(
        copy_id=copy_ids[by_copy],
        kind="shipped",
        from_status="on_shelf",
        to_status="shipped",
        dc_id=result.dc_id.astype(np.int64)[by_copy],
        at=shipped_at,
        actor_id=actor_id,
        ref=ref,
        note="",
    )
    done("copy events")
    if fail_after == "events":
        raise RuntimeError("injected failure after copy events")
    copy_arrays(  # numbered by the database, in this order
        "fulfillment_shipment",
        {
            "member_id": result.member_id.astype(np.int64),
            "copy_id": copy_ids,
            "title_id": result.title_id.astype(np.int64),
            "dc_id": result.dc_id.astype(np.int64),
            "shipped_at": shipped_at,
            "status": "open",
            "closed_at": None,
            "returned_to_id": None,
            "run_id": run.pk,
            "bonus": False,
            **_service_columns(service),
        },
    )
    done("shipments")
    # Shipped titles leave their queues.
    remove_entries(gathered, gathered.entries_for(result.member_id, result.title_id))
    done("queue entries removed")
    # A disc shipped into the bonus slot (more out than the plan allows) uses one bonus rental
    # and is marked (the partial index on members with bonus rentals keeps this to those few);
    # the same rule as `ship_copy` (rules.py).
    over = read_columns(
        "SELECT m.id FROM membership_member m JOIN membership_plan p ON p.id = m.plan_id "
        "WHERE m.bonus_rentals > 0 AND m.id IN (SELECT DISTINCT member_id FROM re_gone) "
        "AND (SELECT COUNT(*) FROM fulfillment_shipment s WHERE s.member_id = m.id "
        "AND s.status = 'open') > p.discs_at_once",
        [("id", "int64")],
    )["id"]
    if len(over):
        ids = ",".join(str(int(m)) for m in over)
        execute(
            "UPDATE membership_member SET bonus_rentals = bonus_rentals - 1 "  # noqa: S608
            f"WHERE id IN ({ids})"
        )
        execute(
            "UPDATE fulfillment_shipment SET bonus = %s WHERE id IN (SELECT MAX(id) "  # noqa: S608
            f"FROM fulfillment_shipment WHERE run_id = %s AND member_id IN ({ids}) "
            "GROUP BY member_id)",
            [True, run.pk],
        )
    done("bonus rentals")
    if fail_after == "shipments":
        raise RuntimeError("injected failure after shipments")
    return n


def remove_entries(gathered: Gathered, gone: np.ndarray) -> None:
    """Delete the queue entries at indexes `gone` of the gathered entries. Nothing else moves:
    positions only order a queue (decision 0005). Each row deleted must still be where it was
    read, so a queue changed since then stops the run (nothing recorded)."""
    if len(np.unique(gone)) != len(gone):
        raise Conflict("One queue entry was allocated twice; nothing was recorded.")
    ids = gathered.entry_id[gone]
    order = np.argsort(ids)
    temp_table(
        "re_gone",
        "entry_id bigint, member_id bigint, position integer",
        {
            "entry_id": ids[order],
            "member_id": gathered.entry_member[gone][order],
            "position": gathered.entry_position[gone][order],
        },
    )
    with index_joins():
        deleted = execute(
            "DELETE FROM queues_queueentry q USING re_gone g WHERE q.id = g.entry_id "
            "AND q.member_id = g.member_id AND q.position = g.position"
            if is_postgres()
            # SQLite: look each id up (the rowid), then check it is still where it was read.
            else "DELETE FROM queues_queueentry WHERE id IN (SELECT entry_id FROM re_gone) "
            "AND EXISTS (SELECT 1 FROM re_gone g "
            "WHERE g.entry_id = queues_queueentry.id AND g.member_id = queues_queueentry.member_id "
            "AND g.position = queues_queueentry.position)"
        )
    if deleted != len(gone):
        raise Conflict("Queues changed while dispatching; nothing was recorded.")


def _service_columns(service) -> dict:
    if service is None:
        return {}
    position, days = service
    # 99 = not in the queue, 0 = no transit row: recorded as unknown
    return {
        "queue_position": np.where(position < 99, position, None).astype(object),
        "transit_days": np.where(days > 0, days, None).astype(object),
    }


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing) -> np.ndarray:
    """values[keys == wanted] for each wanted key (missing where absent), by sorted search."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    found = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), bool)
    return np.where(found, values[at] if len(keys) else missing, missing)


def _service_figures(inst: Instance, result, service=None) -> dict:
    """Share of shipments from the top 3 of the member's queue, and delivered the next day."""
    n = len(result.member_id)
    if not n:
        return {"top3_share": 0.0, "next_day_share": 0.0}
    position, days = service if service is not None else _service_arrays(inst, result)
    return {
        "top3_share": round(float((position <= 3).sum()) / n, 4),
        "next_day_share": round(float((days == 1).sum()) / n, 4),
    }


def _service_arrays(inst: Instance, result) -> tuple[np.ndarray, np.ndarray]:
    """Each shipment's queue position (99 when not found) and its DC's transit days to the
    member's region (0 when unknown), by set-wise lookups: a national day has millions of queue
    rows. Recorded on the shipments, so insight can count them by DC, plan and day."""
    n = len(result.member_id)
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
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
    return position, days


def run_due_dispatches(now, *, workers: int | None = None) -> list[DispatchRun]:
    """The scheduler's path (`dispatch_at_cutoffs`): the day's run of each open DC whose cut-off
    has passed by `now` and that has not run (nor a national run), earliest cut-off first, each
    with its pick lists, labels and emails. DCs due at once run side by side in processes of
    their own (`workers`, setting DISPATCH_WORKERS, default one per core), on PostgreSQL and
    outside a transaction: their members (home regions), stock and queues are disjoint, so
    the runs are too."""
    today = timezone.localdate(now)
    local = timezone.localtime(now).time()
    done = set(DispatchRun.objects.filter(run_date=today).values_list("scope", flat=True))
    if "ALL" in done:
        return []
    due = [
        dc
        for dc in DistributionCenter.objects.filter(status=DistributionCenter.Status.OPEN).order_by(
            "cutoff", "code"
        )
        if dc.code not in done and local >= dc.cutoff
    ]
    at_once = side_by_side(len(due), workers)
    if at_once > 1:
        return _run_side_by_side(today, due, at_once)
    return [run_dispatch(today, dc, documents=True) for dc in due]


def side_by_side(due: int, workers: int | None = None) -> int:
    """How many of `due` DC runs go at once: up to `workers` (setting DISPATCH_WORKERS, 0 or
    unset: one per core), and only where forking is safe: PostgreSQL (each process its own
    connection), outside a transaction, no other thread alive (a Huey thread worker runs them
    one after another)."""
    from django.db import connection

    if workers is None:
        workers = int(settings.REDENVELOPE.get("DISPATCH_WORKERS") or os.cpu_count() or 1)
    safe = is_postgres() and not connection.in_atomic_block and threading.active_count() == 1
    return max(1, min(workers, due)) if safe else 1


def _run_side_by_side(day: dt.date, dcs, workers: int) -> list[DispatchRun]:
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections

    connections.close_all()  # each process opens its own; none inherits this one's socket
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(_run_one, day, dc.pk) for dc in dcs]
        answers = [f.result() for f in futures]  # the first failure is raised, after the rest
    runs = []
    for pk, documents, wait_s in answers:
        run = DispatchRun.objects.get(pk=pk)
        run.documents, run.documents_wait_s = documents, wait_s
        runs.append(run)
    return runs


def _run_one(day: dt.date, dc_pk: int) -> tuple[int, list, float]:
    """One DC's run, in a process of its own."""
    from django.db import connections

    try:
        run = run_dispatch(day, DistributionCenter.objects.get(pk=dc_pk), documents=True)
        return run.pk, run.documents, getattr(run, "documents_wait_s", 0.0)
    finally:
        connections.close_all()
