"""The daily billing run, set-wise (a handful of statements however many members are due):

1. the day's lifecycle: cancellations that take effect today, trials that convert today;
2. dunning: past-due statements whose retry day has come are charged again; a recovery restores
   the member at once, a last failure cancels the membership and writes off what is owed;
3. statements for every member whose billing day it is (downgrades take effect first), each the
   same figures `issue_statement` gives one member: the plan's price less vacation-hold days, any
   percent off, open fees, the correction for hold days that changed after the last statement,
   sales tax, gift months and account credit;
4. the new statements' payments, through the payment provider.

Steps 1-3 are one transaction, which records every payment to make as an intent (the outbox,
`payments.py`); the provider is called with each intent's key only after it commits, and its
answers are recorded in a second transaction. A run killed anywhere leaves either nothing or
intents on record: the next run (or `billing reconcile`) asks the provider about those by key
first, so each is charged once. Every step is idempotent per member and day. Members are
emailed about failed, recovered and cancelling payments after the answers are recorded."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.bulk import (
    copy_arrays,
    db_timestamp,
    execute,
    index_joins,
    is_postgres,
    new_ids,
    read_columns,
    temp_table,
)
from redenvelope.ledger.actions import post_bulk
from redenvelope.ledger.money import from_cents, share
from redenvelope.membership.actions import add_events, end_memberships
from redenvelope.membership.cycle import period_containing


def tax_rate(state: str) -> Decimal:
    rates = settings.REDENVELOPE.get("SALES_TAX", {})
    return Decimal(str(rates.get(state, "0")))


def correction(prev, holds, start: dt.date, rate: Decimal) -> tuple[int, int]:
    """The correction of last period's statement for hold days that changed after it was issued,
    as (net, tax) in cents: a credit note on that statement. Days held since are refunded at what
    the statement charged for them (its price after percentages off, over the days it billed), never
    more than the plan price for those days, with the tax collected on them; days no longer held are
    charged at the plan price, taxed at today's rate. One rule for every path: `issue_statement`
    bills through `bill()`."""
    p_start, p_held, p_price, p_net, p_tax = prev
    days = (start - p_start).days
    now_held = min(days, sum(_overlap(s, e, p_start, start) for s, e in holds))
    extra = now_held - p_held
    if extra > 0:
        billed = days - p_held  # > 0, since now_held <= days
        net = min(share(p_price, extra, days), share(p_net, extra, billed))
        return -net, -share(p_tax, extra, billed)
    if extra < 0:
        net = share(p_price, -extra, days)
        return net, share(net, rate, 1)
    return 0, 0


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _overlap(a0: dt.date, a1: dt.date, b0: dt.date, b1: dt.date) -> int:
    return max(0, (min(a1, b1) - max(a0, b0)).days)


def _ids_sql(ids) -> str:
    return ",".join(str(int(i)) for i in ids) or "NULL"


@dataclass
class Notices:
    """What members are to be told: (kind, member, statement, reference). `queue` writes the
    emails to the outbox in the caller's transaction; they are delivered once it commits."""

    items: list[tuple[str, int, int | None, str | None]] = field(default_factory=list)

    def add(self, kind: str, member_id: int, statement_id=None, ref=None) -> None:
        self.items.append((kind, int(member_id), statement_id, ref))

    def queue(self, extra: dict | None = None) -> int:
        """Queue the emails (`extra`: texts for kinds without a template, by kind)."""
        from .notifications import queue_billing_emails

        items, self.items = self.items, []
        return queue_billing_emails(items, extra) if items else 0


def start_of_day(day: dt.date) -> dict:
    """Cancellations that take effect today; trials that end today become paying members,
    billed from today on."""
    d = day.isoformat()
    ending = read_columns(
        "SELECT id FROM membership_member WHERE cancels_on IS NOT NULL "  # noqa: S608
        f"AND cancels_on <= '{d}' AND status <> 'cancelled'",
        [("id", "int64")],
    )["id"]
    ended = end_memberships(ending.tolist(), reason="end of paid period")
    converting = read_columns(
        "SELECT id FROM membership_member WHERE status = 'trial' "  # noqa: S608
        f"AND trial_ends_on IS NOT NULL AND trial_ends_on <= '{d}'",
        [("id", "int64")],
    )["id"]
    if len(converting):
        execute(
            "UPDATE membership_member SET status = 'active', billing_day = %s "  # noqa: S608
            f"WHERE id IN ({_ids_sql(converting)})",
            [day.day],
        )
        add_events([(m, "trial_converted", {"on": d}) for m in converting.tolist()])
    return {"cancelled": len(ended), "trials_converted": len(converting)}


