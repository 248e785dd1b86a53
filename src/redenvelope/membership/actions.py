"""Every change to plans, members and holds."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from redenvelope.accounts.roles import Role
from redenvelope.core import clock
from redenvelope.core.bulk import copy_arrays, db_timestamp, temp_table
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.inventory.models import Region
from redenvelope.ledger.money import to_money

from . import emails
from .models import Hold, Member, MemberEvent, MemberStatus, Plan

ZIP_RE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


@transaction.atomic
def create_plan(
    *,
    code: str,
    name: str,
    discs_at_once: int,
    monthly_price: Decimal | str,
    monthly_disc_limit: int | None = None,
    streaming_screens: int = 1,
    currency: str = "USD",
) -> Plan:
    if not 0 <= int(discs_at_once) <= 8:
        raise DomainError("A plan sends from 0 (streaming only) to 8 discs at once.")
    if not 0 <= int(streaming_screens) <= 8:
        raise DomainError("A plan streams on 0 (discs only) to 8 screens at once.")
    if int(discs_at_once) == 0 and int(streaming_screens) == 0:
        raise DomainError("A plan needs discs or screens (or both).")
    try:
        price = to_money(monthly_price, exact=True)
    except DomainError as exc:
        if exc.code == "sub_cent":
            raise DomainError("A price is a non-negative amount in cents.") from None
        raise DomainError(f"Price {monthly_price!r} is not a number.") from None
    if price < 0:
        raise DomainError("A price is a non-negative amount in cents.")
    if monthly_disc_limit is not None and monthly_disc_limit < 1:
        raise DomainError("A monthly disc limit, when set, is at least 1.")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DomainError("Currency is a three-letter ISO code.")
    if Plan.objects.filter(code=code).exists():
        raise Conflict(f"A plan {code!r} already exists.")
    return Plan.objects.create(
        code=code,
        name=name,
        discs_at_once=discs_at_once,
        monthly_price=price,
        monthly_disc_limit=monthly_disc_limit,
        streaming_screens=streaming_screens,
        currency=currency,
    )


def region_for_zip(zip_code: str) -> Region:
    zip_code = (zip_code or "").strip()
    if not ZIP_RE.match(zip_code):
        raise DomainError(f"{zip_code!r} is not a US ZIP code (12345 or 12345-6789).")
    region = Region.objects.filter(zip3=zip_code[:3]).first()
    if region is None:
        raise DomainError(f"We do not deliver to ZIP {zip_code} yet.", code="no_region")
    return region


def _log(member: Member, kind: str, actor=None, **data) -> None:
    MemberEvent.objects.create(member=member, kind=kind, actor=actor, data=data)


@transaction.atomic
def phone_digits(phone: str) -> str:
    """A phone number as its digits (a US number with its leading 1), or a clear error."""
    digits = "".join(c for c in str(phone or "") if c.isdigit())
    if not digits:
        return ""
    if len(digits) == 10:
        digits = "1" + digits
    if not 8 <= len(digits) <= 15:
        raise DomainError(f"{phone!r} is not a phone number.")
    return digits


def join(
    *,
    username: str,
    email: str,
    password: str,
    plan: Plan,
    street: str,
    city: str,
    state: str,
    zip_code: str,
    first_name: str = "",
    last_name: str = "",
    trial: bool = True,
    phone: str = "",
    actor=None,
) -> Member:
    """Create a user and their membership, on a free trial by default."""
    phone = phone_digits(phone)
    User = get_user_model()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(f"{email!r} is not an email address.") from None
    if not plan.active:
        raise DomainError(f"The {plan.name} plan is no longer offered.")
    if User.objects.filter(username=username).exists():
        raise Conflict(f"The username {username!r} is taken.")
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with that email already exists; sign in or reset the password.")
    region = region_for_zip(zip_code)
    user = User.objects.create_user(
        username=username,
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
    )
    group, _ = Group.objects.get_or_create(name=Role.MEMBER.value)
    user.groups.add(group)
    member = Member.objects.create(
        joined_at=clock.now(),
        billing_day=timezone.localdate(clock.now()).day,
        user=user,
        plan=plan,
        status=MemberStatus.TRIAL if trial else MemberStatus.ACTIVE,
        trial_ends_on=(
            clock.today() + dt.timedelta(days=settings.REDENVELOPE.get("TRIAL_DAYS", 30))
            if trial
            else None
        ),
        street=street,
        city=city,
        state=state.upper(),
        zip_code=zip_code,
        region=region,
        phone=phone,
    )
    _log(member, "joined", actor, plan=plan.code, trial=trial)
    return member


def _locked(member: Member) -> Member:
    return Member.objects.select_for_update().select_related("plan").get(pk=member.pk)


@transaction.atomic
def change_address(
    member: Member, *, street: str, city: str, state: str, zip_code: str, actor=None
) -> Member:
    member = _locked(member)
    region = region_for_zip(zip_code)
    Member.objects.filter(pk=member.pk).update(
        street=street, city=city, state=state.upper(), zip_code=zip_code, region=region
    )
    _log(member, "address_changed", actor, zip=zip_code)
    member.refresh_from_db()
    return member


def check_plan_change(member: Member, plan: Plan) -> None:
    """Refuse a plan change that cannot happen (raises DomainError)."""
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership cannot change plan; rejoin first.")
    if not plan.active:
        raise DomainError(f"The {plan.name} plan is no longer offered.")
    if plan.pk == member.plan_id:
        raise DomainError(f"The member is already on {plan.name}.")


@transaction.atomic
def change_plan(member: Member, plan: Plan, *, actor=None, **details) -> Member:
    """Switch the plan now (billing decides when, and what it costs: billing.actions)."""
    member = _locked(member)
    check_plan_change(member, plan)
    old = member.plan.code
    Member.objects.filter(pk=member.pk).update(plan=plan, pending_plan=None)
    _log(member, "plan_changed", actor, old=old, new=plan.code, **details)
    member.refresh_from_db()
    emails.send(
        member,
        "plan_changed",
        f"plan:{member.pk}:{MemberEvent.objects.filter(member=member).latest('id').pk}",
        f"You are now on {plan.name}",
        f"Your plan is now {plan.name}: {plan.discs_at_once} disc"
        f"{'s' if plan.discs_at_once != 1 else ''} at a time, ${plan.monthly_price} a month.",
    )
    return member


@transaction.atomic
def place_hold(member: Member, starts_on: dt.date, ends_on: dt.date, *, actor=None) -> Hold:
    member = _locked(member)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership cannot be paused.")
    if ends_on <= starts_on:
        raise DomainError("A hold ends after it starts.")
    if starts_on < clock.today():
        raise DomainError("A hold cannot start in the past.")
    longest = int(settings.REDENVELOPE.get("HOLD_MAX_DAYS", 90))
    if (ends_on - starts_on).days > longest:
        raise DomainError(f"A hold lasts at most {longest} days.")
    overlapping = member.holds.filter(
        cancelled_at=None, starts_on__lt=ends_on, ends_on__gt=starts_on
    ).exists()
    if overlapping:
        raise Conflict("That hold overlaps one already planned.")
    hold = Hold.objects.create(member=member, starts_on=starts_on, ends_on=ends_on)
    _log(member, "hold_placed", actor, starts_on=str(starts_on), ends_on=str(ends_on))
    emails.send(
        member,
        "hold",
        f"hold-placed:{hold.pk}",
        "Your vacation hold is set",
        f"Nothing ships from {starts_on:%B %-d} until {ends_on:%B %-d, %Y}; discs start "
        "again that day, from the top of your queue. You can cancel the hold from your "
        f"account page before it starts.\n\n{emails.site_url('/account/')}",
    )
    return hold


@transaction.atomic
def cancel_hold(hold: Hold, *, actor=None) -> None:
    updated = Hold.objects.filter(pk=hold.pk, cancelled_at=None).update(cancelled_at=clock.now())
    if updated:
        _log(hold.member, "hold_cancelled", actor, hold=hold.pk)


def send_hold_notices(day: dt.date | None = None) -> int:
    """The day's "your hold starts today" and "your hold ends today" emails (a daily job;
    keyed by hold, so a rerun sends none twice). Returns how many were queued."""
    day = day or clock.today()
    n = 0
    with transaction.atomic():
        for hold in Hold.objects.filter(cancelled_at=None, starts_on=day).select_related(
            "member__user"
        ):
            emails.send(
                hold.member,
                "hold",
                f"hold-start:{hold.pk}",
                "Your vacation hold starts today",
                f"Nothing ships until {hold.ends_on:%B %-d, %Y}. Enjoy your time away.",
            )
            n += 1
        for hold in Hold.objects.filter(cancelled_at=None, ends_on=day).select_related(
            "member__user"
        ):
            emails.send(
                hold.member,
                "hold",
                f"hold-end:{hold.pk}",
                "Your vacation hold is over",
                "Welcome back: your next discs ship from the top of your queue at the next "
                "cut-off.",
            )
            n += 1
    return n


@transaction.atomic
def verify_email(token: str) -> Member:
    """A member opened the link in their verification email (it names the member and the
    address it was sent to; a link for an old address does not verify the new one)."""
    found = emails.read_verification_token(token)
    if found is None:
        raise DomainError(
            "That link is not valid or has expired. Send a new one from your account page.",
            code="bad_token",
        )
    member = Member.objects.select_related("user").filter(pk=found[0]).first()
    if member is None or member.user.email.lower() != found[1]:
        raise DomainError(
            "That link is for an email address this account no longer uses.", code="bad_token"
        )
    if member.email_verified_at is None:
        Member.objects.filter(pk=member.pk).update(email_verified_at=clock.now())
        _log(member, "email_verified", member.user, email=found[1])
        member.refresh_from_db()
    return member


@transaction.atomic
def change_email(member: Member, email: str, *, actor=None) -> Member:
    """A new address to sign in with and be written to; it must be verified again."""
    User = get_user_model()
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(f"{email!r} is not an email address.", code="bad_email") from None
    member = _locked(member)
    if User.objects.filter(email__iexact=email).exclude(pk=member.user_id).exists():
        raise Conflict("Another account uses that email.", code="email_taken")
    user = member.user
    old = user.email
    if old.lower() == email.lower():
        raise DomainError("That is already your email address.")
    # Members who joined on the website sign in with their email as their username.
    if user.username.lower() == old.lower():
        if User.objects.filter(username__iexact=email).exclude(pk=user.pk).exists():
            raise Conflict("Another account uses that email.", code="email_taken")
        user.username = email.lower()
    user.email = email
    user.save(update_fields=["email", "username"])
    Member.objects.filter(pk=member.pk).update(email_verified_at=None)
    _log(member, "email_changed", actor, old=old, new=email)
    member.refresh_from_db()
    _send_verification(member, actor)
    return member


def _send_verification(member: Member, actor=None) -> None:
    """A confirmation link to the member's address, keyed by the event that records it (each
    request sends one email; a retry of the same request none)."""
    event = MemberEvent.objects.create(
        member=member, kind="verification_sent", actor=actor, data={"email": member.user.email}
    )
    emails.send_verification(member, attempt=str(event.pk))


@transaction.atomic
def resend_verification(member: Member, *, actor=None) -> bool:
    """Send the confirmation link again; False when the address is already confirmed."""
    member = _locked(member)
    if member.email_verified_at is not None:
        return False
    _send_verification(member, actor)
    return True


@transaction.atomic
def set_muted_emails(member: Member, muted, *, actor=None) -> Member:
    """Which notices the member turned off (essential emails cannot be)."""
    kinds = sorted(set(muted or ()))
    unknown = [k for k in kinds if k not in emails.NOTICE_KINDS]
    if unknown:
        raise DomainError(f"Unknown kind of email: {', '.join(unknown)}.")
    member = _locked(member)
    if sorted(member.muted) != kinds:
        Member.objects.filter(pk=member.pk).update(muted_emails=",".join(kinds))
        _log(member, "email_preferences", actor, muted=kinds)
        member.refresh_from_db()
    return member


def on_hold(member: Member, day: dt.date | None = None) -> bool:
    day = day or clock.today()
    return member.holds.filter(cancelled_at=None, starts_on__lte=day, ends_on__gt=day).exists()


def add_events(rows: list[tuple[int, str, dict]], actor=None) -> None:
    """Append member history rows (member id, kind, data) in bulk, for the set-wise paths."""
    if not rows:
        return
    copy_arrays(
        "membership_memberevent",
        {
            "member_id": np.array([r[0] for r in rows], np.int64),
            "kind": [r[1] for r in rows],
            "at": db_timestamp(clock.now()),
            "actor_id": getattr(actor, "pk", None),
            "data": [json.dumps(r[2]) for r in rows],
        },
    )


def end_memberships(member_ids, *, reason: str, actor=None) -> list[int]:
    """The one way a membership ends, for one member or a million: status cancelled as of now,
    no scheduled cancellation or pending plan left, billed through nothing (a member who comes
    back is billed by the next run: Member.billed_until), one `cancelled` event with the
    reason. Used by `cancel` (staff, a trial, set_status), the billing run's end of a paid
    period and its last failed retry. Members already cancelled are left as they are;
    returns those it ended. The queue is kept (queues purges it after the retention period).
    Runs inside the caller's transaction."""
    ids = sorted({int(m) for m in member_ids})
    if not ids:
        return []
    temp_table("end_members", "member_id bigint", [(m,) for m in ids])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE membership_member SET status = 'cancelled', cancelled_at = %s, "
            "cancels_on = NULL, pending_plan_id = NULL, billed_until = NULL "
            "WHERE id IN (SELECT member_id FROM end_members) AND status <> 'cancelled' "
            "RETURNING id",
            [clock.now()],
        )
        ended = sorted(int(r[0]) for r in cursor.fetchall())
    add_events([(m, "cancelled", {"reason": reason}) for m in ended], actor)
    return ended


