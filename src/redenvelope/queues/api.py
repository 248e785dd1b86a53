"""The signed-in member's own queue. No endpoint takes a member id: nobody reaches another's."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Router, Schema, Status

from redenvelope.accounts.roles import Role, has_role
from redenvelope.core.errors import Forbidden
from redenvelope.membership.models import Member

from . import actions
from .queries import queue_of, saved_of

router = Router(tags=["queue"])
saved_router = Router(tags=["queue"])


def _member(request) -> Member:
    user = request.auth
    if not has_role(user, Role.MEMBER):
        raise Forbidden("Only members have a queue.", code="not_a_member")
    member = Member.objects.filter(user=user).first()
    if member is None:
        raise Forbidden("This account has no membership.", code="not_a_member")
    return member


class EntryOut(Schema):
    position: int
    title_id: int
    name: str
    year: int
    added_at: dt.datetime


class SavedOut(Schema):
    title_id: int
    name: str
    release_date: dt.date


class QueueOut(Schema):
    entries: list[EntryOut]
    saved: list[SavedOut]


class AddIn(Schema):
    title_id: int
    where: Literal["top", "bottom"] | int = "bottom"


class MoveIn(Schema):
    position: int


class SaveIn(Schema):
    title_id: int


class ErrorOut(Schema):
    detail: str
    code: str


def _queue(member: Member) -> dict:
    return {
        "entries": [
            {
                "position": e.rank,
                "title_id": e.title_id,
                "name": e.title.name,
                "year": e.title.year,
                "added_at": e.added_at,
            }
            for e in queue_of(member.pk)
        ],
        "saved": [
            {"title_id": s.title_id, "name": s.title.name, "release_date": s.title.release_date}
            for s in saved_of(member.pk)
        ],
    }


ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


@router.get("", response={200: QueueOut, 403: ErrorOut})
def get_queue(request):
    return _queue(_member(request))


@router.post("", response={201: QueueOut, **ERRORS})
def add(request, body: AddIn):
    """Add a released title at the top, the bottom, or a position (1 = top)."""
    member = _member(request)
    actions.add_to_queue(member, body.title_id, body.where)
    return Status(201, _queue(member))


@router.delete("/{int:title_id}", response={200: QueueOut, **ERRORS})
def remove(request, title_id: int):
    member = _member(request)
    actions.remove_from_queue(member, title_id)
    return _queue(member)


@router.post("/{int:title_id}/move", response={200: QueueOut, **ERRORS})
def move(request, title_id: int, body: MoveIn):
    member = _member(request)
    actions.move_in_queue(member, title_id, body.position)
    return _queue(member)


@router.post("/{int:title_id}/top", response={200: QueueOut, **ERRORS})
def top(request, title_id: int):
    member = _member(request)
    actions.move_to_top(member, title_id)
    return _queue(member)


@saved_router.post("", response={201: QueueOut, **ERRORS})
def save(request, body: SaveIn):
    """Save an unreleased title; it joins the top of the queue on release day."""
    member = _member(request)
    actions.save_title(member, body.title_id)
    return Status(201, _queue(member))


@saved_router.delete("/{int:title_id}", response={200: QueueOut, **ERRORS})
def unsave(request, title_id: int):
    member = _member(request)
    actions.unsave_title(member, title_id)
    return _queue(member)
