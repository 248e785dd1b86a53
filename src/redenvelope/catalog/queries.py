"""Catalog reads shared by pages and the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Genre, Title


def search_titles(q: str = "", genre: str = "", *, include_unreleased: bool = True) -> QuerySet:
    qs = Title.objects.select_related("series").prefetch_related("genres")
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(series__name__icontains=q))
    if genre:
        qs = qs.filter(genres__slug=genre)
    if not include_unreleased:
        qs = qs.released()
    return qs.order_by("-popularity", "name", "id")


def genres_with_counts() -> QuerySet:
    from django.db.models import Count

    return Genre.objects.annotate(n=Count("titles")).filter(n__gt=0).order_by("name")
