"""The member's "For you" page (their home) and the genre picker; the title page and the queue
page show picks through `serving` too. Thin: changes go through actions."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from redenvelope.catalog.models import Genre
from redenvelope.core.errors import DomainError
from redenvelope.membership import actions as membership
from redenvelope.membership.decorators import member_required
from redenvelope.queues.queries import queued_and_saved

from . import serving


@member_required
def for_you(request: HttpRequest) -> HttpResponse:
    member = request.member
    picks = serving.top_picks(member, n=20)
    rated = serving.because_you_rated(member, n=8)
    ids = [p.title.pk for p in picks.items] + [p.title.pk for p in rated.items]
    favourite = {g for g in member.favourite_genres.split(",") if g}
    return render(
        request,
        "recommendations/for_you.html",
        {
            "member": member,
            "picks": picks,
            "rated": rated,
            "genres": Genre.objects.all(),
            "favourite": favourite,
            "next_page": "for_you",
            **queued_and_saved(member.pk, ids),
        },
    )


@member_required
@require_POST
def set_genres(request: HttpRequest) -> HttpResponse:
    try:
        membership.set_favourite_genres(
            request.member, request.POST.getlist("genre"), actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thanks: your picks start from the genres you like.")
    return redirect("for_you")
