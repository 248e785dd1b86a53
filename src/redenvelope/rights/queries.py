"""Reads of license windows that the catalog, playback and staff pages share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from redenvelope.core import clock

from .models import CEILING_HEIGHT, LicenseWindow, WindowKind

STREAM_KINDS = (WindowKind.SVOD,)  # what a subscription may stream


def _covering(territory: str):
    """Rows whose territories include this code (stored sorted, comma-separated)."""
    t = territory.upper()
    return (
        Q(territories=t)
        | Q(territories__startswith=f"{t},")
        | Q(territories__endswith=f",{t}")
        | Q(territories__contains=f",{t},")
    )


def window_now(title_id: int, territory: str, at: dt.datetime | None = None):
    """The subscription window covering this title in the territory at this moment, or None.
    A window includes its start and excludes its end."""
    at = at or clock.now()
    return (
        LicenseWindow.objects.filter(title_id=title_id, kind__in=STREAM_KINDS, starts_at__lte=at)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .filter(_covering(territory))
        .order_by("starts_at")
        .first()
    )


def window_subquery(
    title_column: str, territory: str, at: dt.datetime, select: str = "id"
) -> tuple[str, list]:
    """The same test as `window_now`, as a correlated SQL subquery giving the window's `select`
    column, id or ceiling (or NULL), for the title in `title_column`: for a caller that reads
    several things at once."""
    from django.db import connection

    if select not in ("id", "ceiling"):
        raise ValueError(f"bad column {select!r}")
    code = territory.upper()
    if not code.isalpha() or len(code) != 2:
        raise ValueError(f"bad territory {territory!r}")
    when = connection.ops.adapt_datetimefield_value(at)
    kinds = ", ".join(["%s"] * len(STREAM_KINDS))
    sql = (
        f"(SELECT w.{select} FROM rights_licensewindow w "  # noqa: S608 - placeholders only
        f"WHERE w.title_id = {title_column} AND w.kind IN ({kinds}) AND w.starts_at <= %s "
        "AND (w.ends_at IS NULL OR w.ends_at > %s) AND (w.territories = %s "
        "OR w.territories LIKE %s OR w.territories LIKE %s OR w.territories LIKE %s) "
        "ORDER BY w.starts_at LIMIT 1)"
    )
    return sql, [*STREAM_KINDS, when, when, code, f"{code},%", f"%,{code}", f"%,{code},%"]


def height_allowed(window: LicenseWindow) -> int:
    return CEILING_HEIGHT[window.ceiling]


@dataclass
class Availability:
    """What the catalog says about streaming a title in a territory."""

    watch_now: bool
    from_: dt.datetime | None = None  # a later window starts then
    leaving_on: dt.datetime | None = None  # the current window ends then (within 30 days)

    @property
    def label(self) -> str:
        if self.watch_now:
            return (
                f"Watch now · leaving on {self.leaving_on:%b %-d}"
                if self.leaving_on
                else ("Watch now")
            )
        if self.from_:
            return f"Streaming from {self.from_:%b %-d, %Y}"
        return ""


def availability(
    title_ids: list[int], territory: str, at: dt.datetime | None = None
) -> dict[int, Availability]:
    """For each title: watch now (and 'leaving on' when the window ends within 30 days), or the
    start of its next window; titles with neither are left out. One query for all of them."""
    at = at or clock.now()
    rows = (
        LicenseWindow.objects.filter(title_id__in=list(title_ids), kind__in=STREAM_KINDS)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .filter(_covering(territory))
        .order_by("title_id", "starts_at")
        .values_list("title_id", "starts_at", "ends_at")
    )
    out: dict[int, Availability] = {}
    soon = at + dt.timedelta(days=30)
    for title_id, start, end in rows:
        have = out.get(title_id)
        if start <= at:
            leaving = end if end is not None and end <= soon else None
            out[title_id] = Availability(True, leaving_on=leaving)
        elif have is None:
            out[title_id] = Availability(False, from_=start)
    return out


def expiring(days: int = 90, at: dt.datetime | None = None):
    """Windows that end within `days`, soonest first (for staff)."""
    at = at or clock.now()
    return (
        LicenseWindow.objects.filter(ends_at__gt=at, ends_at__lte=at + dt.timedelta(days=days))
        .select_related("title")
        .order_by("ends_at")
    )


# --- disc rental windows ---------------------------------------------------------------------
# A title with any disc-rental window for the business's territory ships only inside one; a
# title with none is one we bought outright (first sale) and ships whenever we hold a copy.


def _business_territory() -> str:
    from django.conf import settings

    return settings.REDENVELOPE.get("TERRITORY", "US").upper()


def disc_blocked_sql(at: dt.datetime) -> str:
    """SQL giving the ids of titles that may not ship at `at` (they have disc windows here, and
    none is open then). Literal values only (dispatch's set-wise reads take no parameters)."""
    from redenvelope.core.bulk import db_timestamp

    code = _business_territory()
    if not (code.isalpha() and len(code) == 2):
        raise ValueError(f"bad territory {code!r}")
    when = db_timestamp(at)
    return (
        "SELECT w.title_id FROM rights_licensewindow w WHERE w.kind = 'dvd' AND ("  # noqa: S608
        f"w.territories = '{code}' OR w.territories LIKE '{code},%' "
        f"OR w.territories LIKE '%,{code}' OR w.territories LIKE '%,{code},%') "
        "GROUP BY w.title_id HAVING SUM(CASE WHEN w.starts_at <= "
        f"'{when}' AND (w.ends_at IS NULL OR w.ends_at > '{when}') THEN 1 ELSE 0 END) = 0"
    )


def disc_allowed(title_id: int, at: dt.datetime | None = None) -> bool:
    at = at or clock.now()
    rows = LicenseWindow.objects.filter(title_id=title_id, kind=WindowKind.DVD).filter(
        _covering(_business_territory())
    )
    if not rows.exists():
        return True
    return (
        rows.filter(starts_at__lte=at).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at)).exists()
    )


