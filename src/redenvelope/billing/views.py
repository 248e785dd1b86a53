"""Billing pages: the member's own billing, and finance and support staff's views. Thin: reads
come from models and reports, every change from `actions`."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import Role, has_role, role_required
from redenvelope.core import parse
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.models import Incident
from redenvelope.ledger.models import JournalLine
from redenvelope.membership.decorators import member_required
from redenvelope.membership.models import Member, Plan

from . import actions, reports
from .documents import statement_pdf
from .models import Credit, Fee, OutageCompensation, Payment, PaymentMethod, Statement
from .queries import balance

SUPPORT = (Role.SUPPORT_AGENT, Role.SUPPORT_LEAD)
FINANCE = (Role.FINANCE, Role.ADMIN)


def _done(request, ok_message: str, fn, *args, **kwargs):
    """Call an action; its refusal becomes the page's error message, nothing changed. Where
    fields must be parsed first, pass a lambda that parses and calls: a field that does not
    parse is refused the same way."""
    try:
        fn(*args, **kwargs)
    except DomainError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, ok_message)
    return True


# --- members ------------------------------------------------------------------------------------


@member_required
def member_billing(request: HttpRequest) -> HttpResponse:
    member = request.member
    return render(
        request,
        "billing/member.html",
        {
            "member": member,
            "statements": member.statements.select_related("plan").order_by("-period_start", "-id")[
                :36
            ],
            "credits": member.credits.order_by("-issued_at")[:36],
            "fees": member.fees.order_by("-created_at")[:12],
            "methods": member.payment_methods.filter(removed_at=None),
            "plans": Plan.objects.filter(active=True),
            "current": actions.current_statement(member),
            "balance": balance(member),
            "key": uuid.uuid4().hex,
        },
    )


@require_POST
@member_required
def member_action(request: HttpRequest) -> HttpResponse:
    member, post, what = request.member, request.POST, request.POST.get("action", "")
    if what == "add_card":
        _done(
            request,
            "Card saved; it is now your payment method.",
            lambda: actions.add_payment_method(
                member,
                kind="card",
                number=post.get("number", ""),
                exp_month=parse.optional_integer(
                    post.get("exp_month"), "Expiry month", lo=1, hi=12
                ),
                exp_year=parse.optional_integer(
                    post.get("exp_year"), "Expiry year", lo=2000, hi=2100
                ),
                actor=request.user,
            ),
        )
    elif what == "add_bank":
        _done(
            request,
            "Checking account saved; it is now your payment method.",
            actions.add_payment_method,
            member,
            kind="bank",
            routing=post.get("routing", ""),
            account=post.get("account", ""),
            actor=request.user,
        )
    elif what == "remove_method":
        method = get_object_or_404(PaymentMethod, pk=post.get("method"), member=member)
        _done(
            request,
            "Payment method removed.",
            actions.remove_payment_method,
            method,
            member=member,
            actor=request.user,
        )
    elif what == "pay":
        statement = get_object_or_404(
            Statement, pk=parse.record_id(post.get("statement"), "statement"), member=member
        )
        try:
            payment = actions.pay_statement(
                statement, member=member, actor=request.user, idempotency_key=post.get("key")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if payment.status == "succeeded":
                messages.success(request, f"Paid ${payment.amount}. Thank you!")
            else:
                messages.error(request, f"The payment did not go through: {payment.message}")
    elif what == "change_plan":
        plan = get_object_or_404(Plan, pk=parse.record_id(post.get("plan"), "plan"))
        try:
            result = actions.change_plan(member, plan, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if result["statement"] is not None:
                messages.success(
                    request,
                    f"You are on {plan.name} from today; the rest of this period costs "
                    f"${result['statement'].total_due}.",
                )
            elif result["when"] == "now":
                messages.success(request, f"You are on {plan.name}.")
            else:
                messages.success(request, f"You move to {plan.name} on {result['when']:%B %-d}.")
    elif what == "cancel":
        _done(
            request,
            "Your membership will end as planned; you can change your mind until then.",
            actions.request_cancellation,
            member,
            actor=request.user,
            reason=post.get("reason", "")[:200],
        )
    elif what == "keep":
        _done(request, "Glad you're staying!", actions.keep_membership, member, actor=request.user)
    elif what == "redeem":
        _done(
            request,
            "Gift redeemed: it pays your next statements.",
            actions.redeem_gift,
            member,
            post.get("code", ""),
            actor=request.user,
        )
    else:
        messages.error(request, "Unknown request.")
    return redirect("billing")


def statement_download(request: HttpRequest, statement_id: int) -> HttpResponse:
    """A statement as PDF: its member, or support and finance staff."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    statement = get_object_or_404(
        Statement.objects.select_related("member__user", "plan"), pk=statement_id
    )
    own = statement.member.user_id == request.user.pk
    if not own and not has_role(request.user, *SUPPORT, *FINANCE):
        raise PermissionDenied("That statement is not yours.")
    response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{statement.period_start}-{statement.pk}.pdf"'
    )
    return response


# --- staff --------------------------------------------------------------------------------------


