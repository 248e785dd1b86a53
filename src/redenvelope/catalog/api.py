from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.pagination import paginate

from redenvelope.core.pagination import CappedPagination

from .models import Title
from .queries import genres_with_counts, search_titles

router = Router(tags=["catalog"])


class GenreOut(Schema):
    name: str
    slug: str


class TitleOut(Schema):
    id: int
    name: str
    year: int
    runtime_minutes: int | None
    mpaa_rating: str
    synopsis: str
    release_date: dt.date
    released: bool
    formats: list[str]
    genres: list[str]
    series: str | None
    season: int | None
    disc_number: int | None

    @staticmethod
    def resolve_released(obj: Title) -> bool:
        return obj.is_released()

    @staticmethod
    def resolve_genres(obj: Title) -> list[str]:
        return [g.name for g in obj.genres.all()]

    @staticmethod
    def resolve_series(obj: Title) -> str | None:
        return obj.series.name if obj.series_id else None


class GenreCountOut(GenreOut):
    titles: int


@router.get("/genres", response=list[GenreCountOut])
def list_genres(request):
    return [{"name": g.name, "slug": g.slug, "titles": g.n} for g in genres_with_counts()]


@router.get("/titles", response=list[TitleOut])
@paginate(CappedPagination)
def list_titles(request, q: str = "", genre: str = ""):
    """Titles, most popular first; `q` searches names, `genre` is a genre slug."""
    return search_titles(q[:100], genre[:60])


@router.get("/titles/{title_id}", response=TitleOut)
def get_title(request, title_id: int):
    return get_object_or_404(Title.objects.select_related("series"), pk=title_id)
