"""Revenue recognition: each day, every statement's earned amount (price less percent off) moves
from deferred to earned revenue by its share of the period: cents / days each day, the cents
left over on the last day. One journal entry a day, one pair of lines per plan (the day's total
is computed in SQL over every statement in service, so a national business takes one query).
Idempotent per day (the entry's key). `earned_cents` gives the same schedule for any window,
per plan, for the reports."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from redenvelope.core import clock
from redenvelope.core.bulk import is_postgres
from redenvelope.ledger.actions import Line, post_entry
from redenvelope.ledger.models import JournalEntry
from redenvelope.ledger.money import cents_text, from_cents


def _days(a: str, b: str) -> str:
    """SQL for the whole days from date expression a to date expression b."""
    if is_postgres():
        return f"({b} - {a})"
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


def _date(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'" if is_postgres() else f"'{value.isoformat()}'"


def earned_cents(
    first: dt.date, last: dt.date, *, posted_after: int | None = None
) -> dict[int, tuple[int, int]]:
    """Revenue each plan earns from `first` to `last` (inclusive), by the recognition schedule:
    {plan_id: (cents, statements in service)}. `posted_after`: only statements whose entry was
    posted after that journal entry."""
    cents = "(subtotal - discount)"
    days = _days("period_start", "period_end")
    # A written-off statement earns nothing from its write-off day on (decision 0006): its days
    # run to the write-off, and it has no last-day remainder unless it was written off after
    # its period ended.
    stop = "CASE WHEN written_off_on IS NOT NULL AND written_off_on < period_end "
    stop += "THEN written_off_on ELSE period_end END"
    lo = f"CASE WHEN period_start > {_date(first)} THEN period_start ELSE {_date(first)} END"
    upto = _date(last + dt.timedelta(days=1))
    hi_excl = f"CASE WHEN {stop} < {upto} THEN {stop} ELSE {upto} END"
    sql = (
        f"SELECT plan_id, SUM(({cents} / {days}) * "  # noqa: S608
        f"CASE WHEN {_days(lo, hi_excl)} > 0 THEN {_days(lo, hi_excl)} ELSE 0 END + "
        f"CASE WHEN period_end <= {upto} AND {stop} = period_end "
        f"AND period_end > {_date(first)} "
        f"THEN {cents} - ({cents} / {days}) * {days} ELSE 0 END), COUNT(*) "
        f"FROM billing_statement WHERE period_start <= {_date(last)} "
        f"AND period_end > {_date(first)} AND {days} > 0 "
        + (f"AND entry_id > {int(posted_after)} " if posted_after is not None else "")
        + "GROUP BY plan_id"
    )
    with connection.cursor() as cur:
        cur.execute(sql)
        return {int(p): (int(c or 0), int(n)) for p, c, n in cur.fetchall()}


@transaction.atomic
def recognize_revenue(day: dt.date | None = None) -> dict:
    day = day or clock.today()
    key = f"recognition:{day.isoformat()}"
    if JournalEntry.objects.filter(idempotency_key=key).exists():
        return {"members": 0, "already": True}
    per_plan = earned_cents(day, day)
    # Statements posted after the last day's recognition ran, for days before this one (an
    # upgrade at noon; a member billed late for a period that had started): their earlier days
    # were never in a day's recognition, so they are earned now, and every billed cent is
    # earned by the period's end.
    before = (
        JournalEntry.objects.filter(kind="recognition", effective_date__lt=day)
        .order_by("-effective_date", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if before is not None:
        late = earned_cents(dt.date.min, day - dt.timedelta(days=1), posted_after=before)
        for plan, (cents, _) in late.items():
            have = per_plan.get(plan, (0, 0))
            per_plan[plan] = (have[0] + cents, have[1])
    total = sum(c for c, _ in per_plan.values())
    statements = sum(n for _, n in per_plan.values())
    if total <= 0:
        return {"members": statements, "cents": 0}
    from redenvelope.membership.models import Plan

    names = dict(Plan.objects.values_list("pk", "code"))
    lines = []
    for _plan, (cents, _) in sorted(per_plan.items()):
        if cents > 0:
            amount = from_cents(cents)
            lines += [Line("2000", debit=amount), Line("4000", credit=amount)]
    post_entry(
        "recognition",
        lines,
        memo=f"Revenue earned on {day.isoformat()} by plan: "
        + ", ".join(f"{names.get(p, p)} {cents_text(c)}" for p, (c, _) in sorted(per_plan.items())),
        effective_date=day,
        idempotency_key=key,
    )
    return {"members": statements, "cents": total}


# A scheduler down longer than this is an outage to look into: catching up stops at this many
# days back (older days stay deferred, and `check` and the reports show it).
CATCH_UP_DAYS = 400


def recognize_through(day: dt.date | None = None) -> dict:
    """Every day's recognition up to `day`, in order: the days the job missed (the scheduler
    down, a run that failed) first, each on its own date and with its own key, then `day`.
    The first recognition of a business is its first day."""
    day = day or clock.today()
    last = (
        JournalEntry.objects.filter(kind="recognition", effective_date__lte=day)
        .order_by("-effective_date")
        .values_list("effective_date", flat=True)
        .first()
    )
    # A business's first recognition starts that day (statements imported with their history
    # bring their own); from then on no day is skipped.
    start = day if last is None else last + dt.timedelta(days=1)
    start = max(min(start, day), day - dt.timedelta(days=CATCH_UP_DAYS))
    caught_up = []
    d = start
    while d < day:
        if recognize_revenue(d).get("cents"):
            caught_up.append(d.isoformat())
        d += dt.timedelta(days=1)
    result = recognize_revenue(day)
    result["caught_up_days"] = len(caught_up)
    return result