def _previous_statements() -> dict:
    return read_columns(
        "SELECT s.member_id, s.period_start, s.held_days, s.plan_price, "  # noqa: S608
        "s.subtotal - s.discount, s.tax "
        "FROM billing_statement s JOIN bill_due b ON b.member_id = s.member_id "
        "WHERE s.kind = 'period' AND s.period_end = b.start",
        [
            ("member_id", "int64"),
            ("start", "object"),
            ("held", "int64"),
            ("price", "int64"),
            ("net", "int64"),
            ("tax", "int64"),
        ],
    )


def bill(day: dt.date, member_ids=None, *, queue: bool = False) -> dict:
    """Issue the statements due on `day` (for `member_ids` only, when given), written due:
    every paying member whose current period has no statement yet — those whose billing day
    it is, and any the runs missed (a member who joined or rejoined after that day's run, a day
    the scheduler did not run), billed for the period that has started, from its first day.
    With `queue`, what each owes is recorded as a payment intent, for the provider once this
    commits (`payments.send_and_settle`)."""
    t_read = time.perf_counter()
    only = f"AND m.id IN ({_ids_sql(member_ids)})" if member_ids is not None else ""
    # Each billing day's current period: [start, stop).
    temp_table(
        "bill_anchor",
        "anchor integer, start date, stop date",
        [(a, *(x.isoformat() for x in period_containing(a, day))) for a in range(1, 32)],
    )
    base = (
        "FROM membership_member m JOIN membership_plan p ON p.id = m.plan_id "  # noqa: S608
        "JOIN bill_anchor b ON b.anchor = m.billing_day "
        f"WHERE m.status IN ('active', 'past_due') {only} "
        # Only members whose last billed period has ended (or who have none) can be due: the
        # rest have a statement covering today (Member.billed_until).
        f"AND (m.billed_until IS NULL OR m.billed_until <= '{day.isoformat()}') "
        "AND NOT EXISTS (SELECT 1 FROM "
        "billing_statement s WHERE s.member_id = m.id AND s.kind = 'period' "
        "AND s.status <> 'written_off' "
        "AND s.period_start < b.stop AND s.period_end > b.start) "
        # ... whose period starts today, or who was a member during it (a period the runs
        # missed, never one from before they joined).
        f"AND (b.start = '{day.isoformat()}' OR b.stop > "
        f"{'CAST(m.joined_at AS date)' if is_postgres() else 'date(m.joined_at)'})"
    )
    # Downgrades chosen during the last period take effect with this one.
    switching = read_columns(
        f"SELECT m.id, m.plan_id, m.pending_plan_id {base} AND m.pending_plan_id IS NOT NULL",
        [("id", "int64"), ("old", "int64"), ("new", "int64")],
    )
    if len(switching["id"]):
        execute(
            "UPDATE membership_member SET plan_id = pending_plan_id, pending_plan_id = NULL "  # noqa: S608
            f"WHERE id IN ({_ids_sql(switching['id'])})"
        )
        add_events(
            [
                (m, "plan_changed", {"old_plan": o, "new_plan": n, "when": "period start"})
                for m, o, n in zip(
                    switching["id"].tolist(),
                    switching["old"].tolist(),
                    switching["new"].tolist(),
                    strict=True,
                )
            ]
        )
    due = read_columns(
        "SELECT m.id, p.id, p.monthly_price, m.state, m.billing_day, "
        f"m.gift_months_left, m.gift_month_value, b.start {base} "
        "ORDER BY m.id",
        [
            ("member_id", "int64"),
            ("plan_id", "int64"),
            ("price", "int64"),
            ("state", "object"),
            ("anchor", "int64"),
            ("gift_left", "int64"),
            ("gift_value", "int64"),
            ("start", "object"),
        ],
    )
    n = len(due["member_id"])
    if n == 0:
        return {
            "statements": 0,
            "intents": np.zeros(0, np.int64),
            "seconds": {"members read": time.perf_counter() - t_read},
        }
    members = due["member_id"]
    start_of = [_day(x) for x in due["start"]]
    temp_table(
        "bill_due",
        "member_id bigint, start date",
        [(m, x.isoformat()) for m, x in zip(members.tolist(), start_of, strict=True)],
    )
    ends = {a: period_containing(a, day)[1] for a in set(due["anchor"].tolist())}
    end_of = [ends[a] for a in due["anchor"].tolist()]
    # Last period's statement, to correct it for hold days that changed after it was issued
    # (the day's members looked up by index in millions of statements).
    with index_joins():
        prev = _previous_statements()
    prev_of = {
        m: (_day(s), h, p, net, tax)
        for m, s, h, p, net, tax in zip(
            prev["member_id"].tolist(),
            prev["start"],
            prev["held"].tolist(),
            prev["price"].tolist(),
            prev["net"].tolist(),
            prev["tax"].tolist(),
            strict=True,
        )
    }
    lo = min([min(start_of) - dt.timedelta(days=31)] + [v[0] for v in prev_of.values()])
    holds = read_columns(
        "SELECT h.member_id, h.starts_on, h.ends_on FROM membership_hold h "  # noqa: S608
        "JOIN bill_due b ON b.member_id = h.member_id WHERE h.cancelled_at IS NULL "
        f"AND h.ends_on > '{lo.isoformat()}' AND h.starts_on < '{max(end_of).isoformat()}'",
        [("member_id", "int64"), ("start", "object"), ("end", "object")],
    )
    holds_of: dict[int, list] = defaultdict(list)
    for m, s, e in zip(holds["member_id"].tolist(), holds["start"], holds["end"], strict=True):
        holds_of[m].append((_day(s), _day(e)))
    pct = read_columns(
        "SELECT c.id, c.member_id, c.percent FROM billing_credit c "
        "JOIN bill_due b ON b.member_id = c.member_id "
        "WHERE c.kind = 'percent' AND c.applied_to_id IS NULL "
        "ORDER BY c.member_id, c.issued_at, c.id",
        [("id", "int64"), ("member_id", "int64"), ("percent", "int64")],
    )
    pct_of: dict[int, list] = defaultdict(list)
    for cid, m, p in zip(
        pct["id"].tolist(), pct["member_id"].tolist(), pct["percent"].tolist(), strict=True
    ):
        pct_of[m].append((cid, p))
    fees = read_columns(
        "SELECT f.member_id, SUM(f.amount) FROM billing_fee f "
        "JOIN bill_due b ON b.member_id = f.member_id WHERE f.status = 'open' "
        "GROUP BY f.member_id",
        [("member_id", "int64"), ("cents", "int64")],
    )
    fees_of = dict(zip(fees["member_id"].tolist(), fees["cents"].tolist(), strict=True))
    credits = read_columns(
        "SELECT c.id, c.member_id, c.remaining FROM billing_credit c "
        "JOIN bill_due b ON b.member_id = c.member_id WHERE c.kind = 'account' "
        "AND c.remaining > 0 ORDER BY c.member_id, c.issued_at, c.id",
        [("id", "int64"), ("member_id", "int64"), ("remaining", "int64")],
    )
    credit_of: dict[int, list] = defaultdict(list)
    for cid, m, r in zip(
        credits["id"].tolist(),
        credits["member_id"].tolist(),
        credits["remaining"].tolist(),
        strict=True,
    ):
        credit_of[m].append([cid, r])

    t_compute = time.perf_counter()
    cols = defaultdict(list)
    lines: list[tuple[int, str, int, int]] = []
    credit_updates, pct_updates, carry = [], [], []
    rates: dict[str, Decimal] = {}
    for i, (m, price, state, gift_left, gift_value, start, end) in enumerate(
        zip(
            members.tolist(),
            due["price"].tolist(),
            due["state"].tolist(),
            due["gift_left"].tolist(),
            due["gift_value"].tolist(),
            start_of,
            end_of,
            strict=True,
        )
    ):
        days = (end - start).days
        held = min(days, sum(_overlap(s, e, start, end) for s, e in holds_of.get(m, ())))
        sub = share(price, days - held, days)
        discount = 0
        # Percentages off apply one after the other, each to what is left (15% then 10% of
        # $10 is $1.50 then $0.85); one that would take nothing waits for a statement it can
        # reduce (a fully held month uses none).
        for cid, p in pct_of.get(m, ()):
            amount = share(sub - discount, p, 100)
            if amount <= 0:
                continue
            discount += amount
            pct_updates.append((cid, amount))
        net = sub - discount
        if state not in rates:
            rates[state] = tax_rate(state)
        tax = share(net, rates[state], 1)
        adj_net, adj_tax = (
            correction(prev_of[m], holds_of.get(m, ()), start, rates[state])
            if m in prev_of
            else (0, 0)
        )
        adj = adj_net + adj_tax
        fee = fees_of.get(m, 0)
        gross = net + tax + fee + adj
        left_over = 0
        if gross < 0:
            left_over, gross = -gross, 0
        adj_carried = left_over
        gift = min(gift_value, gross) if gift_left > 0 else 0
        if gift_left > 0:
            left_over += gift_value - gift
        applied = 0
        for c in credit_of.get(m, ()):
            take = min(c[1], gross - gift - applied)
            if take <= 0:
                break
            applied += take
            credit_updates.append((c[0], c[1] - take))
        total = gross - gift - applied
        if net + tax:
            lines.append((i, "1100", net + tax, 0))
        if net:
            lines.append((i, "2000", 0, net))
        if tax:
            lines.append((i, "2100", 0, tax))
        if adj > 0:
            lines += [(i, "1100", adj, 0), (i, "4900", 0, adj_net)]
            if adj_tax:
                lines.append((i, "2100", 0, adj_tax))
        elif adj < 0:
            lines.append((i, "4900", -adj_net, 0))
            if adj_tax:
                lines.append((i, "2100", -adj_tax, 0))
            if min(-adj, net + tax + fee) > 0:  # the rest of the correction is left_over
                lines.append((i, "1100", 0, min(-adj, net + tax + fee)))
        if gift_left > 0 and gift_value:
            lines.append((i, "2300", gift_value, 0))
            if gift:
                lines.append((i, "1100", 0, gift))
        if left_over:
            lines.append((i, "2200", 0, left_over))
            carry.append((m, left_over, start))
        if applied:
            lines += [(i, "2200", applied, 0), (i, "1100", 0, applied)]
        for k, v in (
            ("plan_price", price),
            ("held", held),
            ("subtotal", sub),
            ("discount", discount),
            # what the correction took off this bill (any rest was carried as account credit)
            ("adjustment", adj + adj_carried),
            ("adjustment_tax", adj_tax),
            ("fees", fee),
            ("tax", tax),
            ("applied", applied),
            ("gift", gift),
            ("total", total),
            ("end", end.isoformat()),
        ):
            cols[k].append(v)

    t_write = time.perf_counter()
    # A statement that moves no money (nothing billed, nothing applied) has no journal entry:
    # the ledger refuses entries without lines on every path.
    has_lines = np.zeros(n, bool)
    if lines:
        has_lines[np.array([ln[0] for ln in lines], np.int64)] = True
    posted = np.flatnonzero(has_lines)
    renumber = np.cumsum(has_lines) - 1
    posted_ids = post_bulk(
        "statement",
        effective_date=day,
        memo=[f"Statement {start_of[i]} to {cols['end'][i]}" for i in posted.tolist()],
        member_ids=members[posted],
        keys=[f"statement:{members[i]}:{start_of[i]}" for i in posted.tolist()],
        lines=[(int(renumber[i]), a, dr, cr) for i, a, dr, cr in lines],
    )
    entry_ids = [None] * n
    for i, e in zip(posted.tolist(), posted_ids.tolist(), strict=True):
        entry_ids[i] = e
    ids = new_ids("billing_statement", n)
    total = np.array(cols["total"], np.int64)
    status = np.where(total == 0, "paid", "due").astype(object)
    paid = np.zeros(n, np.int64)
    attempts = np.zeros(n, np.int64)
    first_failed, next_retry = [None] * n, [None] * n

    def money(k):
        return np.array(cols[k], np.int64)  # cents, as stored

    copy_arrays(
        "billing_statement",
        {
            "id": ids,
            "member_id": members,
            "kind": "period",
            "period_start": [x.isoformat() for x in start_of],
            "period_end": cols["end"],
            "plan_id": due["plan_id"],
            "plan_price": money("plan_price"),
            "held_days": np.array(cols["held"], np.int64),
            "subtotal": money("subtotal"),
            "discount": money("discount"),
            "adjustment": money("adjustment"),
            "adjustment_tax": money("adjustment_tax"),
            "fees": money("fees"),
            "tax": money("tax"),
            "credit_applied": money("applied"),
            "gift_applied": money("gift"),
            "total_due": money("total"),
            "amount_paid": paid,
            "currency": "USD",
            "status": status,
            "attempts": attempts,
            "first_failed_on": first_failed,
            "next_retry_on": next_retry,
            "issued_at": db_timestamp(clock.now()),
            "entry_id": entry_ids,
        },
    )
    temp_table(
        "bill_stmt",
        "member_id bigint, statement_id bigint, period_end date",
        {"member_id": members, "statement_id": ids, "period_end": cols["end"]},
    )
    # Billed through the new periods' ends; a gift month is used.
    with index_joins():  # a day's members of millions, by primary key
        execute(
            "UPDATE membership_member SET billed_until = s.period_end, gift_months_left = "
            "CASE WHEN gift_months_left > 0 THEN gift_months_left - 1 ELSE 0 END "
            "FROM bill_stmt s WHERE s.member_id = membership_member.id"
        )
    # Credits used by these statements: account credit's new remaining, percent-off's amount
    # (and the statement it went to), in one pass.
    used = credit_updates + pct_updates
    if used:
        temp_table(
            "bill_credit_use",
            "id bigint, cents bigint",
            {
                "id": np.array([c for c, _ in used], np.int64),
                "cents": np.array([v for _, v in used], np.int64),
            },
        )
        execute(
            "UPDATE billing_credit SET "
            "remaining = CASE WHEN kind = 'account' THEN u.cents ELSE remaining END, "
            "amount = CASE WHEN kind = 'percent' THEN u.cents ELSE amount END, "
            "applied_to_id = CASE WHEN kind = 'percent' THEN s.statement_id "
            "ELSE applied_to_id END "
            "FROM bill_credit_use u, bill_stmt s "
            "WHERE u.id = billing_credit.id AND s.member_id = billing_credit.member_id"
        )
    if fees_of:
        execute(
            "UPDATE billing_fee SET status = 'billed', statement_id = s.statement_id "
            "FROM bill_stmt s WHERE s.member_id = billing_fee.member_id "
            "AND billing_fee.status = 'open'"
        )
    if carry:
        from .models import Credit

        now = clock.now()
        Credit.objects.bulk_create(
            [
                Credit(
                    member_id=m,
                    kind=Credit.Kind.ACCOUNT,
                    amount=from_cents(c),
                    remaining=from_cents(c),
                    reason=f"Carried from the statement of {x} (hold days or a gift month "
                    "worth more than the bill)",
                    issued_at=now,
                )
                for m, c, x in carry
            ]
        )
    from .payments import queue_charges as _queue

    # What the new statements owe, recorded for the provider (sent after the commit).
    intents = (
        _queue(day, ids[total > 0], members[total > 0], total[total > 0])
        if queue
        else np.zeros(0, np.int64)
    )
    return {
        "statements": n,
        "credit_applied": str(from_cents(sum(cols["applied"]))),
        "intents": intents,
        "seconds": {
            "members read": t_compute - t_read,
            "statements computed": t_write - t_compute,
            "statements written": time.perf_counter() - t_write,
        },
    }


