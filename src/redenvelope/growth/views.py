"""Growth's pages: the tracked-link redirect, the partner dashboard, newsletter sign-up,
confirmation, unsubscribe and tracking, and the staff overview (reviews, payouts, issues,
reports). Thin: every change goes through actions.py or newsletter.py."""

from __future__ import annotations

import base64
import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import Role, has_role, role_required
from redenvelope.core import clock, parse
from redenvelope.core.errors import DomainError

from . import actions, newsletter, queries, reports
from .models import Announcement, Commission, Issue, Partner, PayoutStatement

FINANCE = (Role.FINANCE, Role.ADMIN)
EDITORS = (Role.OPERATIONS, Role.ADMIN)
STAFF = (*FINANCE, Role.OPERATIONS)
VISITOR_COOKIE = "re_visitor"
CLICK_COOKIE = "re_click"
SOURCE_COOKIE = "re_source"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def click(request: HttpRequest, code: str) -> HttpResponse:
    """A tracked link: the click is recorded with a click id kept in a first-party cookie
    (for the attribution window), then the visitor goes on to the link's page."""
    visitor = actions.read_visitor(request.COOKIES.get(VISITOR_COOKIE, ""))
    fresh = not visitor
    visitor = visitor or actions.new_visitor()
    try:
        clicked = actions.record_click(code, visitor=visitor, ip=_client_ip(request))
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": exc.message}, status=404)
    response = redirect(clicked.link.destination)
    window = settings.REDENVELOPE["AFFILIATE_WINDOW_DAYS"] * 86400
    secure = not settings.DEBUG
    if fresh:
        response.set_cookie(
            VISITOR_COOKIE, actions.visitor_cookie(visitor), max_age=400 * 86400,
            httponly=True, samesite="Lax", secure=secure,
        )  # fmt: skip
    response.set_cookie(
        CLICK_COOKIE, actions.click_cookie(clicked), max_age=window,
        httponly=True, samesite="Lax", secure=secure,
    )  # fmt: skip
    return response


def signup_source(request: HttpRequest):
    """For the join view: a function that records, in the joining transaction, how the new
    member came (the click and visitor cookies)."""
    click_value = request.COOKIES.get(CLICK_COOKIE, "")
    visitor_value = request.COOKIES.get(VISITOR_COOKIE, "")
    source = "newsletter" if request.COOKIES.get(SOURCE_COOKIE) == "newsletter" else ""

    def record(member):
        actions.record_signup(member, click=click_value, visitor=visitor_value, source=source)

    return record


@role_required(Role.PARTNER, *FINANCE)
def partner_dashboard(request: HttpRequest, partner_id: int | None = None) -> HttpResponse:
    """A partner sees their own figures; finance sees any partner's. A partner asking for
    another's gets 403."""
    if partner_id is None:
        partner = Partner.objects.filter(user=request.user).first()
        if partner is None:
            if has_role(request.user, *FINANCE):
                return redirect("growth")
            raise PermissionDenied("You are not a partner.")
        actions.note_partner_device(
            partner, actions.read_visitor(request.COOKIES.get(VISITOR_COOKIE, ""))
        )
    else:
        partner = get_object_or_404(Partner, pk=partner_id)
        if not has_role(request.user, *FINANCE) and partner.user_id != request.user.pk:
            raise PermissionDenied("Those figures are another partner's.")
    figures = queries.partner_figures(partner)
    return render(
        request,
        "growth/partner.html",
        {"partner": partner, "f": figures, "site": settings.SITE_URL.rstrip("/")},
    )


def subscribe(request: HttpRequest) -> HttpResponse:
    error, status, done = "", 200, False
    if request.method == "POST":
        try:
            newsletter.subscribe(request.POST.get("email", ""))
            done = True
        except DomainError as exc:
            error, status = exc.message, exc.status_code
    return render(request, "growth/subscribe.html", {"error": error, "done": done}, status=status)


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        sub = newsletter.confirm(token)
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": exc.message}, status=400)
    return render(request, "growth/confirmed.html", {"sub": sub})


