"""Every change in customer service: one function each, atomic, recorded (who, why, the case).

Compensation goes to the member through billing's own functions (credits, percentages off,
bonus rentals, fee waivers) and fulfillment's (a disc marked lost): support decides whether the
asker may give it (limits per role, per case and per member per quarter) and keeps the record.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from redenvelope.accounts.roles import Role, roles_of
from redenvelope.billing import actions as billing
from redenvelope.billing.models import Credit, Fee
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden, NotFound
from redenvelope.core.mail import queue_email
from redenvelope.fulfillment import actions as fulfillment
from redenvelope.fulfillment.models import Shipment
from redenvelope.ledger.money import to_money
from redenvelope.membership.models import Member, MemberStatus
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry

from .models import Action, Approval, Case, Channel, Flag, Interaction, OwnDisc, Reason, Survey

AGENT_ROLES = frozenset({Role.SUPPORT_AGENT.value, Role.SUPPORT_LEAD.value, Role.ADMIN.value})
APPROVER_ROLES = frozenset({Role.SUPPORT_LEAD.value, Role.ADMIN.value})

# Per role: the most one case may give, in months of the member's plan price, and the most a
# member may be given in a calendar quarter (all cases), in money. Admins have no limit.
DEFAULT_LIMITS = {
    "support_agent": {"case_months": 1, "quarter": "40.00"},
    "support_lead": {"case_months": 3, "quarter": "150.00"},
}
# Abuse rules (REDENVELOPE["SUPPORT_RULES"]): lost-disc claims in a window of days.
# Service levels per channel, in minutes on a 24/7 clock: (first response, resolution).
DEFAULT_SLA = {"phone": [5, 1440], "chat": [5, 1440], "email": [240, 2880], "web": [240, 2880]}
DEFAULT_RULES = {
    "lost_claims": {"count": 3, "days": 90},  # "never arrived" reports
    "chargebacks": {"count": 2, "days": 365},
    "trials_per_card": {"count": 2},  # members on free trials who used one card
    "trials_per_address": {"count": 3},  # members on free trials at one street address
    "own_disc": {"count": 2, "days": 180},  # cases: the member mailed back their own disc
}


def _setting(name: str, default):
    return settings.REDENVELOPE.get(name, default)


def _require(user, roles, what: str) -> None:
    if user is None or not roles_of(user) & roles:
        raise Forbidden(f"Your role does not allow {what}.")


def _touch(case: Case, channel: str | None = None) -> None:
    case.updated_at = clock.now()
    fields = ["updated_at"]
    if channel and channel not in case.channels.split(","):
        case.channels = ",".join(c for c in [*case.channels.split(","), channel] if c)
        fields.append("channels")
    case.save(update_fields=fields)


def _note(case: Case, text: str, actor=None) -> Interaction:
    return Interaction.objects.create(
        case=case,
        member_id=case.member_id,
        kind=Interaction.Kind.SYSTEM,
        at=clock.now(),
        author=actor,
        body=text,
    )


# ---------------------------------------------------------------------------------------------
# Cases and interactions


@transaction.atomic
def open_case(
    member: Member | None,
    *,
    channel: str,
    subject: str,
    body: str = "",
    reason: str = Reason.OTHER,
    actor=None,
    contact: str = "",
    kind: str | None = None,
    message_id: str | None = None,
    at: dt.datetime | None = None,
) -> Case:
    """A new case, with its first interaction (what the member said, or the agent's note of a
    call). Staff opening a case for a member need an agent's role; a member opens their own."""
    if channel not in Channel.values:
        raise DomainError(f"Unknown channel {channel!r}.")
    if reason not in Reason.values:
        raise DomainError(f"Unknown reason {reason!r}.")
    subject = " ".join((subject or "").split())[:200]
    if not subject:
        raise DomainError("A case needs a subject.")
    if actor is not None and not _is_member_self(actor, member):
        _require(actor, AGENT_ROLES, "opening cases")
    now = at or clock.now()
    case = Case.objects.create(
        member=member,
        contact=contact[:254],
        subject=subject,
        reason=reason,
        channel=channel,
        channels=channel,
        opened_at=now,
        updated_at=now,
    )
    if body or kind:
        Interaction.objects.create(
            case=case,
            member_id=case.member_id,
            kind=kind or _first_kind(channel),
            at=now,
            author=actor if actor is not None and not _is_member_self(actor, member) else None,
            from_member=actor is None or _is_member_self(actor, member),
            body=body,
            message_id=message_id,
        )
    return case


def _first_kind(channel: str) -> str:
    return {
        Channel.PHONE: Interaction.Kind.CALL,
        Channel.EMAIL: Interaction.Kind.EMAIL_IN,
        Channel.CHAT: Interaction.Kind.CHAT,
        Channel.WEB: Interaction.Kind.FORM,
    }[channel]


def _is_member_self(user, member) -> bool:
    return member is not None and user is not None and member.user_id == user.pk


