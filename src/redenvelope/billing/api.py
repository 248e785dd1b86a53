"""Billing over the API. Members reach only their own statements and payments (no endpoint takes
their member id); support and finance reach a member's balances; finance runs reports. Money is
sent and returned as decimal strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from redenvelope.accounts.roles import Role, has_role
from redenvelope.core.errors import Forbidden, NotFound
from redenvelope.ledger.money import to_money
from redenvelope.membership.models import Member, Plan

from . import actions, reports
from .models import Statement
from .queries import balance

router = Router(tags=["billing"])
STAFF = (Role.SUPPORT_AGENT, Role.SUPPORT_LEAD, Role.FINANCE, Role.ADMIN)


def _me(request) -> Member:
    if not has_role(request.auth, Role.MEMBER):
        raise Forbidden("Only members have billing.", code="not_a_member")
    member = Member.objects.filter(user=request.auth).first()
    if member is None:
        raise Forbidden("This account has no membership.", code="not_a_member")
    return member


class StatementOut(Schema):
    id: int
    kind: str
    period_start: dt.date
    period_end: dt.date
    plan: str
    subtotal: Decimal
    discount: Decimal
    adjustment: Decimal
    adjustment_tax: Decimal
    fees: Decimal
    tax: Decimal
    credit_applied: Decimal
    gift_applied: Decimal
    total_due: Decimal
    amount_paid: Decimal
    status: str
    next_retry_on: dt.date | None = None

    @staticmethod
    def resolve_plan(obj):
        return obj.plan.name


class PaymentOut(Schema):
    id: int
    statement_id: int
    amount: Decimal
    status: str
    decline_code: str
    message: str
    attempted_at: dt.datetime


class BalanceOut(Schema):
    member_id: int
    status: str
    plan: str
    owed: Decimal
    account_credit: Decimal
    open_fees: Decimal
    bonus_rentals: int


class PayIn(Schema):
    idempotency_key: str | None = None


class PlanIn(Schema):
    plan: str  # the plan's code


class PlanOut(Schema):
    when: str
    statement: StatementOut | None = None


class MethodIn(Schema):
    kind: Literal["card", "bank"]
    number: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    routing: str = ""
    account: str = ""


class MethodOut(Schema):
    id: int
    kind: str
    last4: str
    is_default: bool


class CreditIn(Schema):
    kind: Literal["account", "percent", "bonus_rentals"] = "account"
    amount: str | None = None
    percent: int | None = None
    rentals: int | None = None
    reason: str
    idempotency_key: str | None = None


class CreditOut(Schema):
    id: int
    kind: str
    amount: Decimal | None
    percent: int | None
    rentals: int | None
    reason: str


def _balance(member: Member) -> dict:
    b = balance(member)
    return {
        "member_id": member.pk,
        "status": member.status,
        "plan": member.plan.name,
        "owed": to_money(b["owed"]),
        "account_credit": to_money(b["credit"]),
        "open_fees": to_money(b["open_fees"]),
        "bonus_rentals": member.bonus_rentals,
    }


@router.get("/balance", response=BalanceOut)
def my_balance(request):
    return _balance(_me(request))


@router.get("/statements", response=list[StatementOut])
def my_statements(request):
    return list(_me(request).statements.select_related("plan").order_by("-period_start")[:120])


@router.get("/payments", response=list[PaymentOut])
def my_payments(request):
    return list(_me(request).payments.all()[:120])


@router.post("/statements/{statement_id}/pay", response=PaymentOut)
def pay(request, statement_id: int, body: PayIn):
    """Pay what is left on one of your statements with your default payment method."""
    member = _me(request)
    statement = Statement.objects.filter(pk=statement_id).first()
    if statement is None:
        raise NotFound("No such statement.")
    return actions.pay_statement(
        statement, member=member, actor=request.auth, idempotency_key=body.idempotency_key
    )


@router.post("/plan", response=PlanOut)
def change_plan(request, body: PlanIn):
    plan = Plan.objects.filter(code=body.plan).first()
    if plan is None:
        raise NotFound(f"No plan {body.plan!r}.")
    result = actions.change_plan(_me(request), plan, actor=request.auth)
    when = result["when"]
    return {
        "when": when if isinstance(when, str) else when.isoformat(),
        "statement": result["statement"],
    }


@router.post("/payment-methods", response=MethodOut)
def add_method(request, body: MethodIn):
    return actions.add_payment_method(_me(request), actor=request.auth, **body.dict())


@router.post("/cancel", response=BalanceOut)
def cancel(request):
    member = actions.request_cancellation(_me(request), actor=request.auth)
    return _balance(member)


class GiftIn(Schema):
    plan: str  # the plan's code
    months: int
    purchaser_name: str
    purchaser_email: str
    card_number: str
    exp_month: int
    exp_year: int
    then: Literal["continue", "stop"] = "continue"
    idempotency_key: str | None = None


class GiftOut(Schema):
    code: str
    months: int
    amount_paid: Decimal


class RedeemIn(Schema):
    code: str


@router.post("/gifts", response=GiftOut)
def buy_gift(request, body: GiftIn):
    """Buy a gift subscription (any signed-in account): charged now, redeemed with its code."""
    plan = Plan.objects.filter(code=body.plan).first()
    if plan is None:
        raise NotFound(f"No plan {body.plan!r}.")
    data = body.dict()
    data.pop("plan")
    return actions.purchase_gift(plan=plan, buyer=request.auth, **data)


@router.post("/gifts/redeem", response=BalanceOut)
def redeem_gift(request, body: RedeemIn):
    member = _me(request)
    actions.redeem_gift(member, body.code, actor=request.auth)
    member.refresh_from_db()
    return _balance(member)


def _staff(request, *roles):
    if not has_role(request.auth, *(roles or STAFF)):
        raise Forbidden("Your role does not allow this.", code="forbidden")


@router.get("/members/{member_id}/balance", response=BalanceOut)
def member_balance(request, member_id: int):
    _staff(request)
    return _balance(get_object_or_404(Member.objects.select_related("plan"), pk=member_id))


@router.get("/members/{member_id}/statements", response=list[StatementOut])
def member_statements(request, member_id: int):
    _staff(request)
    member = get_object_or_404(Member, pk=member_id)
    return list(member.statements.select_related("plan").order_by("-period_start")[:120])


@router.post("/members/{member_id}/credits", response=CreditOut)
def give_credit(request, member_id: int, body: CreditIn):
    """Give a credit within your role's limit (a repeated idempotency key lands once)."""
    _staff(request)
    member = get_object_or_404(Member, pk=member_id)
    return actions.issue_credit(
        member,
        body.amount,
        kind=body.kind,
        percent=body.percent,
        rentals=body.rentals,
        reason=body.reason,
        issuer=request.auth,
        idempotency_key=body.idempotency_key,
    )


