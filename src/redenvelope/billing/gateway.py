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
from dataclasses import dataclass, field
from decimal import Decimal

from .money import to_money

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


@dataclass
class SimulatedGateway:
    """An in-process processor with the behaviour of a real one (state lives in the object; the
    billing domain records every result it gets in the ledger and on the payment)."""

    charges: dict[str, _Charge] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    _numbers: dict[str, str] = field(default_factory=dict)  # token -> test number

    def tokenize_card(self, number: str, exp_month: int, exp_year: int) -> str:
        number = number.replace(" ", "").replace("-", "")
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            raise GatewayError("That card number is not valid.")
        if not 1 <= exp_month <= 12:
            raise GatewayError("Expiry month must be 1-12.")
        return "card_" + hashlib.sha256(number.encode()).hexdigest()[:12] + "_" + number[-4:]

    def tokenize_bank(self, routing: str, account: str) -> str:
        if not (
            routing.isdigit()
            and len(routing) == 9
            and account.isdigit()
            and 4 <= len(account) <= 17
        ):
            raise GatewayError("Routing number is 9 digits; account 4-17 digits.")
        return (
            "bank_"
            + hashlib.sha256((routing + account).encode()).hexdigest()[:12]
            + "_"
            + account[-4:]
        )

    def register(self, token: str, number: str) -> None:
        """Tests and the demo keep the clear number beside its token to choose behaviour."""
        self._numbers[token] = number.replace(" ", "")

    def charge(self, token: str, amount) -> Result:
        """Authorise and capture at once (a subscription charge)."""
        amount = to_money(amount)
        if amount <= 0:
            raise GatewayError("A charge is a positive amount.")
        number = self._numbers.get(token, "")
        if token.startswith("bank_") and token.endswith("_1116"):
            return Result(False, decline_code="R01", message="Insufficient funds (returned debit).")
        if number in DECLINES:
            code = DECLINES[number]
            return Result(False, decline_code=code, message=code.replace("_", " ").capitalize())
        ref = f"ch_{next(self._seq):08d}"
        self.charges[ref] = _Charge(
            ref, token, amount, captured=True, disputed=number in CHARGEBACK
        )
        return Result(True, reference=ref, message="Approved")

    def refund(self, reference: str, amount=None) -> Result:
        charge = self.charges.get(reference)
        if charge is None:
            raise GatewayError(f"No charge {reference}.")
        amount = charge.amount - charge.refunded if amount is None else to_money(amount)
        if amount <= 0 or charge.refunded + amount > charge.amount:
            return Result(
                False,
                reference=reference,
                decline_code="over_refund",
                message="A refund cannot exceed what was charged.",
            )
        charge.refunded += amount
        return Result(True, reference=f"re_{next(self._seq):08d}", message="Refunded")

    def disputes(self) -> list[str]:
        """Charges the issuer has reversed (chargebacks) since they were made."""
        return [c.reference for c in self.charges.values() if c.disputed]
