"""Reads the streaming pages, the API and the staff page share."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, ExpressionWrapper, F, FloatField, Sum

from redenvelope.core import clock

from . import leases
from .models import Device, Session, WatchPosition


def continue_watching(member_id: int, limit: int = 10):
    """Titles started and not finished, most recent first."""
    return (
        WatchPosition.objects.filter(member_id=member_id, finished=False, position_s__gt=0)
        .select_related("title")
        .order_by("-updated_at")[:limit]
    )


def history(member_id: int, limit: int = 50):
    return (
        Session.objects.filter(member_id=member_id)
        .select_related("title")
        .order_by("-started_at")[:limit]
    )


def devices_of(member_id: int):
    return Device.objects.filter(member_id=member_id, removed_at__isnull=True).order_by(
        "-registered_at"
    )


def live_sessions():
    """Sessions not ended whose lease is still live (the store decides), for the staff page."""
    store = leases.store()
    open_ = list(
        Session.objects.filter(ended_at__isnull=True).select_related("member__plan")[:100_000]
    )
    by_member: dict[int, set] = {}
    for s in open_:
        by_member.setdefault(s.member_id, set())
    for m in by_member:
        by_member[m] = set(store.live(m))
    return [s for s in open_ if s.lease_id in by_member[s.member_id]]


def concurrent_by_plan_and_territory() -> list[dict]:
    counts: dict[tuple[str, str], int] = {}
    for s in live_sessions():
        key = (s.member.plan.name, s.member.territory)
        counts[key] = counts.get(key, 0) + 1
    return [
        {"plan": plan, "territory": terr, "streams": n}
        for (plan, terr), n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]


def hours_by_title(days: int = 30, limit: int = 25) -> list[dict]:
    """Hours watched per title over the last `days` (a session's position moved from its
    start: what was watched, not how long the page was open)."""
    since = clock.now() - dt.timedelta(days=days)
    watched = ExpressionWrapper(F("position_s") - F("start_position_s"), output_field=FloatField())
    rows = (
        Session.objects.filter(started_at__gte=since, position_s__gt=F("start_position_s"))
        .values("title_id", "title__name")
        .annotate(seconds=Sum(watched), sessions=Count("id"))
        .order_by("-seconds")[:limit]
    )
    return [
        {
            "title_id": r["title_id"],
            "title": r["title__name"],
            "hours": round((r["seconds"] or 0) / 3600, 1),
            "sessions": r["sessions"],
        }
        for r in rows
    ]
