"""Catalog reads shared by pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from . import search
from .models import Genre, Title


def search_titles(q: str = "", genre: str = "", *, include_unreleased: bool = True) -> QuerySet:
    """Titles matching a search, best first (catalog.search ranks them), or, with no search,
    the catalog (in a genre) by popularity."""
    qs = Title.objects.select_related("series").prefetch_related("genres")
    q = (q or "").strip()
    if q:
        return RankedTitles(search.search(q, genre, include_unreleased=include_unreleased), qs)
    if genre:
        qs = qs.filter(genres__slug=genre)
    if not include_unreleased:
        qs = qs.released()
    return qs.order_by("-popularity", "name", "id")


class RankedTitles:
    """Search results in rank order, read a page at a time: what pages (Paginator) and the API
    (its pagination) need from a queryset, len and slices, without ordering the whole result
    in SQL."""

    def __init__(self, ids: list[int], qs: QuerySet):
        self.ids, self.qs = list(ids), qs

    def __len__(self) -> int:
        return len(self.ids)

    def count(self) -> int:
        return len(self.ids)

    def all(self) -> RankedTitles:
        return self

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, index):
        if isinstance(index, int):
            return self[index : index + 1][0]
        ids = self.ids[index]
        by_id = {t.pk: t for t in self.qs.filter(pk__in=ids)} if ids else {}
        return [by_id[i] for i in ids if i in by_id]


def genres_with_counts() -> list:
    """Genres that have titles, with how many, by name: counted once a few minutes per process
    (a count over every title's genres, on every catalog page otherwise)."""
    from django.core.cache import cache
    from django.db.models import Count

    found = cache.get(GENRES_KEY)
    if found is None:
        found = list(Genre.objects.annotate(n=Count("titles")).filter(n__gt=0).order_by("name"))
        cache.set(GENRES_KEY, found, GENRES_SECONDS)
    return found


GENRES_KEY = "catalog:genres_with_counts"
GENRES_SECONDS = 300
