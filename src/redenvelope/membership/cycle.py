"""Billing periods: each member is billed monthly on the day of the month they joined; a day
the month lacks (the 29th-31st) falls on the month's last day."""

from __future__ import annotations

import calendar
import datetime as dt


def on_day(year: int, month: int, anchor: int) -> dt.date:
    return dt.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    k = year * 12 + (month - 1) + n
    return k // 12, k % 12 + 1


def period_containing(anchor: int, day: dt.date) -> tuple[dt.date, dt.date]:
    """The billing period [start, end) that contains `day` for a member billed on `anchor`."""
    if not 1 <= anchor <= 31:
        raise ValueError("anchor is a day of the month, 1-31")
    start = on_day(day.year, day.month, anchor)
    if start > day:
        y, m = add_months(day.year, day.month, -1)
        start = on_day(y, m, anchor)
    y, m = add_months(start.year, start.month, 1)
    return start, on_day(y, m, anchor)


def is_billing_day(anchor: int, day: dt.date) -> bool:
    return period_containing(anchor, day)[0] == day