@transaction.atomic
def cancel(member: Member, *, actor=None, reason: str = "") -> Member:
    """Cancel now."""
    member = _locked(member)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("The membership is already cancelled.")
    end_memberships([member.pk], reason=reason, actor=actor)
    member.refresh_from_db()
    retention = int(settings.REDENVELOPE.get("QUEUE_RETENTION_DAYS", 730)) // 30
    emails.send(
        member,
        "cancelled",
        f"cancelled:{member.pk}:{member.cancelled_at:%Y%m%d%H%M%S}",
        "Your membership is cancelled",
        "Your membership is cancelled and nothing more will be billed. Please mail back any "
        f"discs you still have. We keep your queue for {retention} months: rejoin any time "
        f"and it is all still there.\n\n{emails.site_url('/account/')}",
    )
    return member


@transaction.atomic
def rejoin(member: Member, *, plan: Plan | None = None, actor=None) -> Member:
    """A cancelled member comes back, billed from today; their kept queue is theirs again."""
    member = _locked(member)
    if member.status != MemberStatus.CANCELLED:
        raise DomainError("Only a cancelled membership can rejoin.")
    plan = plan or member.plan
    if not plan.active:
        raise DomainError(f"The {plan.name} plan is no longer offered; choose another.")
    # A new billing cycle from today: the next daily run bills its first period (today's, if
    # today's run has been).
    Member.objects.filter(pk=member.pk).update(
        status=MemberStatus.ACTIVE,
        cancelled_at=None,
        plan=plan,
        billing_day=timezone.localdate(clock.now()).day,
    )
    _log(member, "rejoined", actor, plan=plan.code)
    member.refresh_from_db()
    return member


