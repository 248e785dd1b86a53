"""Money, for every domain: integer cents (minor units) in the database on both backends, a
Decimal of whole cents in Python, and one rounding rule (half-up to the cent), here and nowhere
else. Pure Python: no Django import (the database field is in `fields.py`)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from redenvelope.core.errors import DomainError

CENT = Decimal("0.01")
# The largest amount the product accepts anywhere (a bigint holds far more; this keeps every
# sum of amounts far from any overflow and refuses nonsense such as 1e30 with a clear message).
MAX_CENTS = 10**12  # ten billion dollars


def to_money(value, *, exact: bool = False) -> Decimal:
    """Decimal, str or int to an amount in whole cents, rounded half-up (the one rounding rule).
    Floats are refused (they cannot hold cents exactly), and so are non-ASCII digits, infinities,
    NaN and amounts beyond `MAX_CENTS`; with `exact`, so is an amount finer than a cent (a price
    is stated in cents, never rounded into one)."""
    if isinstance(value, float | bool):
        raise DomainError("Money is never a float; pass a Decimal or a string.")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            raise DomainError(f"{value!r} is not an amount of money (digits 0-9 only).")
        value = text
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(f"{value!r} is not an amount of money.") from None
    if not amount.is_finite() or abs(amount) >= Decimal(MAX_CENTS) / 100:
        raise DomainError(f"{value!r} is not an amount of money we accept.")
    money = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if exact and money != amount:
        raise DomainError(f"{value!r} is finer than a cent.", code="sub_cent")
    return money


def to_cents(value) -> int:
    """An amount (Decimal, str or int dollars) as integer cents, by the one rounding rule."""
    return int(to_money(value) * 100)


def from_cents(cents: int) -> Decimal:
    """Integer cents as a Decimal amount (exact)."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def share(cents: int, num, den) -> int:
    """cents × num / den in whole cents, rounded half-up (the one rounding rule). `num` may be a
    Decimal (a tax rate); the arithmetic is exact before the one rounding."""
    if den == 0:
        raise DomainError("A share of nothing.")
    exact = Decimal(int(cents)) * Decimal(num) / Decimal(den)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_text(cents: int) -> str:
    """Cents as a dollar string ("-12.05"), exact."""
    c = int(cents)
    return f"{'-' if c < 0 else ''}{abs(c) // 100}.{abs(c) % 100:02d}"
