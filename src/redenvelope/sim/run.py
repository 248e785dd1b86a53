"""The business simulator: advance a business day by day through the same actions the product
uses. Members watch their discs for a few days and mail them back (taking the mail's time from
their region to the nearest DC); returns are checked in; a share of discs is lost in the mail or
comes back broken; overdue discs become lost; saved titles are released; the day's dispatch runs;
members whose billing day it is get their statements; streaming members watch in the evening.
DCs with staff are staffed from their rota (staffing.py), so dispatch's capacity follows it.

Everything is decided from the seed and the records (a pseudo-random number per shipment), so the
same database and seed simulate the same days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db.models import Min
from django.utils import timezone

from redenvelope.billing.actions import add_payment_method, daily_billing
from redenvelope.core import clock
from redenvelope.fulfillment.actions import (
    check_in_bulk,
    count_title_demand,
    mark_overdue_lost,
)
from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.fulfillment.models import DispatchRun, Shipment
from redenvelope.inventory.models import Transit
from redenvelope.queues.actions import release_saved_titles

from . import staffing as sim_staffing
from . import streaming as sim_streaming
from . import support as sim_support
from .mix import uniform as _u


@dataclass
class DayReport:
    day: dt.date
    shipped: int
    returned: int
    top3_share: float
    next_day_share: float
    lost: int
    damaged: int
    streams: int = 0
    hours_streamed: float = 0.0

    def line(self) -> str:
        return (
            f"{self.day}  shipped {self.shipped:6,}  returned {self.returned:6,}  "
            f"top-3 {100 * self.top3_share:5.1f}%  next-day {100 * self.next_day_share:5.1f}%"
            f"  lost {self.lost:4,}  damaged {self.damaged:4,}  streams {self.streams:5,}"
        )


def simulate(
    days: int,
    *,
    start: dt.date | None = None,
    seed: int = 1,
    loss_rate: float = 0.004,
    damage_rate: float = 0.01,
    support_rates: sim_support.SupportRates | None = None,
    on_day=None,
) -> list[DayReport]:
    if days < 1:
        raise ValueError("simulate at least one day")
    if start is None:
        last = DispatchRun.objects.order_by("-run_date").values_list("run_date", flat=True).first()
        start = last + dt.timedelta(days=1) if last else timezone.localdate()
    # Mail time back: from a region to its nearest DC.
    nearest = {r: (d, n) for r, d, n in _nearest_dc()}
    rates = support_rates or sim_support.SupportRates()
    reports = []
    for k in range(days):
        day = start + dt.timedelta(days=k)
        at = timezone.make_aware(dt.datetime.combine(day, dt.time(17, 0)))
        with clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(5, 0)))):
            sim_staffing.day(day, seed)  # the rota, a sick call, the day's clocked time
        with clock.frozen(at):
            returned, damaged, lost = _mail(day, nearest, seed, loss_rate, damage_rate, rates)
            lost += mark_overdue_lost(day)
            release_saved_titles(day)
            run = run_dispatch(day, notify=False)
            _fix_cards(day, seed)
            daily_billing(day)
            sim_support.day(day, seed, rates)
        watched = sim_streaming.day(day, seed)
        f = run.figures
        report = DayReport(
            day,
            f.get("shipments", 0),
            returned,
            f.get("top3_share", 0.0),
            f.get("next_day_share", 0.0),
            lost,
            damaged,
            watched["started"],
            watched["seconds"] / 3600,
        )
        reports.append(report)
        if on_day:
            on_day(report)
    if reports:
        count_title_demand()  # what the hourly job counts, as of the last simulated day
    return reports


def _fix_cards(day: dt.date, seed: int, share: float = 0.3) -> None:
    """A share of past-due members add a working card each day (so dunning recovers some)."""
    from redenvelope.membership.models import Member

    rng = np.random.default_rng([seed, day.toordinal(), 7])
    for member in Member.objects.filter(status="past_due").select_related("plan"):
        if rng.random() < share:
            add_payment_method(
                member, kind="card", number="4242424242424242", exp_month=12, exp_year=day.year + 3
            )


def _nearest_dc():
    best = Transit.objects.values("region_id").annotate(days=Min("days"))
    days_of = {b["region_id"]: b["days"] for b in best}
    seen = {}
    for region_id, dc_id, d in Transit.objects.order_by("region_id", "days", "dc_id").values_list(
        "region_id", "dc_id", "days"
    ):
        if region_id not in seen and d == days_of[region_id]:
            seen[region_id] = (dc_id, d)
    return [(r, dc, d) for r, (dc, d) in seen.items()]


def _mail(day, nearest, seed, loss_rate, damage_rate, rates):
    rows = np.array(
        Shipment.objects.filter(status=Shipment.Status.OPEN).values_list(
            "id", "copy_id", "member_id", "member__region_id", "dc_id", "shipped_at"
        ),
        dtype=object,
    ).reshape(-1, 6)
    if not len(rows):
        return 0, 0, 0
    ids = rows[:, 0].astype(np.int64)
    transit = dict(
        ((d, r), n) for d, r, n in Transit.objects.values_list("dc_id", "region_id", "days")
    )
    shipped = np.array([timezone.localdate(s) for s in rows[:, 5]], dtype="datetime64[D]")
    out_days = np.array(
        [transit.get((d, r), 3) for d, r in zip(rows[:, 4], rows[:, 3], strict=True)]
    )
    back = [nearest.get(r, (d, 3)) for r, d in zip(rows[:, 3], rows[:, 4], strict=True)]
    back_dc = np.array([b[0] for b in back])
    back_days = np.array([b[1] for b in back])
    watch = 1 + np.floor(_u(ids, 1, seed) * 7).astype(int)  # 1..7 days at home
    arrives = shipped + (out_days + watch + back_days).astype("timedelta64[D]")
    lost_in_mail = _u(ids, 2, seed) < loss_rate
    damaged = _u(ids, 3, seed) < damage_rate
    due = (arrives <= np.datetime64(day)) & ~lost_in_mail
    items = [
        (int(c), int(d), bool(x))
        for c, d, x in zip(rows[due, 1], back_dc[due], damaged[due], strict=True)
    ]
    returned = check_in_bulk(items)
    # Half the discs lost in the mail are reported by their member a week after they should have
    # arrived; the rest wait for the overdue rule.
    report_day = shipped + (out_days + 7).astype("timedelta64[D]")
    reporting = lost_in_mail & (report_day == np.datetime64(day)) & (_u(ids, 4, seed) < 0.5)
    from redenvelope.membership.models import Member

    members = {
        m.pk: m
        for m in Member.objects.filter(pk__in=rows[reporting, 2].tolist()).select_related(
            "user", "plan"
        )
    }
    rng = np.random.default_rng([seed, day.toordinal(), 5])
    for sid, mid in zip(rows[reporting, 0], rows[reporting, 2], strict=True):
        # through customer service, on the member's channel (self-service or an agent)
        sim_support.lost_disc(members[int(mid)], int(sid), rng, rates)
    return returned, int(damaged[due].sum()), int(reporting.sum())
