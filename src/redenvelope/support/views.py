"""The agent console (find the member, see everything at once, act on a case), the leads'
approval queue and flags, and members' own cases. Thin: every change is an `actions` call."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import Role, has_role, role_required
from redenvelope.billing.models import Fee, Statement
from redenvelope.core.errors import DomainError
from redenvelope.membership.decorators import member_required
from redenvelope.membership.models import Member
from redenvelope.streaming import actions as streaming_actions
from redenvelope.streaming import queries as streaming_queries

from . import actions, queries
from .models import (
    Action,
    Approval,
    Article,
    Call,
    Case,
    Channel,
    Flag,
    Interaction,
    OwnDisc,
    Reason,
    Survey,
)

AGENTS = (Role.SUPPORT_AGENT, Role.SUPPORT_LEAD, Role.ADMIN)
LEADS = (Role.SUPPORT_LEAD, Role.ADMIN)


def _try(request, ok: str, fn, *args, **kwargs):
    """Call an action; its refusal becomes the page's error, nothing changed."""
    try:
        result = fn(*args, **kwargs)
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    if ok:
        messages.success(request, ok)
    return result


@role_required(*AGENTS)
def console(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    found, error = None, ""
    if q:
        try:
            found = queries.find_members(q)
        except DomainError as exc:
            error = exc.message
    return render(
        request,
        "support/console.html",
        {
            "q": q,
            "found": found,
            "error": error,
            "cases": [(c, actions.sla(c)) for c in queries.open_cases()],
            "waiting": queries.waiting_approvals().count(),
            "is_lead": has_role(request.user, *LEADS),
        },
    )


@role_required(*AGENTS)
def ringing(request: HttpRequest) -> HttpResponse:
    """The calls ringing or in progress (polled by the console): each opens the caller's record."""
    calls = Call.objects.filter(ended_at=None).select_related("member__user")[:10]
    return render(request, "support/_ringing.html", {"calls": calls})


@role_required(*AGENTS)
def member(request: HttpRequest, member_id: int) -> HttpResponse:
    m = get_object_or_404(Member.objects.select_related("user", "plan"), pk=member_id)
    ctx = queries.member_glance(m)
    ctx.update(
        {
            "m": m,
            "reasons": Reason.choices,
            "channels": Channel.choices,
            "call": Call.objects.filter(pk=request.GET.get("call") or 0, member=m).first(),
            "given": actions.given_this_quarter(m.pk),
            "is_lead": has_role(request.user, *LEADS),
            "devices": streaming_queries.devices_of(m.pk),
            "playing": streaming_actions.playing_sessions(m.pk),
        }
    )
    return render(request, "support/member.html", ctx)


@require_POST
@role_required(*AGENTS)
def remove_device(request: HttpRequest, member_id: int, device_id: int) -> HttpResponse:
    """An agent removes a member's device (lost, sold, shared): its token stops working."""
    m = get_object_or_404(Member, pk=member_id)
    _try(
        request,
        "Device removed; it is signed out and its screen stopped.",
        streaming_actions.remove_device,
        device_id,
        actor=request.user,
        member=m,
    )
    return redirect("support_member", member_id=m.pk)


@require_POST
@role_required(*AGENTS)
def open_case(request: HttpRequest, member_id: int) -> HttpResponse:
    m = get_object_or_404(Member, pk=member_id)
    post = request.POST
    call = Call.objects.filter(pk=post.get("call") or 0).first()
    if call is not None:
        case = _try(
            request,
            "Call logged on a new case.",
            actions.log_call,
            call,
            actor=request.user,
            note=post.get("body", ""),
            member=m,
            reason=post.get("reason", "other"),
            subject=post.get("subject", ""),
        )
    else:
        case = _try(
            request,
            "Case opened.",
            actions.open_case,
            m,
            channel=post.get("channel", "phone"),
            subject=post.get("subject", ""),
            body=post.get("body", ""),
            reason=post.get("reason", "other"),
            actor=request.user,
            kind=Interaction.Kind.NOTE if post.get("channel") == "web" else None,
        )
    if case is None:
        return redirect("support_member", member_id=m.pk)
    return redirect("support_case", case_id=case.pk)


@role_required(*AGENTS)
def case(request: HttpRequest, case_id: int) -> HttpResponse:
    c = get_object_or_404(Case.objects.select_related("member__user", "member__plan"), pk=case_id)
    ctx = {
        "c": c,
        "interactions": c.interactions.select_related("author").prefetch_related("attachments"),
        "actions": c.actions.select_related("actor", "approved_by"),
        "approvals": c.approvals.select_related("requested_by", "decided_by"),
        "kinds": Action.Kind.choices,
        "statuses": [s for s in Case.Status.choices if s[0] != "new"],
        "key": uuid.uuid4().hex,
        "is_lead": has_role(request.user, *LEADS),
        "sla": actions.sla(c),
    }
    if c.member is not None:
        ctx["shipments"] = c.member.shipments.select_related("copy__title").order_by("-shipped_at")[
            :10
        ]
        ctx["fees"] = Fee.objects.filter(member=c.member).exclude(status="waived")
        ctx["given"] = actions.given_this_quarter(c.member_id)
        ctx["statements"] = Statement.objects.filter(member=c.member).order_by("-period_start")[:12]
        ctx["own"] = OwnDisc.objects.filter(case=c).select_related("scan__dc").first()
        ctx["own_value"] = actions.own_disc_value()
    return render(request, "support/case.html", ctx)


@require_POST
@role_required(*AGENTS)
def case_do(request: HttpRequest, case_id: int) -> HttpResponse:
    c = get_object_or_404(Case, pk=case_id)
    post, what = request.POST, request.POST.get("do", "")
    if what == "say":
        kind = post.get("kind", "note")
        if kind == Interaction.Kind.EMAIL_OUT:
            _try(
                request,
                "Email sent.",
                actions.reply_by_email,
                c,
                post.get("body", ""),
                actor=request.user,
            )
        else:
            _try(
                request,
                "Added.",
                actions.add_interaction,
                c,
                kind=kind,
                body=post.get("body", ""),
                actor=request.user,
            )
    elif what == "status":
        _try(
            request,
            "Status changed.",
            actions.set_status,
            c,
            post.get("status", ""),
            actor=request.user,
            reason=post.get("reason", ""),
        )
    elif what == "resend":
        _try(
            request,
            "Statement sent again.",
            actions.resend_statement,
            c,
            post.get("statement", ""),
            actor=request.user,
            idempotency_key=post.get("key", ""),
        )
    elif what == "settle_own_disc":
        _try(request, "Settled.", actions.settle_own_disc, c, actor=request.user)
    elif what == "take":
        _try(request, "The case is yours.", actions.assign, c, request.user, actor=request.user)
    elif what == "give":
        got = _try(
            request,
            "",
            actions.compensate,
            c,
            post.get("kind", ""),
            actor=request.user,
            reason=post.get("reason", ""),
            amount=post.get("amount") or None,
            percent=post.get("percent") or None,
            rentals=post.get("rentals") or None,
            target=f"day:{post['day']}" if post.get("day") else post.get("target", ""),
            idempotency_key=post.get("key") or None,
        )
        if isinstance(got, Approval):
            messages.warning(request, f"Over your limits ({got.why_waiting}): sent to a lead.")
        elif got is not None:
            messages.success(request, f"Done: {got.get_kind_display()}.")
    else:
        messages.error(request, "Unknown request.")
    return redirect("support_case", case_id=c.pk)


@require_POST
@role_required(*LEADS)
def close_member(request: HttpRequest, member_id: int) -> HttpResponse:
    _try(
        request,
        "Membership closed; the member has been told by email.",
        actions.close_for_abuse,
        member_id,
        actor=request.user,
        reason=request.POST.get("reason", ""),
    )
    return redirect("support_member", member_id=member_id)


@role_required(*LEADS)
def approvals(request: HttpRequest) -> HttpResponse:
    return render(request, "support/approvals.html", {"rows": queries.waiting_approvals()})


@require_POST
@role_required(*LEADS)
def decide(request: HttpRequest, approval_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    _try(
        request,
        "Approved and given." if approve else "Turned down.",
        actions.decide,
        approval_id,
        approve=approve,
        actor=request.user,
        note=request.POST.get("note", ""),
    )
    return redirect("support_approvals")


@role_required(*AGENTS)
def flags(request: HttpRequest) -> HttpResponse:
    rows = Flag.objects.filter(status=Flag.Status.OPEN).select_related("member__user")[:200]
    return render(
        request, "support/flags.html", {"rows": rows, "is_lead": has_role(request.user, *LEADS)}
    )


@require_POST
@role_required(*LEADS)
def clear_flag(request: HttpRequest, flag_id: int) -> HttpResponse:
    _try(
        request,
        "Flag cleared.",
        actions.clear_flag,
        flag_id,
        actor=request.user,
        reason=request.POST.get("reason", ""),
    )
    return redirect("support_flags")


# --- members -----------------------------------------------------------------------------------


@member_required
def my_cases(request: HttpRequest) -> HttpResponse:
    rows = Case.objects.filter(member=request.member).order_by("-opened_at")[:50]
    return render(
        request,
        "support/my_cases.html",
        {
            "rows": rows,
            "reasons": Reason.choices,
            "own_choices": OwnDisc.Choice.choices,
            "own_value": actions.own_disc_value(),
            "discs_here": queries.members_discs_waiting(request.member.pk),
        },
    )


@require_POST
@member_required
def my_own_disc(request: HttpRequest) -> HttpResponse:
    """ "I mailed back my own disc": what it is, and mail it back or a credit for it."""
    case = _try(
        request,
        "Thanks: we will look for your disc at the return desk.",
        actions.report_own_disc,
        request.member,
        choice=request.POST.get("choice", ""),
        description=request.POST.get("description", ""),
        scan_id=request.POST.get("scan") or None,
        actor=request.user,
    )
    return redirect("my_case", case_id=case.pk) if case else redirect("my_cases")


@require_POST
@member_required
def my_new_case(request: HttpRequest) -> HttpResponse:
    case = _try(
        request,
        "We have your message and will answer here and by email.",
        actions.open_case,
        request.member,
        channel=Channel.WEB,
        subject=request.POST.get("subject", ""),
        body=request.POST.get("body", ""),
        reason=request.POST.get("reason", "other"),
        actor=request.user,
    )
    return redirect("my_case", case_id=case.pk) if case else redirect("my_cases")


@require_POST
@member_required
def restore_queue(request: HttpRequest) -> HttpResponse:
    case = _try(
        request,
        "Your queue is back as it was on that day.",
        actions.restore_my_queue,
        request.member,
        request.POST.get("day", ""),
        actor=request.user,
    )
    return redirect("queue") if case else redirect("my_cases")


@member_required
def my_case(request: HttpRequest, case_id: int) -> HttpResponse:
    c = Case.objects.filter(pk=case_id, member=request.member).first()
    if c is None:
        raise Http404("No such case.")
    if request.method == "POST":
        _try(
            request,
            "Sent.",
            actions.add_interaction,
            c,
            kind=Interaction.Kind.FORM,
            body=request.POST.get("body", ""),
            actor=request.user,
        )
        return redirect("my_case", case_id=c.pk)
    rows = c.interactions.exclude(kind=Interaction.Kind.NOTE)
    survey = Survey.objects.filter(case=c, answered_at=None).first()
    token = actions.survey_token(c.pk) if survey else ""
    return render(
        request, "support/my_case.html", {"c": c, "interactions": rows, "survey_token": token}
    )


@member_required
def chat_panel(request: HttpRequest) -> HttpResponse:
    """The chat box's conversation (polled every few seconds while open)."""
    case = actions.current_chat(request.member)
    rows = case.interactions.exclude(kind=Interaction.Kind.NOTE) if case else []
    return render(request, "support/_chat.html", {"chat": case, "rows": rows})


@require_POST
@member_required
def chat_send(request: HttpRequest) -> HttpResponse:
    error = ""
    try:
        actions.chat(request.member, request.POST.get("body", ""), actor=request.user)
    except DomainError as exc:
        error = exc.message
    case = actions.current_chat(request.member)
    rows = case.interactions.exclude(kind=Interaction.Kind.NOTE) if case else []
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(request.POST.get("next") or "my_cases")
    return render(request, "support/_chat.html", {"chat": case, "rows": rows, "error": error})


@require_POST
@member_required
def chat_transcript(request: HttpRequest, case_id: int) -> HttpResponse:
    c = Case.objects.filter(pk=case_id, member=request.member).first()
    if c is None:
        raise Http404("No such case.")
    _try(
        request,
        "The conversation is on its way to your inbox.",
        actions.email_transcript,
        c,
        actor=request.user,
    )
    return redirect("my_case", case_id=c.pk)


@role_required(*AGENTS)
def chats_waiting(request: HttpRequest) -> HttpResponse:
    """Chats whose last word is the member's (polled by the console)."""
    return render(request, "support/_chats.html", {"rows": queries.chats_waiting()})


@role_required(*AGENTS)
def case_log(request: HttpRequest, case_id: int) -> HttpResponse:
    """A case's conversation (polled on the case page, so chat answers arrive live)."""
    c = get_object_or_404(Case, pk=case_id)
    rows = c.interactions.select_related("author").prefetch_related("attachments")
    return render(request, "support/_log.html", {"interactions": rows})


# --- help center --------------------------------------------------------------------------------


def help_center(request: HttpRequest) -> HttpResponse:
    """Articles anyone can read, searchable."""
    q = request.GET.get("q", "")
    rows = actions.search_articles(q)
    return render(request, "support/help.html", {"q": q, "rows": rows})


def _reader(request) -> str:
    from redenvelope.membership.decorators import member_of

    member = member_of(request)
    if member is not None:
        return f"member:{member.pk}"
    if not request.session.session_key:
        request.session.save()
    return f"session:{request.session.session_key}"


def article(request: HttpRequest, slug: str) -> HttpResponse:
    row = Article.objects.filter(slug=slug, published=True).first()
    if row is None:
        raise Http404("No such article.")
    if request.method == "POST":
        actions.vote_article(row, _reader(request), request.POST.get("helpful") == "yes")
        messages.success(request, "Thanks for telling us.")
        return redirect("help_article", slug=row.slug)
    return render(
        request,
        "support/article.html",
        {"a": row, "html": actions.render_markdown(row.body)},
    )


@role_required(*AGENTS)
def articles_admin(request: HttpRequest) -> HttpResponse:
    rows = actions.search_articles(request.GET.get("q", ""), staff=True, limit=500)
    return render(request, "support/articles.html", {"rows": rows})


@role_required(*AGENTS)
def article_edit(request: HttpRequest, article_id: int | None = None) -> HttpResponse:
    row = get_object_or_404(Article, pk=article_id) if article_id else None
    if request.method == "POST":
        saved = _try(
            request,
            "Saved.",
            actions.save_article,
            actor=request.user,
            title=request.POST.get("title", ""),
            body=request.POST.get("body", ""),
            slug=request.POST.get("slug", ""),
            published=request.POST.get("published") == "on",
            article=row,
        )
        if saved is not None:
            return redirect("support_article_edit", article_id=saved.pk)
    return render(request, "support/article_edit.html", {"a": row})


def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The one-question survey, from the email's link (signed; no sign-in needed) or the site."""
    from django.core import signing

    try:
        case_id = signing.loads(token, salt="support-survey", max_age=60 * 60 * 24 * 60)
    except signing.BadSignature:
        raise Http404("This survey link is not valid (or is over 60 days old).") from None
    row = get_object_or_404(Survey.objects.select_related("case"), case_id=case_id)
    if request.method == "POST" and _try(
        request,
        "Thank you.",
        actions.answer_survey,
        case_id,
        request.POST.get("score", ""),
        request.POST.get("comment", ""),
    ):
        return redirect("support_survey", token=token)
    return render(request, "support/survey.html", {"s": row, "token": token})


@role_required(*LEADS, Role.OPERATIONS)
def report(request: HttpRequest, name: str) -> HttpResponse:
    """A support report over a span of days (default: the last 30), as a page or CSV."""
    import csv
    import datetime as dt

    from redenvelope.core import clock

    from . import reports

    if name not in reports.REPORTS:
        raise Http404("No such report.")
    title, fn = reports.REPORTS[name]
    try:
        end = dt.date.fromisoformat(request.GET.get("to") or clock.today().isoformat())
        start = dt.date.fromisoformat(
            request.GET.get("from") or (end - dt.timedelta(days=29)).isoformat()
        )
    except ValueError:
        messages.error(request, "Dates are YYYY-MM-DD.")
        return redirect("support_report", name=name)
    if start > end or (end - start).days > 366:
        messages.error(request, "Choose a span of at most a year, the start before the end.")
        return redirect("support_report", name=name)
    columns, rows = fn(start, end)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="support-{name}-{start}-{end}.csv"'
        writer = csv.writer(response)
        writer.writerow(columns)
        writer.writerows(rows)
        return response
    return render(
        request,
        "support/report.html",
        {
            "title": title,
            "name": name,
            "columns": columns,
            "rows": rows,
            "start": start,
            "end": end,
            "reports": reports.REPORTS,
        },
    )
