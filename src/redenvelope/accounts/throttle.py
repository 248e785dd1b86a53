"""Sign-in throttling, per account and per client address, over a sliding window:

- an account with ACCOUNT_LIMIT wrong passwords in WINDOW is locked until the oldest of them
  leaves the window: even the right password is refused meanwhile (so guessing cannot go on);
- an address with ADDRESS_LIMIT failures in WINDOW (over any accounts) is refused the same way.

Failures are rows (LoginFailure), so every process of the site counts the same; a successful
sign-in clears its account's failures. Settings: REDENVELOPE["LOGIN_THROTTLE"] =
{"account": 5, "address": 20, "minutes": 15}.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from redenvelope.core import clock

from .models import LoginFailure

DEFAULTS = {"account": 5, "address": 20, "minutes": 15}


def _limits() -> dict:
    return {**DEFAULTS, **settings.REDENVELOPE.get("LOGIN_THROTTLE", {})}


def _key(username: str) -> str:
    """The account a name stands for: an email counts against the account it belongs to."""
    name = (username or "").strip().lower()[:254]
    if "@" in name:
        from django.contrib.auth import get_user_model

        found = (
            get_user_model()
            .objects.filter(email__iexact=name)
            .order_by("id")
            .values_list("username", flat=True)
            .first()
        )
        if found:
            return found.lower()
    return name


def client_address(request) -> str | None:
    """The client's address as the site's own front end (REMOTE_ADDR) saw it."""
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


def refusal(username: str, address: str | None) -> str | None:
    """Why a sign-in must wait now (a message), or None when it may be tried."""
    lim = _limits()
    since = clock.now() - dt.timedelta(minutes=lim["minutes"])
    recent = LoginFailure.objects.filter(at__gte=since)
    if recent.filter(username=_key(username)).count() >= lim["account"]:
        return (
            f"Too many wrong passwords for this account. Wait {lim['minutes']} minutes, or "
            "reset your password."
        )
    if address and recent.filter(address=address).count() >= lim["address"]:
        return f"Too many failed sign-ins from your network. Wait {lim['minutes']} minutes."
    return None


def record_failure(username: str, address: str | None) -> None:
    LoginFailure.objects.create(username=_key(username), address=address, at=clock.now())


def record_success(username: str) -> None:
    LoginFailure.objects.filter(username=_key(username)).delete()


def forget_old() -> int:
    """Drop failures that left every window (a daily job)."""
    since = clock.now() - dt.timedelta(minutes=_limits()["minutes"])
    return LoginFailure.objects.filter(at__lt=since).delete()[0]