def _locked_case(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else int(case)
    found = (
        Case.objects.select_for_update(of=("self",)).select_related("member").filter(pk=pk).first()
    )
    if found is None:
        raise NotFound(f"No case {pk}.", code="unknown_case")
    return found


@transaction.atomic
def add_interaction(
    case: Case | int,
    *,
    kind: str,
    body: str,
    actor=None,
    phone: str = "",
    duration_s: int | None = None,
) -> Interaction:
    """Something said on a case: by the member (their own case), or by an agent (a note, a
    chat answer, a logged call). A closed case takes nothing more: the member opens a new one."""
    case = _locked_case(case)
    if kind not in Interaction.Kind.values or kind == Interaction.Kind.SYSTEM:
        raise DomainError(f"Unknown kind of interaction {kind!r}.")
    body = (body or "").strip()
    if not body and kind != Interaction.Kind.CALL:
        raise DomainError("Say something: the message is empty.")
    if len(body) > 20_000:
        raise DomainError("A message is at most 20,000 characters.")
    from_member = _is_member_self(actor, case.member)
    if not from_member:
        _require(actor, AGENT_ROLES, "answering cases")
    elif kind not in (Interaction.Kind.CHAT, Interaction.Kind.FORM):
        raise Forbidden("Members write on their cases by chat or the form.")
    if case.status == Case.Status.CLOSED:
        raise Conflict("This case is closed; open a new one.", code="case_closed")
    if duration_s is not None and not 0 <= int(duration_s) <= 86_400:
        raise DomainError("A call lasts between 0 seconds and a day.")
    now = clock.now()
    row = Interaction.objects.create(
        case=case,
        member_id=case.member_id,
        kind=kind,
        at=now,
        author=None if from_member else actor,
        from_member=from_member,
        body=body,
        phone=phone,
        duration_s=duration_s,
    )
    channel = {
        Interaction.Kind.CALL: Channel.PHONE,
        Interaction.Kind.CHAT: Channel.CHAT,
        Interaction.Kind.FORM: Channel.WEB,
        Interaction.Kind.EMAIL_OUT: Channel.EMAIL,
    }.get(kind)
    _responded(case, row, from_member, now)
    if from_member and case.status in (Case.Status.WAITING, Case.Status.RESOLVED):
        case.status = Case.Status.OPEN
        case.resolved_at = None
        case.save(update_fields=["status", "resolved_at"])
    _touch(case, channel)
    return row


def _responded(case: Case, row: Interaction, from_member: bool, now) -> None:
    """The first thing staff say to the member (not an internal note) is the first response."""
    if from_member or row.kind == Interaction.Kind.NOTE or case.first_response_at:
        return
    case.first_response_at = now
    fields = ["first_response_at"]
    if case.status == Case.Status.NEW:
        case.status = Case.Status.OPEN
        fields.append("status")
    case.save(update_fields=fields)


@transaction.atomic
def set_status(case: Case | int, status: str, *, actor, reason: str = "") -> Case:
    """Move a case: open, waiting on the member, resolved, closed (a closed case stays closed)."""
    _require(actor, AGENT_ROLES, "changing cases")
    case = _locked_case(case)
    if status not in Case.Status.values or status == Case.Status.NEW:
        raise DomainError(f"A case cannot be set to {status!r}.")
    if case.status == Case.Status.CLOSED:
        raise Conflict("This case is closed.", code="case_closed")
    if case.status == status:
        return case
    now = clock.now()
    case.status = status
    if status == Case.Status.RESOLVED:
        case.resolved_at = now
    elif status == Case.Status.CLOSED:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    else:
        case.resolved_at = None
    case.save(update_fields=["status", "resolved_at", "closed_at"])
    _note(case, f"Status: {case.get_status_display()}" + (f" ({reason})" if reason else ""), actor)
    _touch(case)
    if status in (Case.Status.RESOLVED, Case.Status.CLOSED):
        _ask(case)
    return case


@transaction.atomic
def assign(case: Case | int, agent, *, actor) -> Case:
    _require(actor, AGENT_ROLES, "assigning cases")
    if agent is not None and not roles_of(agent) & AGENT_ROLES:
        raise DomainError("Cases go to support agents and leads.")
    case = _locked_case(case)
    case.assigned_to = agent
    case.save(update_fields=["assigned_to"])
    _note(case, f"Assigned to {agent.get_username() if agent else 'nobody'}", actor)
    _touch(case)
    return case


# ---------------------------------------------------------------------------------------------
# Compensation within limits


def _limits(user) -> tuple[Decimal | None, Decimal | None]:
    """(months of plan price a case may give, money a member may get a quarter) for this person:
    the highest of their roles; None for no limit (admins)."""
    held = roles_of(user)
    if Role.ADMIN.value in held:
        return None, None
    table = _setting("SUPPORT_LIMITS", DEFAULT_LIMITS)
    rows = [table[r] for r in held if r in table]
    if not rows:
        return Decimal(0), Decimal(0)
    months = max(Decimal(str(r["case_months"])) for r in rows)
    quarter = max(to_money(r["quarter"]) for r in rows)
    return months, quarter


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def given_this_quarter(member_id: int, day: dt.date | None = None) -> Decimal:
    day = day or clock.today()
    start = dt.datetime.combine(quarter_start(day), dt.time.min, dt.UTC)
    total = Action.objects.filter(member_id=member_id, at__gte=start).aggregate(v=Sum("value"))
    return total["v"] or Decimal(0)


def _value(member: Member, kind: str, amount, percent, rentals, target) -> Decimal:
    """What an action is worth to the member, for the limits and the reports."""
    price = member.plan.monthly_price
    if kind == Action.Kind.CREDIT:
        return amount
    if kind == Action.Kind.PERCENT:
        return to_money(price * percent / 100)
    if kind == Action.Kind.BONUS_RENTALS:
        # one more disc out, once: a disc slot's share of a month (four turns a month)
        if member.plan.discs_at_once == 0:
            raise DomainError("A streaming-only plan has no discs to give bonus rentals on.")
        return to_money(price * rentals / (member.plan.discs_at_once * 4))
    if kind == Action.Kind.WAIVE_FEE:
        return _fee(member, target).amount
    return Decimal(0)  # marking lost, replacing: nothing charged, nothing given in money


def _fee(member: Member, target: str) -> Fee:
    fee = None
    if target.startswith("fee:") and target[4:].isdigit():
        fee = Fee.objects.filter(pk=int(target[4:]), member=member).first()
    if fee is None:
        raise NotFound("No such fee on this member.", code="unknown_fee")
    return fee


def _shipment(member: Member, target: str) -> Shipment:
    ship = None
    if target.startswith("shipment:") and target[9:].isdigit():
        ship = (
            Shipment.objects.select_related("copy")
            .filter(pk=int(target[9:]), member=member)
            .first()
        )
    if ship is None:
        raise NotFound("There is no such disc for this member.", code="unknown_shipment")
    return ship


def _restore_day(target: str) -> dt.date:
    """The day of a queue restore, given as "day:YYYY-MM-DD"."""
    try:
        return dt.date.fromisoformat(target.removeprefix("day:"))
    except ValueError:
        raise DomainError("Say which day to restore the queue to (YYYY-MM-DD).") from None


def _check_request(member: Member, kind, amount, percent, rentals, target):
    if kind not in Action.Kind.values:
        raise DomainError(f"Unknown action {kind!r}.")
    if kind == Action.Kind.CREDIT:
        try:
            amount = to_money(amount if amount not in (None, "") else "0")
        except (ValueError, ArithmeticError, TypeError):
            raise DomainError(f"{amount!r} is not an amount of money.") from None
        if amount <= 0:
            raise DomainError("A credit is a positive amount.")
    elif kind == Action.Kind.PERCENT:
        if percent in (None, "") or not str(percent).isdigit() or not 1 <= int(percent) <= 100:
            raise DomainError("A percentage off is from 1 to 100.")
        percent = int(percent)
    elif kind == Action.Kind.BONUS_RENTALS:
        if rentals in (None, "") or not str(rentals).isdigit() or not 1 <= int(rentals) <= 20:
            raise DomainError("Give from 1 to 20 bonus rentals.")
        rentals = int(rentals)
    elif kind == Action.Kind.WAIVE_FEE:
        fee = _fee(member, target)
        if fee.status == Fee.Status.WAIVED:
            raise Conflict("That fee is already waived.")
    elif kind == Action.Kind.RESTORE_QUEUE:
        _restore_day(target)
    elif kind in (Action.Kind.MARK_LOST, Action.Kind.REPLACE):
        ship = _shipment(member, target)
        if kind == Action.Kind.MARK_LOST and ship.status != Shipment.Status.OPEN:
            raise Conflict("That disc is not out: it was returned or reported already.")
    if member.status == MemberStatus.CANCELLED:
        raise DomainError("This membership is cancelled: nothing more can be given.")
    return amount if kind == Action.Kind.CREDIT else None, percent, rentals


@transaction.atomic
def compensate(
    case: Case | int,
    kind: str,
    *,
    actor,
    reason: str,
    amount=None,
    percent=None,
    rentals=None,
    target: str = "",
    idempotency_key: str | None = None,
) -> Action | Approval:
    """Give the member something on a case. Within the asker's limits (one month's plan price a
    case for an agent, more for a lead; a total per member per quarter) it is done at once, through
    billing or fulfillment, and recorded; above them it waits for a lead's approval (an
    `Approval` is returned). The same request twice (its idempotency key) lands once."""
    _require(actor, AGENT_ROLES, "giving compensation")
    reason = " ".join((reason or "").split())[:300]
    if not reason:
        raise DomainError("Say why: every action carries its reason.")
    key = billing.scoped_key("support", actor.pk, idempotency_key)
    if key:
        done = Action.objects.filter(idempotency_key=key).first()
        if done is None:
            done = Approval.objects.filter(idempotency_key=key).first()
        if done is not None:
            if done.case_id != getattr(case, "pk", case) or done.kind != kind:
                raise Conflict("That idempotency key was used for another action.")
            return done
    case = _locked_case(case)
    if case.member is None:
        raise DomainError("This case has no member: find the member first.")
    if case.status == Case.Status.CLOSED:
        raise Conflict("This case is closed.", code="case_closed")
    member = (
        Member.objects.select_for_update(of=("self",)).select_related("plan").get(pk=case.member_id)
    )
    amount, percent, rentals = _check_request(member, kind, amount, percent, rentals, target)
    value = _value(member, kind, amount, percent, rentals, target)
    why = _over_limits(actor, case, member, value)
    fields = {
        "case": case,
        "member": member,
        "kind": kind,
        "value": value,
        "amount": amount,
        "percent": percent,
        "rentals": rentals,
        "target": target,
        "reason": reason,
    }
    if why:
        approval = _create_once(
            Approval,
            "That request was just made by another click.",
            **fields,
            why_waiting=why,
            requested_by=actor,
            requested_at=clock.now(),
            idempotency_key=key,
        )
        _note(case, f"Waiting for a lead: {approval.get_kind_display()} ({why})", actor)
        _touch(case)
        return approval
    return _carry_out(fields, actor=actor, approved_by=None, key=key)


def _create_once(model, clash: str, **fields):
    """Insert a row keyed by an idempotency key; the same key landing first in another request
    (a double click racing this one) is a Conflict with `clash`, nothing half-applied."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise Conflict(clash) from None


def _over_limits(actor, case: Case, member: Member, value: Decimal) -> str:
    """Why this would be over the asker's limits ('' when within them)."""
    months, quarter = _limits(actor)
    if months is None:
        return ""
    on_case = Action.objects.filter(case=case).aggregate(v=Sum("value"))["v"] or Decimal(0)
    case_limit = to_money(member.plan.monthly_price * months)
    if on_case + value > case_limit:
        return f"${on_case + value} on this case is over your ${case_limit} a case"
    this_quarter = given_this_quarter(member.pk)
    if this_quarter + value > quarter:
        return f"${this_quarter + value} to this member this quarter is over your ${quarter}"
    return ""


def _carry_out(fields: dict, *, actor, approved_by, key) -> Action:
    case, member, kind = fields["case"], fields["member"], fields["kind"]
    giver = approved_by or actor
    why = f"Case {case.pk}: {fields['reason']}"
    credit = None
    if kind == Action.Kind.CREDIT:
        credit = billing.issue_credit(member, fields["amount"], reason=why, issuer=giver)
    elif kind == Action.Kind.PERCENT:
        credit = billing.issue_credit(
            member, reason=why, issuer=giver, kind=Credit.Kind.PERCENT, percent=fields["percent"]
        )
    elif kind == Action.Kind.BONUS_RENTALS:
        credit = billing.issue_credit(
            member,
            reason=why,
            issuer=giver,
            kind=Credit.Kind.BONUS_RENTALS,
            rentals=fields["rentals"],
        )
    elif kind == Action.Kind.WAIVE_FEE:
        billing.waive_fee(_fee(member, fields["target"]), actor=giver, reason=why)
    elif kind == Action.Kind.MARK_LOST:
        fulfillment.report_problem(
            member, _shipment(member, fields["target"]).pk, "not_received", actor=giver
        )
    elif kind == Action.Kind.REPLACE:
        _queue_replacement(member, _shipment(member, fields["target"]))
    elif kind == Action.Kind.RESTORE_QUEUE:
        queues.restore_queue(member, _restore_day(fields["target"]))
    action = _create_once(
        Action,
        "That action was just taken by another click.",
        **fields,
        actor=actor,
        approved_by=approved_by,
        at=clock.now(),
        credit=credit,
        idempotency_key=key,
    )
    _note(case, f"{action.get_kind_display()}: {_describe(action)} — {fields['reason']}", actor)
    if case.first_response_at is None:
        Case.objects.filter(pk=case.pk).update(first_response_at=clock.now())
    _touch(case)
    return action


def _describe(action) -> str:
    if action.kind == Action.Kind.CREDIT:
        return f"${action.amount}"
    if action.kind == Action.Kind.PERCENT:
        return f"{action.percent}% off the next statement"
    if action.kind == Action.Kind.BONUS_RENTALS:
        return f"{action.rentals} bonus rental{'s' if action.rentals != 1 else ''}"
    return action.target


def _queue_replacement(member: Member, shipment: Shipment) -> None:
    """The title of a disc that never came (or came broken) back at the top of the queue."""
    title_id = shipment.copy.title_id
    if QueueEntry.objects.filter(member_id=member.pk, title_id=title_id).exists():
        queues.move_to_top(member, title_id)
    else:
        queues.add_to_queue(member, title_id, "top")


@transaction.atomic
def decide(approval: Approval | int, *, approve: bool, actor, note: str = "") -> Approval:
    """A lead approves (the action is carried out, with both names on it) or rejects a waiting
    request. Nobody approves their own request; a decided request stays decided."""
    _require(actor, APPROVER_ROLES, "approving compensation")
    pk = approval.pk if isinstance(approval, Approval) else int(approval)
    row = Approval.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No approval request {pk}.")
    if row.status != Approval.Status.WAITING:
        raise Conflict(f"That request was already {row.status}.", code="decided")
    if row.requested_by_id == actor.pk:
        raise Forbidden("Another lead approves your own request.")
    note = " ".join((note or "").split())[:300]
    if not approve and not note:
        raise DomainError("Say why the request is turned down.")
    case = _locked_case(row.case_id)
    if approve:
        member = (
            Member.objects.select_for_update(of=("self",))
            .select_related("plan")
            .get(pk=row.member_id)
        )
        _check_request(member, row.kind, row.amount, row.percent, row.rentals, row.target)
        fields = {
            "case": case,
            "member": member,
            "kind": row.kind,
            "value": row.value,
            "amount": row.amount,
            "percent": row.percent,
            "rentals": row.rentals,
            "target": row.target,
            "reason": row.reason,
        }
        row.action = _carry_out(
            fields, actor=row.requested_by, approved_by=actor, key=f"approval:{row.pk}"
        )
    row.status = Approval.Status.APPROVED if approve else Approval.Status.REJECTED
    row.decided_by = actor
    row.decided_at = clock.now()
    row.decision_note = note
    row.save()
    _note(case, f"Request {row.status} by {actor.get_username()}" + (f": {note}" if note else ""))
    return row


# ---------------------------------------------------------------------------------------------
# Abuse flags


def lost_claims(member_id: int, days: int) -> list[int]:
    """Shipments the member reported never arrived within the last `days` days."""
    since = clock.now() - dt.timedelta(days=days)
    return list(
        Shipment.objects.filter(
            member_id=member_id, status=Shipment.Status.LOST, closed_at__gte=since
        )
        .filter(copy__events__kind="lost", copy__events__note="member: never arrived")
        .values_list("pk", flat=True)
        .distinct()
    )


@transaction.atomic
def check_flags(member: Member | int) -> list[Flag]:
    """Run the abuse rules on one member; raise a flag (with its evidence) for each rule it
    passes, once while that flag is open. Returns the flags newly raised."""
    member_id = member.pk if isinstance(member, Member) else int(member)
    rules = _setting("SUPPORT_RULES", DEFAULT_RULES)
    raised = []
    rule = rules.get("lost_claims")
    if rule:
        claims = lost_claims(member_id, int(rule["days"]))
        if len(claims) >= int(rule["count"]):
            raised += _raise(
                member_id,
                "lost_claims",
                {"claims": len(claims), "days": int(rule["days"]), "shipments": claims},
            )
    rule = rules.get("own_disc")
    if rule:
        since = clock.now() - dt.timedelta(days=int(rule["days"]))
        cases = list(
            Case.objects.filter(
                member_id=member_id, reason=Reason.OWN_DISC, opened_at__gte=since
            ).values_list("pk", flat=True)
        )
        if len(cases) >= int(rule["count"]):
            raised += _raise(
                member_id,
                "own_disc",
                {"own_disc_cases": len(cases), "days": int(rule["days"]), "cases": cases},
            )
    return raised


def _raise(member_id: int, rule: str, evidence: dict) -> list[Flag]:
    if Flag.objects.filter(member_id=member_id, rule=rule, status=Flag.Status.OPEN).exists():
        return []
    try:
        with transaction.atomic():
            return [
                Flag.objects.create(
                    member_id=member_id, rule=rule, evidence=evidence, raised_at=clock.now()
                )
            ]
    except IntegrityError:  # raised by another request just now
        return []


def _offenders(rule: str, cfg: dict) -> dict[int, dict]:
    """Members passing one rule, with the evidence: one grouped query each."""
    from django.db.models import Count, Min

    from redenvelope.billing.models import Payment, PaymentMethod

    now = clock.now()
    since = now - dt.timedelta(days=int(cfg.get("days", 3650)))
    count = int(cfg["count"])
    out: dict[int, dict] = {}
    if rule == "lost_claims":
        rows = (
            Shipment.objects.filter(status=Shipment.Status.LOST, closed_at__gte=since)
            .filter(copy__events__kind="lost", copy__events__note="member: never arrived")
            .values("member_id")
            .annotate(n=Count("pk", distinct=True))
            .filter(n__gte=count)
        )
        for r in rows:
            out[r["member_id"]] = {"claims": r["n"], "days": cfg["days"]}
    elif rule == "chargebacks":
        rows = (
            Payment.objects.filter(charged_back_at__gte=since)
            .values("member_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=count)
        )
        for r in rows:
            out[r["member_id"]] = {"chargebacks": r["n"], "days": cfg["days"]}
    elif rule == "trials_per_card":
        shared = (
            PaymentMethod.objects.filter(member__trial_ends_on__isnull=False)
            .values("token")
            .annotate(n=Count("member", distinct=True), last4=Min("last4"))
            .filter(n__gte=count)
        )
        tokens = {r["token"]: r for r in shared}
        for m, token in PaymentMethod.objects.filter(
            token__in=list(tokens), member__trial_ends_on__isnull=False
        ).values_list("member_id", "token"):
            out[m] = {"members_on_card": tokens[token]["n"], "card": tokens[token]["last4"]}
    elif rule == "trials_per_address":
        from django.db.models.functions import Lower, Trim

        trials = Member.objects.filter(trial_ends_on__isnull=False).annotate(
            addr=Lower(Trim("street"))
        )
        shared = {
            (r["addr"], r["zip_code"]): r["n"]
            for r in trials.values("addr", "zip_code").annotate(n=Count("pk")).filter(n__gte=count)
        }
        if shared:
            for m, addr, zip_code in trials.filter(zip_code__in={z for _, z in shared}).values_list(
                "pk", "addr", "zip_code"
            ):
                if (addr, zip_code) in shared:
                    out[m] = {"trials_at_address": shared[(addr, zip_code)], "zip": zip_code}
    elif rule == "own_disc":
        rows = (
            Case.objects.filter(reason=Reason.OWN_DISC, opened_at__gte=since)
            .values("member_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=count, member_id__isnull=False)
        )
        for r in rows:
            out[r["member_id"]] = {"own_disc_cases": r["n"], "days": cfg["days"]}
    return out


@transaction.atomic
def scan_flags() -> dict[str, int]:
    """Run every abuse rule over all members (set-wise, the daily job) and raise a flag for
    each member newly passing one. Returns flags raised per rule."""
    rules = _setting("SUPPORT_RULES", DEFAULT_RULES)
    raised = {}
    now = clock.now()
    for rule, cfg in rules.items():
        found = _offenders(rule, cfg)
        already = set(
            Flag.objects.filter(
                rule=rule, status=Flag.Status.OPEN, member_id__in=list(found)
            ).values_list("member_id", flat=True)
        )
        new = [
            Flag(member_id=m, rule=rule, evidence=ev, raised_at=now)
            for m, ev in found.items()
            if m not in already
        ]
        Flag.objects.bulk_create(new, batch_size=2000, ignore_conflicts=True)
        raised[rule] = len(new)
    return raised


@transaction.atomic
def close_for_abuse(member: Member | int, *, actor, reason: str) -> Member:
    """Close a membership for abuse: a lead's decision, with the reason, recorded and told to the
    member by email. Nothing else closes an account for abuse."""
    from redenvelope.membership import actions as membership

    _require(actor, APPROVER_ROLES, "closing accounts for abuse")
    reason = " ".join((reason or "").split())[:300]
    if len(reason) < 10:
        raise DomainError("Say why, in a sentence: the member will read it.")
    pk = member.pk if isinstance(member, Member) else int(member)
    row = (
        Member.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk).first()
    )
    if row is None:
        raise NotFound(f"No member {pk}.", code="unknown_member")
    if row.status == MemberStatus.CANCELLED:
        raise Conflict("That membership is already closed.")
    row = membership.cancel(row, actor=actor, reason=f"closed for abuse: {reason}")
    open_flags = Flag.objects.filter(member=row, status=Flag.Status.OPEN)
    Flag.objects.create(
        member=row,
        rule="closed_for_abuse",
        evidence={
            "reason": reason,
            "by": actor.get_username(),
            "flags": list(open_flags.values_list("rule", flat=True)),
        },
        raised_at=clock.now(),
        status=Flag.Status.CLEARED,
        cleared_by=actor,
        cleared_at=clock.now(),
        clear_reason="account closed",
    )
    queue_email(
        key=f"support-closed:{row.pk}:{clock.today().isoformat()}",
        kind="support_closure",
        to=row.user.email,
        subject="Your Red Envelope membership has been closed",
        body=(
            "We have closed your membership.\n\n"
            f"Why: {reason}\n\n"
            "If you think this is a mistake, reply to this email or call 1-800-555-0199 and a "
            "person will look at it again."
        ),
        member_id=row.pk,
    )
    return row


def is_flagged(member_id: int) -> bool:
    return Flag.objects.filter(member_id=member_id, status=Flag.Status.OPEN).exists()


@transaction.atomic
def clear_flag(flag: Flag | int, *, actor, reason: str) -> Flag:
    _require(actor, APPROVER_ROLES, "clearing flags")
    reason = " ".join((reason or "").split())[:300]
    if not reason:
        raise DomainError("Say why the flag is cleared.")
    pk = flag.pk if isinstance(flag, Flag) else int(flag)
    row = Flag.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No flag {pk}.")
    if row.status != Flag.Status.OPEN:
        raise Conflict("That flag was already cleared.")
    row.status = Flag.Status.CLEARED
    row.cleared_by = actor
    row.cleared_at = clock.now()
    row.clear_reason = reason
    row.save()
    return row


# ---------------------------------------------------------------------------------------------
# Self-service


SELF_SERVICE = {
    # problem: (reason, what the member said, what was done)
    "not_received": (Reason.NOT_RECEIVED, "did not arrive", "Marked lost without charge"),
    "damaged": (Reason.DAMAGED, "arrived damaged", "Recorded damaged, no charge"),
    "wrong_disc": (
        Reason.WRONG_DISC,
        "came with another disc in its sleeve",
        "Recorded, no charge: mail back the disc that came, in the return envelope",
    ),
}


@transaction.atomic
def report_disc(member: Member, shipment_id: int, problem: str, *, actor=None) -> Case:
    """Self-service: the member says a disc never came ("not_received") or came broken
    ("damaged"). Under policy the disc is marked lost (or damaged) without charge and its title
    goes back to the top of the queue so the next run ships it again, on a case resolved on the
    spot. A flagged member's lost report goes to an agent instead: nothing is marked until a
    person looks."""
    if problem not in SELF_SERVICE:
        raise DomainError("Say what happened: never arrived, arrived damaged, or the wrong disc.")
    reason, said, done = SELF_SERVICE[problem]
    member = Member.objects.select_for_update(of=("self",)).select_related("plan").get(pk=member.pk)
    ship = _shipment(member, f"shipment:{int(shipment_id)}")
    if ship.status != Shipment.Status.OPEN:
        raise Conflict("That disc was already reported or returned.")
    title = ship.copy.title
    flagged = problem == "not_received" and is_flagged(member.pk)
    waiting = Case.objects.filter(
        member=member,
        status=Case.Status.NEW,
        interactions__body=f"Sent to an agent: the member is flagged (shipment:{ship.pk}).",
    ).first()
    if flagged and waiting:  # reported again (a double click): the same case
        return waiting
    case = open_case(
        member,
        channel=Channel.WEB,
        subject=f"{title} {said}",
        body=f"Reported on the site: shipment {ship.pk} {said}.",
        reason=reason,
    )
    if flagged:
        _note(case, f"Sent to an agent: the member is flagged (shipment:{ship.pk}).")
        return case
    fulfillment.report_problem(member, ship.pk, problem, actor=actor)
    _queue_replacement(member, ship)
    _note(case, f"{done}; {title} is back at the top of the queue.")
    now = clock.now()
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.RESOLVED, resolved_at=now, first_response_at=now
    )
    if problem == "not_received":
        check_flags(member.pk)
    case.refresh_from_db()
    _ask(case)
    return case


@transaction.atomic
def restore_my_queue(member: Member, day, *, actor=None) -> Case:
    """Self-service: the member puts their queue back as it was at the end of a past day (after
    a vacation, a mistaken clear-out), on a case resolved on the spot."""
    day = day if isinstance(day, dt.date) else _restore_day(str(day or ""))
    titles = queues.restore_queue(member, day)
    case = open_case(
        member,
        channel=Channel.WEB,
        subject=f"Queue restored to {day:%B %-d, %Y}",
        body=f"Restore my queue as it was on {day.isoformat()}.",
        reason=Reason.ACCOUNT,
    )
    _note(case, f"Queue restored: {len(titles)} titles in that day's order.")
    now = clock.now()
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.RESOLVED, resolved_at=now, first_response_at=now
    )
    case.refresh_from_db()
    return case


