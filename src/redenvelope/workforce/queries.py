"""Reads of workforce that dispatch, pages and reports share: a DC's capacity for a day from its
published rota and its measured rate, and measured productivity."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from redenvelope.core import clock

from .models import CapacityOverride, Employee, Shift, TimeEntry

MEASURE_DAYS = 28
MIN_MEASURED_HOURS = 40.0


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


def _hours(start: dt.datetime, end: dt.datetime, break_minutes: int) -> float:
    return max(0.0, (end - start).total_seconds() / 3600 - break_minutes / 60)


def clocked_hours(dc_ids, since: dt.datetime, until: dt.datetime) -> dict[int, float]:
    """Warehouse labour hours clocked at each DC in [since, until) (entries closed)."""
    out: dict[int, float] = {}
    for dc_id, start, end, brk in TimeEntry.objects.filter(
        dc_id__in=list(dc_ids), clock_in__gte=since, clock_in__lt=until, clock_out__isnull=False,
        employee__team=Employee.Team.WAREHOUSE,
    ).values_list("dc_id", "clock_in", "clock_out", "break_minutes"):  # fmt: skip
        out[dc_id] = out.get(dc_id, 0.0) + _hours(start, end, brk)
    return out


def ship_rates(dc_ids, day: dt.date | None = None) -> dict[int, tuple[float, bool]]:
    """Discs shipped per labour hour at each DC over the last 28 days: (rate, measured). A DC
    with under 40 hours clocked uses WAREHOUSE_SHIPS_PER_HOUR (not measured)."""
    from redenvelope.inventory.models import CopyEvent, EventKind

    day = day or clock.today()
    since, until = _midnight(day - dt.timedelta(days=MEASURE_DAYS)), _midnight(day)
    hours = clocked_hours(dc_ids, since, until)
    shipped = dict(
        CopyEvent.objects.filter(
            dc_id__in=list(dc_ids), kind=EventKind.SHIPPED, at__gte=since, at__lt=until
        )
        .values("dc_id")
        .annotate(n=Count("id"))
        .values_list("dc_id", "n")
    )
    default = float(settings.REDENVELOPE.get("WAREHOUSE_SHIPS_PER_HOUR", 325))
    out = {}
    for dc_id in dc_ids:
        h = hours.get(dc_id, 0.0)
        out[dc_id] = (
            (shipped.get(dc_id, 0) / h, True) if h >= MIN_MEASURED_HOURS else (default, False)
        )
    return out


def rota_capacity(day: dt.date, dc_ids) -> dict[int, int]:
    """Each DC's capacity for `day` where people decide it: an operator's override, or else its
    published rota's labour hours that day × its measured rate. DCs with neither are left out
    (their typed daily capacity stands)."""
    ids = list(dc_ids)
    out = dict(
        CapacityOverride.objects.filter(dc_id__in=ids, day=day).values_list("dc_id", "capacity")
    )
    rest = [i for i in ids if i not in out]
    if not rest:
        return out
    lo, hi = _midnight(day), _midnight(day + dt.timedelta(days=1))
    hours: dict[int, float] = {}
    for dc_id, start, end, brk in Shift.objects.filter(
        rota__dc_id__in=rest, rota__published_at__isnull=False, starts_at__gte=lo, starts_at__lt=hi
    ).values_list("rota__dc_id", "starts_at", "ends_at", "break_minutes"):
        hours[dc_id] = hours.get(dc_id, 0.0) + _hours(start, end, brk)
    published = set(
        Shift.objects.filter(
            rota__dc_id__in=rest, rota__published_at__isnull=False,
            rota__week=day - dt.timedelta(days=day.weekday()),
        ).values_list("rota__dc_id", flat=True)
    )  # fmt: skip
    rates = ship_rates([i for i in rest if i in published], day)
    for dc_id in published:
        out[dc_id] = int(math.floor(hours.get(dc_id, 0.0) * rates[dc_id][0]))
    return out
