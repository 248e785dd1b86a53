"""The public site and the member pages. Thin: reads come from queries, writes from actions."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import has_role, is_staff_user
from redenvelope.catalog.models import Title
from redenvelope.catalog.queries import genres_with_counts, search_titles
from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.queries import (
    availability,
    availability_by_format,
    open_shipments,
    rental_history,
)
from redenvelope.inventory.models import Transit
from redenvelope.membership.decorators import member_of, member_required
from redenvelope.membership.models import Member, Plan
from redenvelope.queues import actions as queue_actions
from redenvelope.queues.queries import queue_of, queued_and_saved, saved_of
from redenvelope.ratings import actions as rating_actions
from redenvelope.ratings.models import RatingSource
from redenvelope.ratings.queries import average_of, ratings_of, stars_of
from redenvelope.recommendations import serving as recs
from redenvelope.rights.queries import availability as stream_availability
from redenvelope.rights.queries import disc_wording


def landing(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.filter(active=True).order_by("discs_at_once", "monthly_price")
    return render(request, "web/landing.html", {"plans": plans})


def home(request: HttpRequest) -> HttpResponse:
    """Where a login lands: each staff role on its own page (admins in the back office), members
    on their queue."""
    if not request.user.is_authenticated:
        return redirect("landing")
    if is_staff_user(request.user):
        from redenvelope.insight.views import home_dashboard

        board = home_dashboard(request.user)  # each staff role lands on its dashboard
        if board:
            return redirect("insight_dashboard", slug=board)
        for roles, page in STAFF_LANDING:
            if has_role(request.user, *roles):
                return redirect(page)
        return redirect("admin:index")
    if has_role(request.user, "partner") and not has_role(request.user, "member"):
        return redirect("partner_dashboard")
    return redirect("for_you")


# The first role that matches picks the page (an admin who also packs discs lands in the admin).
STAFF_LANDING = [
    (("admin",), "admin:index"),
    (("warehouse",), "scan_desk"),
    (("operations",), "dispatch_overview"),
    (("support_agent", "support_lead"), "support_console"),
    (("finance",), "finance"),
    (("hr",), "workforce"),
]


LISTS = {
    "": "Popular",
    "new": "New releases",
    "coming": "Coming soon",
}


def _catalog_titles(q: str, genre: str, which: str):
    if q:
        return search_titles(q, genre)
    titles = search_titles("", genre)
    today = clock.today()
    if which == "new":
        return titles.filter(
            release_date__lte=today, release_date__gt=today - dt.timedelta(days=180)
        ).order_by("-release_date", "-popularity", "id")
    if which == "coming":
        return titles.filter(release_date__gt=today).order_by("release_date", "name", "id")
    return titles


def catalog(request: HttpRequest) -> HttpResponse:
    """The catalog, open to everyone: popular, new releases, coming soon, a genre, a search."""
    q = request.GET.get("q", "")[:100]
    genre = request.GET.get("genre", "")[:60]
    which = request.GET.get("list", "")
    which = which if which in LISTS else ""
    page = Paginator(_catalog_titles(q, genre, which), 24).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    ids = [t.pk for t in page.object_list]
    avail = availability(ids)
    for t in page.object_list:
        t.availability = avail.get(t.pk, "")
    member = member_of(request)
    ctx = {
        "page": page,
        "q": q,
        "genre": genre,
        "which": which,
        "lists": LISTS,
        "genres": genres_with_counts(),
        "member": member,
        **_marks(member, ids),
    }
    if request.htmx and request.GET.get("partial") == "results":
        return render(request, "web/_results.html", ctx)
    return render(request, "web/catalog.html", ctx)


def _marks(member, title_ids) -> dict:
    """Which of these titles the member has queued, saved and rated (nothing for visitors)."""
    if member is None:
        return {"queued": set(), "saved": set(), "stars": {}}
    return {**queued_and_saved(member.pk, title_ids), "stars": stars_of(member.pk, title_ids)}


def title_detail(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(
        Title.objects.select_related("series").prefetch_related("genres"), pk=title_id
    )
    member = member_of(request)
    avg, n_ratings = average_of(title.pk)
    ctx = {
        "title": title,
        "t": title,
        "member": member,
        "by_format": availability_by_format(title.pk) if title.is_released() else {},
        "series_discs": (
            list(Title.objects.filter(series=title.series_id).order_by("season", "disc_number"))
            if title.series_id
            else []
        ),
        "average": avg,
        "n_ratings": n_ratings,
        "my_stars": 0,
        "on_disc": disc_wording(title.pk),
        "streaming": stream_availability(
            [title.pk], member.territory if member else settings.REDENVELOPE["TERRITORY"]
        ).get(title.pk),
        **_marks(member, [title.pk]),
    }
    ctx["more_like"] = recs.more_like_this(title, member, n=6)
    if member is not None:
        ctx["predicted"] = recs.predicted_stars(member, [title.pk]).get(title.pk)
        ctx["my_stars"] = ctx["stars"].get(title.pk, 0)
        entry = member.queue_entries.filter(title=title).first()
        ctx["in_queue_rank"] = (
            entry and member.queue_entries.filter(position__lte=entry.position).count()
        )
    return render(request, "web/title_detail.html", ctx)


def _queue_context(member: Member) -> dict:
    entries = list(queue_of(member.pk))
    avail = availability([e.title_id for e in entries])
    for e in entries:
        e.availability = avail.get(e.title_id, "")
    return {
        "entries": entries,
        "saved": list(saved_of(member.pk)),
        "size": len(entries),
        "member": member,
    }


def _render_queue(request: HttpRequest) -> HttpResponse:
    ctx = _queue_context(request.member)
    ctx["stars"] = stars_of(request.member.pk, [e.title_id for e in ctx["entries"]])
    return render(request, "web/_queue.html", ctx)


@member_required
def queue(request: HttpRequest) -> HttpResponse:
    ctx = _queue_context(request.member)
    at_home = list(open_shipments(request.member.pk).select_related("title", "dc"))
    transit = dict(
        Transit.objects.filter(
            region_id=request.member.region_id, dc_id__in={s.dc_id for s in at_home}
        ).values_list("dc_id", "days")
    )
    for s in at_home:
        days = transit.get(s.dc_id, 3)
        s.arrives_on = timezone.localdate(s.shipped_at) + dt.timedelta(days=days)
    ctx["at_home"] = at_home
    ctx["stars"] = stars_of(request.member.pk, [e.title_id for e in ctx["entries"]])
    ctx["add_next"] = recs.top_picks(request.member, n=5).items  # never queued or saved
    ctx.update(queued=set(), saved=set())
    template = "web/_queue.html" if request.htmx else "web/queue.html"
    return render(request, template, ctx)


QUEUE_OPS = {
    "remove": lambda m, t, p: queue_actions.remove_from_queue(m, t),
    "top": lambda m, t, p: queue_actions.move_to_top(m, t),
    "move": lambda m, t, p: queue_actions.move_in_queue(m, t, p),
    "up": lambda m, t, p: queue_actions.move_by(m, t, -1),
    "down": lambda m, t, p: queue_actions.move_by(m, t, 1),
    "add_top": lambda m, t, p: queue_actions.add_to_queue(m, t, "top"),
    "add": lambda m, t, p: queue_actions.add_to_queue(m, t, "bottom"),
    "save": lambda m, t, p: queue_actions.save_title(m, t),
    "unsave": lambda m, t, p: queue_actions.unsave_title(m, t),
}


@require_POST
def queue_change(request: HttpRequest) -> HttpResponse:
    """One form posts every queue change: op, title and (for move) position. A visitor's add
    is kept in their session while they join or sign in, then completed (`complete_add`)."""
    if not request.user.is_authenticated:
        op, title_id = request.POST.get("op", ""), request.POST.get("title", "")
        if op in ("add", "add_top", "save") and title_id.isdigit():
            request.session["pending_add"] = {"op": op, "title": int(title_id)}
            return redirect("join_or_sign_in")
        return redirect_to_login(reverse("queue"))
    return _member_queue_change(request)


def join_or_sign_in(request: HttpRequest) -> HttpResponse:
    pending = request.session.get("pending_add") or {}
    title = Title.objects.filter(pk=pending.get("title")).first() if pending else None
    return render(request, "web/join_or_sign_in.html", {"title": title})


@member_required
def complete_add(request: HttpRequest) -> HttpResponse:
    """After joining or signing in: the add the visitor asked for, done once (it is taken out
    of the session first, so a reload adds nothing)."""
    pending = request.session.pop("pending_add", None)
    if pending and pending.get("op") in ("add", "add_top", "save"):
        try:
            QUEUE_OPS[pending["op"]](request.member, pending.get("title"), "")
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Added to your queue.")
    return redirect("queue")


@member_required
def _member_queue_change(request: HttpRequest) -> HttpResponse:
    op = request.POST.get("op", "")
    title_id = request.POST.get("title", "")
    position = request.POST.get("position", "")
    if op not in QUEUE_OPS:
        messages.error(request, f"Unknown queue operation {op!r}.")
    else:
        try:
            QUEUE_OPS[op](request.member, title_id, position)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if op in ("add", "add_top"):
                messages.success(request, "Added to your queue.")
            elif op == "save":
                messages.success(request, "Saved: it joins your queue on release day.")
    nxt = request.POST.get("next", "")
    if request.htmx and nxt in ("catalog", "title", "for_you"):
        # The catalog button swaps itself for its new state.
        title = Title.objects.filter(pk=title_id).first() if title_id.isdigit() else None
        ctx = {"t": title, "member": request.member, **_marks(request.member, [title_id])}
        # htmx swaps only 2xx by default; errors come back as 200 with the message shown inline.
        return render(request, "web/_title_action.html", ctx)
    if request.htmx:
        return _render_queue(request)  # only the queue part is swapped
    if nxt == "catalog":
        return redirect("catalog")
    if nxt == "title" and title_id.isdigit():
        return redirect("title_detail", int(title_id))
    if nxt == "for_you":
        return redirect("for_you")
    return redirect("queue")


@require_POST
@member_required
def report_problem(request: HttpRequest) -> HttpResponse:
    """A disc at home never arrived, or arrived broken: self-service through customer service
    (a case resolved on the spot, the title back at the top of the queue; a flagged member's
    lost report waits for an agent)."""
    from redenvelope.support.actions import report_disc
    from redenvelope.support.models import Case

    shipment = request.POST.get("shipment", "")
    try:
        case = report_disc(
            request.member,
            int(shipment) if shipment.isdigit() else -1,
            request.POST.get("problem", ""),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if case.status == Case.Status.RESOLVED:
            messages.success(
                request, "Thanks for telling us. A replacement is at the top of your queue."
            )
        else:
            messages.success(request, "Thanks for telling us. An agent will look into it soon.")
    return redirect("queue")


@member_required
def history(request: HttpRequest) -> HttpResponse:
    """Every disc the member had: when it shipped and when it came back, newest first, paged."""
    page = Paginator(rental_history(request.member.pk), 25).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    ctx = {"page": page, **_marks(request.member, [s.title_id for s in page.object_list])}
    return render(request, "web/history.html", ctx)


@member_required
def my_ratings(request: HttpRequest) -> HttpResponse:
    page = Paginator(ratings_of(request.member.pk), 50).get_page(request.GET.get("page"))
    return render(request, "web/ratings.html", {"page": page})


@member_required
def rate_seen(request: HttpRequest) -> HttpResponse:
    """Rate what you've seen: the discs the member had and has not rated yet."""
    seen = rental_history(request.member.pk).exclude(
        title_id__in=request.member.ratings.values("title_id")
    )
    titles, kept = [], set()
    for s in seen[:200]:
        if s.title_id not in kept:
            kept.add(s.title_id)
            titles.append(s.title)
        if len(titles) == 30:
            break
    return render(request, "web/rate_seen.html", {"titles": titles, "stars": {}})


