"""The signed-in member's own ratings. Keyed by title: nobody reaches another member's."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Router, Schema, Status

from redenvelope.core.errors import NotFound
from redenvelope.queues.api import ERRORS, ErrorOut
from redenvelope.queues.api import _member as signed_in_member

from . import actions
from .models import RatingSource
from .queries import ratings_of

router = Router(tags=["ratings"])


class RatingOut(Schema):
    title_id: int
    name: str
    stars: int
    source: str
    rated_at: dt.datetime


class RateIn(Schema):
    stars: int = Field(..., description="1 to 5")


def _out(r) -> dict:
    return {
        "title_id": r.title_id,
        "name": r.title.name,
        "stars": r.stars,
        "source": r.source,
        "rated_at": r.rated_at,
    }


@router.get("", response={200: list[RatingOut], 403: ErrorOut})
def list_ratings(request):
    """The member's ratings, newest first."""
    return [_out(r) for r in ratings_of(signed_in_member(request).pk)]


@router.put("/{int:title_id}", response={200: RatingOut, **ERRORS})
def rate(request, title_id: int, body: RateIn):
    """Rate a title from 1 to 5 stars; rating it again replaces the stars."""
    member = signed_in_member(request)
    rating = actions.rate_title(member, title_id, body.stars, source=RatingSource.API)
    return _out(ratings_of(member.pk).get(pk=rating.pk))


@router.delete("/{int:title_id}", response={204: None, **ERRORS})
def clear(request, title_id: int):
    member = signed_in_member(request)
    if not actions.clear_rating(member, title_id):
        raise NotFound(f"You have not rated title {title_id}.")
    return Status(204, None)