def report_not_received(member: Member, shipment_id: int, *, actor=None) -> Case:
    return report_disc(member, shipment_id, "not_received", actor=actor)


@transaction.atomic
def resend_statement(
    case: Case | int, statement_id, *, actor, idempotency_key: str = ""
) -> Interaction:
    """Email the member one of their statements again (its figures and the link to its PDF on
    the Billing page), recorded on the case. The same click twice (its key) sends once."""
    from django.urls import reverse

    from redenvelope.billing.models import Statement
    from redenvelope.membership import emails

    _require(actor, AGENT_ROLES, "resending statements")
    case = _locked_case(case)
    if case.member is None:
        raise DomainError("This case has no member: find the member first.")
    sid = int(statement_id) if str(statement_id or "").isdigit() else -1
    st = Statement.objects.filter(pk=sid, member_id=case.member_id).first()
    if st is None:
        raise NotFound("That member has no such statement.")
    user = case.member.user
    if not user.email:
        raise DomainError("The member has no email address on file.")
    key = f"statement-resend:{st.pk}:{case.pk}:{(idempotency_key or clock.now().isoformat())[:40]}"
    link = emails.site_url(reverse("statement_pdf", args=[st.pk]))
    added = queue_email(
        key=key,
        kind="statement_resend",
        to=user.email,
        subject=f"Your statement for {st.period_start:%B %-d, %Y}",
        body=(
            f"Hello {user.first_name or user.username},\n\nAs asked, your statement for "
            f"{st.period_start:%B %-d} to {st.period_end:%B %-d, %Y}: ${st.total_due} due, "
            f"${st.amount_paid} paid ({st.get_status_display().lower()}).\n\n"
            f"The full statement (PDF), once you are signed in: {link}\n\nRed Envelope"
        ),
        member_id=case.member_id,
    )
    if not added:
        return case.interactions.filter(body__startswith=f"Statement {st.pk} resent").last()
    row = _note(case, f"Statement {st.pk} resent to {user.email}.", actor)
    if case.first_response_at is None:
        Case.objects.filter(pk=case.pk).update(first_response_at=clock.now())
    _touch(case)
    return row


