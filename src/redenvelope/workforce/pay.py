"""A pay period's pay from hours worked (pure: no Django). Hourly staff: regular hours, overtime
beyond `overtime_after` hours in a week (Monday to Sunday) at `overtime_rate`, night hours
(22:00–06:00) and weekend hours with their premiums (a share of the rate, added); salaried
staff: their annual salary × days employed in the period / 365. PTO accrues per hour worked.
Money in whole cents by the one rounding rule (half-up), once per amount."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Rules:
    overtime_after: float = 40.0
    overtime_rate: Decimal = Decimal("1.5")
    night_premium: Decimal = Decimal("0.10")
    weekend_premium: Decimal = Decimal("0.05")
    pto_per_hour: Decimal = Decimal("0.0385")  # 80 hours a year at 40 a week


@dataclass
class Pay:
    regular_h: Decimal = Decimal(0)
    overtime_h: Decimal = Decimal(0)
    night_h: Decimal = Decimal(0)
    weekend_h: Decimal = Decimal(0)
    pto_accrued_h: Decimal = Decimal(0)
    gross_cents: int = 0
    lines: list[tuple[str, int]] = field(default_factory=list)


def cents(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _split(start: dt.datetime, end: dt.datetime) -> tuple[float, float]:
    """Hours of [start, end) at night (22:00–06:00 local) and on a weekend day."""
    night = weekend = 0.0
    t = start
    while t < end:
        step = min(end, (t + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0))
        h = (step - t).total_seconds() / 3600
        if t.hour >= 22 or t.hour < 6:
            night += h
        if t.weekday() >= 5:
            weekend += h
        t = step
    return night, weekend


def hourly_pay(entries, rate_cents: int, rules: Rules = Rules()) -> Pay:
    """`entries`: (local clock-in, local clock-out, break minutes) of one person's period."""
    weeks: dict[dt.date, float] = {}
    night = weekend = 0.0
    for start, end, brk in entries:
        worked = max(0.0, (end - start).total_seconds() / 3600 - brk / 60)
        monday = start.date() - dt.timedelta(days=start.weekday())
        weeks[monday] = weeks.get(monday, 0.0) + worked
        n, w = _split(start, end)
        span = (end - start).total_seconds() / 3600 or 1.0
        night += n * worked / span
        weekend += w * worked / span
    total = sum(weeks.values())
    overtime = sum(max(0.0, h - rules.overtime_after) for h in weeks.values())
    p = Pay()
    q = Decimal("0.01")
    p.regular_h = Decimal(total - overtime).quantize(q)
    p.overtime_h = Decimal(overtime).quantize(q)
    p.night_h = Decimal(night).quantize(q)
    p.weekend_h = Decimal(weekend).quantize(q)
    p.pto_accrued_h = (Decimal(total) * rules.pto_per_hour).quantize(q)
    rate = Decimal(rate_cents)
    p.lines = [
        ("regular", cents(p.regular_h * rate)),
        ("overtime", cents(p.overtime_h * rate * rules.overtime_rate)),
        ("night premium", cents(p.night_h * rate * rules.night_premium)),
        ("weekend premium", cents(p.weekend_h * rate * rules.weekend_premium)),
    ]
    p.gross_cents = sum(c for _, c in p.lines)
    return p


def salaried_pay(annual_cents: int, days: int, rules: Rules = Rules()) -> Pay:
    p = Pay()
    p.lines = [("salary", cents(Decimal(annual_cents) * days / 365))]
    p.gross_cents = p.lines[0][1]
    p.pto_accrued_h = (Decimal(40 * days / 7) * rules.pto_per_hour).quantize(Decimal("0.01"))
    return p
