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
import re
import time

from django.conf import settings

from redenvelope.core.errors import Forbidden


def _mac(payload: str) -> str:
    key = hashlib.sha256(("stream-url:" + settings.SECRET_KEY).encode()).digest()
    sig = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(sig).decode().rstrip("=")


def url_ttl_s() -> int:
    return int(settings.REDENVELOPE.get("STREAM_URL_TTL_S", 300))


def make_token(
    member_id: int, lease_id: str, encode_id: int, max_height: int = 1080, now: float | None = None
) -> str:
    exp = int((time.time() if now is None else now) + url_ttl_s())
    payload = f"{member_id}.{lease_id}.{encode_id}.{int(max_height)}.{exp}"
    return f"{payload}.{_mac(payload)}"


def token_for(session) -> str:
    """A fresh token for a playback session (at start and with each heartbeat)."""
    return make_token(session.member_id, session.lease_id, session.encode_id, session.max_height)


def read_token(token: str, now: float | None = None) -> tuple[int, str, int, int]:
    """(member id, lease id, encode id, tallest picture allowed) of a valid, unexpired token;
    Forbidden otherwise."""
    parts = token.split(".")
    if len(parts) != 6:
        raise Forbidden("This media link is not valid.", code="bad_link")
    payload, sig = ".".join(parts[:5]), parts[5]
    if not hmac.compare_digest(_mac(payload), sig):
        raise Forbidden("This media link is not valid.", code="bad_link")
    member, lease, encode, height, exp = parts[:5]
    if int(exp) < (time.time() if now is None else now):
        raise Forbidden("This media link has expired.", code="link_expired")
    return int(member), lease, int(encode), int(height)


_RENDITION = re.compile(r"^(\d+)p/")
_RESOLUTION = re.compile(r"RESOLUTION=\d+x(\d+)")


def allowed_path(path: str, max_height: int) -> bool:
    """A picture rendition taller than the licence allows is not served."""
    m = _RENDITION.match(path)
    return m is None or int(m.group(1)) <= max_height


def master_within(playlist: str, max_height: int) -> str:
    """The master playlist without the variants taller than the licence allows (each is an
    #EXT-X-STREAM-INF line and the URI line after it)."""
    out: list[str] = []
    skip_next = False
    for line in playlist.splitlines():
        if skip_next:
            skip_next = False
            if line and not line.startswith("#"):
                continue
        if line.startswith("#EXT-X-STREAM-INF"):
            m = _RESOLUTION.search(line)
            if m and int(m.group(1)) > max_height:
                skip_next = True
                continue
        out.append(line)
    return "\n".join(out) + "\n"


def master_url(token: str) -> str:
    return f"/stream/{token}/master.m3u8"
