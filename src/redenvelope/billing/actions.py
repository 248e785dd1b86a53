"""Every change to billing: one function each, atomic, audited."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from redenvelope.accounts.roles import roles_of
from redenvelope.core import clock
from redenvelope.core.errors import DomainError, Forbidden
from redenvelope.membership.models import Member, MemberStatus

from .ledger import Line, post_entry
from .models import Credit
from .money import to_money

DEFAULT_CREDIT_LIMITS = {
    "support_agent": "25.00",
    "support_lead": "100.00",
    "finance": "1000.00",
    "admin": "1000.00",
}


def credit_limit(user) -> Decimal:
    """The largest single credit this person may give (the highest of their roles' limits)."""
    limits = settings.REDENVELOPE.get("CREDIT_LIMITS", DEFAULT_CREDIT_LIMITS)
    held = [to_money(limits[r]) for r in roles_of(user) if r in limits]
    return max(held, default=Decimal("0.00"))


@transaction.atomic
def issue_credit(
    member: Member, amount, *, reason: str, issuer, idempotency_key: str | None = None
) -> Credit:
    """Give a member account credit (spent on their next statements), within the issuer's limit,
    posted to the ledger (Dr credits and discounts, Cr member credit balances). Two staff crediting
    the same member at once both land, one after the other (the member row is locked); the same
    request twice (a double click, a retry with its key) lands once."""
    if idempotency_key:
        done = Credit.objects.filter(idempotency_key=idempotency_key).first()
        if done:
            return done
    amount = to_money(amount)
    if amount <= 0:
        raise DomainError("A credit is a positive amount.")
    if not (reason or "").strip():
        raise DomainError("Say why: every credit carries its reason.")
    limit = credit_limit(issuer)
    if amount > limit:
        raise Forbidden(
            f"A credit of ${amount} is over your limit of ${limit}; ask a lead or finance.",
            code="over_limit",
        )
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership cannot receive credit.")
    entry = post_entry(
        "credit",
        [Line("4900", debit=amount), Line("2200", credit=amount)],
        memo=f"Account credit: {reason.strip()}"[:300],
        member_id=member.pk,
        actor=issuer,
        idempotency_key=f"credit:{idempotency_key}" if idempotency_key else None,
    )
    try:
        with transaction.atomic():
            return Credit.objects.create(
                member=member,
                amount=amount,
                remaining=amount,
                reason=reason.strip()[:300],
                issuer=issuer,
                issued_at=clock.now(),
                entry=entry,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        return Credit.objects.get(idempotency_key=idempotency_key)
