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


def coverage_gaps(start: dt.date, *, days: int = 14) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """Customer service runs around the clock: the stretches of the coming days (local hours)
    when fewer agents are on the support rota (drafted or published) than
    SUPPORT_MIN_AGENTS, as (from, to, agents), merged. Flagged before they happen."""
    need = int(settings.REDENVELOPE.get("SUPPORT_MIN_AGENTS", 1))
    lo = _midnight(start)
    hours = days * 24
    counts = [0] * hours
    for s, e in Shift.objects.filter(
        rota__team=Employee.Team.SUPPORT, starts_at__lt=lo + dt.timedelta(hours=hours),
        ends_at__gt=lo,
    ).values_list("starts_at", "ends_at"):  # fmt: skip
        a = max(0, int((s - lo).total_seconds() // 3600))
        b = min(hours, int(math.ceil((e - lo).total_seconds() / 3600)))
        for h in range(a, b):
            counts[h] += 1
    gaps, h = [], 0
    tz = timezone.get_current_timezone()
    while h < hours:
        if counts[h] < need:
            k = h
            while k < hours and counts[k] < need:
                k += 1
            at = (lo + dt.timedelta(hours=h)).astimezone(tz)
            gaps.append((at, (lo + dt.timedelta(hours=k)).astimezone(tz), min(counts[h:k])))
            h = k
        else:
            h += 1
    return gaps


def capacity_table(start: dt.date, dcs, *, days: int = 7) -> list[dict]:
    """For the coming days, each DC's capacity as dispatch will read it, and where it comes
    from (typed on the DC, its published rota, or an override)."""
    overrides = {
        (o.dc_id, o.day): o
        for o in CapacityOverride.objects.filter(
            dc__in=dcs, day__gte=start, day__lt=start + dt.timedelta(days=days)
        )
    }
    rows = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        staffed = rota_capacity(day, [d.pk for d in dcs])
        for d in dcs:
            if (d.pk, day) in overrides:
                src = f"override: {overrides[(d.pk, day)].reason}"
            elif d.pk in staffed:
                src = "rota"
            else:
                src = "typed"
            rows.append(
                {
                    "day": day,
                    "dc": d,
                    "capacity": staffed.get(d.pk, d.daily_capacity),
                    "typed": d.daily_capacity,
                    "source": src,
                }  # fmt: skip
            )
    return rows