# ---------------------------------------------------------------------------------------------
# A member's own disc mailed back by mistake


def own_disc_value() -> Decimal:
    """What a member's own disc is credited at when they let us keep it."""
    return to_money(str(_setting("SUPPORT_OWN_DISC_CREDIT", "10.00")))


@transaction.atomic
def report_own_disc(
    member: Member, *, choice: str, description: str = "", scan_id=None, actor=None
) -> Case:
    """Self-service: "I mailed back my own disc". The member says what it is and chooses: mail
    it back, or a credit for its value (we keep it). The case waits for the disc to reach a
    return desk (scanned with the envelope's member number) and is matched to it at once if it
    is already there (`scan_id`: one of the member's discs the site shows). Mailing back is
    settled on the spot; a credit is given by an agent (within limits, audited) from the case.
    The same report twice (a double click) is the same case."""
    from redenvelope.fulfillment.models import ReturnScan

    if choice not in OwnDisc.Choice.values:
        raise DomainError("Choose: mail it back to you, or a credit for its value.")
    member = Member.objects.select_for_update().get(pk=member.pk)
    scan = None
    if scan_id not in (None, ""):
        scan = ReturnScan.objects.filter(
            pk=int(scan_id) if str(scan_id).isdigit() else -1,
            member=member,
            outcome=ReturnScan.Outcome.MEMBERS_DISC,
        ).first()
        if scan is None:
            raise NotFound("We have no such disc of yours.")
        if OwnDisc.objects.filter(scan=scan).exists():
            return OwnDisc.objects.get(scan=scan).case
    description = " ".join((description or "").split())[:200]
    if not description:
        if scan is None:
            raise DomainError("Say which disc it is (its title, and anything written on it).")
        description = f"The disc that came in on {scan.scanned_at:%B %-d}"
    same = OwnDisc.objects.filter(
        member=member, description=description, scan__isnull=True, settled_at__isnull=True
    ).first()
    if same is not None and scan is None:
        return same.case
    case = open_case(
        member,
        channel=Channel.WEB,
        subject=f"My own disc came back to you: {description}"[:200],
        body=f"I mailed back my own disc ({description}). "
        f"What I would like: {OwnDisc.Choice(choice).label.lower()}.",
        reason=Reason.OWN_DISC,
    )
    own = OwnDisc.objects.create(
        case=case, member=member, description=description, choice=choice, reported_at=clock.now()
    )
    Case.objects.filter(pk=case.pk).update(status=Case.Status.OPEN, first_response_at=clock.now())
    _note(
        case,
        "Waiting for the disc at a return desk: it is matched when it is scanned in with this "
        "member's envelope number.",
    )
    _match(own, scan)
    check_flags(member.pk)
    case.refresh_from_db()
    return case


