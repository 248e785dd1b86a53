"""The signed-in member's recommendations as JSON (the pages and, later, the newsletter call the
same functions in `serving`)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema

from redenvelope.catalog.models import Title
from redenvelope.queues.api import ERRORS, ErrorOut
from redenvelope.queues.api import _member as signed_in_member

from . import serving

router = Router(tags=["recommendations"])


class PickOut(Schema):
    title_id: int
    name: str
    year: int
    reason: str = Field(..., description='Why it is suggested ("Because you rated Heat 5 stars")')
    predicted_stars: float | None = None


class PicksOut(Schema):
    picks: list[PickOut]
    model_version: int | None = Field(None, description="The model version that served them")
    note: str = Field("", description="Set when serving fell back from the live model")
    cold_start: bool = False


def _out(items) -> list[dict]:
    return [
        {
            "title_id": p.title.pk,
            "name": p.title.name,
            "year": p.title.year,
            "reason": p.reason,
            "predicted_stars": p.stars,
        }
        for p in items
    ]


@router.get("/top-picks", response={200: PicksOut, 403: ErrorOut})
def top_picks(request, limit: int = Query(20, ge=1, le=50)):
    """Top picks for the member: never what they rented, rated, queued or watched; only what
    their plan can have now; each with its reason."""
    picks = serving.top_picks(signed_in_member(request), n=limit)
    return {
        "picks": _out(picks.items),
        "model_version": picks.version,
        "note": picks.note,
        "cold_start": picks.cold_start,
    }


@router.get("/more-like/{int:title_id}", response={200: list[PickOut], **ERRORS})
def more_like(request, title_id: int, limit: int = Query(8, ge=1, le=50)):
    """Titles like this one, for the member."""
    member = signed_in_member(request)
    title = get_object_or_404(Title, pk=title_id)
    return _out(serving.more_like_this(title, member, n=limit))


class StarsOut(Schema):
    title_id: int
    predicted_stars: float | None


@router.get("/stars/{int:title_id}", response={200: StarsOut, **ERRORS})
def stars(request, title_id: int):
    """The stars the model expects the member to give this title (null: it cannot say yet)."""
    member = signed_in_member(request)
    get_object_or_404(Title, pk=title_id)
    return {
        "title_id": title_id,
        "predicted_stars": serving.predicted_stars(member, [title_id]).get(title_id),
    }