def member_statuses(day: dt.date, failed, succeeded, cancelled) -> None:
    """Members with a failed payment are past due (nothing ships); a member whose last past-due
    statement is paid is restored; a member whose last retry failed is cancelled and what they
    still owe is written off (bad debt)."""
    events = []
    if cancelled:
        owed = read_columns(
            "SELECT id, member_id, total_due - amount_paid "  # noqa: S608
            f"FROM billing_statement WHERE member_id IN ({_ids_sql(cancelled)}) "
            "AND status IN ('due', 'past_due', 'written_off') AND total_due > amount_paid "
            "AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e WHERE e.idempotency_key = "
            "'write_off:' || CAST(billing_statement.id AS varchar(20)))",
            [("id", "int64"), ("member_id", "int64"), ("cents", "int64")],
        )
        post_bulk(
            "write_off",
            effective_date=day,
            memo=[f"Written off: statement {s} unpaid after the last retry" for s in owed["id"]],
            member_ids=owed["member_id"],
            keys=[f"write_off:{s}" for s in owed["id"].tolist()],
            lines=[
                ln
                for j, c in enumerate(owed["cents"].tolist())
                for ln in ((j, "6000", c, 0), (j, "1100", 0, c))
            ],
        )
        if len(owed["id"]):
            execute(
                "UPDATE billing_statement SET status = 'written_off', next_retry_on = NULL, "  # noqa: S608
                f"written_off_on = '{day.isoformat()}' WHERE id IN ({_ids_sql(owed['id'])})"
            )
            _reverse_unearned(day, owed["id"])
        end_memberships(cancelled, reason="payment failed after every retry")
    going = [m for m in failed if m not in set(cancelled)]
    if going:
        now_due = read_columns(
            "SELECT id FROM membership_member WHERE status IN ('active', 'trial') "  # noqa: S608
            f"AND id IN ({_ids_sql(going)})",
            [("id", "int64")],
        )["id"].tolist()
        if now_due:
            execute(
                "UPDATE membership_member SET status = 'past_due' "  # noqa: S608
                f"WHERE id IN ({_ids_sql(now_due)})"
            )
            events += [
                (m, "status_changed", {"new": "past_due", "reason": "payment failed"})
                for m in now_due
            ]
    if succeeded:
        restored = read_columns(
            "SELECT m.id FROM membership_member m WHERE m.status = 'past_due' "  # noqa: S608
            f"AND m.id IN ({_ids_sql(succeeded)}) AND NOT EXISTS (SELECT 1 FROM "
            "billing_statement s WHERE s.member_id = m.id AND s.status = 'past_due')",
            [("id", "int64")],
        )["id"].tolist()
        if restored:
            execute(
                "UPDATE membership_member SET status = 'active' "  # noqa: S608
                f"WHERE id IN ({_ids_sql(restored)})"
            )
            events += [
                (m, "status_changed", {"new": "active", "reason": "payment recovered"})
                for m in restored
            ]
    add_events(events)