def _unmatched_scans(member_id: int):
    from redenvelope.fulfillment.models import ReturnScan

    return (
        ReturnScan.objects.filter(
            member_id=member_id, outcome=ReturnScan.Outcome.MEMBERS_DISC, own_disc__isnull=True
        )
        .exclude(disposition__in=(ReturnScan.Disposition.MAILED, ReturnScan.Disposition.KEPT))
        .order_by("scanned_at", "id")
    )


def _match(own: OwnDisc, scan=None) -> bool:
    """Link an own-disc case to the disc at a desk (the given one, or the member's earliest
    unclaimed one); a mail-back is settled at once."""
    scan = scan or _unmatched_scans(own.member_id).select_for_update(of=("self",)).first()
    if scan is None:
        return False
    now = clock.now()
    OwnDisc.objects.filter(pk=own.pk).update(scan=scan, matched_at=now)
    own.refresh_from_db()
    case = own.case
    _note(
        case, f"The disc is at {scan.dc.code}'s return desk (scanned {scan.scanned_at:%Y-%m-%d})."
    )
    if own.choice == OwnDisc.Choice.MAIL_BACK:
        fulfillment.dispose_members_disc(scan, "mail_back")
        OwnDisc.objects.filter(pk=own.pk).update(settled_at=now)
        _note(case, f"{scan.dc.code} mails it back to the member.")
        Case.objects.filter(pk=case.pk).update(status=Case.Status.RESOLVED, resolved_at=now)
        case.refresh_from_db()
        _ask(case)
    else:
        _note(case, f"For an agent: give the credit of ${own_disc_value()} (Settle on this case).")
        Case.objects.filter(pk=case.pk).update(status=Case.Status.OPEN, updated_at=now)
    return True


