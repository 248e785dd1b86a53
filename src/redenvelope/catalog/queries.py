"""Catalog reads shared by pages and the API."""

from __future__ import annotations

from django.db.models import Case, QuerySet, Value, When

from . import search
from .models import Genre, Title


def search_titles(q: str = "", genre: str = "", *, include_unreleased: bool = True) -> QuerySet:
    """Titles matching a search, best first (catalog.search ranks them), or, with no search,
    the catalog (in a genre) by popularity."""
    qs = Title.objects.select_related("series").prefetch_related("genres")
    q = (q or "").strip()
    if q:
        ids = search.search(q, genre, include_unreleased=include_unreleased)
        order = Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(ids)], default=Value(0))
        return qs.filter(pk__in=ids).order_by(order) if ids else qs.none()
    if genre:
        qs = qs.filter(genres__slug=genre)
    if not include_unreleased:
        qs = qs.released()
    return qs.order_by("-popularity", "name", "id")


def genres_with_counts() -> QuerySet:
    from django.db.models import Count

    return Genre.objects.annotate(n=Count("titles")).filter(n__gt=0).order_by("name")