def _reverse_unearned(day: dt.date, statement_ids) -> None:
    """A statement written off stops earning on the write-off day (the membership is cancelled:
    the days left are never served). The deferred revenue for those days is reversed against the
    bad debt just posted (Dr deferred revenue / Cr bad debt), so deferred revenue empties and
    the revenue earned is what was served. Earned so far follows the recognition schedule:
    (price less discount) // days for each day before today."""
    rows = read_columns(
        "SELECT id, member_id, subtotal - discount, period_start, period_end "  # noqa: S608
        f"FROM billing_statement WHERE id IN ({_ids_sql(statement_ids)}) "
        f"AND period_end > '{day.isoformat()}' AND period_start <= '{day.isoformat()}'",
        [
            ("id", "int64"),
            ("member_id", "int64"),
            ("cents", "int64"),
            ("start", "object"),
            ("end", "object"),
        ],
    )
    items = []
    for sid, m, cents, start, end in zip(
        rows["id"].tolist(),
        rows["member_id"].tolist(),
        rows["cents"].tolist(),
        rows["start"],
        rows["end"],
        strict=True,
    ):
        start, end = _day(start), _day(end)
        days = (end - start).days
        unearned = cents - (cents // days) * (day - start).days if days > 0 else 0
        if unearned > 0:
            items.append((sid, m, unearned))
    if not items:
        return
    post_bulk(
        "write_off",
        effective_date=day,
        memo=[f"Statement {s} written off: revenue for the days not served" for s, _, _ in items],
        member_ids=[m for _, m, _ in items],
        keys=[f"unearned:{s}" for s, _, _ in items],
        lines=[
            ln for j, (_, _, c) in enumerate(items) for ln in ((j, "2000", c, 0), (j, "6000", 0, c))
        ],
    )


def run_billing(day: dt.date | None = None) -> dict:
    """The whole day's billing (see the module's text). Safe to run again, and after a crash at
    any point: a second run settles what the first left open and finds nothing else to do."""
    from .payments import (
        queue_retries,
        send_and_settle,
        send_charges,
        settle_charges,
        settle_open_charges,
    )

    day = day or clock.today()
    notices = Notices()
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = seconds.get(name, 0.0) + now - t
        t = now

    summary = {"reconciled": settle_open_charges(notices)}
    lap("open payments settled")
    with transaction.atomic():
        summary.update(start_of_day(day))
        retry_intents = queue_retries(day)
        lap("lifecycle and retries queued")
        billed = bill(day, queue=True)
        t = time.perf_counter()
    lap("commit")
    # Committed: the intents are on record before the provider hears of them.
    summary["retries"] = send_and_settle(retry_intents, notices)
    lap("retries (provider and records)")
    summary["statements"] = billed["statements"]
    summary["credit_applied"] = billed.get("credit_applied", "0")
    answers = send_charges(billed["intents"])
    lap("provider calls")
    summary["payments"] = settle_charges(answers, notices)
    lap("payments written")
    notices.queue()
    summary["seconds"] = {**billed.get("seconds", {}), **seconds}
    return summary
