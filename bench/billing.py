"""Billing at scale on a database: one day's run (the members renewing that day, with credits to
apply and some declines, then the day's revenue recognition for every member), and optionally a
whole month of daily runs. Meant for PostgreSQL (DATABASE_URL=postgres://...).

    redenvelope bench billing --members 1000000 [--days 30]

On an empty database it first writes a billing-only business of that size in bulk (members,
their payment methods and the statements of their current periods; timed separately)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from redenvelope.core.errors import DomainError

# Member shares in the generated business.
DECLINE_SHARE = 0.02
CREDIT_SHARE = 0.05
PERCENT_SHARE = 0.01
TAXED = {"NY": "0.08875", "CA": "0.0725", "TX": "0.0625"}
STATES = ["NY", "CA", "TX", "WA", "OR", "FL"]


def _write_business(n: int, seed: int, day: dt.date, console) -> None:
    from django.contrib.auth.hashers import make_password

    from redenvelope.billing.gateway import SimulatedGateway
    from redenvelope.core.bulk import copy_arrays, db_timestamp, next_id, reset_sequence
    from redenvelope.inventory.models import Region
    from redenvelope.ledger.actions import post_bulk
    from redenvelope.ledger.money import to_cents
    from redenvelope.membership.actions import create_plan
    from redenvelope.membership.cycle import period_containing
    from redenvelope.membership.models import Plan

    rng = np.random.default_rng(seed)
    plans = list(Plan.objects.all()) or [
        create_plan(code="one", name="1 at a time", discs_at_once=1, monthly_price="8.99"),
        create_plan(code="two", name="2 at a time", discs_at_once=2, monthly_price="13.99"),
        create_plan(code="three", name="3 at a time", discs_at_once=3, monthly_price="16.99"),
    ]
    region = Region.objects.first() or Region.objects.create(
        zip3="100", name="Manhattan", state="NY", latitude=40.78, longitude=-73.97
    )
    now = db_timestamp(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC))
    u0, m0 = next_id("auth_user"), next_id("membership_member")
    uid, mid = np.arange(u0, u0 + n), np.arange(m0, m0 + n)
    t = time.perf_counter()
    copy_arrays(
        "auth_user",
        {
            "id": uid,
            "password": make_password("bench-password", salt="bench"),
            "last_login": None,
            "is_superuser": False,
            "username": [f"bench{i}" for i in uid.tolist()],
            "first_name": "Bench",
            "last_name": "Member",
            "email": [f"bench{i}@example.com" for i in uid.tolist()],
            "is_staff": False,
            "is_active": True,
            "date_joined": now,
        },
    )
    plan_idx = rng.integers(0, len(plans), n)
    anchor = rng.integers(1, 32, n)
    # Each member's current period, already billed and paid (so recognition has a statement
    # for every member); members renewing today are on their last day of the previous one.
    yesterday = day - dt.timedelta(days=1)
    bounds = {a: period_containing(int(a), yesterday) for a in range(1, 32)}
    start = np.array([bounds[a][0].isoformat() for a in anchor.tolist()])
    end = np.array([bounds[a][1].isoformat() for a in anchor.tolist()])
    state = np.array(STATES)[rng.integers(0, len(STATES), n)]
    copy_arrays(
        "membership_member",
        {
            "id": mid,
            "user_id": uid,
            "plan_id": np.array([p.pk for p in plans], np.int64)[plan_idx],
            "status": "active",
            "street": "1 Bench St",
            "city": "Benchville",
            "state": state,
            "zip_code": "10001",
            "region_id": region.pk,
            "joined_at": now,
            "cancelled_at": None,
            "bonus_rentals": 0,
            "blocked": False,
            "billing_day": anchor,
            "trial_ends_on": None,
            "pending_plan_id": None,
            "cancels_on": None,
            "gift_months_left": 0,
            "gift_month_value": 0,
            # As the run leaves them: billed through their current periods (written below).
            "billed_until": end,
        },
    )
    gw = SimulatedGateway()
    good = gw.tokenize_card("4242424242424242", 12, day.year + 3)
    bad = gw.tokenize_card("4000000000009995", 12, day.year + 3)
    declines = rng.random(n) < DECLINE_SHARE
    p0 = next_id("billing_paymentmethod")
    copy_arrays(
        "billing_paymentmethod",
        {
            "id": np.arange(p0, p0 + n),
            "member_id": mid,
            "kind": "card",
            "token": np.where(declines, bad, good),
            "last4": np.where(declines, "9995", "4242"),
            "exp_month": 12,
            "exp_year": day.year + 3,
            "is_default": True,
            "created_at": now,
            "removed_at": None,
        },
    )
    price = np.array([to_cents(p.monthly_price) for p in plans], np.int64)[plan_idx]
    cents = price  # integer cents, as stored
    entries = post_bulk(
        "statement",
        effective_date=yesterday,
        memo="Statement (bench)",
        member_ids=mid,
        keys=None,
        lines=[
            ln
            for i, c in enumerate(price.tolist())
            for ln in ((i, "1100", c, 0), (i, "2000", 0, c))
        ],
    )
    s0 = next_id("billing_statement")
    copy_arrays(
        "billing_statement",
        {
            "id": np.arange(s0, s0 + n),
            "member_id": mid,
            "kind": "period",
            "period_start": start,
            "period_end": end,
            "plan_id": np.array([p.pk for p in plans], np.int64)[plan_idx],
            "plan_price": cents,
            "held_days": 0,
            "subtotal": cents,
            "discount": 0,
            "adjustment": 0,
            "fees": 0,
            "tax": 0,
            "credit_applied": 0,
            "gift_applied": 0,
            "total_due": cents,
            "amount_paid": cents,
            "currency": "USD",
            "status": "paid",
            "attempts": 1,
            "first_failed_on": None,
            "next_retry_on": None,
            "issued_at": now,
            "entry_id": entries,
        },
    )
    paid = post_bulk(
        "payment",
        effective_date=yesterday,
        memo="Payment (bench)",
        member_ids=mid,
        keys=None,
        lines=[
            ln
            for i, c in enumerate(price.tolist())
            for ln in ((i, "1000", c, 0), (i, "1100", 0, c))
        ],
    )
    del paid
    # Account credits and percent-off credits waiting for their next statements.
    with_credit = mid[rng.random(n) < CREDIT_SHARE]
    with_pct = mid[rng.random(n) < PERCENT_SHARE]
    k = len(with_credit)
    credit_entries = post_bulk(
        "credit",
        effective_date=yesterday,
        memo="Account credit (bench)",
        member_ids=with_credit,
        keys=None,
        lines=[ln for i in range(k) for ln in ((i, "4900", 500, 0), (i, "2200", 0, 500))],
    )
    c0 = next_id("billing_credit")
    both = np.concatenate([with_credit, with_pct])
    copy_arrays(
        "billing_credit",
        {
            "id": np.arange(c0, c0 + len(both)),
            "member_id": both,
            "kind": ["account"] * k + ["percent"] * len(with_pct),
            "amount": [500] * k + [None] * len(with_pct),
            "remaining": [500] * k + [None] * len(with_pct),
            "percent": [None] * k + [15] * len(with_pct),
            "rentals": None,
            "reason": "bench",
            "issuer_id": None,
            "issued_at": now,
            "entry_id": [int(e) for e in credit_entries.tolist()] + [None] * len(with_pct),
            "incident_id": None,
            "applied_to_id": None,
            "idempotency_key": None,
        },
    )
    for table in (
        "auth_user",
        "membership_member",
        "billing_paymentmethod",
        "billing_statement",
        "billing_credit",
    ):
        reset_sequence(table)
    console.print(
        f"wrote {n:,} members with payment methods and statements in {time.perf_counter() - t:.1f}s"
    )


def _count(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        return cur.fetchone()[0]


def run(members: int, days: int, seed: int, console) -> dict:
    """The days' runs, the members' emails going through the outbox to a real (local) SMTP
    server as in production."""
    from redenvelope.core.smtpsink import SmtpSink

    with SmtpSink(keep=False) as sink:
        for k, v in sink.settings().items():
            setattr(settings, k, v)
        return _run(members, days, seed, console, sink)


def _run(members: int, days: int, seed: int, console, sink) -> dict:
    from django.utils import timezone

    from redenvelope.billing.actions import daily_billing
    from redenvelope.core import clock
    from redenvelope.core.bulk import after_bulk_load
    from redenvelope.membership.models import Member

    if connection.vendor != "postgresql":
        console.print(
            f"[yellow]Not PostgreSQL: figures are for {connection.vendor}; set "
            "DATABASE_URL=postgres://... for the target.[/yellow]"
        )
    settings.REDENVELOPE["SALES_TAX"] = TAXED
    # The provider's books belong to this database's business: a bench on another database
    # must not find its charges already made (a repeated key returns the first answer).
    from redenvelope.billing.gateway import reset_gateway

    name = connection.settings_dict.get("NAME") or "default"
    store = Path(settings.REDENVELOPE["PAYMENT_PROVIDER_STORE"]).with_name(
        f"provider-bench-{connection.vendor}-{Path(str(name)).stem}.sqlite3"
    )
    if not Member.objects.exists():  # a new business: new books
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
    settings.REDENVELOPE = {**settings.REDENVELOPE, "PAYMENT_PROVIDER_STORE": str(store)}
    reset_gateway()
    # As in production with the scheduler: the run queues its emails and the worker's
    # `deliver_mail` job sends them (timed here on their own, after the days).
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_DELIVERY": "worker"}
    have = Member.objects.count()
    first = dt.date(2026, 12, 1)
    out = {"members": have or members, "days": []}
    if have == 0:
        t = time.perf_counter()
        with transaction.atomic():
            _write_business(members, seed, first, console)
        after_bulk_load()  # what the product does after any bulk load (statistics, hint bits)
        out["build_s"] = time.perf_counter() - t
    elif have != members:
        raise DomainError(
            f"The database holds {have:,} members, not {members:,}; use an empty database or "
            "that size."
        )
    last = _scalar("SELECT MAX(effective_date) FROM ledger_journalentry WHERE kind = 'recognition'")
    day = (last + dt.timedelta(days=1)) if last else first
    for k in range(days):
        d = day + dt.timedelta(days=k)
        rows_before = (
            _count("ledger_journalline") + _count("billing_statement") + _count("billing_payment")
        )
        with clock.frozen(timezone.make_aware(dt.datetime.combine(d, dt.time(2)))):
            t0 = time.perf_counter()
            billed = daily_billing(d)  # the scheduler's path: run, disputes, recognition
            t2 = time.perf_counter()
            t1 = t0 + billed["seconds"]["run"] + billed["seconds"]["disputes"]
            recognized = billed["recognition"]
        rows = (
            _count("ledger_journalline")
            + _count("billing_statement")
            + _count("billing_payment")
            - rows_before
        )
        fig = {
            "day": d,
            "statements": billed["statements"],
            "paid": billed["payments"]["succeeded"],
            "declined": billed["payments"]["failed"],
            "retried": billed["retries"]["attempted"],
            "recognized": recognized.get("members", 0),
            "billing_s": t1 - t0,
            "recognition_s": t2 - t1,
            "total_s": t2 - t0,
            "rows": rows,
            "phases": {
                **{k: v for k, v in billed.get("phases", {}).items()},
                "disputes": billed["seconds"]["disputes"],
                "recognition": billed["seconds"]["recognition"],
            },
        }
        out["days"].append(fig)
        console.print(
            f"{d}: {fig['statements']:,} statements ({fig['paid']:,} paid, {fig['declined']:,} "
            f"declined, {fig['retried']:,} retries) in {fig['billing_s']:.2f}s; revenue "
            f"recognised for {fig['recognized']:,} members in {fig['recognition_s']:.2f}s; "
            f"total {fig['total_s']:.2f}s, {fig['rows']:,} rows = "
            f"{fig['rows'] / fig['total_s']:,.0f} rows/s"
        )
        console.print("  phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in fig["phases"].items()))
    from redenvelope.core.mail import deliver

    t = time.perf_counter()
    sent = deliver()["sent"]
    out["deliver_s"] = time.perf_counter() - t
    console.print(
        f"emails queued by the days' runs, delivered afterwards through SMTP: {sent:,} in "
        f"{out['deliver_s']:.1f}s"
    )
    out["emails_received"] = sink.inbox.count
    console.print(f"emails received by the local SMTP server: {out['emails_received']:,}")
    return out


def _scalar(sql: str):
    with connection.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def report(r: dict, console) -> None:
    from rich.table import Table

    days = r["days"]
    if "build_s" in r:
        console.print(
            f"Business of {r['members']:,} members written in {r['build_s']:.1f}s (not counted)."
        )
    if not days:
        return
    table = Table(title=f"Billing, {r['members']:,} members, {connection.vendor}")
    for col in ("days", "statements", "worst day s", "mean day s", "total s", "rows", "rows/s"):
        table.add_column(col, justify="right")
    total = sum(d["total_s"] for d in days)
    rows = sum(d["rows"] for d in days)
    table.add_row(
        str(len(days)),
        f"{sum(d['statements'] for d in days):,}",
        f"{max(d['total_s'] for d in days):.2f}",
        f"{total / len(days):.2f}",
        f"{total:.1f}",
        f"{rows:,}",
        f"{rows / total:,.0f}",
    )
    console.print(table)
    console.print(
        "Targets (PostgreSQL, 1,000,000 members): one day ≤ 10 s; a month of daily runs ≤ 300 s."
    )