def disc_availability(
    title_ids: list[int], at: dt.datetime | None = None
) -> dict[int, Availability]:
    """For titles with disc windows: rentable now ('leaving on' within 30 days), 'coming on'
    the next window's start, or neither (left out: no longer on disc here)."""
    at = at or clock.now()
    rows = (
        LicenseWindow.objects.filter(title_id__in=list(title_ids), kind=WindowKind.DVD)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .filter(_covering(_business_territory()))
        .order_by("title_id", "starts_at")
        .values_list("title_id", "starts_at", "ends_at")
    )
    out: dict[int, Availability] = {}
    soon = at + dt.timedelta(days=30)
    for title_id, start, end in rows:
        if start <= at:
            out[title_id] = Availability(True, leaving_on=end if end and end <= soon else None)
        elif title_id not in out:
            out[title_id] = Availability(False, from_=start)
    return out


def disc_label(a: Availability | None) -> str:
    if a is None:
        return ""
    if a.watch_now:
        return f"On disc · leaving on {a.leaving_on:%b %-d}" if a.leaving_on else ""
    return f"On disc from {a.from_:%b %-d, %Y}" if a.from_ else ""


def disc_wording(title_id: int, at: dt.datetime | None = None) -> str:
    """What a member reads about renting a title on disc, from its windows: 'leaving on …',
    'on disc from …', 'no longer on disc here', or nothing (no disc window: always rentable)."""
    return disc_wordings([title_id], at).get(title_id, "")


def disc_wordings(title_ids, at: dt.datetime | None = None) -> dict[int, str]:
    at = at or clock.now()
    ids = list(title_ids)
    if not ids:
        return {}
    have = set(
        LicenseWindow.objects.filter(title_id__in=ids, kind=WindowKind.DVD)
        .filter(_covering(_business_territory()))
        .values_list("title_id", flat=True)
    )
    if not have:
        return {}
    now = disc_availability(list(have), at)
    out = {}
    for t in have:
        a = now.get(t)
        out[t] = disc_label(a) if a is not None else "No longer on disc here"
    return out
