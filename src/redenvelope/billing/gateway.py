"""Payment providers. `SimulatedGateway` behaves like a real card and bank-debit processor, so
the demo and the tests exercise every path: authorisation, capture (settlement), declines chosen
by test numbers, refunds (full or partial, never more than captured) and chargebacks.

Test numbers (as the big processors publish theirs):
    4242 4242 4242 4242   card, approved          5555 5555 5555 4444   card, approved
    4000 0000 0000 0002   card, declined          4000 0000 0000 9995   insufficient funds
    4000 0000 0000 0069   expired card            4000 0000 0000 0259   approved, then charged back
    bank account ending 0000 (routing 110000000): debit approved; ending 1116: returned (R01)
Anything else fails validation (Luhn check for cards)."""

from __future__ import annotations

import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from redenvelope.ledger.money import to_money

DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
}
CHARGEBACK = {"4000000000000259"}


class GatewayError(Exception):
    """The request was malformed (not a decline: declines are results)."""


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digest(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:12]


# The processor knows its test cards by their token (as a real one knows the card behind it).
_BEHAVIOUR = {_digest(n): code for n, code in DECLINES.items()} | {
    _digest(n): "chargeback" for n in CHARGEBACK
}


@dataclass
class Result:
    ok: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""


@dataclass
class _Charge:
    reference: str
    token: str
    amount: Decimal
    captured: bool = False
    refunded: Decimal = Decimal("0.00")
    disputed: bool = False


def _behaviour(token: str) -> str:
    parts = token.split("_")
    if len(parts) != 3 or parts[0] not in ("card", "bank"):
        raise GatewayError("Unknown payment token.")
    if parts[0] == "bank":
        return "R01" if parts[2] == "1116" else ""
    return _BEHAVIOUR.get(parts[1], "")


@dataclass
class SimulatedGateway:
    """An in-process processor with the behaviour of a real one. What a token does is decided by
    the card or account behind it (the test numbers above), so it behaves the same in every
    process; the charges it made in this process are kept for refunds and disputes, and the
    billing domain records every result in the ledger and on the payment."""

    charges: dict[str, _Charge] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    def tokenize_card(self, number: str, exp_month: int, exp_year: int) -> str:
        number = number.replace(" ", "").replace("-", "")
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            raise GatewayError("That card number is not valid.")
        if not 1 <= int(exp_month) <= 12:
            raise GatewayError("Expiry month must be 1-12.")
        if not 2000 <= int(exp_year) <= 2100:
            raise GatewayError("Expiry year is four digits.")
        return "card_" + _digest(number) + "_" + number[-4:]

    def tokenize_bank(self, routing: str, account: str) -> str:
        if not (
            routing.isdigit()
            and len(routing) == 9
            and account.isdigit()
            and 4 <= len(account) <= 17
        ):
            raise GatewayError("Routing number is 9 digits; account 4-17 digits.")
        return "bank_" + _digest(routing + account) + "_" + account[-4:]

    def _reference(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(6)}{next(self._seq):06d}"

    def charge(self, token: str, amount) -> Result:
        """Authorise and capture at once (a subscription charge)."""
        amount = to_money(amount)
        if amount <= 0:
            raise GatewayError("A charge is a positive amount.")
        code = _behaviour(token)
        if code == "R01":
            return Result(False, decline_code="R01", message="Insufficient funds (returned debit).")
        if code and code != "chargeback":
            return Result(False, decline_code=code, message=code.replace("_", " ").capitalize())
        ref = self._reference("ch")
        self.charges[ref] = _Charge(
            ref, token, amount, captured=True, disputed=code == "chargeback"
        )
        return Result(True, reference=ref, message="Approved")

    def refund(self, reference: str, amount=None, *, captured=None, refunded="0") -> Result:
        """Refund part or all of a charge. A charge made by another process is described by the
        caller (`captured`, `refunded` so far: the domain's payment record)."""
        charge = self.charges.get(reference)
        if charge is None:
            if captured is None:
                raise GatewayError(f"No charge {reference}.")
            charge = _Charge(reference, "", to_money(captured), True, to_money(refunded))
            self.charges[reference] = charge
        amount = charge.amount - charge.refunded if amount is None else to_money(amount)
        if amount <= 0 or charge.refunded + amount > charge.amount:
            return Result(
                False,
                reference=reference,
                decline_code="over_refund",
                message="A refund cannot exceed what was charged.",
            )
        charge.refunded += amount
        return Result(True, reference=self._reference("re"), message="Refunded")

    def disputed_tokens(self) -> set[str]:
        """The dispute feed: cards whose holders' banks reverse charges made to them."""
        return {"card_" + _digest(n) + "_" + n[-4:] for n in CHARGEBACK}

    def disputes(self) -> list[str]:
        """Charges made in this process that the issuer has reversed (chargebacks)."""
        return [c.reference for c in self.charges.values() if c.disputed]


def get_gateway() -> SimulatedGateway:
    """The configured provider (setting PAYMENT_PROVIDER), one per process."""
    global _gateway
    if _gateway is None:
        from django.conf import settings
        from django.utils.module_loading import import_string

        _gateway = import_string(settings.REDENVELOPE["PAYMENT_PROVIDER"])()
    return _gateway


_gateway: SimulatedGateway | None = None