RATING_SOURCES = {
    "title": RatingSource.TITLE_PAGE,
    "queue": RatingSource.QUEUE,
    "history": RatingSource.HISTORY,
    "rate": RatingSource.RATE_PAGE,
}


@require_POST
@member_required
def rate(request: HttpRequest) -> HttpResponse:
    """One form rates from every page: title, stars (1-5, or "clear") and where it was."""
    title_id = request.POST.get("title", "")
    stars = request.POST.get("stars", "")
    where = request.POST.get("from", "title")
    source = RATING_SOURCES.get(where, RatingSource.TITLE_PAGE)
    try:
        if stars == "clear":
            rating_actions.clear_rating(request.member, title_id)
            done = "Rating removed."
        else:
            rating = rating_actions.rate_title(request.member, title_id, stars, source=source)
            done = f"Rated {rating.stars} star{'s' if rating.stars != 1 else ''}."
    except DomainError as exc:
        if request.htmx:
            title = Title.objects.filter(pk=title_id).first() if title_id.isdigit() else None
            if title is None:
                return HttpResponse(exc.message, status=exc.status_code)
            ctx = {"t": title, "stars": stars_of(request.member.pk, [title.pk]), "where": where}
            ctx["error"] = exc.message
            return render(request, "web/_stars.html", ctx, status=exc.status_code)
        messages.error(request, exc.message)
        return redirect(request.POST.get("back") or "my_ratings")
    if request.htmx:
        title = Title.objects.get(pk=int(title_id))
        ctx = {"t": title, "stars": stars_of(request.member.pk, [title.pk]), "where": where}
        ctx["done"] = done
        return render(request, "web/_stars.html", ctx)
    messages.success(request, done)
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/") and not back.startswith("//") else "my_ratings")
