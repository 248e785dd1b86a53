"""Every change to ratings: a member rates a title (re-rating replaces) or clears a rating."""

from __future__ import annotations

from django.db import transaction

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import DomainError, NotFound
from redenvelope.membership.models import Member

from .models import Rating, RatingSource


def _stars(stars) -> int:
    try:
        value = int(str(stars).strip())
    except (TypeError, ValueError):
        raise DomainError(
            f"{stars!r} is not a number of stars (1 to 5).", code="bad_stars"
        ) from None
    if not 1 <= value <= 5:
        raise DomainError("A rating is from 1 to 5 stars.", code="bad_stars")
    return value


def _title_id(title) -> int:
    if isinstance(title, Title):
        return title.pk
    try:
        title_id = int(str(title).strip())
    except (TypeError, ValueError):
        raise NotFound(f"No title {title!r}.") from None
    if not Title.objects.filter(pk=title_id).exists():
        raise NotFound(f"No title {title_id}.")
    return title_id


@transaction.atomic
def rate_title(member: Member, title, stars, *, source: str = RatingSource.TITLE_PAGE) -> Rating:
    """The member's stars for a title; a second rating of the same title replaces the first.
    Rating the same stars again changes nothing but the time (a double click is harmless)."""
    value = _stars(stars)
    if source not in RatingSource.values:
        raise DomainError(f"Unknown rating source {source!r}.")
    title_id = _title_id(title)
    rating, _ = Rating.objects.update_or_create(
        member_id=member.pk,
        title_id=title_id,
        defaults={"stars": value, "source": source, "rated_at": clock.now()},
    )
    return rating


@transaction.atomic
def clear_rating(member: Member, title) -> bool:
    """Remove the member's rating of a title; True when there was one."""
    title_id = _title_id(title)
    deleted, _ = Rating.objects.filter(member_id=member.pk, title_id=title_id).delete()
    return bool(deleted)
