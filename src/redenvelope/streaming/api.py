"""Streaming over the API, for apps and paired devices (a paired TV calls with the bearer token
pairing gave it): play, heartbeat, stop, what is playing, history, devices, pairing. A member
reaches only their own leases and devices."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from redenvelope.core.errors import NotFound
from redenvelope.queues.api import ERRORS, ErrorOut
from redenvelope.queues.api import _member as signed_in_member

from . import actions, delivery, queries
from .models import Device, Encode

router = Router(tags=["streaming"])


class PlayIn(Schema):
    title_id: int
    device_id: int | None = Field(None, description="A registered device of yours, if any.")


class PlayOut(Schema):
    lease_id: str
    src: str = Field(..., description="The signed master playlist (HLS).")
    token: str
    captions: str | None
    position: float = Field(..., description="Where to start (seconds): where you stopped.")
    heartbeat_s: int


class ScreenOut(Schema):
    lease_id: str
    title_id: int
    title: str
    device: str
    started_at: dt.datetime


class RefusedOut(Schema):
    detail: str
    code: str
    playing: list[ScreenOut]


class BeatIn(Schema):
    position: float | None = None


class BeatOut(Schema):
    token: str


class StopOut(Schema):
    lease_id: str
    position: float


class HistoryOut(Schema):
    title_id: int
    title: str
    device: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    position: float


class DeviceOut(Schema):
    id: int
    kind: str
    name: str
    registered_at: dt.datetime
    last_seen_at: dt.datetime | None


class PairStartIn(Schema):
    kind: str = Field(..., description="tv, console or phone")
    name: str


class PairStartOut(Schema):
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int


class PairTokenIn(Schema):
    device_code: str


class PairTokenOut(Schema):
    access_token: str | None = None
    token_type: str | None = None
    device_id: int | None = None
    error: str | None = Field(None, description="authorization_pending or slow_down")
    interval: int | None = None


class PairApproveIn(Schema):
    user_code: str


def _screen(s) -> dict:
    return {
        "lease_id": s.lease_id,
        "title_id": s.title_id,
        "title": s.title.name,
        "device": s.device_name,
        "started_at": s.started_at,
    }


@router.post("/play", response={200: PlayOut, **ERRORS, 409: RefusedOut})
def play(request, body: PlayIn):
    """Start playing on one screen. Beyond the plan's screens: 409 with the screens playing."""
    member = signed_in_member(request)
    try:
        session = actions.start_playback(member, body.title_id, device=body.device_id)
    except actions.TooManyScreens as exc:
        return Status(
            409,
            {
                "detail": exc.message,
                "code": exc.code,
                "playing": [_screen(s) for s in exc.playing],
            },
        )
    token = delivery.token_for(session)
    captions = Encode.objects.filter(pk=session.encode_id, has_captions=True).exists()
    return {
        "lease_id": session.lease_id,
        "src": delivery.master_url(token),
        "token": token,
        "captions": f"/stream/{token}/captions/en.vtt" if captions else None,
        "position": session.start_position_s,
        "heartbeat_s": actions.heartbeat_s(),
    }


@router.post("/leases/{lease_id}/heartbeat", response={200: BeatOut, **ERRORS})
def heartbeat(request, lease_id: str, body: BeatIn):
    """Keep the screen; 409 once the lease ran out (start again). Renews the media token."""
    member = signed_in_member(request)
    actions.heartbeat(member, lease_id, body.position)
    session = actions.session_of(member, lease_id)
    return {"token": delivery.token_for(session)}


@router.post("/leases/{lease_id}/stop", response={200: StopOut, **ERRORS})
def stop(request, lease_id: str, body: BeatIn):
    member = signed_in_member(request)
    session = actions.stop_playback(member, lease_id, body.position)
    return {"lease_id": session.lease_id, "position": session.position_s}


@router.get("/playing", response={200: list[ScreenOut], 403: ErrorOut})
def playing(request):
    member = signed_in_member(request)
    return [_screen(s) for s in actions.playing_sessions(member.pk)]


@router.get("/history", response={200: list[HistoryOut], 403: ErrorOut})
def history(request):
    member = signed_in_member(request)
    return [
        {
            "title_id": s.title_id,
            "title": s.title.name,
            "device": s.device_name,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "position": s.position_s,
        }
        for s in queries.history(member.pk)
    ]


@router.get("/devices", response={200: list[DeviceOut], 403: ErrorOut})
def devices(request):
    member = signed_in_member(request)
    return list(queries.devices_of(member.pk))


@router.delete("/devices/{int:device_id}", response={204: None, **ERRORS})
def remove_device(request, device_id: int):
    member = signed_in_member(request)
    if not Device.objects.filter(pk=device_id, member_id=member.pk).exists():
        raise NotFound(f"No device {device_id} of yours.", code="unknown_device")
    actions.remove_device(device_id, actor=request.auth, member=member)
    return Status(204, None)


@router.post("/devices/pair", auth=None, response={200: PairStartOut, **ERRORS})
def pair_start(request, body: PairStartIn):
    """A TV or console asks to pair (no sign-in): show `user_code`, poll `/devices/pair/token`."""
    return actions.begin_pairing(kind=body.kind, name=body.name)


@router.post("/devices/pair/token", auth=None, response={200: PairTokenOut, **ERRORS})
def pair_token(request, body: PairTokenIn):
    """The device's poll: {error: authorization_pending | slow_down} until the member typed
    the code, then its bearer token, once."""
    return actions.collect_pairing(body.device_code)


@router.post("/devices/pair/approve", response={200: DeviceOut, **ERRORS})
def pair_approve(request, body: PairApproveIn):
    """The member types the code shown on the device (at most 10 wrong codes an hour)."""
    member = signed_in_member(request)
    return actions.approve_pairing(member, body.user_code)
