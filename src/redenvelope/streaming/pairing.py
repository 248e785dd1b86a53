"""Pairing a TV or console, on the model of the OAuth 2.0 device flow (RFC 8628): the device
asks for a code (`begin`), shows the short user code, the member types it on the site
(`approve`), and the device, polling with its secret device code (`collect`), gets an API token
of its own. Codes last 10 minutes; a member may type at most 10 wrong codes an hour (then
`approve` refuses, so codes cannot be guessed); a device polling faster than every 5 seconds is
told to slow down."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction

from redenvelope.accounts.actions import issue_api_token
from redenvelope.accounts.models import hash_token
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.membership.models import Member

from .models import Device, PairingCode, PairingMiss

CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alikes
CODE_TTL = dt.timedelta(minutes=10)
POLL_S = 5
WRONG_PER_HOUR = 10


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _user_code() -> str:
    raw = "".join(secrets.choice(CODE_LETTERS) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(code: str) -> str:
    raw = "".join(c for c in (code or "").upper() if c.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


def begin(*, kind: str, name: str) -> dict:
    """A new pairing: the device code (secret, the device keeps it) and the user code."""
    if kind not in (Device.Kind.TV, Device.Kind.CONSOLE, Device.Kind.PHONE):
        raise DomainError("Pairing is for a TV box, a console or a phone.")
    name = " ".join((name or "").split())[:80]
    if not name:
        raise DomainError("Give the device a name (e.g. Living room TV).")
    device_code = secrets.token_urlsafe(32)
    now = clock.now()
    for _ in range(5):
        try:
            with transaction.atomic():
                row = PairingCode.objects.create(
                    device_code_sha256=_sha(device_code),
                    user_code=_user_code(),
                    kind=kind,
                    name=name,
                    created_at=now,
                    expires_at=now + CODE_TTL,
                )
            break
        except IntegrityError:  # a user code still open: draw again
            continue
    else:  # pragma: no cover - 20^8 codes
        raise Conflict("Could not draw a pairing code; try again.")
    return {
        "device_code": device_code,
        "user_code": row.user_code,
        "verification_uri": "/account/devices/",
        "expires_in": int(CODE_TTL.total_seconds()),
        "interval": POLL_S,
    }


class _Miss(NotFound):
    pass


def approve(member: Member, code: str) -> Device:
    """The member typed the code shown on the TV: the TV becomes one of their devices. A wrong
    code is counted (and kept) before it is refused."""
    try:
        with transaction.atomic():
            return _approve(member, code)
    except _Miss as miss:
        with transaction.atomic():
            PairingMiss.objects.create(member_id=member.pk, at=clock.now(), code=(code or "")[:20])
        raise NotFound(miss.message, code="bad_code") from None


def _approve(member: Member, code: str) -> Device:
    now = clock.now()
    Member.objects.select_for_update().filter(pk=member.pk).values_list("pk").first()
    wrong = PairingMiss.objects.filter(member_id=member.pk, at__gt=now - dt.timedelta(hours=1))
    if wrong.count() >= WRONG_PER_HOUR:
        raise Forbidden(
            "Too many wrong codes in the last hour. Wait a while, then try the code on the "
            "screen again.",
            code="too_many_tries",
        )
    row = (
        PairingCode.objects.select_for_update()
        .filter(user_code=normalise(code), approved_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if row is None:
        raise _Miss(
            "That code is not one we showed, or it has expired (codes last 10 minutes). "
            "Check the code on the screen.",
            code="bad_code",
        )
    device = Device.objects.create(
        member_id=member.pk, kind=row.kind, name=row.name, registered_at=now
    )
    row.member_id = member.pk
    row.device = device
    row.approved_at = now
    row.save(update_fields=["member", "device", "approved_at"])
    return device


@transaction.atomic
def collect(device_code: str) -> dict:
    """The device's poll: pending, slow down, expired, or its token (given once)."""
    now = clock.now()
    row = (
        PairingCode.objects.select_for_update(of=("self",))  # PostgreSQL: not the nullable joins
        .filter(device_code_sha256=_sha(device_code or ""))
        .select_related("device", "member__user")
        .first()
    )
    if row is None:
        raise NotFound("Unknown device code.", code="invalid_grant")
    if row.collected_at is not None:
        raise Conflict("This pairing was already completed.", code="invalid_grant")
    if row.approved_at is None:
        if row.expires_at <= now:
            raise Conflict("The code expired; start pairing again.", code="expired_token")
        too_soon = row.last_polled_at and now - row.last_polled_at < dt.timedelta(seconds=POLL_S)
        row.last_polled_at = now
        row.save(update_fields=["last_polled_at"])
        if too_soon:
            return {"error": "slow_down", "interval": POLL_S + 5}
        return {"error": "authorization_pending", "interval": POLL_S}
    token = issue_api_token(row.member.user, name=f"device {row.device_id}: {row.device.name}")
    Device.objects.filter(pk=row.device_id).update(token_sha256=hash_token(token))
    row.collected_at = now
    row.save(update_fields=["collected_at"])
    return {"access_token": token, "token_type": "Bearer", "device_id": row.device_id}