@role_required(*SUPPORT, *FINANCE)
def finance_index(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    found = []
    if q:
        cond = Q(user__username__icontains=q) | Q(user__email__icontains=q)
        if q.isascii() and q.isdigit() and len(q) < 18:
            cond |= Q(pk=int(q))
        found = Member.objects.filter(cond).select_related("user", "plan")[:25]
    return render(
        request,
        "billing/finance_index.html",
        {
            "q": q,
            "found": found,
            "reports": reports.REPORTS,
            "can_report": has_role(request.user, *FINANCE),
        },
    )


@role_required(*FINANCE)
def report(request: HttpRequest, name: str) -> HttpResponse:
    kind = reports.REPORTS[name][1] if name in reports.REPORTS else ""
    return reports.respond(
        request, reports.REPORTS, reports.build, name, "billing/report.html", kind=kind
    )


@role_required(*SUPPORT, *FINANCE)
def staff_member(request: HttpRequest, member_id: int) -> HttpResponse:
    member = get_object_or_404(Member.objects.select_related("user", "plan"), pk=member_id)
    is_finance = has_role(request.user, *FINANCE)
    ctx = {
        "m": member,
        "balance": balance(member),
        "statements": member.statements.select_related("plan").order_by("-period_start", "-id")[
            :24
        ],
        "payments": member.payments.select_related("method")[:24],
        "credits": member.credits.select_related("issuer")[:24],
        "fees": member.fees.all()[:24],
        "methods": member.payment_methods.all(),
        "is_finance": is_finance,
        "limit": actions.credit_limit(request.user),
        "key": uuid.uuid4().hex,
        "kinds": Credit.Kind.choices,
    }
    if is_finance:
        ctx["lines"] = (
            JournalLine.objects.filter(member_id=member.pk)
            .select_related("entry", "account")
            .order_by("-entry__effective_date", "-id")[:100]
        )
    return render(request, "billing/staff_member.html", ctx)


@require_POST
@role_required(*SUPPORT, *FINANCE)
def staff_member_action(request: HttpRequest, member_id: int) -> HttpResponse:
    member = get_object_or_404(Member, pk=member_id)
    post, what = request.POST, request.POST.get("action", "")
    if what == "credit":
        kind = post.get("kind", "account")
        _done(
            request,
            "Credit given.",
            lambda: actions.issue_credit(
                member,
                post.get("amount") or None if kind == "account" else None,
                kind=kind,
                percent=parse.optional_integer(post.get("percent"), "Percent", lo=1, hi=100)
                if kind == "percent"
                else None,
                rentals=parse.optional_integer(post.get("rentals"), "Rentals", lo=1, hi=99)
                if kind == "bonus_rentals"
                else None,
                reason=post.get("reason", ""),
                issuer=request.user,
                idempotency_key=post.get("key") or None,
            ),
        )
    elif what == "waive":
        fee = get_object_or_404(Fee, pk=parse.record_id(post.get("fee"), "fee"), member=member)
        _done(
            request,
            "Fee waived.",
            actions.waive_fee,
            fee,
            actor=request.user,
            reason=post.get("reason", ""),
        )
    elif what == "fee":
        _done(
            request,
            "Fee charged.",
            actions.charge_fee,
            member,
            post.get("kind", ""),
            reason=post.get("reason", ""),
            issuer=request.user,
            idempotency_key=post.get("key") or None,
        )
    elif what == "refund":
        payment = get_object_or_404(
            Payment, pk=parse.record_id(post.get("payment"), "payment"), member=member
        )
        _done(
            request,
            "Refund sent.",
            actions.refund_payment,
            payment,
            post.get("amount") or None,
            reason=post.get("reason", ""),
            issuer=request.user,
        )
    else:
        messages.error(request, "Unknown request.")
    return redirect("staff_member_billing", member_id=member.pk)


OUTAGE_ROLES = (Role.SUPPORT_LEAD, Role.FINANCE, Role.OPERATIONS, Role.ADMIN)


@role_required(*OUTAGE_ROLES)
def outages(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            incident = get_object_or_404(
                Incident, pk=parse.record_id(request.POST.get("incident"), "incident")
            )
            comp = actions.compensate_outage(
                incident,
                parse.integer(request.POST.get("percent"), "Percent off", lo=1, hi=100),
                issuer=request.user,
                reason=request.POST.get("reason", ""),
                via="web",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"{comp.members:,} members get {comp.percent}% off their next statement."
            )
        return redirect("outages")
    done = {c.incident_id: c for c in OutageCompensation.objects.select_related("issuer")}
    incidents = list(Incident.objects.select_related("dc")[:50])
    for i in incidents:
        i.comp = done.get(i.pk)
    from django.conf import settings

    cap = int(settings.REDENVELOPE.get("OUTAGE_MAX_PERCENT", 25))
    return render(request, "billing/outages.html", {"incidents": incidents, "cap": cap})


@member_required
def gifts(request: HttpRequest) -> HttpResponse:
    """Buy a gift subscription for someone (its code is shown once bought)."""
    bought = None
    if request.method == "POST":
        post = request.POST
        try:
            plan = get_object_or_404(
                Plan, pk=parse.record_id(post.get("plan"), "plan"), active=True
            )
            bought = actions.purchase_gift(
                plan=plan,
                months=parse.integer(post.get("months"), "Months", lo=1, hi=24),
                purchaser_name=post.get("purchaser_name", "")[:100],
                purchaser_email=post.get("purchaser_email", ""),
                card_number=post.get("number", ""),
                exp_month=parse.integer(post.get("exp_month"), "Expiry month", lo=1, hi=12),
                exp_year=parse.integer(post.get("exp_year"), "Expiry year", lo=2000, hi=2100),
                then=post.get("then", "continue"),
                buyer=request.user,
                idempotency_key=post.get("key") or None,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "billing/gifts.html",
        {"plans": Plan.objects.filter(active=True), "bought": bought, "key": uuid.uuid4().hex},
    )