@transaction.atomic
def match_own_discs() -> int:
    """Match members' own discs scanned in at return desks to their waiting cases (every few
    minutes, and whenever a member reports one). Returns how many were matched."""
    waiting = list(
        OwnDisc.objects.select_for_update(of=("self",))
        .filter(scan__isnull=True, settled_at__isnull=True)
        .exclude(case__status=Case.Status.CLOSED)
        .select_related("case")
        .order_by("reported_at", "id")
    )
    return sum(1 for own in waiting if _match(own))


@transaction.atomic
def settle_own_disc(case: Case | int, *, actor) -> Case:
    """An agent settles a matched own-disc case the member chose a credit on: the credit for
    the disc's value (through `compensate`, within the agent's limits; above them it waits for
    a lead) and the disc kept. Settling twice changes nothing."""
    _require(actor, AGENT_ROLES, "settling a member's disc")
    case = _locked_case(case)
    own = OwnDisc.objects.select_for_update().filter(case=case).first()
    if own is None:
        raise NotFound("This case is not about a member's own disc.")
    if own.settled_at is not None:
        return case
    if own.scan_id is None and not _match(own):
        raise Conflict("The disc has not reached a return desk yet: nothing to settle.")
    own.refresh_from_db()
    if own.choice == OwnDisc.Choice.CREDIT:
        given = compensate(
            case,
            Action.Kind.CREDIT,
            actor=actor,
            reason=f"Member's own disc kept ({own.description}): a credit for its value",
            amount=own_disc_value(),
            idempotency_key=f"own-disc:{own.pk}",
        )
        if isinstance(given, Approval) and given.action_id is None:
            return Case.objects.get(pk=case.pk)  # waits for a lead; settle again once approved
        fulfillment.dispose_members_disc(own.scan_id, "kept", actor=actor)
    OwnDisc.objects.filter(pk=own.pk).update(settled_at=clock.now())
    set_status(case, Case.Status.RESOLVED, actor=actor, reason="member's disc settled")
    return Case.objects.get(pk=case.pk)


