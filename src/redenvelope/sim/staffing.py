"""The simulator staffs its DCs: each day, every DC with warehouse staff gets that day's shifts
on its weekly rota (published; dispatch's capacity follows it), its people clock in and out by
badge around their shifts, and now and then someone calls in sick — their shift comes off the
rota that morning, so that day the DC really ships less.

The demo's DCs are a scale model (a few thousand members, not millions), so their shifts are as
long as their typed daily capacity needs at the standard rate: minutes, not hours."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone

from redenvelope.workforce.actions import (
    add_shift,
    clock_in,
    clock_out,
    publish_rota,
    remove_shift,
    rota_for,
)
from redenvelope.workforce.models import Employee, TimeEntry

from .mix import uniform as _u

SICK_RATE = 0.04  # a DC's day with one person off


def day(day: dt.date, seed: int, sick_rate: float = SICK_RATE) -> dict:
    import numpy as np

    staff: dict[int, list[Employee]] = {}
    for e in Employee.objects.filter(team=Employee.Team.WAREHOUSE, pay_type="hourly").exclude(
        ends_on__lt=day
    ).filter(starts_on__lte=day).select_related("dc").order_by("id"):  # fmt: skip
        staff.setdefault(e.dc_id, []).append(e)
    if not staff:
        return {"shifts": 0, "sick": 0}
    tz = timezone.get_current_timezone()
    rate = float(settings.REDENVELOPE.get("WAREHOUSE_SHIPS_PER_HOUR", 325))
    made, sick = 0, 0
    for dc_id, people in staff.items():
        rota = rota_for(day, dc=dc_id, team=Employee.Team.WAREHOUSE)
        lo = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        todays = list(
            rota.shifts.filter(starts_at__gte=lo, starts_at__lt=lo + dt.timedelta(days=1))
        )
        if not todays:
            on = [e for k, e in enumerate(people) if (day.toordinal() + k) % 7 < 5] or people[:1]
            minutes = max(1, math.ceil(60 * people[0].dc.daily_capacity / rate / len(on)))
            start = dt.datetime.combine(day, dt.time(6), tzinfo=tz)
            todays = [
                add_shift(
                    e,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=minutes),
                    break_minutes=0,
                )  # fmt: skip
                for e in on
            ]
            made += len(todays)
        if rota.published_at is None:
            publish_rota(rota)
        u = _u(np.array([dc_id * 100_000 + day.toordinal()]), 31, seed)[0]
        if u < sick_rate and len(todays) > 0:
            remove_shift(todays[-1], reason="called in sick (simulated)")
            todays = todays[:-1]
            sick += 1
        for s in todays:  # each badge scanned at the shift's start and end
            if not TimeEntry.objects.filter(employee=s.employee, clock_in=s.starts_at).exists():
                clock_in(s.employee, dc=dc_id, at=s.starts_at)
                clock_out(s.employee, at=s.ends_at)
    return {"shifts": made, "sick": sick}
