"""How an original's capitalised cost is expensed after release (pure: no Django).

Two schedules, both over `months` months from the month of release:
- accelerated (the default): sum of the months' digits. Month k of n (k = 1 first) takes
  (n - k + 1) / (n (n + 1) / 2) of the cost: a film earns most of its audience early, so most
  of its cost is expensed early (48 months: 4.1% in the first month, 2.0% at month 24);
- straight: an equal share each month.

Amounts are cumulative and rounded once each (half-up to the cent, the one rounding rule), so the
months always add up to the cost exactly, whatever the cost is when a month is booked: a month's
charge is what should be amortised by its end, less what already was.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SCHEDULES = ("accelerated", "straight")


def fraction_by(month: int, months: int, schedule: str) -> tuple[int, int]:
    """The share of the cost amortised by the end of month `month` (1 = the release month), as
    (numerator, denominator)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}")
    if months < 1:
        raise ValueError("months must be at least 1")
    k = max(0, min(month, months))
    if schedule == "straight":
        return k, months
    total = months * (months + 1) // 2
    # digits n, n-1, ..., n-k+1 summed
    return k * months - k * (k - 1) // 2, total


def amortised_by(cost_cents: int, month: int, months: int, schedule: str) -> int:
    num, den = fraction_by(month, months, schedule)
    exact = Decimal(int(cost_cents)) * num / den
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def months_since(release_year: int, release_month: int, year: int, month: int) -> int:
    """1 for the release month itself, 2 for the month after, ...; 0 before release."""
    return max(0, (year - release_year) * 12 + (month - release_month) + 1)
