"""Finance reports, each a table (columns, rows) computed in SQL, shown as a page or a CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum

from redenvelope.core import clock
from redenvelope.ledger.money import from_cents, to_money
from redenvelope.ledger.queries import trial_balance

from .models import Credit, Payment, Statement


def respond(request, names, build, name: str, template: str, **extra):
    """A report's page (or, with ?format=csv, its CSV) for the window in ?from= and ?to=:
    the view of every domain's reports."""
    from django.http import Http404, HttpResponse
    from django.shortcuts import render

    from redenvelope.core import parse

    if name not in names:
        raise Http404("No such report.")
    start = parse.optional_day(request.GET.get("from"), "from")
    end = parse.optional_day(request.GET.get("to"), "to")
    rep = build(name, start, end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(rep.csv(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}-{end or "today"}.csv"'
        return response
    return render(request, template, {"report": rep, "from": start, "to": end, **extra})


@dataclass
class Report:
    name: str
    title: str
    columns: list[str]
    rows: list[list]
    note: str = ""

    def csv(self) -> str:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(["" if v is None else v for v in r])
        return out.getvalue()


def _query(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _money(v) -> Decimal:
    """A Decimal amount (or None) for a report cell, by the one rounding rule."""
    return to_money(v if v is not None else 0)


def mrr(start: dt.date, end: dt.date) -> Report:
    """Monthly recurring revenue by plan (members who pay now), and revenue earned in the window
    (recognised, net of percent discounts) by each member's plan."""
    paying = _query(
        "SELECT p.name, p.monthly_price, COUNT(m.id) FROM membership_plan p "
        "LEFT JOIN membership_member m ON m.plan_id = p.id AND m.status IN ('active', 'past_due') "
        "GROUP BY p.id, p.name, p.monthly_price ORDER BY p.monthly_price"
    )
    from .recognition import earned_cents

    earned = {p: from_cents(c) for p, (c, _) in earned_cents(start, end).items()}
    plan_ids = dict(_query("SELECT name, id FROM membership_plan"))
    rows = []
    for name, price, n in paying:
        price = from_cents(price)  # the column holds cents
        rows.append([name, n, price, price * n, _money(earned.get(plan_ids[name]))])
    rows.append(
        [
            "Total",
            sum(r[1] for r in rows),
            "",
            sum((r[3] for r in rows), Decimal("0.00")),
            sum((r[4] for r in rows), Decimal("0.00")),
        ]
    )
    return Report(
        "mrr",
        "MRR and revenue by plan",
        ["plan", "paying members", "price", "MRR", f"revenue earned {start} to {end}"],
        rows,
    )


def deferred_revenue(as_of: dt.date) -> Report:
    tb = {a.code: (d, c) for a, d, c in trial_balance(as_of).rows}
    d, c = tb.get("2000", (0, 0))
    gd, gc = tb.get("2300", (0, 0))
    open_statements = Statement.objects.filter(
        period_start__lte=as_of, period_end__gt=as_of
    ).count()
    return Report(
        "deferred",
        "Deferred revenue",
        [
            "as of",
            "deferred subscription revenue",
            "gift subscriptions outstanding",
            "statements in service",
        ],
        [[as_of, _money(c - d), _money(gc - gd), open_statements]],
        "Billed but not yet earned: it becomes revenue day by day over each paid period.",
    )


BUCKETS = [
    (0, 30, "0-30 days"),
    (31, 60, "31-60 days"),
    (61, 90, "61-90 days"),
    (91, 100000, "over 90 days"),
]


def receivables_aging(as_of: dt.date) -> Report:
    rows = []
    unpaid = Statement.objects.filter(
        status__in=["due", "past_due"], period_start__lte=as_of
    ).values_list("period_start", "total_due", "amount_paid")
    totals = {label: [0, Decimal("0.00")] for _, _, label in BUCKETS}
    for start, due, paid in unpaid:
        age = (as_of - start).days
        for lo, hi, label in BUCKETS:
            if lo <= age <= hi:
                totals[label][0] += 1
                totals[label][1] += due - paid
    for _, _, label in BUCKETS:
        rows.append([label, totals[label][0], totals[label][1]])
    fees = _query(
        "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM billing_fee WHERE status = 'open'"
    )[0]
    rows.append(["fees not yet billed", fees[0], from_cents(fees[1] or 0)])
    rows.append(["Total", sum(r[1] for r in rows), sum((r[2] for r in rows), Decimal("0.00"))])
    return Report(
        "aging",
        "Receivables aging",
        ["age (since the statement's date)", "statements", "owed"],
        rows,
    )


def credits_issued(start: dt.date, end: dt.date) -> Report:
    q = Credit.objects.filter(issued_at__date__gte=start, issued_at__date__lte=end)
    rows = []
    for r in (
        q.values("kind", "reason", "issuer__username")
        .annotate(n=Count("id"), money=Sum("amount"), rentals=Sum("rentals"))
        .order_by("issuer__username", "kind", "reason")
    ):
        rows.append(
            [
                r["issuer__username"] or "(by rule)",
                Credit.Kind(r["kind"]).label,
                r["reason"],
                r["n"],
                _money(r["money"]),
                r["rentals"] or 0,
            ]
        )
    return Report(
        "credits",
        "Credits issued by staff member and reason",
        [
            "issued by",
            "kind",
            "reason",
            "count",
            "money (account credit, or percent as used)",
            "bonus rentals",
        ],
        rows,
    )


def payment_rates(start: dt.date, end: dt.date) -> Report:
    window = Q(attempted_at__date__gte=start, attempted_at__date__lte=end)
    first = Payment.objects.filter(window, attempt=1)
    n_first = first.count()
    n_failed = first.filter(status="failed").count()
    failed_statements = Statement.objects.filter(
        first_failed_on__gte=start, first_failed_on__lte=end
    )
    n_fs = failed_statements.count()
    recovered = failed_statements.filter(status="paid").count()
    written_off = failed_statements.filter(status="written_off").count()
    still = failed_statements.filter(status="past_due").count()
    chargebacks = Payment.objects.filter(
        charged_back_at__date__gte=start, charged_back_at__date__lte=end
    ).count()

    def pct(a, b):
        return f"{100 * a / b:.1f}%" if b else "—"

    return Report(
        "payments",
        "Payment failure and recovery rates",
        ["measure", "count", "rate"],
        [
            ["first attempts", n_first, ""],
            ["first attempts failed", n_failed, pct(n_failed, n_first)],
            ["statements that failed", n_fs, ""],
            ["recovered (paid later)", recovered, pct(recovered, n_fs)],
            ["still in dunning", still, pct(still, n_fs)],
            ["written off (membership cancelled)", written_off, pct(written_off, n_fs)],
            ["chargebacks", chargebacks, ""],
        ],
        f"Payments attempted from {start} to {end}.",
    )


def trial_balance_report(as_of: dt.date) -> Report:
    tb = trial_balance(as_of)
    rows = [[str(a), d, c] for a, d, c in tb.rows if d or c]
    rows.append(["Total", tb.debits, tb.credits])
    return Report(
        "trial-balance",
        "Trial balance",
        ["account", "debits", "credits"],
        rows,
        "Balanced." if tb.balanced else f"OUT OF BALANCE by {tb.debits - tb.credits}.",
    )


REPORTS = {
    "mrr": ("MRR and revenue by plan", "window"),
    "deferred": ("Deferred revenue", "as_of"),
    "aging": ("Receivables aging", "as_of"),
    "credits": ("Credits by reason and staff member", "window"),
    "payments": ("Payment failure and recovery rates", "window"),
    "trial-balance": ("Trial balance", "as_of"),
}


def build(name: str, start: dt.date | None = None, end: dt.date | None = None) -> Report:
    """A report by name; a window defaults to the last 30 days, an as-of date to today."""
    end = end or clock.today()
    start = start or end - dt.timedelta(days=29)
    if name == "mrr":
        return mrr(start, end)
    if name == "deferred":
        return deferred_revenue(end)
    if name == "aging":
        return receivables_aging(end)
    if name == "credits":
        return credits_issued(start, end)
    if name == "payments":
        return payment_rates(start, end)
    if name == "trial-balance":
        return trial_balance_report(end)
    raise KeyError(name)
