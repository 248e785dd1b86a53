"""Signed media URLs: /stream/<token>/<file>, where the token names one lease and one encode,
carries its expiry, and is signed (HMAC-SHA256 with the site's secret key). Playlists refer to
their segments relatively, so every file of the ladder is fetched under the same token; the
player renews it with each heartbeat. A file is served only while the token is unexpired AND
its lease is live: a URL replayed after the screen stopped, or copied to someone else, gets 403.
A CDN in front caches nothing private (docs/operations.md, "Streaming")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from django.conf import settings

from redenvelope.core.errors import Forbidden


def _mac(payload: str) -> str:
    key = hashlib.sha256(("stream-url:" + settings.SECRET_KEY).encode()).digest()
    sig = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(sig).decode().rstrip("=")


def url_ttl_s() -> int:
    return int(settings.REDENVELOPE.get("STREAM_URL_TTL_S", 300))


def make_token(member_id: int, lease_id: str, encode_id: int, now: float | None = None) -> str:
    exp = int((time.time() if now is None else now) + url_ttl_s())
    payload = f"{member_id}.{lease_id}.{encode_id}.{exp}"
    return f"{payload}.{_mac(payload)}"


def read_token(token: str, now: float | None = None) -> tuple[int, str, int]:
    """(member id, lease id, encode id) of a valid, unexpired token; Forbidden otherwise."""
    parts = token.split(".")
    if len(parts) != 5:
        raise Forbidden("This media link is not valid.", code="bad_link")
    payload, sig = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_mac(payload), sig):
        raise Forbidden("This media link is not valid.", code="bad_link")
    member, lease, encode, exp = parts[:4]
    if int(exp) < (time.time() if now is None else now):
        raise Forbidden("This media link has expired.", code="link_expired")
    return int(member), lease, int(encode)


def master_url(token: str) -> str:
    return f"/stream/{token}/master.m3u8"
