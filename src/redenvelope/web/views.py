"""The public site and the member pages. Thin: reads come from queries, writes from actions."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import has_role, is_staff_user
from redenvelope.catalog.models import Title
from redenvelope.catalog.queries import genres_with_counts, search_titles
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.queries import availability, open_shipments
from redenvelope.membership.decorators import member_required
from redenvelope.membership.models import Member, Plan
from redenvelope.queues import actions as queue_actions
from redenvelope.queues.queries import queue_of, saved_of


def landing(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.filter(active=True).order_by("discs_at_once", "monthly_price")
    return render(request, "web/landing.html", {"plans": plans})


def home(request: HttpRequest) -> HttpResponse:
    """Where a login lands: each staff role on its own page (admins in the back office), members
    on their queue."""
    if not request.user.is_authenticated:
        return redirect("landing")
    if is_staff_user(request.user):
        for roles, page in STAFF_LANDING:
            if has_role(request.user, *roles):
                return redirect(page)
        return redirect("admin:index")
    return redirect("queue")


# The first role that matches picks the page (an admin who also packs discs lands in the admin).
STAFF_LANDING = [
    (("admin",), "admin:index"),
    (("warehouse",), "scan_desk"),
    (("operations",), "dispatch_overview"),
    (("finance", "support_agent", "support_lead"), "finance"),
]


@member_required
def catalog(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:100]
    genre = request.GET.get("genre", "")[:60]
    titles = search_titles(q, genre)
    page = Paginator(titles, 24).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    avail = availability([t.pk for t in page.object_list])
    for t in page.object_list:
        t.availability = avail.get(t.pk, "")
    member_id = request.member.pk
    ctx = {
        "page": page,
        "q": q,
        "genre": genre,
        "genres": genres_with_counts(),
        "queued": set(request.member.queue_entries.values_list("title_id", flat=True)),
        "saved": set(request.member.saved_entries.values_list("title_id", flat=True)),
        "member_id": member_id,
    }
    return render(request, "web/catalog.html", ctx)


@member_required
def title_detail(request: HttpRequest, title_id: int) -> HttpResponse:
    title = get_object_or_404(Title.objects.select_related("series"), pk=title_id)
    ctx = {
        "title": title,
        "in_queue": (in_queue := request.member.queue_entries.filter(title=title).first()),
        "in_queue_rank": in_queue
        and request.member.queue_entries.filter(position__lte=in_queue.position).count(),
        "is_saved": request.member.saved_entries.filter(title=title).exists(),
    }
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
    return render(request, "web/_queue.html", _queue_context(request.member))


@member_required
def queue(request: HttpRequest) -> HttpResponse:
    ctx = _queue_context(request.member)
    ctx["at_home"] = open_shipments(request.member.pk).select_related("title", "dc")
    template = "web/_queue.html" if request.htmx else "web/queue.html"
    return render(request, template, ctx)


QUEUE_OPS = {
    "remove": lambda m, t, p: queue_actions.remove_from_queue(m, t),
    "top": lambda m, t, p: queue_actions.move_to_top(m, t),
    "move": lambda m, t, p: queue_actions.move_in_queue(m, t, p),
    "add_top": lambda m, t, p: queue_actions.add_to_queue(m, t, "top"),
    "add": lambda m, t, p: queue_actions.add_to_queue(m, t, "bottom"),
    "save": lambda m, t, p: queue_actions.save_title(m, t),
    "unsave": lambda m, t, p: queue_actions.unsave_title(m, t),
}


@require_POST
@member_required
def queue_change(request: HttpRequest) -> HttpResponse:
    """One form posts every queue change: op, title and (for move) position."""
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
    if request.htmx and nxt == "catalog":
        # The catalog button swaps itself for its new state.
        title = Title.objects.filter(pk=title_id).first() if title_id.isdigit() else None
        ctx = {
            "t": title,
            "queued": set(request.member.queue_entries.values_list("title_id", flat=True)),
            "saved": set(request.member.saved_entries.values_list("title_id", flat=True)),
        }
        # htmx swaps only 2xx by default; errors come back as 200 with the message shown inline.
        return render(request, "web/_title_action.html", ctx)
    if request.htmx:
        return _render_queue(request)  # only the queue part is swapped
    if nxt == "catalog":
        return redirect("catalog")
    return redirect("queue")


@require_POST
@member_required
def report_problem(request: HttpRequest) -> HttpResponse:
    """A disc at home never arrived, or arrived broken: the slot opens for the next one."""
    from redenvelope.fulfillment.actions import report_problem as report

    shipment = request.POST.get("shipment", "")
    try:
        report(
            request.member,
            int(shipment) if shipment.isdigit() else -1,
            request.POST.get("problem", ""),
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thanks for telling us. The next disc in your queue will ship.")
    return redirect("queue")
