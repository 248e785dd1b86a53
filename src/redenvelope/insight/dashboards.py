"""The dashboards: which charts, who may see them, and each chart's data as a table read from the
reporting tables only (a few thousand rows at most, whatever the size of the business).

A chart's table has the x column first (a day, a month age, a DC) and one column per series;
the page draws it, shows it as a table, and offers it as CSV and Parquet.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Sum

from redenvelope.accounts.roles import Role
from redenvelope.inventory.models import DistributionCenter
from redenvelope.membership.models import Plan

from .models import (
    CohortFact,
    LedgerFact,
    MemberFact,
    ReturnFact,
    ShipFact,
    StreamFact,
    SupportFact,
)


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    dc_ids: tuple[int, ...] = ()
    plan_ids: tuple[int, ...] = ()

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple]
    kind: str = "count"  # how the series read: count, percent, money, hours, days, score
    style: str = "line"
    note: str = ""


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    data: Callable[[Filters], Table]
    filters: tuple[str, ...] = ("dc", "plan")  # which filters apply


@dataclass(frozen=True)
class Dashboard:
    slug: str
    title: str
    roles: tuple[str, ...]
    charts: tuple[str, ...]
    intro: str = ""
    links: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (url name, label)


def _in_range(qs, f: Filters, dc: bool = False, plan: bool = False):
    qs = qs.filter(day__gte=f.start, day__lte=f.end)
    if dc and f.dc_ids:
        qs = qs.filter(dc_id__in=f.dc_ids)
    if plan and f.plan_ids:
        qs = qs.filter(plan_id__in=f.plan_ids)
    return qs


def _by_day(qs, *fields: str) -> dict[dt.date, dict]:
    return {
        r["day"]: r for r in qs.values("day").annotate(**{k: Sum(k) for k in fields}).order_by()
    }


def _ratio(a, b):
    return (a / b) if b else None


def _plans(f: Filters) -> list[Plan]:
    qs = Plan.objects.order_by("discs_at_once", "monthly_price", "code")
    return list(qs.filter(pk__in=f.plan_ids) if f.plan_ids else qs)


# --- members -------------------------------------------------------------------------------


def members_by_plan(f: Filters) -> Table:
    plans = _plans(f)
    got = defaultdict(dict)
    for r in _in_range(MemberFact.objects, f, plan=True).values("day", "plan_id", "active"):
        got[r["day"]][r["plan_id"]] = r["active"]
    return Table(
        ["day", *[p.name for p in plans]],
        [(d, *[got[d].get(p.pk) if d in got else None for p in plans]) for d in f.days],
    )


def joins_and_cancels(f: Filters) -> Table:
    got = _by_day(_in_range(MemberFact.objects, f, plan=True), "joined", "cancelled", "active")
    return Table(
        ["day", "joined", "cancelled"],
        [
            (d, got[d]["joined"], got[d]["cancelled"]) if d in got else (d, None, None)
            for d in f.days
        ],
        style="bar",
    )


def churn(f: Filters) -> Table:
    got = _by_day(_in_range(MemberFact.objects, f, plan=True), "cancelled", "active")
    rows = []
    for d in f.days:
        r = got.get(d)
        # a day's cancels over the members at its end plus those who left: daily churn
        rows.append((d, _ratio(r["cancelled"], r["active"] + r["cancelled"]) if r else None))
    return Table(["day", "daily churn"], rows, kind="percent")


def cohorts(f: Filters) -> Table:
    """Retention by months since joining, one series per cohort (the last six in range)."""
    qs = CohortFact.objects.filter(cohort__lte=f.end)
    if f.plan_ids:
        qs = qs.filter(plan_id__in=f.plan_ids)
    rows = list(
        qs.values("cohort", "age_months").annotate(m=Sum("members"), r=Sum("retained")).order_by()
    )
    names = sorted({r["cohort"] for r in rows})[-6:]
    ages = sorted({r["age_months"] for r in rows if r["cohort"] in names})
    got = {(r["cohort"], r["age_months"]): _ratio(r["r"], r["m"]) for r in rows}
    return Table(
        ["months since joining", *[c.strftime("%Y-%m") for c in names]],
        [(a, *[got.get((c, a)) for c in names]) for a in ages],
        kind="percent",
    )


# --- operations ----------------------------------------------------------------------------


def shipments_and_returns(f: Filters) -> Table:
    ships = _by_day(_in_range(ShipFact.objects, f, dc=True, plan=True), "shipments")
    back = _by_day(_in_range(ReturnFact.objects, f, dc=True), "returns")
    return Table(
        ["day", "shipped", "returned"],
        [
            (
                d,
                ships[d]["shipments"] if d in ships else None,
                back[d]["returns"] if d in back else None,
            )
            for d in f.days
        ],
    )


def service_shares(f: Filters) -> Table:
    got = _by_day(
        _in_range(ShipFact.objects, f, dc=True, plan=True),
        "shipments",
        "next_day",
        "top3",
        "first_choice",
    )
    rows = []
    for d in f.days:
        r = got.get(d)
        rows.append(
            (d, _ratio(r["next_day"], r["shipments"]), _ratio(r["top3"], r["shipments"]),
             _ratio(r["first_choice"], r["shipments"]))
            if r else (d, None, None, None)
        )  # fmt: skip
    return Table(["day", "next day", "top 3 of queue", "first choice"], rows, kind="percent")


def new_release_waits(f: Filters) -> Table:
    got = _by_day(
        _in_range(ShipFact.objects, f, dc=True, plan=True), "new_release", "new_release_wait_days"
    )
    return Table(
        ["day", "days after release (average)"],
        [
            (
                d,
                _ratio(got[d]["new_release_wait_days"], got[d]["new_release"])
                if d in got
                else None,
            )
            for d in f.days
        ],
        kind="days",
        note="Discs of titles in their first 90 days: how long after the release each shipped.",
    )


def lost_and_damaged(f: Filters) -> Table:
    ships = _by_day(_in_range(ShipFact.objects, f, dc=True), "shipments")
    back = _by_day(_in_range(ReturnFact.objects, f, dc=True), "returns", "damaged", "lost")
    rows = []
    for d in f.days:
        s, b = ships.get(d, {}).get("shipments"), back.get(d)
        rows.append(
            (d, _ratio(b["lost"], s) if b and s else None,
             _ratio(b["damaged"], b["returns"] + b["damaged"]) if b else None)
        )  # fmt: skip
    return Table(["day", "lost (of shipped)", "damaged (of returned)"], rows, kind="percent")


def by_dc(f: Filters) -> Table:
    dcs = {d.pk: d.code for d in DistributionCenter.objects.all()}
    got = {
        r["dc_id"]: r
        for r in _in_range(ShipFact.objects, f, dc=True, plan=True)
        .values("dc_id")
        .annotate(s=Sum("shipments"), n=Sum("next_day"), t=Sum("top3"))
        .order_by()
    }
    rows = sorted(
        (
            (dcs.get(k, str(k)), _ratio(r["n"], r["s"]), _ratio(r["t"], r["s"]))
            for k, r in got.items()
        ),
        key=lambda r: r[0],
    )
    return Table(["DC", "next day", "top 3 of queue"], rows, kind="percent", style="bar")


# --- customer service ----------------------------------------------------------------------


CHANNELS = ("phone", "email", "chat", "web")


def _support(f: Filters):
    got = defaultdict(dict)
    for r in SupportFact.objects.filter(day__gte=f.start, day__lte=f.end).values():
        got[r["day"]][r["channel"]] = r
    return got


def cases_by_channel(f: Filters) -> Table:
    got = _support(f)
    return Table(
        ["day", *CHANNELS],
        [
            (d, *[got[d][c]["opened"] if c in got.get(d, {}) else None for c in CHANNELS])
            for d in f.days
        ],
    )


def response_times(f: Filters) -> Table:
    got = _support(f)
    rows = []
    for d in f.days:
        row = [d]
        for c in CHANNELS:
            r = got.get(d, {}).get(c)
            row.append(_ratio(r["response_seconds"] / 3600, r["responded"]) if r else None)
        rows.append(tuple(row))
    return Table(["day", *CHANNELS], rows, kind="hours", note="Hours to the first answer.")


def satisfaction(f: Filters) -> Table:
    got = _support(f)
    rows = []
    for d in f.days:
        rs = got.get(d, {}).values()
        n, s = sum(r["surveys"] for r in rs), sum(r["score_sum"] for r in rs)
        rows.append((d, _ratio(s, n)))
    return Table(["day", "average score (1-5)"], rows, kind="score")


# --- money ---------------------------------------------------------------------------------


def _ledger(f: Filters, codes: tuple[str, ...]) -> dict[dt.date, tuple[int, int]]:
    out = {}
    for r in (
        LedgerFact.objects.filter(day__gte=f.start, day__lte=f.end, account__in=codes)
        .values("day")
        .annotate(d=Sum("debit_cents"), c=Sum("credit_cents"))
        .order_by()
    ):
        out[r["day"]] = (r["d"] or 0, r["c"] or 0)
    return out


def mrr(f: Filters) -> Table:
    got = _by_day(_in_range(MemberFact.objects, f, plan=True), "mrr_cents")
    return Table(
        ["day", "monthly recurring revenue"],
        [(d, got[d]["mrr_cents"] if d in got else None) for d in f.days],
        kind="money",
    )


def revenue(f: Filters) -> Table:
    rev = _ledger(f, ("4000", "4100", "4200"))
    credits = _ledger(f, ("4900",))
    deferred = _ledger(f, ("2000",))
    before = LedgerFact.objects.filter(day__lt=f.start, account="2000").aggregate(
        d=Sum("debit_cents"), c=Sum("credit_cents")
    )
    balance = (before["c"] or 0) - (before["d"] or 0)
    rows = []
    for d in f.days:
        dd, dc = deferred.get(d, (0, 0))
        balance += dc - dd
        rd, rc = rev.get(d, (0, 0))
        cd, cc = credits.get(d, (0, 0))
        rows.append((d, rc - rd, cd - cc, balance))
    return Table(
        ["day", "revenue recognised", "credits and discounts", "deferred revenue (balance)"],
        rows,
        kind="money",
    )


def cost_per_disc(f: Filters) -> Table:
    ships = _by_day(_in_range(ShipFact.objects, f), "shipments")
    labour = _ledger(f, ("5700",))
    licensing = _ledger(f, ("5100", "5400"))
    postage_ledger = _ledger(f, ("5000",))
    rate = int(settings.REDENVELOPE.get("POSTAGE_CENTS_PER_DISC", 0))
    rows = []
    for d in f.days:
        n = ships.get(d, {}).get("shipments") or 0
        posted = postage_ledger.get(d, (0, 0))
        postage = (posted[0] - posted[1]) or n * rate
        rows.append(
            (d, _ratio(postage, n), _ratio(labour.get(d, (0, 0))[0] - labour.get(d, (0, 0))[1], n),
             _ratio(licensing.get(d, (0, 0))[0] - licensing.get(d, (0, 0))[1], n))
        )  # fmt: skip
    return Table(
        ["day", "postage", "labour", "licensing"],
        rows,
        kind="money",
        note="Per disc shipped that day: postage as posted (else the configured rate per round "
        "trip), wages and licensing as posted to the ledger for the day.",
    )


# --- streaming -----------------------------------------------------------------------------


def streams(f: Filters) -> Table:
    got = _by_day(_in_range(StreamFact.objects, f, plan=True), "streams", "seconds")
    return Table(
        ["day", "streams", "hours watched"],
        [
            (d, got[d]["streams"], got[d]["seconds"] / 3600) if d in got else (d, None, None)
            for d in f.days
        ],
    )


CHARTS = {
    c.slug: c
    for c in (
        Chart("members", "Members by plan", members_by_plan, ("plan",)),
        Chart("joins", "Joins and cancellations", joins_and_cancels, ("plan",)),
        Chart("churn", "Daily churn", churn, ("plan",)),
        Chart("cohorts", "Retention by cohort", cohorts, ("plan",)),
        Chart("shipments", "Shipments and returns", shipments_and_returns),
        Chart("service", "Next-day and top-3 shares", service_shares),
        Chart("new-releases", "Waits for new releases", new_release_waits),
        Chart("losses", "Lost and damaged rates", lost_and_damaged, ("dc",)),
        Chart("by-dc", "Service by DC", by_dc),
        Chart("cases", "Customer-service cases by channel", cases_by_channel, ()),
        Chart("response", "First response time", response_times, ()),
        Chart("satisfaction", "Satisfaction", satisfaction, ()),
        Chart("mrr", "Monthly recurring revenue", mrr, ("plan",)),
        Chart("revenue", "Revenue, credits and deferred revenue", revenue, ()),
        Chart("cost-per-disc", "Cost per disc shipped", cost_per_disc, ()),
        Chart("streams", "Streams and hours watched", streams, ("plan",)),
    )
}

R = Role
DASHBOARDS = {
    d.slug: d
    for d in (
        Dashboard(
            "overview",
            "The business at a glance",
            (R.ADMIN,),
            ("members", "shipments", "service", "mrr", "cases", "streams"),
            links=(("admin:index", "Back office"), ("planner", "Planner")),
        ),
        Dashboard(
            "operations",
            "Operations",
            (R.ADMIN, R.OPERATIONS, R.WAREHOUSE, R.HR),
            ("shipments", "service", "by-dc", "new-releases", "losses"),
            links=(
                ("dispatch_overview", "Dispatch"),
                ("scan_desk", "Return desk"),
                ("planner", "Planner"),
            ),  # fmt: skip
        ),
        Dashboard(
            "members",
            "Members and churn",
            (R.ADMIN, R.FINANCE, R.OPERATIONS, R.SUPPORT_LEAD),
            ("members", "joins", "churn", "cohorts"),
        ),
        Dashboard(
            "service",
            "Customer service",
            (R.ADMIN, R.SUPPORT_AGENT, R.SUPPORT_LEAD, R.OPERATIONS),
            ("cases", "response", "satisfaction"),
            links=(("support_console", "Support console"),),
        ),
        Dashboard(
            "money",
            "Money",
            (R.ADMIN, R.FINANCE),
            ("mrr", "revenue", "cost-per-disc", "churn"),
            links=(("finance", "Finance"),),
        ),
        Dashboard(
            "streaming",
            "Streaming",
            (R.ADMIN, R.OPERATIONS, R.FINANCE),
            ("streams",),
        ),
        Dashboard(
            "workload",
            "Workload and labour",
            (R.ADMIN, R.HR, R.OPERATIONS),
            ("shipments", "cases", "cost-per-disc"),
            links=(("workforce", "Workforce"),),
        ),
    )
}

# Where each staff role lands after signing in (first match wins).
ROLE_HOME = [
    ((R.ADMIN,), "overview"),
    ((R.FINANCE,), "money"),
    ((R.SUPPORT_AGENT, R.SUPPORT_LEAD), "service"),
    ((R.WAREHOUSE, R.OPERATIONS), "operations"),
    ((R.HR,), "workload"),
]
