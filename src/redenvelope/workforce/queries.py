"""Reads of workforce that dispatch, pages and reports share: a DC's capacity for a day from its
published rota and its measured rate, and measured productivity."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone

from redenvelope.core import clock

from .models import CapacityOverride, Employee, Shift, TimeEntry

MEASURE_DAYS = 28


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
    """Discs a DC ships per labour hour, measured: over the last 28 days, each day's discs
    shipped ÷ warehouse hours clocked that day (days with 8 hours or more), and the DC's rate is
    the 90th percentile of those days (its busy days: a quiet day measures demand, not the
    people), kept within half and twice WAREHOUSE_SHIPS_PER_HOUR. With fewer than 5 such days
    the standard rate stands (measured: False). Returns {dc_id: (rate, measured)}."""
    import numpy as np
    from django.db import connection

    from redenvelope.core.bulk import day_index_sql

    day = day or clock.today()
    ids = [int(i) for i in dc_ids]
    standard = float(settings.REDENVELOPE.get("WAREHOUSE_SHIPS_PER_HOUR", 325))
    out = {i: (standard, False) for i in ids}
    if not ids:
        return out
    first = day - dt.timedelta(days=MEASURE_DAYS)
    expr, where = day_index_sql("at", first, MEASURE_DAYS)
    in_ids = ", ".join(str(i) for i in ids)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT dc_id, {expr} AS d, COUNT(*) FROM inventory_copyevent "  # noqa: S608
            f"WHERE kind = 'shipped' AND dc_id IN ({in_ids}) AND {where} GROUP BY dc_id, d"
        )
        shipped = {(dc, int(d)): n for dc, d, n in cur.fetchall()}
    # Clocked hours per DC and day, summed in SQL (a national business clocks 100,000 days a
    # month): the day is the clock-in's, in the business's zone.
    day_in, in_window = day_index_sql("t.clock_in", first, MEASURE_DAYS)
    span = (
        "EXTRACT(EPOCH FROM (t.clock_out - t.clock_in)) / 3600.0"
        if connection.vendor == "postgresql"
        else "(julianday(t.clock_out) - julianday(t.clock_in)) * 24.0"
    )
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT t.dc_id, {day_in} AS d, SUM({span} - t.break_minutes / 60.0) "  # noqa: S608
            "FROM workforce_timeentry t JOIN workforce_employee e ON e.id = t.employee_id "
            f"WHERE t.dc_id IN ({in_ids}) AND {in_window} AND t.clock_out IS NOT NULL "
            "AND e.team = 'warehouse' GROUP BY t.dc_id, d"
        )
        hours = {(dc, int(d)): float(h) for dc, d, h in cur.fetchall()}
    by_dc: dict[int, list[float]] = {}
    for (dc_id, d), h in hours.items():
        if h >= 8:
            by_dc.setdefault(dc_id, []).append(shipped.get((dc_id, d), 0) / h)
    for dc_id, rates in by_dc.items():
        if len(rates) >= 5:
            rate = float(np.percentile(rates, 90))
            out[dc_id] = (min(2 * standard, max(standard / 2, rate)), True)
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
