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


REPORTS = {
    "cases": ("Cases by channel and reason", cases),
    "times": ("First response and resolution times", times),
    "compensation": ("Compensation by reason and agent", compensation),
    "satisfaction": ("Satisfaction by channel and agent", satisfaction),
    "flags": ("Flags raised and cleared", flags),
    "approvals": ("Approvals waiting", approvals),
}
