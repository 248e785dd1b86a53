"""Workforce reports, each a table with its CSV: labour cost per disc shipped and discs per
labour hour by DC, discs handled per labour hour per person (from the scan events that exist),
overtime by person and week, customer-service coverage gaps. (Agent staffing against case
volume is support's report: it reads both.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from redenvelope.billing.reports import Report
from redenvelope.core import clock
from redenvelope.ledger.money import from_cents

from . import queries
from .models import Employee, TimeEntry

REPORTS = {
    "dc-labour": "Labour cost per disc shipped and discs per labour hour, by DC",
    "people": "Discs handled per labour hour, by person",
    "overtime": "Overtime by person and week",
    "coverage": "Customer-service coverage gaps",
}


def _window(start, end) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    a = start or clock.today() - dt.timedelta(days=28)
    b = (end or clock.today()) + dt.timedelta(days=1)
    return dt.datetime.combine(a, dt.time(), tzinfo=tz), dt.datetime.combine(
        b, dt.time(), tzinfo=tz
    )


def _entries(lo, hi):
    return TimeEntry.objects.filter(
        clock_in__gte=lo, clock_in__lt=hi, clock_out__isnull=False
    ).select_related("employee")


def _hours(t) -> float:
    return max(0.0, (t.clock_out - t.clock_in).total_seconds() / 3600 - t.break_minutes / 60)


def _events(lo, hi, by: str) -> dict:
    """Copy events per DC (or per actor) and kind in the window."""
    at = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT {by}, kind, COUNT(*) FROM inventory_copyevent "  # noqa: S608 - fixed column
            f"WHERE at >= %s AND at < %s AND {by} IS NOT NULL GROUP BY {by}, kind",
            [at(lo), at(hi)],
        )
        out: dict = {}
        for key, kind, n in cur.fetchall():
            out.setdefault(key, {})[kind] = n
    return out


def dc_labour(start, end) -> Report:
    lo, hi = _window(start, end)
    days = max(1, (hi - lo).days)
    hours: dict[int, float] = {}
    cost: dict[int, Decimal] = {}
    for t in _entries(lo, hi).filter(employee__team=Employee.Team.WAREHOUSE):
        h = _hours(t)
        hours[t.dc_id] = hours.get(t.dc_id, 0.0) + h
        if t.employee.pay_type == Employee.PayType.HOURLY:
            cost[t.dc_id] = cost.get(t.dc_id, Decimal(0)) + Decimal(h) * t.employee.rate_cents
    for e in Employee.objects.filter(team=Employee.Team.WAREHOUSE, pay_type="salaried"):
        cost[e.dc_id] = cost.get(e.dc_id, Decimal(0)) + Decimal(e.rate_cents) * days / 365
    events = _events(lo, hi, "dc_id")
    from redenvelope.inventory.models import DistributionCenter

    rows = []
    for d in DistributionCenter.objects.order_by("code"):
        ev = events.get(d.pk, {})
        shipped, handled = ev.get("shipped", 0), ev.get("shipped", 0) + ev.get("returned", 0)
        h = hours.get(d.pk, 0.0)
        c = int(cost.get(d.pk, 0))
        rows.append(
            [d.code, round(h, 1), shipped, handled, round(handled / h, 1) if h else "-",
             from_cents(c), from_cents(c // shipped) if shipped else "-"]
        )  # fmt: skip
    return Report(
        "dc-labour", REPORTS["dc-labour"],
        ["DC", "Labour hours", "Discs shipped", "Discs handled (shipped + returned)",
         "Handled per labour hour", "Labour cost", "Labour cost per disc shipped"],
        rows, note="Hours clocked (less breaks); salaried staff at their salary for the days.",
    )  # fmt: skip


def people(start, end) -> Report:
    lo, hi = _window(start, end)
    hours: dict[int, float] = {}
    staff: dict[int, Employee] = {}
    for t in _entries(lo, hi):
        hours[t.employee_id] = hours.get(t.employee_id, 0.0) + _hours(t)
        staff[t.employee_id] = t.employee
    events = _events(lo, hi, "actor_id")
    rows = []
    for emp_id, h in sorted(hours.items(), key=lambda kv: staff[kv[0]].name):
        e = staff[emp_id]
        ev = events.get(e.user_id, {}) if e.user_id else {}
        handled = ev.get("returned", 0) + ev.get("received", 0) + ev.get("picked", 0)
        rows.append([e.name, e.job, e.dc.code if e.dc_id else "-", round(h, 1), handled,
                     round(handled / h, 1) if h else "-"])  # fmt: skip
    return Report(
        "people", REPORTS["people"],
        ["Name", "Job", "DC", "Labour hours", "Discs scanned (returned, received, picked)",
         "Per labour hour"],
        rows, note="Scans are counted by the sign-in that made them (a shared desk login counts "
        "for its owner).",
    )  # fmt: skip


def overtime(start, end) -> Report:
    lo, hi = _window(start, end)
    tz = timezone.get_current_timezone()
    weeks: dict[tuple[int, dt.date], float] = {}
    names = {}
    for t in _entries(lo, hi).filter(employee__pay_type=Employee.PayType.HOURLY):
        local = t.clock_in.astimezone(tz).date()
        key = (t.employee_id, local - dt.timedelta(days=local.weekday()))
        weeks[key] = weeks.get(key, 0.0) + _hours(t)
        names[t.employee_id] = t.employee.name
    rows = [
        [names[e], week, round(h, 1), round(h - 40, 1)]
        for (e, week), h in sorted(weeks.items(), key=lambda kv: (kv[0][1], names[kv[0][0]]))
        if h > 40
    ]
    return Report("overtime", REPORTS["overtime"],
                  ["Name", "Week of", "Hours", "Overtime hours"], rows)  # fmt: skip


def coverage(start, end) -> Report:
    a = start or clock.today()
    days = max(1, ((end or a + dt.timedelta(days=13)) - a).days + 1)
    rows = [[x, y, n] for x, y, n in queries.coverage_gaps(a, days=min(days, 62))]
    note = "Hours with fewer agents than SUPPORT_MIN_AGENTS on the support rota."
    return Report("coverage", REPORTS["coverage"], ["From", "To", "Agents"], rows, note=note)


def build(name: str, start, end) -> Report:
    return {"dc-labour": dc_labour, "people": people, "overtime": overtime, "coverage": coverage}[
        name
    ](start, end)