# ---------------------------------------------------------------------------------------------
# Email out


def support_address() -> str:
    return _setting("SUPPORT_EMAIL", "support@redenvelope.example")


@transaction.atomic
def reply_by_email(case: Case | int, body: str, *, actor) -> Interaction:
    """An agent's answer by email, threaded to the member's last message (In-Reply-To and
    References), sent through the outbox after the commit; replies come back to support."""
    _require(actor, AGENT_ROLES, "answering cases")
    case = _locked_case(case)
    if case.status == Case.Status.CLOSED:
        raise Conflict("This case is closed.", code="case_closed")
    body = (body or "").strip()
    if not body:
        raise DomainError("Say something: the reply is empty.")
    to = case.member.user.email if case.member else case.contact
    if not to:
        raise DomainError("Nobody to write to: this case has no email address.")
    thread = list(
        Interaction.objects.filter(case=case, message_id__isnull=False)
        .order_by("at", "id")
        .values_list("message_id", flat=True)
    )
    row = Interaction.objects.create(
        case=case,
        member_id=case.member_id,
        kind=Interaction.Kind.EMAIL_OUT,
        at=clock.now(),
        author=actor,
        body=body,
    )
    from redenvelope.core.mail import message_id

    key = f"support-reply:{row.pk}"
    row.message_id = message_id(key)
    row.save(update_fields=["message_id"])
    headers = {"Reply-To": support_address()}
    if thread:
        headers["In-Reply-To"] = thread[-1]
        headers["References"] = " ".join(thread[-20:])
    subject = case.subject if case.subject.lower().startswith("re:") else f"Re: {case.subject}"
    queue_email(
        key=key,
        kind="support_reply",
        to=to,
        subject=f"{subject} [case {case.pk}]"[:200],
        body=body,
        member_id=case.member_id,
        headers=headers,
    )
    _responded(case, row, False, row.at)
    if case.status in (Case.Status.NEW, Case.Status.OPEN):
        Case.objects.filter(pk=case.pk).update(status=Case.Status.WAITING)
    _touch(case, Channel.EMAIL)
    return row


# ---------------------------------------------------------------------------------------------
# Phone


CALL_EVENTS = {"newCall", "answer", "hangup"}


def _digits(number: str) -> str:
    digits = "".join(c for c in str(number or "") if c.isdigit())[:20]
    return "1" + digits if len(digits) == 10 else digits


@transaction.atomic
def call_event(event: str, call_id: str, *, number: str = "", direction: str = "in", user=None):
    """The telephony system's event (Zammad's CTI shape: newCall, answer, hangup). A new call
    finds the caller by number, so the console opens their record while it rings; answer and
    hang-up times give the duration (for reports, never a target). Repeats change nothing."""
    from .models import Call

    if event not in CALL_EVENTS:
        raise DomainError(f"Unknown call event {event!r}: newCall, answer or hangup.")
    call_id = str(call_id or "").strip()
    if not call_id or len(call_id) > 100:
        raise DomainError("A call event needs its callId (at most 100 characters).")
    now = clock.now()
    call = Call.objects.select_for_update().filter(call_id=call_id).first()
    if call is None:
        if event != "newCall":
            raise NotFound(f"No call {call_id!r}: its newCall never came.", code="unknown_call")
        digits = _digits(number)
        member = Member.objects.filter(phone=digits).order_by("pk").first() if digits else None
        try:
            with transaction.atomic():
                return Call.objects.create(
                    call_id=call_id,
                    number=digits,
                    direction="out" if direction == "out" else "in",
                    member=member,
                    started_at=now,
                )
        except IntegrityError:  # the same newCall delivered twice at once
            return Call.objects.get(call_id=call_id)
    if event == "answer" and call.answered_at is None and call.ended_at is None:
        call.answered_at = now
        if user is not None:
            call.agent = user
        call.save(update_fields=["answered_at", "agent"])
    elif event == "hangup" and call.ended_at is None:
        call.ended_at = now
        call.save(update_fields=["ended_at"])
        Interaction.objects.filter(call=call).update(duration_s=call.duration_s)
    return call


@transaction.atomic
def log_call(
    call,
    *,
    actor,
    note: str,
    case: Case | int | None = None,
    member: Member | None = None,
    reason: str = Reason.OTHER,
    subject: str = "",
) -> Case:
    """The agent logs a call on a case (an existing one of the caller's, or a new one)."""
    from .models import Call

    _require(actor, AGENT_ROLES, "logging calls")
    call = Call.objects.select_for_update().get(pk=call.pk if isinstance(call, Call) else call)
    member = member or call.member
    if case is None:
        case = open_case(
            member,
            channel=Channel.PHONE,
            subject=subject or f"Call from {call.number or 'an unknown number'}",
            reason=reason,
            actor=actor,
        )
    case = _locked_case(case)
    if member is not None and case.member_id not in (None, member.pk):
        raise DomainError("That case is another member's.")
    row = add_interaction(case, kind=Interaction.Kind.CALL, body=note or "Call", actor=actor)
    Interaction.objects.filter(pk=row.pk).update(
        call=call, phone=call.number, duration_s=call.duration_s
    )
    call.case = case
    call.agent = call.agent or actor
    call.save(update_fields=["case", "agent"])
    return case


# ---------------------------------------------------------------------------------------------
# Chat


def current_chat(member: Member) -> Case | None:
    """The member's chat still going (opened by chat, not resolved or closed), if any."""
    return (
        Case.objects.filter(member=member, channel=Channel.CHAT)
        .exclude(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED])
        .order_by("-opened_at", "-pk")
        .first()
    )


