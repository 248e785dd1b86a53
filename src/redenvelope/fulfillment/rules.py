"""The shipping rules both paths apply — the daily dispatch (set-wise) and `ship_copy` (one
disc): a DC ships nothing while suspended or during a shipping incident, and no more than its
daily capacity (shipments made earlier that day count); a plan's monthly disc limit counts the
discs shipped since the start of the member's billing month (their billing day's period,
`membership.cycle`), not the calendar month; a disc beyond the plan's discs at once ships only
into the bonus slot of a member with bonus rentals left, and is marked as such."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils import timezone

from redenvelope.core.bulk import db_timestamp, is_postgres
from redenvelope.inventory.models import DistributionCenter, Transit
from redenvelope.membership.cycle import period_containing

from .models import Incident, Shipment


def midnight(day: dt.date) -> dt.datetime:
    """The local moment `day` begins."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _closed(day: dt.date) -> set[int]:
    return set(
        Incident.objects.filter(
            starts_on__lte=day,
            ends_on__gt=day,
            kind__in=[Incident.Kind.SHIPPING, Incident.Kind.BOTH],
        ).values_list("dc_id", flat=True)
    )


def home_regions(day: dt.date, dc: DistributionCenter) -> list[int]:
    """The regions a DC's own run serves on `day`: those it is the nearest shipping DC to
    (fewest transit days; ties to the lower id) among the DCs open and without a shipping
    incident that day — so the day's per-DC runs (the scheduler's) partition the members, and
    a closed DC's regions pass to the next nearest."""
    shut = _closed(day) | set(
        DistributionCenter.objects.exclude(status=DistributionCenter.Status.OPEN).values_list(
            "pk", flat=True
        )
    )
    best: dict[int, tuple[int, int]] = {}
    for region_id, dc_id, days in Transit.objects.values_list("region_id", "dc_id", "days"):
        if dc_id in shut:
            continue
        if region_id not in best or (days, dc_id) < best[region_id]:
            best[region_id] = (days, dc_id)
    return sorted(r for r, (_, d) in best.items() if d == dc.pk)


def dc_capacity_on(day: dt.date, dcs: list[DistributionCenter]) -> dict[int, int]:
    """What each DC may still ship on `day`: none while suspended or during a shipping
    incident, otherwise its capacity less what it has shipped that day. Its capacity is the
    workforce's when people decide it (an override, or its published rota × its measured rate),
    else the daily capacity typed on the DC."""
    from redenvelope.workforce.queries import rota_capacity

    closed = _closed(day)
    ids = [d.pk for d in dcs]
    staffed = rota_capacity(day, ids)
    shipped: dict[int, int] = {}
    for rows in (
        Shipment.objects.filter(dc_id__in=ids, run__run_date=day),
        Shipment.objects.filter(
            dc_id__in=ids,
            run__isnull=True,
            shipped_at__gte=midnight(day),
            shipped_at__lt=midnight(day + dt.timedelta(days=1)),
        ),
    ):
        for dc_id, n in rows.values("dc_id").annotate(n=Count("id")).values_list("dc_id", "n"):
            shipped[dc_id] = shipped.get(dc_id, 0) + n
    return {
        dc.pk: 0
        if dc.status != DistributionCenter.Status.OPEN or dc.pk in closed
        else max(0, staffed.get(dc.pk, dc.daily_capacity) - shipped.get(dc.pk, 0))
        for dc in dcs
    }


def billing_month_start(billing_day: int, day: dt.date) -> dt.datetime:
    """The moment the member's billing month containing `day` began."""
    return midnight(period_containing(billing_day, day)[0])


def billing_month_starts_sql(day: dt.date, column: str = "m.billing_day") -> tuple[str, str]:
    """For the set-wise path: a SQL expression giving, per member row, the start of their
    billing month containing `day` (from `column`, their billing day), and the earliest such
    start (to bound the shipments read). Built from dates only."""
    starts = {a: db_timestamp(billing_month_start(a, day)) for a in range(1, 32)}

    def literal(ts: str) -> str:
        return f"CAST('{ts}' AS timestamp with time zone)" if is_postgres() else f"'{ts}'"

    cases = " ".join(f"WHEN {a} THEN {literal(ts)}" for a, ts in starts.items())
    return f"(CASE {column} {cases} END)", min(starts.values())
