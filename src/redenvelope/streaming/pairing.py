"""Pairing a TV or console, on the model of the OAuth 2.0 device flow (RFC 8628): the device
asks for a code (`actions.begin_pairing`), shows the short user code, the member types it on the
site (`actions.approve_pairing`), and the device, polling with its secret device code
(`actions.collect_pairing`), gets an API token of its own. Codes last 10 minutes; a member may
type at most 10 wrong codes an hour (then approving refuses, so codes cannot be guessed); a
device polling faster than every 5 seconds is told to slow down. This module holds the codes'
rules; every change is in `actions`."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alikes
CODE_TTL = dt.timedelta(minutes=10)
POLL_S = 5
WRONG_PER_HOUR = 10


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def user_code() -> str:
    raw = "".join(secrets.choice(CODE_LETTERS) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise(code: str) -> str:
    raw = "".join(c for c in (code or "").upper() if c.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw
