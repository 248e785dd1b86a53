"""One set of validators for what people type: every form field and query parameter that is a
number, an id, an amount or a date is read here. Each refuses what it cannot read exactly (a
non-ASCII digit such as "²" or "१२", a value out of range) with a clear `DomainError`, so a page
answers 400 with the message instead of a traceback."""

from __future__ import annotations

import datetime as dt
import re

from .errors import DomainError

_INT = re.compile(r"-?[0-9]{1,18}")
MAX_ID = 2**63 - 1
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2200, 12, 31)


def integer(value, field: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number in ASCII digits, within [lo, hi]."""
    if isinstance(value, bool):
        raise DomainError(f"{field}: a whole number, please.")
    if isinstance(value, int):
        n = value
    else:
        text = ("" if value is None else str(value)).strip()
        if not _INT.fullmatch(text):
            raise DomainError(f"{field}: {text[:20]!r} is not a whole number (digits 0-9).")
        n = int(text)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        bounds = f"from {lo}" if hi is None else f"from {lo} to {hi}" if lo is not None else ""
        raise DomainError(f"{field}: {n} is out of range ({bounds or f'at most {hi}'}).")
    return n


def optional_integer(value, field: str, **bounds) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return integer(value, field, **bounds)


def record_id(value, field: str = "id") -> int:
    """A database id: a positive whole number that fits the column."""
    return integer(value, field, lo=1, hi=MAX_ID)


def day(value, field: str = "date") -> dt.date:
    """An ISO date (YYYY-MM-DD) between 1900 and 2200."""
    if isinstance(value, dt.date):
        d = value
    else:
        text = ("" if value is None else str(value)).strip()
        if not (text.isascii() and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text)):
            raise DomainError(f"{field}: {text[:20]!r} is not a date (YYYY-MM-DD).")
        try:
            d = dt.date.fromisoformat(text)
        except ValueError:
            raise DomainError(f"{field}: {text!r} is not a date on the calendar.") from None
    if not FIRST_DAY <= d <= LAST_DAY:
        raise DomainError(f"{field}: dates run from {FIRST_DAY} to {LAST_DAY}.")
    return d


def optional_day(value, field: str = "date") -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return day(value, field)
