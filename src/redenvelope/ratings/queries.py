"""Reads of ratings shared by pages, the API and (later) recommendations."""

from __future__ import annotations

from django.db.models import Avg, Count

from redenvelope.core.bulk import read_columns

from .models import Rating


def stars_of(member_id: int, title_ids) -> dict[int, int]:
    """The member's stars for each of these titles that they rated."""
    ids = list(title_ids)
    if not ids:
        return {}
    return dict(
        Rating.objects.filter(member_id=member_id, title_id__in=ids).values_list(
            "title_id", "stars"
        )
    )


def average_of(title_id: int) -> tuple[float | None, int]:
    """A title's average stars and how many rated it."""
    row = Rating.objects.filter(title_id=title_id).aggregate(avg=Avg("stars"), n=Count("id"))
    return (round(row["avg"], 1) if row["avg"] is not None else None), row["n"]


def ratings_of(member_id: int):
    """The member's ratings, newest first, with their titles."""
    return (
        Rating.objects.filter(member_id=member_id)
        .select_related("title")
        .order_by("-rated_at", "-id")
    )


def all_ratings() -> dict:
    """Every rating in one bulk read, as numpy columns: member_id, title_id, stars, and
    rated_at as seconds since the epoch (what a recommendation model trains on)."""
    from redenvelope.core.bulk import is_postgres

    epoch = (
        "CAST(EXTRACT(EPOCH FROM rated_at) AS bigint)"
        if is_postgres()
        else "CAST(strftime('%s', rated_at) AS integer)"
    )
    return read_columns(
        f"SELECT member_id, title_id, stars, {epoch} FROM ratings_rating "  # noqa: S608
        "ORDER BY member_id, title_id",  # noqa: S608
        [("member_id", "int64"), ("title_id", "int64"), ("stars", "int8"), ("rated_at", "int64")],
    )
