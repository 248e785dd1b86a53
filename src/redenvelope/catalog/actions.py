"""Every change to the catalog goes through here."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.text import slugify

from redenvelope.core.errors import DomainError

from . import search
from .models import Genre, Series, Title


def get_or_create_genre(name: str) -> Genre:
    name = name.strip()
    if not name:
        raise DomainError("A genre needs a name.")
    genre, _ = Genre.objects.get_or_create(slug=slugify(name), defaults={"name": name})
    return genre


@transaction.atomic
def add_title(
    *,
    name: str,
    year: int,
    release_date: dt.date,
    genres: list[str] = (),
    runtime_minutes: int | None = None,
    mpaa_rating: str = "NR",
    synopsis: str = "",
    on_dvd: bool = True,
    on_bluray: bool = False,
    series: Series | None = None,
    season: int | None = None,
    disc_number: int | None = None,
    popularity: float = 0.0,
) -> Title:
    name = (name or "").strip()
    if not name:
        raise DomainError("A title needs a name.")
    if not 1880 <= int(year) <= 2100:
        raise DomainError(f"Year {year} is not plausible.")
    if not (on_dvd or on_bluray):
        raise DomainError("A title must be on DVD, Blu-ray or both.")
    if series is not None:
        if not season or not disc_number or season < 1 or disc_number < 1:
            raise DomainError("A series disc needs a season and a disc number, both from 1.")
        if Title.objects.filter(series=series, season=season, disc_number=disc_number).exists():
            raise DomainError(f"{series} season {season} disc {disc_number} already exists.")
    elif season or disc_number:
        raise DomainError("Season and disc number belong to series discs only.")
    title = Title.objects.create(
        name=name,
        year=year,
        release_date=release_date,
        runtime_minutes=runtime_minutes,
        mpaa_rating=mpaa_rating,
        synopsis=synopsis,
        on_dvd=on_dvd,
        on_bluray=on_bluray,
        series=series,
        season=season,
        disc_number=disc_number,
        popularity=popularity,
    )
    if genres:
        title.genres.set([get_or_create_genre(g) for g in genres])
    search.index_titles([title.pk])
    transaction.on_commit(forget_genre_counts)
    return title


def forget_genre_counts() -> None:
    """The catalog changed: the cached genre counts (queries.genres_with_counts) are stale."""
    from django.core.cache import cache

    from .queries import GENRES_KEY

    cache.delete(GENRES_KEY)


@transaction.atomic
def add_series(name: str, *, first_year: int | None = None) -> Series:
    name = (name or "").strip()
    if not name:
        raise DomainError("A series needs a name.")
    if Series.objects.filter(name=name).exists():
        raise DomainError(f"A series named {name!r} already exists.")
    return Series.objects.create(name=name, slug=slugify(name), first_year=first_year)