@transaction.atomic
def chat(member: Member, body: str, *, actor) -> Interaction:
    """A member's chat message: it continues their chat, or starts one (a new case)."""
    body = (body or "").strip()
    if not body:
        raise DomainError("Say something: the message is empty.")
    Member.objects.select_for_update().filter(pk=member.pk).first()  # one chat at a time
    case = current_chat(member)
    if case is None:
        case = open_case(
            member, channel=Channel.CHAT, subject=f"Chat: {body[:60]}", body=body, actor=actor
        )
        return case.interactions.get()
    return add_interaction(case, kind=Interaction.Kind.CHAT, body=body, actor=actor)


def email_transcript(case: Case, *, actor) -> None:
    """Email the member the whole conversation (what they see: no internal notes)."""
    if case.member is None or not (
        _is_member_self(actor, case.member) or roles_of(actor) & AGENT_ROLES
    ):
        raise Forbidden("Only the member or support can send a transcript.")
    lines = []
    for row in case.interactions.exclude(kind=Interaction.Kind.NOTE).order_by("at", "pk"):
        who = "You" if row.from_member else "Red Envelope"
        lines.append(f"[{row.at:%Y-%m-%d %H:%M}] {who}: {row.body}")
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    queue_email(
        key=f"support-transcript:{case.pk}:{stamp}",
        kind="support_transcript",
        to=case.member.user.email,
        subject=f"Your conversation with Red Envelope (case {case.pk})",
        body="\n\n".join(lines) or "(no messages)",
        member_id=case.member_id,
    )
    _note(case, "Transcript emailed to the member.", actor)


# ---------------------------------------------------------------------------------------------
# Help center


def render_markdown(text: str) -> str:
    """Markdown as HTML; any HTML in the source is escaped first, so an article cannot carry
    scripts or markup of its own."""
    import markdown
    from django.utils.html import escape

    return markdown.markdown(escape(text or ""), extensions=["extra", "sane_lists"])


@transaction.atomic
def save_article(
    *, actor, title: str, body: str, slug: str = "", published: bool = True, article=None
):
    """Write a new help article or edit one (agents and leads)."""
    from django.utils.text import slugify

    from .models import Article

    _require(actor, AGENT_ROLES, "writing help articles")
    title = " ".join((title or "").split())[:200]
    if not title or not (body or "").strip():
        raise DomainError("An article needs a title and a body.")
    if len(body) > 100_000:
        raise DomainError("An article is at most 100,000 characters.")
    slug = slugify(slug or title)[:80]
    if not slug:
        raise DomainError("The article's address needs letters or digits.")
    now = clock.now()
    if article is None:
        if Article.objects.filter(slug=slug).exists():
            raise Conflict(f"An article at {slug!r} exists already.")
        return Article.objects.create(
            slug=slug,
            title=title,
            body=body,
            published=published,
            created_at=now,
            updated_at=now,
            updated_by=actor,
        )
    row = Article.objects.select_for_update().get(pk=getattr(article, "pk", article))
    if Article.objects.filter(slug=slug).exclude(pk=row.pk).exists():
        raise Conflict(f"An article at {slug!r} exists already.")
    row.slug, row.title, row.body, row.published = slug, title, body, published
    row.updated_at, row.updated_by = now, actor
    row.save()
    return row


def vote_article(article, reader: str, helpful: bool):
    """Record 'did this help?' (a reader's later answer replaces the first)."""
    from .models import ArticleVote

    ArticleVote.objects.update_or_create(
        article=article, reader=reader[:64], defaults={"helpful": bool(helpful), "at": clock.now()}
    )


def search_articles(text: str, *, staff: bool = False, limit: int = 20):
    from django.db.models import Count, Q

    from .models import Article

    rows = Article.objects.all() if staff else Article.objects.filter(published=True)
    for word in " ".join((text or "").split())[:200].split(" "):
        if word:
            rows = rows.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return rows.annotate(
        yes=Count("votes", filter=Q(votes__helpful=True)),
        no=Count("votes", filter=Q(votes__helpful=False)),
    ).order_by("title")[:limit]


# ---------------------------------------------------------------------------------------------
# Service levels and satisfaction


def sla(case: Case, now=None) -> dict:
    """The case's targets (24/7 clock) and whether each is breached, met, or still running."""
    now = now or clock.now()
    first_min, resolve_min = _setting("SUPPORT_SLA", DEFAULT_SLA).get(case.channel, [240, 2880])
    first_due = case.opened_at + dt.timedelta(minutes=first_min)
    resolve_due = case.opened_at + dt.timedelta(minutes=resolve_min)
    first_at = case.first_response_at
    resolved_at = case.resolved_at
    return {
        "first_due": first_due,
        "resolve_due": resolve_due,
        "first_breached": (first_at or now) > first_due,
        "resolve_breached": (resolved_at or now) > resolve_due,
    }


def survey_token(case_id: int) -> str:
    from django.core import signing

    return signing.dumps(case_id, salt="support-survey")


def _ask(case: Case) -> None:
    """After a resolution: one question, by email link and on the site (once a case)."""
    from redenvelope.membership import emails

    if case.member_id is None or Survey.objects.filter(case=case).exists():
        return
    agent = (
        Interaction.objects.filter(case=case, from_member=False, author__isnull=False)
        .exclude(kind=Interaction.Kind.NOTE)
        .order_by("-at")
        .values_list("author", flat=True)
        .first()
    )
    Survey.objects.create(
        case=case,
        member_id=case.member_id,
        channel=case.channel,
        agent_id=case.assigned_to_id or agent,
        asked_at=clock.now(),
    )
    member = Member.objects.select_related("user").get(pk=case.member_id)
    from django.urls import reverse

    link = emails.site_url(reverse("support_survey", args=[survey_token(case.pk)]))
    queue_email(
        key=f"support-survey:{case.pk}",
        kind="support_survey",
        to=member.user.email,
        subject=f"How did we do? (case {case.pk})",
        body=(
            f"We marked your case “{case.subject}” as resolved.\n\n"
            f"One question, 1 to 5: how did we do? {link}"
        ),
        member_id=case.member_id,
    )


@transaction.atomic
def answer_survey(case_id: int, score, comment: str = "", *, member: Member | None = None):
    """The member's answer (from the email link, or signed in): 1-5 and a comment. A second
    answer replaces the first."""
    row = Survey.objects.select_for_update().filter(case_id=case_id).first()
    if row is None or (member is not None and row.member_id != member.pk):
        raise NotFound("No such survey.")
    if not str(score).isdigit() or not 1 <= int(score) <= 5:
        raise DomainError("Choose a score from 1 to 5.")
    row.score = int(score)
    row.comment = (comment or "").strip()[:2000]
    row.answered_at = clock.now()
    row.save()
    return row
