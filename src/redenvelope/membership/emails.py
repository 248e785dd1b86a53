"""The emails a membership sends, their kinds, and the links inside them.

Essential emails (welcome, email verification, password reset, plan changed, cancellation
confirmed) always go. The rest are notices a member may turn off (`NOTICE_KINDS`, kept on the
member as `muted_emails`); each of them carries a one-click unsubscribe (List-Unsubscribe and
List-Unsubscribe-Post headers, added at delivery by core.mail from `unsubscribe_url`).
Every email is queued to the outbox (core.mail) in the transaction of its change.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from redenvelope.core.mail import queue_email

NOTICE_KINDS = {
    "shipped": "A disc is on its way",
    "received": "We got a disc back",
    "hold": "A vacation hold starts or ends",
    "newsletter": "The weekly newsletter of new arrivals",
}
ESSENTIAL_KINDS = ("welcome", "verify_email", "password_reset", "plan_changed", "cancelled")
SIGN_OFF = "\n\nRed Envelope"


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def unsubscribe_token(member_id: int, kind: str) -> str:
    return signing.dumps({"m": int(member_id), "k": kind}, salt="redenvelope.unsubscribe")


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt="redenvelope.unsubscribe")
        return int(data["m"]), str(data["k"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def unsubscribe_url(member_id: int, kind: str) -> str | None:
    """Where a one-click unsubscribe from this kind of notice goes (None: an essential email)."""
    if kind not in NOTICE_KINDS or member_id is None:
        return None
    return site_url(reverse("unsubscribe", args=[unsubscribe_token(member_id, kind)]))


def muted_pairs(pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Of these (member id, kind) pairs, those the member turned off (core.mail asks at
    delivery, so a notice queued before the member turned it off is not sent either)."""
    from .models import Member

    wanted = {(m, k) for m, k in pairs if m is not None and k in NOTICE_KINDS}
    if not wanted:
        return set()
    muted = dict(
        Member.objects.filter(pk__in={m for m, _ in wanted})
        .exclude(muted_emails="")
        .values_list("pk", "muted_emails")
    )
    return {(m, k) for m, k in wanted if k in (muted.get(m) or "").split(",")}


def send(member, kind: str, key: str, subject: str, body: str) -> None:
    """Queue one email to a member (in the caller's transaction)."""
    user = member.user
    if not user.email:
        return
    hello = f"Hello {user.first_name or user.username},\n\n"
    queue_email(
        key=key,
        kind=kind,
        to=user.email,
        subject=subject,
        body=hello + body + SIGN_OFF,
        member_id=member.pk,
    )


def verification_token(member) -> str:
    return signing.dumps(
        {"m": member.pk, "e": member.user.email.lower()}, salt="redenvelope.verify-email"
    )


def read_verification_token(token: str, max_age_days: int = 7) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt="redenvelope.verify-email", max_age=max_age_days * 86400)
        return int(data["m"]), str(data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def send_verification(member, *, attempt: str = "1") -> None:
    link = site_url(reverse("verify_email", args=[verification_token(member)]))
    send(
        member,
        "verify_email",
        f"verify:{member.pk}:{member.user.email.lower()}:{attempt}",
        "Confirm your email address",
        "Please confirm this is your email address by opening this link (it works for 7 "
        f"days):\n\n{link}\n\nIf you did not join Red Envelope, ignore this email.",
    )


def send_password_reset(user, link: str, token: str) -> None:
    """The reset link Django's reset form made, to any account (a member's or staff's)."""
    member = getattr(user, "member", None)
    queue_email(
        key=f"reset:{user.pk}:{token}",
        kind="password_reset",
        to=user.email,
        subject="Reset your Red Envelope password",
        body=(
            f"Hello {user.first_name or user.username},\n\nSomeone (we hope you) asked to reset "
            f"your password. Choose a new one here:\n\n{link}\n\nIf it was not you, ignore "
            "this email: your password stays as it is." + SIGN_OFF
        ),
        member_id=getattr(member, "pk", None),
    )


def send_welcome(member) -> None:
    plan = member.plan
    trial = (
        f"Your free trial runs until {member.trial_ends_on:%B %-d, %Y}; you pay nothing "
        "before then, and you can cancel any time from your account page.\n\n"
        if member.trial_ends_on
        else ""
    )
    send(
        member,
        "welcome",
        f"welcome:{member.pk}:{member.joined_at:%Y%m%d%H%M%S}",
        "Welcome to Red Envelope",
        f"Welcome! You are on the {plan.name} plan: {plan.discs_at_once} disc"
        f"{'s' if plan.discs_at_once != 1 else ''} at a time.\n\n{trial}"
        "Fill your queue and your first discs ship at the next cut-off from the center "
        f"nearest you:\n\n{site_url(reverse('catalog'))}",
    )
