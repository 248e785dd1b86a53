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
from .models import Credit, Statement
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


def tax_rate(state: str) -> Decimal:
    rates = settings.REDENVELOPE.get("SALES_TAX", {})
    return Decimal(str(rates.get(state, "0")))


@transaction.atomic
def issue_statement(member: Member, day=None) -> Statement:
    """Bill the member for the period that starts on `day` (their billing day): the plan's
    price plus sales tax, less account credit available (oldest first). Posts Dr receivables /
    Cr deferred revenue and sales tax, and Dr member credit balances / Cr receivables for the
    credit used. A second call for the same period returns the first statement."""
    from .cycle import is_billing_day, period_containing

    member = Member.objects.select_for_update().select_related("plan").get(pk=member.pk)
    day = day or clock.today()
    anchor = member.billing_day
    if not is_billing_day(anchor, day):
        raise DomainError(f"{day} is not this member's billing day.")
    existing = Statement.objects.filter(member=member, period_start=day).first()
    if existing:
        return existing
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership is not billed.")
    start, end = period_containing(anchor, day)
    subtotal = to_money(member.plan.monthly_price)
    tax = to_money(subtotal * tax_rate(member.state))
    gross = subtotal + tax
    credits = list(
        Credit.objects.select_for_update()
        .filter(member=member, remaining__gt=0)
        .order_by("issued_at", "id")
    )
    applied = Decimal("0.00")
    for c in credits:
        use = min(c.remaining, gross - applied)
        if use <= 0:
            break
        Credit.objects.filter(pk=c.pk).update(remaining=c.remaining - use)
        applied += use
    lines = [Line("1100", debit=gross), Line("2000", credit=subtotal)]
    if tax:
        lines.append(Line("2100", credit=tax))
    if applied:
        lines += [Line("2200", debit=applied), Line("1100", credit=applied)]
    entry = post_entry(
        "statement",
        lines,
        memo=f"Statement {start} to {end}",
        effective_date=day,
        member_id=member.pk,
        idempotency_key=f"statement:{member.pk}:{start}",
    )
    return Statement.objects.create(
        member=member,
        period_start=start,
        period_end=end,
        plan=member.plan,
        subtotal=subtotal,
        tax=tax,
        credit_applied=applied,
        total_due=gross - applied,
        currency=member.plan.currency,
        status=Statement.Status.PAID if gross == applied else Statement.Status.DUE,
        issued_at=clock.now(),
        entry=entry,
    )