@transaction.atomic
def set_status(member: Member, status: str, *, actor=None, reason: str = "") -> Member:
    """Billing and support move members between trial, active, paused and past due."""
    if status not in MemberStatus.values:
        raise DomainError(f"Unknown member status {status!r}.")
    if status == MemberStatus.CANCELLED:
        return cancel(member, actor=actor, reason=reason)
    member = _locked(member)
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("A cancelled membership must rejoin first.")
    old = member.status
    Member.objects.filter(pk=member.pk).update(status=status)
    _log(member, "status_changed", actor, old=old, new=status, reason=reason)
    member.refresh_from_db()
    return member


@transaction.atomic
def set_favourite_genres(member: Member, slugs, *, actor=None) -> Member:
    """The genres a member says they like (recommendations start from them before the member
    has rated or rented anything). Unknown genres are refused; none is fine."""
    from redenvelope.catalog.models import Genre

    wanted = sorted({str(s).strip() for s in (slugs or ()) if str(s).strip()})
    known = set(Genre.objects.filter(slug__in=wanted).values_list("slug", flat=True))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise DomainError(f"Unknown genre: {', '.join(unknown)}.", code="unknown_genre")
    value = ",".join(wanted)
    if len(value) > Member._meta.get_field("favourite_genres").max_length:
        raise DomainError("Too many genres: choose fewer.", code="too_many_genres")
    member = _locked(member)
    if member.favourite_genres != value:
        Member.objects.filter(pk=member.pk).update(favourite_genres=value)
        _log(member, "favourite_genres", actor, genres=wanted)
        member.refresh_from_db()
    return member
