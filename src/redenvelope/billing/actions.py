"""Every change to billing: one function each, atomic, audited (who, when, why)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from redenvelope.accounts.roles import Role, roles_of
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.core.mail import queue_email
from redenvelope.ledger.actions import Line, post_bulk, post_entry
from redenvelope.ledger.fields import money_value
from redenvelope.ledger.money import from_cents, share, to_cents, to_money
from redenvelope.membership.cycle import add_months, is_billing_day, on_day, period_containing
from redenvelope.membership.models import Member, MemberEvent, MemberStatus, Plan

from .gateway import GatewayError, GatewayTimeout, get_gateway
from .models import (
    Credit,
    Fee,
    Gift,
    OutageCompensation,
    Payment,
    PaymentIntent,
    PaymentMethod,
    Refund,
    Statement,
)
from .payments import Answer
from .run import Notices, bill, member_statuses, tax_rate

DEFAULT_CREDIT_LIMITS = {
    "support_agent": "25.00",
    "support_lead": "100.00",
    "finance": "1000.00",
    "admin": "1000.00",
}
# The largest percentage off a next statement, and the most bonus rentals, each role may give.
DEFAULT_PERCENT_LIMITS = {"support_agent": 100, "support_lead": 100, "finance": 100, "admin": 100}
DEFAULT_RENTAL_LIMITS = {"support_agent": 3, "support_lead": 10, "finance": 10, "admin": 10}
POSTING_ROLES = (Role.FINANCE, Role.ADMIN)
# Who gives credits, charges and waives fees for a member (each within their limits).
MEMBER_MONEY_ROLES = frozenset({"support_agent", "support_lead", "finance", "admin"})


def _role_limit(user, setting: str, default: dict, convert):
    limits = settings.REDENVELOPE.get(setting, default)
    held = [convert(limits[r]) for r in roles_of(user) if r in limits]
    return max(held, default=convert(0))


def credit_limit(user) -> Decimal:
    """The largest single credit this person may give (the highest of their roles' limits)."""
    return _role_limit(user, "CREDIT_LIMITS", DEFAULT_CREDIT_LIMITS, to_money)


def scoped_key(kind: str, owner_id: int, key: str | None) -> str | None:
    """A client's idempotency key, scoped to its owner (a member, or the staff member acting): the
    same text from someone else is another key. Refused when too long or not printable."""
    if key is None or key == "":
        return None
    key = str(key)
    if len(key) > 64 or not key.isascii() or not key.isprintable():
        raise DomainError("An idempotency key is at most 64 printable ASCII characters.")
    return f"{kind}:{int(owner_id)}:{key}"


def _log(member_id: int, event: str, actor=None, **data) -> None:
    MemberEvent.objects.create(
        member_id=member_id, kind=event, actor=actor, data=data, at=clock.now()
    )


def _locked_member(member) -> Member:
    pk = member.pk if isinstance(member, Member) else int(member)
    try:
        return Member.objects.select_for_update().select_related("plan", "user").get(pk=pk)
    except Member.DoesNotExist:
        raise NotFound(f"No member {pk}.", code="unknown_member") from None


@transaction.atomic
def issue_credit(
    member: Member,
    amount=None,
    *,
    reason: str,
    issuer,
    kind: str = Credit.Kind.ACCOUNT,
    percent: int | None = None,
    rentals: int | None = None,
    idempotency_key: str | None = None,
) -> Credit:
    """Give a member something, within the issuer's role limit, with the reason:
    account credit in money (posted Dr credits and discounts / Cr member credit balances, spent
    on the next statements), a percentage off the next statement, or bonus rentals (one extra
    disc out, that many times). Two staff crediting the same member at once both land, one after
    the other (the member row is locked); the same request twice (a double click, a retry with
    its key) lands once."""
    if kind not in Credit.Kind.values:
        raise DomainError(f"Unknown kind of credit {kind!r}.")
    if not (reason or "").strip():
        raise DomainError("Say why: every credit carries its reason.")
    if issuer is None or not roles_of(issuer) & MEMBER_MONEY_ROLES:
        raise Forbidden("Only support, finance and admins give credits.")
    fields: dict = {}
    if kind == Credit.Kind.ACCOUNT:
        amount = to_money(amount if amount is not None else "0")
        if amount <= 0:
            raise DomainError("A credit is a positive amount.")
        limit = credit_limit(issuer)
        if amount > limit:
            raise Forbidden(
                f"A credit of ${amount} is over your limit of ${limit}; ask a lead or finance.",
                code="over_limit",
            )
        fields = {"amount": amount, "remaining": amount}
    elif kind == Credit.Kind.PERCENT:
        if percent is None or not 1 <= int(percent) <= 100:
            raise DomainError("A percentage off is from 1 to 100.")
        limit = _role_limit(issuer, "PERCENT_LIMITS", DEFAULT_PERCENT_LIMITS, int)
        if int(percent) > limit:
            raise Forbidden(f"{percent}% is over your limit of {limit}%.", code="over_limit")
        fields = {"percent": int(percent)}
    else:
        if rentals is None or int(rentals) < 1:
            raise DomainError("Give at least one bonus rental.")
        limit = _role_limit(issuer, "RENTAL_LIMITS", DEFAULT_RENTAL_LIMITS, int)
        if int(rentals) > limit:
            raise Forbidden(
                f"{rentals} bonus rentals is over your limit of {limit}.", code="over_limit"
            )
        fields = {"rentals": int(rentals)}
    key = scoped_key("credit", issuer.pk, idempotency_key)
    if key:
        done = Credit.objects.filter(idempotency_key=key).first()
        if done:
            same = {k: v for k, v in fields.items() if k != "remaining"}
            asked = (int(getattr(member, "pk", member)), kind, same)
            given = (done.member_id, done.kind, {k: getattr(done, k) for k in same})
            if asked != given:
                raise Conflict("That idempotency key was used for a different credit.")
            return done
    member = _locked_member(member)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership cannot receive credit.")
    entry = None
    if kind == Credit.Kind.ACCOUNT:
        entry = post_entry(
            "credit",
            [Line("4900", debit=amount), Line("2200", credit=amount)],
            memo=f"Account credit: {reason.strip()}"[:300],
            member_id=member.pk,
            actor=issuer,
            idempotency_key=key,
        )
    if kind == Credit.Kind.BONUS_RENTALS:
        Member.objects.filter(pk=member.pk).update(bonus_rentals=F("bonus_rentals") + int(rentals))
    try:
        with transaction.atomic():
            credit = Credit.objects.create(
                member=member,
                kind=kind,
                reason=reason.strip()[:300],
                issuer=issuer,
                issued_at=clock.now(),
                entry=entry,
                idempotency_key=key,
                **fields,
            )
    except IntegrityError:
        if key:
            raise Conflict("That credit was just given by another request.") from None
        raise
    _log(member.pk, "credit_given", issuer, credit=credit.pk, what=credit.describe(), reason=reason)
    return credit


@transaction.atomic
def issue_statement(member: Member, day=None) -> Statement:
    """Bill one member for the period that starts on `day` (their billing day): the same figures
    and records as the daily run. A second call for the same period returns the first."""
    member = _locked_member(member)
    day = day or clock.today()
    if not is_billing_day(member.billing_day, day):
        raise DomainError(f"{day} is not this member's billing day.")
    existing = Statement.objects.filter(member=member, kind="period", period_start=day).first()
    if existing:
        return existing
    if member.status not in (MemberStatus.ACTIVE, MemberStatus.PAST_DUE):
        raise DomainError(
            f"A membership that is {member.get_status_display().lower()} is not billed."
        )
    bill(day, [member.pk])
    return Statement.objects.get(member=member, kind="period", period_start=day)


# --- plan changes and cancellation ------------------------------------------------------------


def current_statement(member: Member, day: dt.date | None = None) -> Statement | None:
    day = day or clock.today()
    return (
        Statement.objects.filter(
            member=member, kind="period", period_start__lte=day, period_end__gt=day
        )
        .order_by("-period_start")
        .first()
    )


def change_plan(member: Member, plan: Plan, *, actor=None) -> dict:
    """An upgrade (a dearer plan) applies at once: the unused days of the old plan are credited
    and the new plan charged for the rest of the period, by the exact day count, on a plan-change
    statement charged now. A downgrade (or a plan at the same price) applies from the next
    period. On a trial the plan simply changes. The upgrade's charge is recorded as an intent
    and committed before the provider is called; the plan changes only once it is paid (a
    declined card changes nothing)."""
    from redenvelope.membership import actions as membership

    with transaction.atomic():
        member = _locked_member(member)
        if plan.pk == member.plan_id and member.pending_plan_id:
            Member.objects.filter(pk=member.pk).update(pending_plan=None)
            _log(member.pk, "plan_change_withdrawn", actor, plan=plan.code)
            return {"when": "now", "statement": None}
        membership.check_plan_change(member, plan)
        old = member.plan
        day = clock.today()
        current = current_statement(member, day)
        if member.status == MemberStatus.TRIAL:
            membership.change_plan(member, plan, actor=actor, when="now")
            return {"when": "now", "statement": None}
        # The period is the member's billing cycle, billed or not (the next run bills a period
        # the runs missed): an upgrade never depends on a statement being there.
        start, end = (
            (current.period_start, current.period_end)
            if current is not None
            else period_containing(member.billing_day, day)
        )
        if plan.monthly_price <= old.monthly_price:
            Member.objects.filter(pk=member.pk).update(pending_plan=plan)
            _log(
                member.pk,
                "plan_change_scheduled",
                actor,
                old=old.code,
                new=plan.code,
                on=str(end),
            )
            return {"when": end, "statement": None}
        if PaymentIntent.objects.filter(
            member=member, kind=PaymentIntent.Kind.UPGRADE, status__in=PaymentIntent.OPEN
        ).exists():
            raise Conflict("A plan change is already being paid for.", code="in_progress")
        left, days = (end - day).days, (end - start).days
        new_part = share(to_cents(plan.monthly_price), left, days)
        unused = share(to_cents(old.monthly_price), left, days)
        net = new_part - unused
        tax = share(net, tax_rate(member.state), 1)
        request = {
            "plan": plan.pk,
            "old_plan": old.pk,
            "end": end.isoformat(),
            "left": left,
            "days": days,
            "new_part": new_part,
            "unused": unused,
            "net": net,
            "tax": tax,
        }
        if net + tax <= 0:
            return _apply_upgrade(member, request, day, actor, None)
        method = PaymentMethod.objects.filter(
            member=member, is_default=True, removed_at=None
        ).first()
        if method is None:
            raise DomainError(
                "Your plan has not changed: there is no payment method on file. Add one on your "
                "Billing page and try again.",
                code="declined",
            )
        intent = PaymentIntent.objects.create(
            key=f"upgrade:{member.pk}:{secrets.token_hex(8)}",
            kind=PaymentIntent.Kind.UPGRADE,
            member=member,
            method=method,
            token=method.token,
            amount=from_cents(net + tax),
            day=day,
            request=request,
            actor=actor,
            created_at=clock.now(),
        )
    # Committed: the intent is on record before the provider hears of it.
    statement = _finish_upgrade(intent, _send_one(intent))
    return {"when": "now", "statement": statement}


def _apply_upgrade(member, request: dict, day, actor, intent, answer=None) -> Statement:
    """The paid upgrade's records: its statement (and entry), the plan switch, the payment."""
    from redenvelope.membership import actions as membership

    plan = Plan.objects.get(pk=request["plan"])
    old = Plan.objects.get(pk=request["old_plan"])
    net, tax = request["net"], request["tax"]
    lines = [Line("1100", debit=from_cents(net + tax)), Line("2000", credit=from_cents(net))]
    if tax:
        lines.append(Line("2100", credit=from_cents(tax)))
    entry = None
    if net + tax:
        entry = post_entry(
            "statement",
            lines,
            memo=f"Plan change {old.name} → {plan.name}, {request['left']} of "
            f"{request['days']} days",
            effective_date=day,
            member_id=member.pk,
            actor=actor,
        )
    statement = Statement.objects.create(
        member=member,
        kind=Statement.Kind.PRORATION,
        period_start=day,
        period_end=dt.date.fromisoformat(request["end"]),
        plan=plan,
        plan_price=plan.monthly_price,
        subtotal=from_cents(net),
        tax=from_cents(tax),
        credit_applied=0,
        total_due=from_cents(net + tax),
        amount_paid=from_cents(net + tax),
        status=Statement.Status.PAID,
        attempts=1 if intent else 0,
        issued_at=clock.now(),
        entry=entry,
    )
    if intent is not None:
        paid = post_entry(
            "payment",
            [Line("1000", debit=intent.amount), Line("1100", credit=intent.amount)],
            memo="Payment received",
            effective_date=day,
            member_id=member.pk,
            idempotency_key=f"payment:{intent.key}",
        )
        Payment.objects.create(
            member=member,
            statement=statement,
            method=intent.method,
            amount=intent.amount,
            status=Payment.Status.SUCCEEDED,
            attempt=1,
            reference=answer.reference,
            message=answer.message[:200],
            attempted_at=clock.now(),
            entry=paid,
            idempotency_key=intent.key,
        )
        PaymentIntent.objects.filter(pk=intent.pk).update(statement=statement)
    membership.change_plan(
        member,
        plan,
        actor=actor,
        when="now",
        charged=str(statement.total_due),
        new_part=request["new_part"],
        unused_credit=request["unused"],
    )
    return statement


def _finish_upgrade(intent: PaymentIntent, answer) -> Statement:
    """Record the provider's answer to an upgrade: paid, the plan changes; declined, nothing
    does (and the member is told why); no answer, it waits for reconciliation."""
    with transaction.atomic():
        claimed = _claim(intent, answer)
        if not claimed and answer.ok is not None:
            return _settled(intent)
        if claimed and answer.ok:
            member = _locked_member(intent.member_id)
            statement = _apply_upgrade(
                member, intent.request, intent.day, intent.actor, intent, answer
            )
    if answer.ok is None:
        raise DomainError(
            "The card processor did not answer, so your plan has not changed yet. We will check "
            "with it and finish the change if the payment went through; you will not be charged "
            "twice.",
            code="pending",
        )
    if not answer.ok:
        why = answer.message or "the payment did not go through"
        raise DomainError(
            f"Your plan has not changed: {why}. Update your payment method and try again.",
            code="declined",
        )
    return statement


# --- the outbox: one intent at a time (upgrades, gifts, refunds, a member's "pay now") ---------


def _send_one(intent: PaymentIntent) -> Answer:
    """Call the provider for one committed intent, with its key."""
    gateway = get_gateway()
    try:
        if intent.kind == PaymentIntent.Kind.REFUND:
            r = gateway.refund(
                intent.request["reference"],
                intent.amount,
                key=intent.key,
                captured=intent.request["captured"],
                refunded=intent.request["refunded"],
            )
        else:
            r = gateway.charge(intent.token, intent.amount, key=intent.key)
    except GatewayTimeout:
        return Answer(intent.pk, None)
    except GatewayError as exc:
        return Answer(intent.pk, False, "", "invalid_request", str(exc)[:200])
    return Answer(intent.pk, r.ok, r.reference, r.decline_code, r.message[:200])


def _claim(intent: PaymentIntent, answer: Answer) -> bool:
    """Record the answer on the intent if it is still open (True: this caller applies it). No
    answer leaves it open (unknown)."""
    open_ = PaymentIntent.objects.filter(pk=intent.pk, status__in=PaymentIntent.OPEN)
    if answer.ok is None:
        open_.update(status=PaymentIntent.Status.UNKNOWN)
        return False
    return bool(
        open_.update(
            status=PaymentIntent.Status.SUCCEEDED if answer.ok else PaymentIntent.Status.FAILED,
            reference=answer.reference,
            decline_code=answer.decline_code,
            message=answer.message[:200],
            settled_at=clock.now(),
        )
    )


def _settled(intent: PaymentIntent):
    """What an intent someone else settled came to (its statement, gift or refund)."""
    intent.refresh_from_db()
    if intent.status != PaymentIntent.Status.SUCCEEDED:
        raise DomainError(intent.message or "The payment did not go through.", code="declined")
    if intent.kind == PaymentIntent.Kind.GIFT:
        return Gift.objects.get(idempotency_key=intent.key)
    if intent.kind == PaymentIntent.Kind.REFUND:
        return Refund.objects.get(idempotency_key=intent.key)
    return intent.statement


def reconcile_payments(*, now=None) -> dict:
    """Settle every intent whose outcome is unknown by asking the provider by key: answers are
    applied; what never reached the provider is sent again (the daily run's charges, refunds)
    or abandoned (a member's "pay now", a gift purchase, an upgrade: the buyer was told it did
    not go through), once older than `payments.ABANDON_AFTER`. Run first by every daily run;
    `redenvelope billing reconcile` runs it on demand."""
    from .payments import ABANDON_AFTER, settle_open_charges

    now = now or clock.now()
    notices = Notices()
    out = {"charges": settle_open_charges(notices, now=now)}
    done = defaultdict(int)
    gateway = get_gateway()
    finish = {"upgrade": _finish_upgrade, "gift": _finish_gift, "refund": _finish_refund}
    for intent in PaymentIntent.objects.filter(status__in=PaymentIntent.OPEN).exclude(
        kind=PaymentIntent.Kind.CHARGE
    ):
        r = gateway.lookup(intent.key)
        if r is not None:
            answer = Answer(intent.pk, r.ok, r.reference, r.decline_code, r.message[:200])
        elif intent.kind == PaymentIntent.Kind.REFUND:
            answer = _send_one(intent)
        elif now - intent.created_at >= ABANDON_AFTER:
            PaymentIntent.objects.filter(pk=intent.pk, status__in=PaymentIntent.OPEN).update(
                status=PaymentIntent.Status.ABANDONED,
                message="Never reached the provider.",
                settled_at=now,
            )
            done["abandoned"] += 1
            continue
        else:
            continue
        try:
            finish[intent.kind](intent, answer)
            done[f"{intent.kind}_succeeded"] += 1
        except DomainError:
            done[f"{intent.kind}_{'unanswered' if answer.ok is None else 'failed'}"] += 1
    out["others"] = dict(done)
    notices.queue()
    return out


@transaction.atomic
def request_cancellation(member: Member, *, actor=None, reason: str = "") -> Member:
    """Cancel at the end of the paid period (a trial, or a member never billed, cancels now)."""
    from redenvelope.membership import actions as membership

    member = _locked_member(member)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("The membership is already cancelled.")
    current = current_statement(member)
    if member.status == MemberStatus.TRIAL or current is None:
        return membership.cancel(member, actor=actor, reason=reason or "cancelled during trial")
    Member.objects.filter(pk=member.pk).update(cancels_on=current.period_end, pending_plan=None)
    _log(member.pk, "cancellation_scheduled", actor, on=str(current.period_end), reason=reason)
    member.refresh_from_db()
    return member


@transaction.atomic
def keep_membership(member: Member, *, actor=None) -> Member:
    """Withdraw a cancellation that has not yet taken effect."""
    member = _locked_member(member)
    if member.cancels_on is None:
        raise DomainError("No cancellation is planned.")
    Member.objects.filter(pk=member.pk).update(cancels_on=None)
    _log(member.pk, "cancellation_withdrawn", actor)
    member.refresh_from_db()
    return member


# --- payment methods and payments -----------------------------------------------------------


def card_token(number: str, exp_month, exp_year) -> str:
    """The provider's token for a card, after the checks every card gets: an expiry month and
    year not past, and the provider's own check of the number."""
    try:
        month, year = int(str(exp_month).strip()), int(str(exp_year).strip())
    except (TypeError, ValueError):
        raise DomainError("A card needs its expiry month and year.") from None
    today = clock.today()
    if (year, month) < (today.year, today.month):
        raise DomainError("That card has expired.", code="card_expired")
    try:
        return get_gateway().tokenize_card(number or "", month, year)
    except (GatewayError, ValueError) as exc:
        raise DomainError(str(exc)) from None


@transaction.atomic
def add_payment_method(
    member: Member,
    *,
    kind: str,
    number: str = "",
    exp_month: int | None = None,
    exp_year: int | None = None,
    routing: str = "",
    account: str = "",
    actor=None,
) -> PaymentMethod:
    """Tokenise a card or checking account with the provider and make it the default."""
    member = _locked_member(member)
    if kind == PaymentMethod.Kind.CARD:
        token = card_token(number, exp_month, exp_year)
    elif kind == PaymentMethod.Kind.BANK:
        try:
            token = get_gateway().tokenize_bank(routing.strip(), account.strip())
        except (GatewayError, ValueError) as exc:
            raise DomainError(str(exc)) from None
    else:
        raise DomainError("A payment method is a card or a checking account.")
    PaymentMethod.objects.filter(member=member, is_default=True).update(is_default=False)
    method = PaymentMethod.objects.create(
        member=member,
        kind=kind,
        token=token,
        last4=token[-4:],
        exp_month=exp_month if kind == "card" else None,
        exp_year=exp_year if kind == "card" else None,
        is_default=True,
        created_at=clock.now(),
    )
    _log(member.pk, "payment_method_added", actor, method=str(method))
    return method


@transaction.atomic
def remove_payment_method(method: PaymentMethod, *, member: Member | None = None, actor=None):
    method = PaymentMethod.objects.select_for_update().get(pk=method.pk)
    if member is not None and method.member_id != member.pk:
        raise Forbidden("That payment method is not yours.")
    if method.removed_at:
        return method
    PaymentMethod.objects.filter(pk=method.pk).update(removed_at=clock.now(), is_default=False)
    _log(method.member_id, "payment_method_removed", actor, method=str(method))
    method.refresh_from_db()
    return method


def pay_statement(
    statement: Statement, *, member: Member | None = None, actor=None, idempotency_key=None
) -> Payment:
    """Charge what is left on a statement to the member's default method now (the member's "pay
    now", or staff on their behalf). A member may pay only their own statements; a paid statement
    is refused. The statement's owner is checked first; a key belongs to its member (the same key
    twice charges once; the same key for another statement is a conflict). The charge is an
    intent committed before the provider is called; a failure is not a retry of the dunning
    schedule (clicking again never cancels anyone)."""
    from .payments import queue_charges, send_and_settle

    with transaction.atomic():
        statement = Statement.objects.select_for_update().filter(pk=statement.pk).first()
        if statement is None:
            raise NotFound("No such statement.", code="unknown_statement")
        if member is not None and statement.member_id != member.pk:
            raise Forbidden("That statement is not yours.")
        key = scoped_key("pay", statement.member_id, idempotency_key)
        if key:
            intent = PaymentIntent.objects.filter(key=key).first()
            if intent is not None:
                if intent.statement_id != statement.pk:
                    raise Conflict("That idempotency key was used to pay another statement.")
                done = Payment.objects.filter(idempotency_key=key).first()
                if done is None:
                    raise Conflict("That payment is still being processed.", code="in_progress")
                return done
        if statement.status not in (Statement.Status.DUE, Statement.Status.PAST_DUE):
            raise Conflict(f"That statement is {statement.get_status_display().lower()}.")
        balance = statement.total_due - statement.amount_paid
        if balance <= 0:
            raise Conflict("Nothing is owed on that statement.")
        _locked_member(statement.member_id)
        if PaymentIntent.objects.filter(
            statement=statement, kind="charge", status__in=PaymentIntent.OPEN
        ).exists():
            raise Conflict("A payment for that statement is in progress.", code="in_progress")
        ids = queue_charges(
            clock.today(),
            [statement.pk],
            [statement.member_id],
            [to_cents(balance)],
            [statement.attempts],
            [statement.first_failed_on],
            manual=True,
            keys=[key] if key else None,
            actor_id=getattr(actor, "pk", None),
        )
    # Committed: now the provider, with the intent's key.
    notices = Notices()
    send_and_settle(ids, notices)
    notices.queue()
    intent = PaymentIntent.objects.get(pk=int(ids[0]))
    payment = Payment.objects.filter(idempotency_key=intent.key).first()
    if payment is None:
        raise DomainError(
            "The card processor did not answer. We will check with it and record the payment "
            "if it went through; you will not be charged twice.",
            code="pending",
        )
    return payment


def refund_payment(
    payment: Payment, amount=None, *, reason: str, issuer, idempotency_key=None
) -> Refund:
    """Give money back on a payment (finance and admins): never more than was paid and not yet
    refunded (counting refunds in flight); posted Dr credits and discounts / Cr cash, with who
    and why. Recorded as an intent and committed before the provider is asked."""
    if not roles_of(issuer) & {r.value for r in POSTING_ROLES}:
        raise Forbidden("Only finance gives refunds.")
    if not (reason or "").strip():
        raise DomainError("Say why: every refund carries its reason.")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        key = scoped_key("refund", issuer.pk, idempotency_key)
        if key:
            intent = PaymentIntent.objects.filter(key=key).first()
            if intent is not None:
                if intent.payment_id != payment.pk or (
                    amount is not None and intent.amount != to_money(amount)
                ):
                    raise Conflict("That idempotency key was used for another refund.")
                return _settled(intent)
        if payment.status != Payment.Status.SUCCEEDED or payment.charged_back_at:
            raise DomainError(
                "Only a payment that went through (and was not reversed) is refunded."
            )
        in_flight = sum(
            i.amount
            for i in PaymentIntent.objects.filter(
                payment=payment, kind="refund", status__in=PaymentIntent.OPEN
            )
        )
        left = payment.amount - payment.refunded - in_flight
        amount = left if amount is None else to_money(amount)
        if amount <= 0:
            raise DomainError("A refund is a positive amount.")
        if amount > left:
            raise DomainError(f"At most ${left} of that payment can still be refunded.")
        intent = PaymentIntent.objects.create(
            key=key or f"refund:{payment.pk}:{secrets.token_hex(8)}",
            kind=PaymentIntent.Kind.REFUND,
            member_id=payment.member_id,
            statement_id=payment.statement_id,
            payment=payment,
            amount=amount,
            day=clock.today(),
            request={
                "reason": reason.strip()[:300],
                "reference": payment.reference,
                "captured": str(payment.amount),
                "refunded": str(payment.refunded),
            },
            actor=issuer,
            created_at=clock.now(),
        )
    return _finish_refund(intent, _send_one(intent))


def _finish_refund(intent: PaymentIntent, answer) -> Refund:
    with transaction.atomic():
        if not _claim(intent, answer):
            if answer.ok is None:
                raise DomainError(
                    "The payment provider did not answer; the refund will be confirmed when it "
                    "does (it is never given twice).",
                    code="pending",
                )
            return _settled(intent)
        if not answer.ok:
            failed = True
        else:
            failed = False
            amount, reason = intent.amount, intent.request["reason"]
            entry = post_entry(
                "refund",
                [Line("4900", debit=amount), Line("1000", credit=amount)],
                memo=f"Refund: {reason}"[:300],
                member_id=intent.member_id,
                actor=intent.actor,
                idempotency_key=f"refund:{intent.key}",
            )
            Payment.objects.filter(pk=intent.payment_id).update(
                refunded=F("refunded") + money_value(amount)
            )
            refund = Refund.objects.create(
                payment_id=intent.payment_id,
                amount=amount,
                reason=reason,
                issuer=intent.actor,
                created_at=clock.now(),
                reference=answer.reference,
                entry=entry,
                idempotency_key=intent.key,
            )
            _log(intent.member_id, "refunded", intent.actor, amount=str(amount), reason=reason)
            notices = Notices()
            notices.add("refund", intent.member_id, None, f"refund{refund.pk}")
            notices.queue({"refund": f"We have refunded ${amount} to your payment method."})
    if failed:
        raise DomainError(answer.message or "The refund did not go through.")
    return refund


@transaction.atomic
def record_chargeback(payment: Payment, *, day: dt.date | None = None) -> Payment:
    """The member's bank reversed a payment: the money is owed again (Dr receivables / Cr cash),
    the processor's fee is an expense, the card is no longer used, and the statement goes back
    into dunning. Recorded once."""
    day = day or clock.today()
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.charged_back_at:
        return payment
    if payment.status != Payment.Status.SUCCEEDED:
        raise DomainError("Only a payment that went through can be charged back.")
    fee = to_money(settings.REDENVELOPE.get("CHARGEBACK_FEE", "15.00"))
    amount = payment.amount - payment.refunded
    lines = [Line("5300", debit=fee), Line("1000", credit=fee)] if fee else []
    if amount > 0:
        lines = [Line("1100", debit=amount), Line("1000", credit=amount)] + lines
    if lines:
        post_entry(
            "chargeback",
            lines,
            memo=f"Chargeback of payment {payment.reference}",
            effective_date=day,
            member_id=payment.member_id,
            idempotency_key=f"chargeback:{payment.pk}",
        )
    Payment.objects.filter(pk=payment.pk).update(charged_back_at=clock.now())
    if payment.method_id:
        PaymentMethod.objects.filter(pk=payment.method_id).update(
            removed_at=clock.now(), is_default=False
        )
    retry = settings.REDENVELOPE["DUNNING_RETRY_DAYS"]
    Statement.objects.filter(pk=payment.statement_id).update(
        amount_paid=F("amount_paid") - money_value(amount),
        status=Statement.Status.PAST_DUE,
        attempts=1,
        first_failed_on=day,
        next_retry_on=day + dt.timedelta(days=retry[0]) if retry else day,
    )
    member_statuses(day, [payment.member_id], [], [])
    notices = Notices()
    notices.add("chargeback", payment.member_id, payment.statement_id, f"payment{payment.pk}")
    notices.queue()
    payment.refresh_from_db()
    return payment


def poll_disputes(day: dt.date | None = None, lookback_days: int = 120) -> int:
    """Ask the provider which payment methods are disputed, and record a chargeback for each
    recent payment made with them (only the disputed ones are read)."""
    day = day or clock.today()
    tokens = get_gateway().disputed_tokens()
    since = clock.now() - dt.timedelta(days=lookback_days)
    n = 0
    for payment in Payment.objects.filter(
        status="succeeded", charged_back_at=None, attempted_at__gte=since, method__token__in=tokens
    ):
        record_chargeback(payment, day=day)
        n += 1
    return n


# --- fees ---------------------------------------------------------------------------------------


def fee_amount(kind: str) -> Decimal:
    return to_money(settings.REDENVELOPE.get("FEES", {}).get(kind, "0"))


@transaction.atomic
def charge_fee(
    member: Member, kind: str, *, copy=None, reason: str, issuer=None, idempotency_key=None
) -> Fee:
    """Charge a lost-disc or damaged-disc fee by the fee policy (setting FEES): posted at once
    (Dr receivables / Cr fee revenue) and put on the next statement. One fee per disc and kind;
    staff (support, finance, admins) charge one with a request key, so a double submit charges
    once; without staff, only a rule charges it, for a disc."""
    if issuer is not None and not roles_of(issuer) & MEMBER_MONEY_ROLES:
        raise Forbidden("Only support, finance and admins charge fees.")
    if issuer is None and copy is None:
        raise DomainError("A fee without a disc is charged by a staff member.")
    if kind not in Fee.Kind.values:
        raise DomainError(f"Unknown fee {kind!r}.")
    if not (reason or "").strip():
        raise DomainError("Say why: every fee carries its reason.")
    amount = fee_amount(kind)
    if amount <= 0:
        raise DomainError(f"The fee policy charges nothing for {kind.replace('_', ' ')}.")
    member = _locked_member(member)
    if copy is not None:
        key = f"fee:{kind}:{copy.pk}:{member.pk}"
    else:
        key = scoped_key("fee", issuer.pk, idempotency_key)
    if key:
        done = Fee.objects.filter(idempotency_key=key).first()
        if done:
            if (done.member_id, done.kind) != (member.pk, kind):
                raise Conflict("That idempotency key was used for a different fee.")
            return done
    entry = post_entry(
        "fee",
        [Line("1100", debit=amount), Line("4100", credit=amount)],
        memo=f"{Fee.Kind(kind).label}: {reason.strip()}"[:300],
        member_id=member.pk,
        actor=issuer,
        idempotency_key=key,
    )
    fee = Fee.objects.create(
        member=member,
        kind=kind,
        copy=copy,
        amount=amount,
        reason=reason.strip()[:300],
        issuer=issuer,
        created_at=clock.now(),
        entry=entry,
        idempotency_key=key,
    )
    _log(member.pk, "fee_charged", issuer, fee=fee.pk, kind=kind, amount=str(amount))
    return fee


@transaction.atomic
def waive_fee(fee: Fee, *, actor, reason: str) -> Fee:
    """Waive a fee (support or finance; `actor=None` when a rule does it, e.g. the lost disc came
    back): its entry is reversed; if it was already on a statement, the member gets the amount
    back as account credit."""
    if actor is not None and not roles_of(actor) & MEMBER_MONEY_ROLES:
        raise Forbidden("Only support and finance waive fees.")
    if not (reason or "").strip():
        raise DomainError("Say why the fee is waived.")
    fee = Fee.objects.select_for_update().get(pk=fee.pk)
    if fee.status == Fee.Status.WAIVED:
        return fee
    if fee.status == Fee.Status.OPEN:
        post_entry(
            "fee",
            [Line("4100", debit=fee.amount), Line("1100", credit=fee.amount)],
            memo=f"Fee waived: {reason.strip()}"[:300],
            member_id=fee.member_id,
            actor=actor,
            idempotency_key=f"waive:{fee.pk}",
        )
    else:
        entry = post_entry(
            "fee",
            [Line("4100", debit=fee.amount), Line("2200", credit=fee.amount)],
            memo=f"Billed fee waived as credit: {reason.strip()}"[:300],
            member_id=fee.member_id,
            actor=actor,
            idempotency_key=f"waive:{fee.pk}",
        )
        Credit.objects.create(
            member_id=fee.member_id,
            kind=Credit.Kind.ACCOUNT,
            amount=fee.amount,
            remaining=fee.amount,
            reason=f"Fee waived: {reason.strip()}"[:300],
            issuer=actor,
            issued_at=clock.now(),
            entry=entry,
        )
    Fee.objects.filter(pk=fee.pk).update(
        status=Fee.Status.WAIVED,
        waived_by=actor,
        waived_at=clock.now(),
        waive_reason=reason.strip()[:300],
    )
    _log(fee.member_id, "fee_waived", actor, fee=fee.pk, reason=reason)
    fee.refresh_from_db()
    return fee


# --- gifts --------------------------------------------------------------------------------------


def purchase_gift(
    *,
    plan: Plan,
    months: int,
    purchaser_name: str,
    purchaser_email: str,
    card_number: str,
    exp_month: int,
    exp_year: int,
    then: str = Gift.Then.CONTINUE,
    buyer=None,
    idempotency_key: str | None = None,
) -> Gift:
    """Sell a gift subscription: months × the plan's price, charged to the buyer's card now and
    held as a liability (gift subscriptions outstanding) until each month is used. The charge
    is an intent committed before the provider is called; the gift exists once it is paid."""
    from django.core.validators import validate_email

    key = scoped_key("gift", buyer.pk if buyer is not None else 0, idempotency_key)
    if key:
        intent = PaymentIntent.objects.filter(key=key).first()
        if intent is not None:
            if (intent.request.get("plan"), intent.request.get("months")) != (
                plan.pk,
                int(months),
            ):
                raise Conflict("That idempotency key was used for a different gift.")
            if intent.status in PaymentIntent.OPEN:
                raise Conflict("That purchase is still being processed.", code="in_progress")
            return _settled(intent)
    if not 1 <= int(months) <= 24:
        raise DomainError("A gift is 1 to 24 months.")
    if then not in Gift.Then.values:
        raise DomainError("After the gift, the membership continues or stops.")
    if not plan.active:
        raise DomainError(f"The {plan.name} plan is no longer offered.")
    try:
        validate_email(purchaser_email)
    except Exception:
        raise DomainError(f"{purchaser_email!r} is not an email address.") from None
    amount = to_money(plan.monthly_price * int(months))
    try:
        token = get_gateway().tokenize_card(card_number, int(exp_month), int(exp_year))
    except GatewayError as exc:
        raise DomainError(str(exc)) from None
    try:
        with transaction.atomic():
            intent = PaymentIntent.objects.create(
                key=key or f"gift:{secrets.token_hex(10)}",
                kind=PaymentIntent.Kind.GIFT,
                token=token,
                amount=amount,
                day=clock.today(),
                request={
                    "plan": plan.pk,
                    "months": int(months),
                    "month_value": str(plan.monthly_price),
                    "purchaser_name": purchaser_name[:100],
                    "purchaser_email": purchaser_email,
                    "then": then,
                },
                actor=buyer if getattr(buyer, "pk", None) else None,
                created_at=clock.now(),
            )
    except IntegrityError:
        raise Conflict("That purchase is already being processed.", code="in_progress") from None
    return _finish_gift(intent, _send_one(intent))


def _finish_gift(intent: PaymentIntent, answer) -> Gift:
    with transaction.atomic():
        if not _claim(intent, answer):
            if answer.ok is None:
                raise DomainError(
                    "The card processor did not answer. We will check with it and email the gift "
                    "code if the payment went through; you will not be charged twice.",
                    code="pending",
                )
            return _settled(intent)
        if answer.ok:
            req = intent.request
            plan = Plan.objects.get(pk=req["plan"])
            entry = post_entry(
                "payment",
                [Line("1000", debit=intent.amount), Line("2300", credit=intent.amount)],
                memo=f"Gift: {req['months']} months of {plan.name} for {req['purchaser_name']}"[
                    :300
                ],
                idempotency_key=f"gift:{intent.key}",
            )
            gift = Gift.objects.create(
                code=secrets.token_hex(6).upper(),
                plan=plan,
                months=req["months"],
                month_value=to_money(req["month_value"]),
                amount_paid=intent.amount,
                purchaser_name=req["purchaser_name"],
                purchaser_email=req["purchaser_email"],
                then=req["then"],
                purchased_at=clock.now(),
                reference=answer.reference,
                entry=entry,
                idempotency_key=intent.key,
            )
            _gift_receipt(gift.pk)
    if not answer.ok:
        raise DomainError(f"The card was declined: {answer.message}.", code="declined")
    return gift


def _gift_receipt(gift_id: int) -> None:
    """The buyer's receipt, with the code (also how a purchase finished by reconciliation
    reaches its buyer), queued with the gift's record."""
    gift = Gift.objects.select_related("plan").get(pk=gift_id)
    queue_email(
        key=f"gift:{gift.pk}",
        kind="gift_receipt",
        to=gift.purchaser_email,
        subject="Your Red Envelope gift",
        body=f"Hello {gift.purchaser_name},\n\nThank you: {gift.months} months of "
        f"{gift.plan.name} (${gift.amount_paid}). The gift code is {gift.code}; it is redeemed "
        "on the website under Billing.\n\nRed Envelope",
    )


@transaction.atomic
def redeem_gift(member: Member, code: str, *, actor=None) -> Gift:
    """A member redeems a gift: its months pay their next statements (up to the gift plan's
    price each); then the membership continues on their own payment method, or stops."""
    member = _locked_member(member)
    gift = Gift.objects.select_for_update().filter(code=(code or "").strip().upper()).first()
    if gift is None:
        raise NotFound("No gift has that code.", code="unknown_gift")
    if gift.redeemed_by_id:
        raise Conflict("That gift has already been redeemed.")
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("Rejoin first, then redeem the gift.")
    if member.gift_months_left and member.gift_month_value != gift.month_value:
        raise Conflict("Use up the gift you have first.")
    updates = {
        "gift_months_left": member.gift_months_left + gift.months,
        "gift_month_value": gift.month_value,
    }
    if gift.then == Gift.Then.STOP:
        current = current_statement(member)
        start = current.period_end if current else (member.trial_ends_on or clock.today())
        y, m = add_months(start.year, start.month, updates["gift_months_left"])
        updates["cancels_on"] = on_day(y, m, start.day)
    Member.objects.filter(pk=member.pk).update(**updates)
    Gift.objects.filter(pk=gift.pk).update(redeemed_by=member, redeemed_at=clock.now())
    _log(member.pk, "gift_redeemed", actor, gift=gift.code, months=gift.months, then=gift.then)
    gift.refresh_from_db()
    return gift


# --- outage compensation ----------------------------------------------------------------------


def affected_members(incident):
    """Members of the regions the incident's DC serves (it is their nearest), who were members
    during the incident and still are."""
    from django.db.models import Min

    from redenvelope.inventory.models import Transit

    best = dict(
        Transit.objects.values("region_id").annotate(d=Min("days")).values_list("region_id", "d")
    )
    regions = [
        t.region_id
        for t in Transit.objects.filter(dc=incident.dc)
        if best.get(t.region_id) == t.days
    ]
    start = dt.datetime.combine(incident.ends_on, dt.time.min, tzinfo=dt.UTC)
    return Member.objects.filter(region_id__in=regions, joined_at__lt=start).exclude(
        status=MemberStatus.CANCELLED
    )


@transaction.atomic
def compensate_outage(
    incident, percent: int, *, issuer, reason: str = "", via: str = "web"
) -> OutageCompensation:
    """Give every member affected by a DC incident a percentage off their next statement: once
    per incident (a second click is refused), each member emailed after it commits. The
    percentage is capped by the setting OUTAGE_MAX_PERCENT (25 unless set); the reason, who gave
    it and from where are recorded."""
    import numpy as np

    from redenvelope.core.bulk import copy_arrays, db_timestamp

    if not roles_of(issuer) & {"support_lead", "finance", "operations", "admin"}:
        raise Forbidden("Support leads, finance, operations and admins compensate outages.")
    cap = int(settings.REDENVELOPE.get("OUTAGE_MAX_PERCENT", 25))
    if not 1 <= int(percent) <= cap:
        raise DomainError(f"The compensation is a percentage from 1 to {cap}.")
    if not (reason or "").strip():
        raise DomainError("Say why: every compensation carries its reason.")
    from redenvelope.fulfillment.models import Incident

    incident = Incident.objects.select_for_update().select_related("dc").get(pk=incident.pk)
    if OutageCompensation.objects.filter(incident=incident).exists():
        raise Conflict("This incident has already been compensated.")
    ids = np.array(list(affected_members(incident).values_list("pk", flat=True)), np.int64)
    comp = OutageCompensation.objects.create(
        incident=incident,
        percent=int(percent),
        members=len(ids),
        issuer=issuer,
        issued_at=clock.now(),
        reason=reason.strip()[:300],
        via=via[:60],
    )
    if len(ids):
        copy_arrays(
            "billing_credit",
            {
                "member_id": ids,
                "kind": "percent",
                "amount": None,
                "remaining": None,
                "percent": int(percent),
                "rentals": None,
                "reason": f"Shipping outage at {incident.dc.name} "
                f"{incident.starts_on:%b %-d}–{incident.ends_on:%b %-d}",
                "issuer_id": issuer.pk,
                "issued_at": db_timestamp(clock.now()),
                "entry_id": None,
                "incident_id": incident.pk,
                "applied_to_id": None,
                "idempotency_key": None,
            },
        )
        ref = f"incident{incident.pk}"
        notices = Notices([("outage_credit", int(m), None, ref) for m in ids.tolist()])
        notices.queue(
            {
                "outage_credit": f"Our {incident.dc.city} center could not ship from "
                f"{incident.starts_on:%B %-d} to {incident.ends_on:%B %-d}. We are sorry: "
                f"your next statement is {percent}% off."
            },
        )
    return comp


def charge_fees_bulk(kind: str, items: list[tuple[int, int]], *, reason: str) -> int:
    """Fees by rule, set-wise (the overdue-lost sweep): one per (member, copy) not yet charged,
    each with its own balanced entry, like `charge_fee`."""
    import numpy as np

    from redenvelope.core.bulk import copy_arrays, db_timestamp

    amount = fee_amount(kind)
    if amount <= 0 or not items:
        return 0
    keys = [f"fee:{kind}:{c}:{m}" for m, c in items]
    taken = set(
        Fee.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    items = [(m, c) for (m, c), k in zip(items, keys, strict=True) if k not in taken]
    if not items:
        return 0
    cents = to_cents(amount)
    members = np.array([m for m, _ in items], np.int64)
    label = Fee.Kind(kind).label
    entry_ids = post_bulk(
        "fee",
        effective_date=clock.today(),
        memo=f"{label}: {reason}"[:300],
        member_ids=members,
        keys=[f"fee:{kind}:{c}:{m}" for m, c in items],
        lines=[
            ln for j in range(len(items)) for ln in ((j, "1100", cents, 0), (j, "4100", 0, cents))
        ],
    )
    copy_arrays(
        "billing_fee",
        {
            "member_id": members,
            "kind": kind,
            "copy_id": np.array([c for _, c in items], np.int64),
            "amount": cents,
            "reason": reason[:300],
            "issuer_id": None,
            "created_at": db_timestamp(clock.now()),
            "status": "open",
            "statement_id": None,
            "entry_id": entry_ids,
            "waived_by_id": None,
            "waived_at": None,
            "waive_reason": "",
            "idempotency_key": [f"fee:{kind}:{c}:{m}" for m, c in items],
        },
    )
    return len(items)


# --- the day ------------------------------------------------------------------------------------


def settle_lost_discs(day: dt.date | None = None, lookback_days: int = 30) -> dict:
    """Billing's side of lost discs, read from fulfillment's records (fulfillment knows nothing
    of fees): a lost-disc fee for each disc the overdue sweep declared lost (when the setting
    FEE_ON_OVERDUE_LOST is on; a member's own report of a disc that never arrived is not
    fined), and the fee waived for each such disc that has come back since. Idempotent: one fee
    per disc and member, a waived fee stays waived."""
    from django.db.models import Exists, OuterRef

    from redenvelope.fulfillment.queries import overdue_lost_since
    from redenvelope.inventory.models import CopyEvent

    day = day or clock.today()
    since = dt.datetime.combine(day - dt.timedelta(days=lookback_days), dt.time.min, dt.UTC)
    charged = 0
    if settings.REDENVELOPE.get("FEE_ON_OVERDUE_LOST"):
        lost = overdue_lost_since(since)
        by_note: dict[str, list] = defaultdict(list)
        for m, c, note in zip(
            lost["member_id"].tolist(), lost["copy_id"].tolist(), lost["note"], strict=True
        ):
            by_note[note].append((m, c))
        for note, items in by_note.items():
            charged += charge_fees_bulk(
                "lost_disc", items, reason=f"Disc not returned ({note.strip()})"
            )
    # Fees on discs that have a "found" event, in one query (a handful a day); the event must
    # come after the fee, compared here: on SQLite the two timestamps are written as text by
    # different paths (COPY and the ORM), so SQL would compare their spellings.
    found = CopyEvent.objects.filter(copy_id=OuterRef("copy_id"), kind="found")
    back = (
        Fee.objects.filter(kind="lost_disc", copy__isnull=False)
        .exclude(status="waived")
        .filter(Exists(found))
        .order_by("pk")
    )
    waived = 0
    for fee in back:
        last_found = (
            CopyEvent.objects.filter(copy_id=fee.copy_id, kind="found").order_by("-at").first()
        )
        if last_found.at >= fee.created_at:
            waive_fee(fee, actor=None, reason="the disc came back")
            waived += 1
    return {"fees_charged": charged, "fees_waived": waived}


def daily_billing(day: dt.date | None = None) -> dict:
    """The whole day of billing, one path for the scheduler, the CLI, the simulator and the
    benchmark: payments left open by an earlier crash or a lost answer (asked of the provider
    by key), lost-disc fees (and their waivers) from fulfillment's records, the run
    (lifecycle, dunning, statements, payments), the provider's disputes (chargebacks), then the
    day's revenue recognition (with any day the job missed, first). Each step is idempotent
    for the day. Returns the run's summary with `lost_discs`, `chargebacks`, `recognition` and
    `seconds` per step."""
    import time

    from .recognition import recognize_through
    from .run import run_billing

    day = day or clock.today()
    t0 = time.perf_counter()
    reconciled = reconcile_payments()  # what a crashed run or a lost answer left open, first
    lost = settle_lost_discs(day)
    result = run_billing(day)
    result["reconciled"] = reconciled
    result["lost_discs"] = lost
    t1 = time.perf_counter()
    result["chargebacks"] = poll_disputes(day)
    t2 = time.perf_counter()
    # The day's revenue, and any day's the scheduler missed before it.
    result["recognition"] = recognize_through(day)
    t3 = time.perf_counter()
    result["phases"] = result.pop("seconds", {})  # the run's own split
    result["seconds"] = {"run": t1 - t0, "disputes": t2 - t1, "recognition": t3 - t2}
    return result


# --- joining from the website -------------------------------------------------------------


def sign_up(
    *,
    plan: Plan,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    street: str,
    city: str,
    state: str,
    zip_code: str,
    card_number: str,
    exp_month,
    exp_year,
    gift_code: str = "",
    after_join=None,
) -> Member:
    """A visitor joins: the account and membership (on the plan's free trial), the card as the
    default payment method, a gift redeemed when a code is given, and the welcome and
    email-verification emails, all in one transaction. Everything that can be refused is
    checked first, so a refusal (a taken email, a weak password, an unserved ZIP, a card the
    provider declines, an unknown gift) changes nothing. The card is verified with the
    provider (a zero-amount authorisation, no money moved) before the transaction."""
    from django.contrib.auth import get_user_model, password_validation
    from django.core.exceptions import ValidationError

    from redenvelope.membership import actions as membership
    from redenvelope.membership import emails

    email = (email or "").strip()
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    if not first_name:
        raise DomainError("Tell us your first name.", code="name_required")
    if not (street or "").strip() or not (city or "").strip():
        raise DomainError("A shipping address needs a street and a city.", code="address")
    if not re.fullmatch(r"[A-Za-z]{2}", (state or "").strip()):
        raise DomainError("The state is its two-letter code (NY, CA, ...).", code="address")
    if get_user_model().objects.filter(email__iexact=email).exists():
        raise Conflict(
            "An account with that email already exists: sign in, or reset the password.",
            code="email_taken",
        )
    membership.region_for_zip(zip_code)  # refuses a malformed or unserved ZIP
    candidate = get_user_model()(
        username=email.lower(), email=email, first_name=first_name, last_name=last_name
    )
    try:
        password_validation.validate_password(password or "", candidate)
    except ValidationError as exc:
        raise DomainError(" ".join(exc.messages), code="weak_password") from None
    gift_code = (gift_code or "").strip().upper()
    if gift_code:
        gift = Gift.objects.filter(code=gift_code).first()
        if gift is None:
            raise NotFound("No gift has that code.", code="unknown_gift")
        if gift.redeemed_by_id:
            raise Conflict("That gift has already been redeemed.", code="gift_redeemed")
    try:
        month, year = int(str(exp_month).strip()), int(str(exp_year).strip())
    except ValueError:
        raise DomainError("The card's expiry is a month and a four-digit year.") from None
    if year < 100:
        year += 2000
    token = card_token(card_number, month, year)
    try:
        answer = get_gateway().verify(token)
    except GatewayTimeout:
        raise DomainError(
            "The payment provider did not answer. Nothing was charged; please try again.",
            code="provider_timeout",
        ) from None
    except GatewayError as exc:
        raise DomainError(str(exc), code="bad_card") from None
    if not answer.ok:
        raise DomainError(
            f"Your card was declined ({answer.message.lower()}). Try another card.",
            code="card_declined",
        )
    with transaction.atomic():
        try:
            member = membership.join(
                username=email.lower(),
                email=email,
                password=password,
                plan=plan,
                street=street.strip(),
                city=city.strip(),
                state=state.strip(),
                zip_code=zip_code.strip(),
                first_name=first_name,
                last_name=last_name,
                trial=True,
            )
        except IntegrityError:  # the same email joined a moment ago (a double click)
            raise Conflict(
                "An account with that email already exists: sign in, or reset the password.",
                code="email_taken",
            ) from None
        add_payment_method(
            member,
            kind=PaymentMethod.Kind.CARD,
            number=card_number,
            exp_month=month,
            exp_year=year,
            actor=member.user,
        )
        if gift_code:
            redeem_gift(member, gift_code, actor=member.user)
        member.refresh_from_db()
        emails.send_welcome(member)
        emails.send_verification(member)
        if after_join is not None:  # what a domain to the right records of the join (growth)
            after_join(member)
    return member
