"""The signed-in member's own account: membership, holds, address, email notices, rejoining.
No endpoint takes a member id: nobody reaches another's. Plan changes and cancelling with a
period's end are billing's (/api/billing/plan, /api/billing/cancel)."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from redenvelope.accounts.roles import Role, has_role
from redenvelope.core import clock
from redenvelope.core.errors import Forbidden, NotFound

from . import actions
from .models import Member, Plan

router = Router(tags=["account"])


class ErrorOut(Schema):
    detail: str
    code: str


ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def _me(request) -> Member:
    if not has_role(request.auth, Role.MEMBER):
        raise Forbidden("Only members have an account here.", code="not_a_member")
    member = Member.objects.select_related("plan", "user").filter(user=request.auth).first()
    if member is None:
        raise Forbidden("This account has no membership.", code="not_a_member")
    return member


class HoldOut(Schema):
    id: int
    starts_on: dt.date
    ends_on: dt.date


class AccountOut(Schema):
    email: str
    email_verified: bool
    plan: str
    status: str
    trial_ends_on: dt.date | None
    street: str
    city: str
    state: str
    zip_code: str
    holds: list[HoldOut]
    notices_off: list[str]


class HoldIn(Schema):
    starts_on: dt.date
    ends_on: dt.date


class AddressIn(Schema):
    street: str
    city: str
    state: str
    zip_code: str


class NoticesIn(Schema):
    off: list[str]


class RejoinIn(Schema):
    plan: str | None = None


def _account(member: Member) -> dict:
    member.refresh_from_db()
    return {
        "email": member.user.email,
        "email_verified": member.email_verified_at is not None,
        "plan": member.plan.code,
        "status": member.status,
        "trial_ends_on": member.trial_ends_on,
        "street": member.street,
        "city": member.city,
        "state": member.state,
        "zip_code": member.zip_code,
        "holds": list(
            member.holds.filter(cancelled_at=None, ends_on__gt=clock.today())
            .order_by("starts_on")
            .values("id", "starts_on", "ends_on")
        ),
        "notices_off": member.muted,
    }


@router.get("", response={200: AccountOut, 403: ErrorOut})
def get_account(request):
    return _account(_me(request))


@router.post("/holds", response={201: AccountOut, **ERRORS})
def place_hold(request, body: HoldIn):
    """A vacation hold: nothing ships from `starts_on` until `ends_on` (not in the past, at most
    HOLD_MAX_DAYS, not overlapping another)."""
    member = _me(request)
    actions.place_hold(member, body.starts_on, body.ends_on, actor=request.auth)
    return Status(201, _account(member))


@router.delete("/holds/{int:hold_id}", response={200: AccountOut, **ERRORS})
def cancel_hold(request, hold_id: int):
    member = _me(request)
    hold = member.holds.filter(pk=hold_id, cancelled_at=None).first()
    if hold is None:
        raise NotFound("No such hold on your account.")
    actions.cancel_hold(hold, actor=request.auth)
    return _account(member)


@router.put("/address", response={200: AccountOut, **ERRORS})
def change_address(request, body: AddressIn):
    """A new shipping address; the ZIP decides the region (discs already out are unaffected)."""
    member = _me(request)
    actions.change_address(member, **body.dict(), actor=request.auth)
    return _account(member)


@router.put("/notices", response={200: AccountOut, **ERRORS})
def set_notices(request, body: NoticesIn):
    """Which notice emails to turn off: any of shipped, received, hold."""
    member = _me(request)
    actions.set_muted_emails(member, body.off, actor=request.auth)
    return _account(member)


@router.post("/rejoin", response={200: AccountOut, **ERRORS})
def rejoin(request, body: RejoinIn):
    """A cancelled member comes back (on their old plan or another); the queue is as it was."""
    member = _me(request)
    plan = None
    if body.plan:
        plan = Plan.objects.filter(code=body.plan, active=True).first()
        if plan is None:
            raise NotFound(f"No plan {body.plan!r} is on offer.")
    actions.rejoin(member, plan=plan, actor=request.auth)
    return _account(member)
