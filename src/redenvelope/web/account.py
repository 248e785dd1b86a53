"""Joining, signing in, and the member's account page. Thin: every change is an action
(billing.sign_up, membership's place_hold / cancel / rejoin / change_address / change_email /
set_muted_emails, billing.change_plan)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_encode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from redenvelope.accounts.forms import SignInForm
from redenvelope.billing import actions as billing
from redenvelope.catalog.models import Genre
from redenvelope.core.errors import DomainError
from redenvelope.growth.views import signup_source
from redenvelope.membership import actions as membership
from redenvelope.membership import emails
from redenvelope.membership.decorators import member_of, member_required
from redenvelope.membership.models import Member, MemberStatus, Plan

JOIN_FIELDS = (
    "plan",
    "first_name",
    "last_name",
    "email",
    "password",
    "street",
    "city",
    "state",
    "zip_code",
    "card_number",
    "exp_month",
    "exp_year",
    "gift_code",
)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        return nxt
    return fallback


def join(request: HttpRequest) -> HttpResponse:
    """Sign up: plan, name, email, password, address, card, optional gift code."""
    if request.user.is_authenticated:
        return redirect("home")
    plans = list(Plan.objects.filter(active=True).order_by("discs_at_once", "monthly_price"))
    values = {f: request.POST.get(f, "") for f in JOIN_FIELDS}
    if request.method != "POST":
        values["plan"] = request.GET.get("plan", "")
    values["password"] = ""
    error = ""
    status = 200
    if request.method == "POST":
        plan = next((p for p in plans if p.code == request.POST.get("plan")), None)
        try:
            if plan is None:
                raise DomainError("Choose one of the plans.", code="no_plan")
            member = billing.sign_up(
                plan=plan,
                after_join=signup_source(request),
                **{f: request.POST.get(f, "") for f in JOIN_FIELDS if f != "plan"},
            )
        except DomainError as exc:
            error, status = exc.message, exc.status_code
        else:
            chosen = request.POST.getlist("genre")
            if chosen:
                try:
                    membership.set_favourite_genres(member, chosen, actor=member.user)
                except DomainError as exc:  # a tampered form: the membership stands
                    messages.error(request, exc.message)
            login(request, member.user, backend="redenvelope.accounts.forms.EmailOrUsernameBackend")
            messages.success(
                request,
                f"Welcome to Red Envelope! Your free trial runs until "
                f"{member.trial_ends_on:%B %-d}. We sent a link to {member.user.email} to "
                "confirm your address. Now fill your queue.",
            )
            if request.session.get("pending_add"):
                return redirect("complete_add")
            return redirect(reverse("catalog") + "?welcome=1")
    return render(
        request,
        "web/join.html",
        {
            "plans": plans,
            "v": values,
            "error": error,
            "next": _safe_next(request, ""),
            "genres": Genre.objects.all(),
            "chosen": set(request.POST.getlist("genre")),
        },
        status=status,
    )


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        member = membership.verify_email(token)
    except DomainError as exc:
        return render(request, "web/refused.html", {"message": exc.message}, status=400)
    messages.success(request, f"Thanks: {member.user.email} is confirmed.")
    return redirect("account" if member_of(request) else "login")


@require_POST
@member_required
def resend_verification(request: HttpRequest) -> HttpResponse:
    member = request.member
    if membership.resend_verification(member, actor=request.user):
        messages.success(request, f"We sent a new link to {member.user.email}.")
    else:
        messages.success(request, "Your email address is already confirmed.")
    return redirect("account")


def _account_context(member: Member, request: HttpRequest) -> dict:
    from redenvelope.core import clock

    today = clock.today()
    holds = list(member.holds.filter(cancelled_at=None, ends_on__gt=today).order_by("starts_on"))
    return {
        "member": member,
        "user": request.user,
        "plans": Plan.objects.filter(active=True).order_by("discs_at_once", "monthly_price"),
        "holds": holds,
        "today": today,
        "hold_max_days": settings.REDENVELOPE.get("HOLD_MAX_DAYS", 90),
        "notice_kinds": emails.NOTICE_KINDS,
        "muted": set(member.muted),
        "password_form": PasswordChangeForm(request.user),
        "retention_months": settings.REDENVELOPE.get("QUEUE_RETENTION_DAYS", 730) // 30,
        "cancelled": member.status == MemberStatus.CANCELLED,
    }


@member_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "web/account.html", _account_context(request.member, request))


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise DomainError(f"The {what} date is a day like 2026-12-24.", code="bad_date") from None


@require_POST
@member_required
def account_action(request: HttpRequest) -> HttpResponse:
    """Every account change posts here with its `action`; a refusal shows on the page and
    changes nothing."""
    member, post, user = request.member, request.POST, request.user
    what = post.get("action", "")
    try:
        if what == "hold":
            starts, ends = _date(post.get("starts_on"), "start"), _date(post.get("ends_on"), "end")
            membership.place_hold(member, starts, ends, actor=user)
            done = f"Hold set: nothing ships from {starts:%B %-d} to {ends:%B %-d}."
        elif what == "cancel_hold":
            hold = member.holds.filter(pk=post.get("hold") or 0, cancelled_at=None).first()
            if hold is None:
                raise DomainError("No such hold on your account.", code="not_found")
            membership.cancel_hold(hold, actor=user)
            done = "Hold cancelled."
        elif what == "plan":
            plan = Plan.objects.filter(code=post.get("plan", ""), active=True).first()
            if plan is None:
                raise DomainError("Choose one of the plans on offer.")
            result = billing.change_plan(member, plan, actor=user)
            if result["statement"] is not None:
                done = (
                    f"You are on {plan.name} from today; the rest of this period costs "
                    f"${result['statement'].total_due}."
                )
            elif result["when"] == "now":
                done = f"You are on {plan.name}."
            else:
                done = f"You move to {plan.name} on {result['when']:%B %-d}."
        elif what == "cancel":
            membership.cancel(member, actor=user, reason=post.get("reason", "")[:200] or "member")
            months = _account_context(member, request)["retention_months"]
            done = f"Your membership is cancelled. We keep your queue for {months} months."
        elif what == "rejoin":
            plan = Plan.objects.filter(code=post.get("plan", ""), active=True).first()
            membership.rejoin(member, plan=plan, actor=user)
            done = "Welcome back! Your queue is just as you left it."
        elif what == "address":
            membership.change_address(
                member,
                street=post.get("street", "").strip(),
                city=post.get("city", "").strip(),
                state=post.get("state", "").strip(),
                zip_code=post.get("zip_code", "").strip(),
                actor=user,
            )
            done = "Address changed. Discs already on their way still come to the old one."
        elif what == "email":
            member = membership.change_email(member, post.get("email", ""), actor=user)
            done = f"Email changed; we sent a link to {member.user.email} to confirm it."
        elif what == "password":
            form = PasswordChangeForm(user, post)
            if not form.is_valid():
                raise DomainError(" ".join(m for e in form.errors.values() for m in e))
            form.save()
            update_session_auth_hash(request, form.user)
            done = "Password changed."
        elif what == "emails":
            wanted = set(post.getlist("notice"))
            membership.set_muted_emails(
                member, [k for k in emails.NOTICE_KINDS if k not in wanted], actor=user
            )
            done = "Email preferences saved."
        else:
            raise DomainError(f"Unknown account action {what!r}.")
    except DomainError as exc:
        messages.error(request, exc.message)
        ctx = _account_context(Member.objects.get(pk=member.pk), request)
        ctx["failed"] = what
        return render(request, "web/account.html", ctx, status=exc.status_code)
    messages.success(request, done)
    return redirect("account")


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One-click unsubscribe (RFC 8058): a mail client POSTs here; a person opening the link
    sees a page with one button (a GET changes nothing)."""
    found = emails.read_unsubscribe_token(token)
    member = Member.objects.filter(pk=found[0]).first() if found else None
    if member is None or found[1] not in emails.NOTICE_KINDS:
        return render(
            request,
            "web/refused.html",
            {"message": "That unsubscribe link is not valid."},
            status=400,
        )
    kind = found[1]
    if request.method == "POST":
        membership.set_muted_emails(member, set(member.muted) | {kind})
        return render(request, "web/unsubscribed.html", {"label": emails.NOTICE_KINDS[kind]})
    return render(
        request,
        "web/unsubscribe.html",
        {"label": emails.NOTICE_KINDS[kind], "token": token},
    )


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, its email queued to the outbox (sent after the commit, through
    Django's email framework) instead of sent inline."""

    def save(self, domain_override=None, request=None, **kwargs):
        email = self.cleaned_data["email"]
        for user in self.get_users(email):
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            link = emails.site_url(reverse("password_reset_confirm", args=[uid, token]))
            emails.send_password_reset(user, link, token)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    template_name = "web/password_reset.html"
