"""Money is Decimal, in cents, rounded half-up here and nowhere else."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from redenvelope.core.errors import DomainError

CENT = Decimal("0.01")


def to_money(value) -> Decimal:
    """Decimal, str or int to an amount in cents (half-up). Floats are refused: they cannot hold
    cents exactly."""
    if isinstance(value, float):
        raise DomainError("Money is never a float; pass a Decimal or a string.")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(f"{value!r} is not an amount of money.") from None
    if not amount.is_finite():
        raise DomainError(f"{value!r} is not an amount of money.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
