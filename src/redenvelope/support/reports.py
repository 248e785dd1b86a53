"""Customer-service reports over a span of days: rows for a page and for CSV. Each reads in a few
grouped queries; the time percentiles are computed over the span's cases with numpy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db.models import Avg, Count, F, Sum
from django.utils import timezone

from .models import Action, Approval, Case, Flag, Survey


def _span(start: dt.date, end: dt.date):
    lo = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    hi = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return lo, hi


def cases(start, end):
    lo, hi = _span(start, end)
    rows = (
        Case.objects.filter(opened_at__gte=lo, opened_at__lt=hi)
        .values("channel", "reason")
        .annotate(n=Count("pk"))
        .order_by("channel", "reason")
    )
    return ["channel", "reason", "cases"], [(r["channel"], r["reason"], r["n"]) for r in rows]


def _minutes(a, b) -> float:
    return (b - a).total_seconds() / 60


def times(start, end):
    """First response and resolution, in minutes, by channel: median and 90th percentile."""
    lo, hi = _span(start, end)
    per: dict[str, tuple[list, list]] = {}
    for ch, opened, first, resolved in Case.objects.filter(
        opened_at__gte=lo, opened_at__lt=hi
    ).values_list("channel", "opened_at", "first_response_at", "resolved_at"):
        f, r = per.setdefault(ch, ([], []))
        if first:
            f.append(_minutes(opened, first))
        if resolved:
            r.append(_minutes(opened, resolved))
    out = []
    for ch in sorted(per):
        f, r = (np.asarray(x, float) for x in per[ch])

        def q(a, p):
            return round(float(np.percentile(a, p)), 1) if len(a) else None

        out.append((ch, len(f), q(f, 50), q(f, 90), len(r), q(r, 50), q(r, 90)))
    cols = [
        "channel",
        "answered",
        "first response median min",
        "first response p90 min",
        "resolved",
        "resolution median min",
        "resolution p90 min",
    ]
    return cols, out


def compensation(start, end):
    """What was given, by the case's reason and by agent."""
    lo, hi = _span(start, end)
    rows = (
        Action.objects.filter(at__gte=lo, at__lt=hi)
        .values(reason_=F("case__reason"), agent=F("actor__username"), what=F("kind"))
        .annotate(n=Count("pk"), value=Sum("value"))
        .order_by("reason_", "agent", "what")
    )
    return ["case reason", "agent", "kind", "actions", "value"], [
        (r["reason_"], r["agent"], r["what"], r["n"], r["value"] or Decimal(0)) for r in rows
    ]


def satisfaction(start, end):
    lo, hi = _span(start, end)
    rows = (
        Survey.objects.filter(answered_at__gte=lo, answered_at__lt=hi)
        .values("channel", agent_name=F("agent__username"))
        .annotate(n=Count("pk"), mean=Avg("score"))
        .order_by("channel", "agent_name")
    )
    return ["channel", "agent", "answers", "mean score"], [
        (r["channel"], r["agent_name"] or "", r["n"], round(float(r["mean"]), 2)) for r in rows
    ]


def flags(start, end):
    lo, hi = _span(start, end)
    raised = dict(
        Flag.objects.filter(raised_at__gte=lo, raised_at__lt=hi)
        .values_list("rule")
        .annotate(n=Count("pk"))
    )
    cleared = dict(
        Flag.objects.filter(cleared_at__gte=lo, cleared_at__lt=hi)
        .values_list("rule")
        .annotate(n=Count("pk"))
    )
    rules = sorted(set(raised) | set(cleared))
    return ["rule", "raised", "cleared"], [(r, raised.get(r, 0), cleared.get(r, 0)) for r in rules]


def approvals(start, end):
    rows = Approval.objects.filter(status=Approval.Status.WAITING).select_related(
        "requested_by", "member__user"
    )
    return ["requested", "case", "member", "kind", "value", "asked by", "why waiting"], [
        (
            a.requested_at.isoformat(timespec="minutes"),
            a.case_id,
            a.member_id,
            a.kind,
            a.value,
            a.requested_by.username,
            a.why_waiting,
        )
        for a in rows.order_by("requested_at")
    ]


def staffing(start, end):
    """Agents on the support rota against cases opened, by hour of the week (the span's weeks
    summed; the rota's shifts as scheduled, less breaks spread over the shift)."""
    from redenvelope.workforce.models import Shift

    lo, hi = _span(start, end)
    tz = timezone.get_current_timezone()
    opened = np.zeros(168)
    for at in Case.objects.filter(opened_at__gte=lo, opened_at__lt=hi).values_list(
        "opened_at", flat=True
    ):
        t = at.astimezone(tz)
        opened[t.weekday() * 24 + t.hour] += 1
    agents = np.zeros(168)
    for a, b in Shift.objects.filter(
        rota__team="support", starts_at__lt=hi, ends_at__gt=lo
    ).values_list("starts_at", "ends_at"):
        t = max(a, lo).astimezone(tz).replace(minute=0, second=0, microsecond=0)
        while t < min(b, hi):
            agents[t.weekday() * 24 + t.hour] += 1
            t += dt.timedelta(hours=1)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    rows = [
        (f"{days[h // 24]} {h % 24:02d}:00", int(agents[h]), int(opened[h]),
         round(opened[h] / agents[h], 1) if agents[h] else ("no agent" if opened[h] else "-"))
        for h in range(168)
    ]  # fmt: skip
    return [
        "hour of the week",
        "agent hours on the rota",
        "cases opened",
        "cases per agent hour",
    ], rows


REPORTS = {
    "cases": ("Cases by channel and reason", cases),
    "staffing": ("Agent staffing against case volume by hour of the week", staffing),
    "times": ("First response and resolution times", times),
    "compensation": ("Compensation by reason and agent", compensation),
    "satisfaction": ("Satisfaction by channel and agent", satisfaction),
    "flags": ("Flags raised and cleared", flags),
    "approvals": ("Approvals waiting", approvals),
}
