"""Keep the reporting tables up to date, incrementally.

Each table has a watermark: the last business day brought up to date. A refresh redoes the days
from a few days before it (late return scans, survey answers and stream ends land on days
already counted) through today, each day's rows replaced in one statement per table, grouped
set-wise by the database (never row by row). Ledger lines are append-only, so they are added by
entry id: only entries posted since the last refresh are read. Cohorts are small and recounted
whole. The dashboards read only these tables, so a page costs the same on a business of a
thousand members or a million.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.bulk import day_index_sql, db_timestamp, is_postgres

from .models import (
    CohortFact,
    LedgerFact,
    MemberFact,
    ReturnFact,
    ShipFact,
    StreamFact,
    SupportFact,
    Watermark,
)

# Days redone before each table's watermark: what can still change about a day after it ends.
LOOKBACK = {"ship": 1, "returns": 2, "members": 2, "support": 14, "streams": 2}
WINDOW = 31  # days grouped per statement (a first refresh backfills window by window)
NEW_RELEASE_DAYS = 90


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def _date_index(column: str, start: dt.date) -> str:
    """A DATE column as days from `start`."""
    if is_postgres():
        return f"({column} - DATE '{start}')"
    return f"CAST(julianday({column}) - julianday('{start}') AS INTEGER)"


def _seconds_between(later: str, earlier: str) -> str:
    if is_postgres():
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _first_day(sql: str) -> dt.date | None:
    value = _rows(sql)[0][0]
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace(" ", "T"))
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = value.replace(tzinfo=dt.UTC)
        return timezone.localtime(value).date()
    return value


FIRST = {
    "ship": "SELECT MIN(shipped_at) FROM fulfillment_shipment",
    "returns": "SELECT MIN(scanned_at) FROM fulfillment_returnscan",
    "members": "SELECT MIN(joined_at) FROM membership_member",
    "support": "SELECT MIN(opened_at) FROM support_case",
    "streams": "SELECT MIN(started_at) FROM streaming_session",
}


def _ship(start: dt.date, days: int) -> list:
    di, rng = day_index_sql("s.shipped_at", start, days)
    rel = _date_index("t.release_date", start)
    since = f"({di}) - ({rel})"
    rows = _rows(
        f"SELECT {di}, s.dc_id, m.plan_id, COUNT(*), "  # noqa: S608 (values made here)
        "SUM(CASE WHEN s.transit_days = 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN s.queue_position <= 3 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN s.queue_position = 1 THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {since} BETWEEN 0 AND {NEW_RELEASE_DAYS - 1} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {since} BETWEEN 0 AND {NEW_RELEASE_DAYS - 1} THEN {since} ELSE 0 END) "
        "FROM fulfillment_shipment s JOIN membership_member m ON m.id = s.member_id "
        f"JOIN catalog_title t ON t.id = s.title_id WHERE {rng} GROUP BY 1, 2, 3"
    )
    return [
        ShipFact(
            day=start + dt.timedelta(days=int(d)),
            dc_id=dc,
            plan_id=plan,
            shipments=n,
            next_day=nd or 0,
            top3=t3 or 0,
            first_choice=f1 or 0,
            new_release=nr or 0,
            new_release_wait_days=int(w or 0),
        )
        for d, dc, plan, n, nd, t3, f1, nr, w in rows
    ]


def _returns(start: dt.date, days: int) -> list:
    dcs = ",".join(str(i) for (i,) in _rows("SELECT id FROM inventory_distributioncenter")) or "0"
    di, rng = day_index_sql("scanned_at", start, days)
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d, dc, back, broken in _rows(
        f"SELECT {di}, dc_id, "  # noqa: S608
        "SUM(CASE WHEN outcome IN ('returned', 'wrong_member', 'found') THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN outcome = 'damaged' THEN 1 ELSE 0 END) "
        f"FROM fulfillment_returnscan WHERE dc_id IN ({dcs}) AND {rng} GROUP BY 1, 2"
    ):
        out[(int(d), dc)][0] += back or 0
        out[(int(d), dc)][1] += broken or 0
    di, rng = day_index_sql("at", start, days)
    for d, dc, n in _rows(
        f"SELECT {di}, dc_id, COUNT(*) FROM inventory_copyevent "  # noqa: S608
        f"WHERE kind = 'lost' AND {rng} GROUP BY 1, 2"
    ):
        out[(int(d), dc or 0)][2] += n
    return [
        ReturnFact(day=start + dt.timedelta(days=d), dc_id=dc, returns=a, damaged=b, lost=c)
        for (d, dc), (a, b, c) in out.items()
    ]


def _members(start: dt.date, days: int) -> list:
    tz = timezone.get_current_timezone()
    ends = [
        db_timestamp(dt.datetime.combine(start + dt.timedelta(days=i + 1), dt.time(), tzinfo=tz))
        for i in range(days)
    ]
    active = ", ".join(
        f"SUM(CASE WHEN joined_at < '{e}' AND (cancelled_at IS NULL OR cancelled_at >= '{e}') "
        "THEN 1 ELSE 0 END)"
        for e in ends
    )
    price = dict(_rows("SELECT id, monthly_price FROM membership_plan"))
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for plan, *counts in _rows(
        f"SELECT plan_id, {active} FROM membership_member GROUP BY plan_id"  # noqa: S608
    ):
        for i, n in enumerate(counts):
            out[(i, plan)][0] = n or 0
    for column, k in (("joined_at", 1), ("cancelled_at", 2)):
        di, rng = day_index_sql(column, start, days)
        for d, plan, n in _rows(
            f"SELECT {di}, plan_id, COUNT(*) FROM membership_member "  # noqa: S608
            f"WHERE {rng} GROUP BY 1, 2"
        ):
            out[(int(d), plan)][k] += n
    return [
        MemberFact(
            day=start + dt.timedelta(days=d),
            plan_id=plan,
            active=a,
            joined=j,
            cancelled=c,
            mrr_cents=a * int(price.get(plan) or 0),
        )
        for (d, plan), (a, j, c) in out.items()
    ]


def _support(start: dt.date, days: int) -> list:
    di, rng = day_index_sql("c.opened_at", start, days)
    wait = _seconds_between("c.first_response_at", "c.opened_at")
    return [
        SupportFact(
            day=start + dt.timedelta(days=int(d)),
            channel=channel,
            opened=n,
            responded=r or 0,
            response_seconds=int(max(0, w or 0)),
            resolved=done or 0,
            surveys=sv or 0,
            score_sum=sc or 0,
        )
        for d, channel, n, r, w, done, sv, sc in _rows(
            f"SELECT {di}, c.channel, COUNT(*), "  # noqa: S608
            "SUM(CASE WHEN c.first_response_at IS NOT NULL THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN c.first_response_at IS NOT NULL THEN {wait} ELSE 0 END), "
            "SUM(CASE WHEN c.resolved_at IS NOT NULL THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN s.score IS NOT NULL THEN 1 ELSE 0 END), SUM(COALESCE(s.score, 0)) "
            "FROM support_case c LEFT JOIN support_survey s ON s.case_id = c.id "
            f"WHERE {rng} GROUP BY 1, 2"
        )
    ]


def _streams(start: dt.date, days: int) -> list:
    di, rng = day_index_sql("s.started_at", start, days)
    watched = (
        "CASE WHEN s.position_s > s.start_position_s "
        "THEN s.position_s - s.start_position_s ELSE 0 END"
    )
    return [
        StreamFact(
            day=start + dt.timedelta(days=int(d)), plan_id=plan, streams=n, seconds=int(sec or 0)
        )
        for d, plan, n, sec in _rows(
            f"SELECT {di}, m.plan_id, COUNT(*), SUM({watched}) "  # noqa: S608
            "FROM streaming_session s JOIN membership_member m ON m.id = s.member_id "
            f"WHERE {rng} GROUP BY 1, 2"
        )
    ]


TABLES = {
    "ship": (ShipFact, _ship),
    "returns": (ReturnFact, _returns),
    "members": (MemberFact, _members),
    "support": (SupportFact, _support),
    "streams": (StreamFact, _streams),
}


def _day_tables(name: str, through: dt.date, full: bool) -> int:
    model, compute = TABLES[name]
    mark, _ = Watermark.objects.get_or_create(name=name)
    if mark.through_day and not full:
        start = mark.through_day - dt.timedelta(days=LOOKBACK[name])
    else:
        start = _first_day(FIRST[name]) or through
    start = min(start, through)
    written = 0
    day = start
    while day <= through:
        days = min(WINDOW, (through - day).days + 1)
        with transaction.atomic():
            # one refresh of a table at a time (a second waits, then redoes the same days)
            Watermark.objects.select_for_update().get(pk=mark.pk)
            facts = compute(day, days)
            model.objects.filter(day__gte=day, day__lt=day + dt.timedelta(days=days)).delete()
            model.objects.bulk_create(facts, batch_size=2000)
        written += len(facts)
        day += dt.timedelta(days=days)
    return written


def _ledger(full: bool) -> int:
    Watermark.objects.get_or_create(name="ledger")
    with transaction.atomic():
        # one refresh at a time adds lines (a second waits here, then finds them added)
        mark = Watermark.objects.select_for_update().get(name="ledger")
        if full:
            LedgerFact.objects.all().delete()
            mark.through_id = 0
        (last,) = _rows("SELECT MAX(id) FROM ledger_journalentry")[0]
        last = last or 0
        if last <= mark.through_id:
            Watermark.objects.filter(pk=mark.pk).update(through_id=last)
            return 0
        return _ledger_add(mark, last)


def _ledger_add(mark, last: int) -> int:
    rows = _rows(
        "SELECT e.effective_date, a.code, SUM(l.debit), SUM(l.credit) "  # noqa: S608
        "FROM ledger_journalline l JOIN ledger_journalentry e ON e.id = l.entry_id "
        "JOIN ledger_account a ON a.id = l.account_id "
        f"WHERE l.entry_id > {int(mark.through_id)} AND l.entry_id <= {int(last)} "
        "GROUP BY 1, 2"
    )
    for day, code, debit, credit in rows:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        fact, _ = LedgerFact.objects.get_or_create(day=day, account=code)
        fact.debit_cents += int(debit or 0)
        fact.credit_cents += int(credit or 0)
        fact.save(update_fields=["debit_cents", "credit_cents"])
    Watermark.objects.filter(pk=mark.pk).update(through_id=last)
    return len(rows)


def _month(value: str | dt.date | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date(int(value[:4]), int(value[5:7]), 1)
    return dt.date(value.year, value.month, 1)


def _months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _cohorts(through: dt.date) -> int:
    if is_postgres():
        from django.conf import settings

        tz = settings.TIME_ZONE
        month = "date_trunc('month', {} AT TIME ZONE '" + tz + "')::date"
    else:
        month = "strftime('%Y-%m-01', {})"
    rows = _rows(
        f"SELECT {month.format('joined_at')}, plan_id, {month.format('cancelled_at')}, "  # noqa: S608
        "COUNT(*) FROM membership_member GROUP BY 1, 2, 3"
    )
    now = _month(through)
    joined: dict[tuple, int] = defaultdict(int)
    gone: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for cohort, plan, left, n in rows:
        key = (_month(cohort), plan)
        joined[key] += n
        if left is not None:
            gone[key][_months_between(key[0], _month(left))] += n
    facts = []
    for (cohort, plan), n in joined.items():
        left = 0
        for age in range(0, _months_between(cohort, now) + 1):
            left += gone[(cohort, plan)].get(age, 0)
            facts.append(
                CohortFact(
                    cohort=cohort, plan_id=plan, age_months=age, members=n, retained=n - left
                )
            )
    with transaction.atomic():
        CohortFact.objects.all().delete()
        CohortFact.objects.bulk_create(facts, batch_size=2000)
    return len(facts)


def refresh(through: dt.date | None = None, *, full: bool = False) -> dict:
    """Bring every reporting table up to `through` (today): what changed since the last refresh,
    set-wise. `full` rebuilds them from the first record. Returns rows written and seconds per
    table. Safe to run again at any time (days are replaced, ledger lines added once)."""
    through = through or clock.today()
    out: dict[str, dict] = {}
    for name in (*TABLES, "ledger", "cohorts"):
        t = time.perf_counter()
        if name == "ledger":
            n = _ledger(full)
        elif name == "cohorts":
            n = _cohorts(through)
        else:
            n = _day_tables(name, through, full)
        seconds = round(time.perf_counter() - t, 3)
        values = {"refreshed_at": clock.now(), "seconds": seconds}
        if name in TABLES:
            values["through_day"] = through
        Watermark.objects.update_or_create(name=name, defaults=values)
        out[name] = {"rows": n, "seconds": seconds}
    return out