class ReportOut(Schema):
    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str


@router.get("/reports/{name}", response=ReportOut)
def report(request, name: str, start: dt.date | None = None, end: dt.date | None = None):
    _staff(request, Role.FINANCE, Role.ADMIN)
    if name not in reports.REPORTS:
        raise NotFound(f"No report {name!r}.")
    r = reports.build(name, start, end)
    return {
        "name": r.name,
        "title": r.title,
        "columns": r.columns,
        "rows": [["" if v is None else str(v) for v in row] for row in r.rows],
        "note": r.note,
    }


join_router = Router(tags=["join"])


class JoinIn(Schema):
    plan: str
    first_name: str
    last_name: str = ""
    email: str
    password: str
    street: str
    city: str
    state: str
    zip_code: str
    card_number: str
    exp_month: int
    exp_year: int
    gift_code: str = ""


class JoinOut(Schema):
    member_id: int
    email: str
    plan: str
    status: str
    trial_ends_on: dt.date | None


class JoinErrorOut(Schema):
    detail: str
    code: str


@join_router.post(
    "",
    auth=None,
    response={201: JoinOut, 400: JoinErrorOut, 404: JoinErrorOut, 409: JoinErrorOut},
)
def join(request, body: JoinIn):
    """Join on the plan's free trial with a card (verified by the provider, nothing charged) and
    an optional gift code. Refused with the reason, and nothing made: a taken email (409), a
    weak password, an unserved or malformed ZIP, a declined card (400), an unknown gift (404).
    Then sign in with the email and password (session) or ask staff for an API token."""
    from redenvelope.core.errors import NotFound as Missing

    plan = Plan.objects.filter(code=body.plan, active=True).first()
    if plan is None:
        raise Missing(f"No plan {body.plan!r} is on offer.", code="no_plan")
    fields = body.dict()
    fields.pop("plan")
    member = actions.sign_up(plan=plan, **fields)
    return Status(
        201,
        {
            "member_id": member.pk,
            "email": member.user.email,
            "plan": plan.code,
            "status": member.status,
            "trial_ends_on": member.trial_ends_on,
        },
    )