@csrf_exempt  # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", no session
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One-click unsubscribe: a POST stops the newsletter at once; a GET (a person following
    the link) shows one button and changes nothing."""
    if newsletter.read_token(token) is None:
        return render(
            request,
            "web/refused.html",
            {"message": "That unsubscribe link is not valid."},
            status=400,
        )
    if request.method == "POST":
        try:
            newsletter.unsubscribe(token)
        except DomainError as exc:
            return render(request, "web/refused.html", {"message": exc.message}, status=400)
        return render(request, "web/unsubscribed.html", {"label": "The weekly newsletter"})
    return render(
        request, "web/unsubscribe.html", {"label": "The weekly newsletter", "token": token}
    )


def opened(request: HttpRequest, token: str) -> HttpResponse:
    newsletter.track(token, "open")
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


def clicked(request: HttpRequest, token: str, title_id: int) -> HttpResponse:
    """A link in an issue: counted (when tracking is on), then on to the title (or the
    catalog). Only our own pages: the destination is never taken from the URL."""
    target = reverse("title_detail", args=[title_id]) if title_id else reverse("catalog")
    newsletter.track(token, "click", target)
    response = redirect(target)
    if newsletter.read_token(token) is not None:  # a reader who joins came by the newsletter
        response.set_cookie(
            SOURCE_COOKIE, "newsletter", max_age=settings.REDENVELOPE["AFFILIATE_WINDOW_DAYS"]
            * 86400, httponly=True, samesite="Lax", secure=not settings.DEBUG,
        )  # fmt: skip
    return response


# --------------------------------------------------------------------------- staff


@role_required(*STAFF)
def overview(request: HttpRequest) -> HttpResponse:
    is_finance = has_role(request.user, *FINANCE)
    ctx = {
        "is_finance": is_finance,
        "is_editor": has_role(request.user, *EDITORS),
        "review": Commission.objects.filter(status=Commission.Status.REVIEW)
        .select_related("partner")
        .order_by("earned_on", "id")[:100],
        "statements": PayoutStatement.objects.select_related("partner", "paid_by")[:50],
        "partners": Partner.objects.order_by("name"),
        "issues": Issue.objects.all()[:12],
        "reports": reports.REPORTS,
        "flag_text": actions.FLAG_TEXT,
        "last_month": (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1),
        "announcements": Announcement.objects.all()[:10],
    }
    return render(request, "growth/overview.html", ctx)


@require_POST
@role_required(*STAFF)
def overview_action(request: HttpRequest) -> HttpResponse:
    what = request.POST.get("action", "")
    try:
        if what in ("approve", "reject"):
            c = get_object_or_404(Commission, pk=parse.record_id(request.POST.get("id")))
            actions.review_commission(
                c, approve=what == "approve", actor=request.user, why=request.POST.get("why", "")
            )
            messages.success(request, f"Commission for member {c.member_id}: {what}d.")
        elif what == "close_month":
            if not has_role(request.user, *FINANCE):
                raise PermissionDenied
            period = parse.day(request.POST.get("period"), "period")
            made = actions.close_month(period, actor=request.user)
            messages.success(request, f"{len(made)} payout statement(s) for {period:%B %Y}.")
        elif what == "pay":
            st = get_object_or_404(PayoutStatement, pk=parse.record_id(request.POST.get("id")))
            actions.pay_statement(st, actor=request.user, why=request.POST.get("why") or "payout")
            messages.success(request, f"Paid {st.partner.name} for {st.period:%B %Y}.")
        elif what in ("build", "queue", "pause", "resume", "send"):
            if not has_role(request.user, *EDITORS):
                raise PermissionDenied
            _issue_action(request, what)
        elif what == "announce_new":
            if not has_role(request.user, *EDITORS):
                raise PermissionDenied
            n = actions.announce_new_titles(
                since=clock.today() - dt.timedelta(days=28), actor=request.user.username
            )
            messages.success(request, f"{n} new post(s) queued.")
        else:
            raise DomainError("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("growth")


def _issue_action(request: HttpRequest, what: str) -> None:
    if what == "build":
        issue = newsletter.build_issue()
        messages.success(request, f"Issue of the week of {issue.week:%d %b} ready to preview.")
        return
    issue = get_object_or_404(Issue, pk=parse.record_id(request.POST.get("id")))
    if what == "queue":
        n = newsletter.queue_issue(issue)
        messages.success(request, f"Queued for {n:,} recipients.")
    elif what == "pause":
        newsletter.pause_issue(issue)
        messages.success(request, "Paused: the sender stops after the messages in hand.")
    elif what == "resume":
        newsletter.resume_issue(issue)
        from .tasks import send_newsletter

        send_newsletter(issue.pk)
        messages.success(request, "Resumed: sending continues with those not yet sent.")
    elif what == "send":
        from .tasks import send_newsletter

        send_newsletter(issue.pk)
        messages.success(request, "Sending: the worker sends it at the configured rate.")


@role_required(*STAFF)
def issue_page(request: HttpRequest, issue_id: int) -> HttpResponse:
    issue = get_object_or_404(Issue, pk=issue_id)
    return render(
        request,
        "growth/issue.html",
        {
            "issue": issue,
            "figures": newsletter.issue_figures(issue.pk),
            "is_editor": has_role(request.user, *EDITORS),
        },
    )


@role_required(*STAFF)
def issue_preview(request: HttpRequest, issue_id: int) -> HttpResponse:
    """The issue as one member gets it (their picks), as HTML and as plain text."""
    issue = get_object_or_404(Issue, pk=issue_id)
    member = request.GET.get("member", "").strip()
    shown = None
    error = ""
    if member:
        try:
            shown = newsletter.preview(issue, member_id=parse.record_id(member, "member"))
        except DomainError as exc:
            error = exc.message
    return render(
        request,
        "growth/preview.html",
        {"issue": issue, "shown": shown, "member": member, "error": error},
        status=404 if error else 200,
    )


@role_required(*STAFF)
def report(request: HttpRequest, name: str) -> HttpResponse:
    from redenvelope.billing.reports import respond

    return respond(
        request, reports.REPORTS, reports.build, name, "web/report.html", back="growth",
        back_label="Growth",
    )  # fmt: skip


def _published():
    return Announcement.objects.filter(publish_at__lte=clock.now())[:100]


def feed(request: HttpRequest) -> HttpResponse:
    from .feeds import atom

    return HttpResponse(atom(_published()), content_type="application/atom+xml; charset=utf-8")


def feed_csv(request: HttpRequest) -> HttpResponse:
    from .feeds import as_csv

    response = HttpResponse(as_csv(_published()), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="announcements.csv"'
    return response
