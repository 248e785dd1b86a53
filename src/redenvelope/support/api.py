"""Customer service over the API (/api/support/). Members see and write only on their own cases
(internal notes are never shown to them); agents and leads reach every case, give compensation
within their limits, and leads decide approvals. The telephony webhook is signed, not logged in."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from urllib.parse import parse_qs

from django.conf import settings
from ninja import Router, Schema, Status

from redenvelope.accounts.roles import Role, has_role
from redenvelope.core.errors import DomainError, Forbidden, NotFound
from redenvelope.membership.models import Member

from . import actions
from .models import Action, Approval, Article, Case, Interaction

router = Router(tags=["support"])
AGENTS = (Role.SUPPORT_AGENT, Role.SUPPORT_LEAD, Role.ADMIN)
PUBLIC_KINDS = [k for k in Interaction.Kind.values if k != Interaction.Kind.NOTE]


def _staff(request) -> bool:
    return has_role(request.auth, *AGENTS)


def _me(request) -> Member:
    member = Member.objects.filter(user=request.auth).first()
    if member is None or not has_role(request.auth, Role.MEMBER):
        raise Forbidden("Only members and support staff reach cases.", code="not_a_member")
    return member


def _case(request, case_id: int) -> Case:
    case = Case.objects.select_related("member").filter(pk=case_id).first()
    if case is None or not (_staff(request) or case.member_id == _me(request).pk):
        raise NotFound("No such case.")  # another member's case does not exist for you
    return case


class InteractionOut(Schema):
    id: int
    kind: str
    at: dt.datetime
    from_member: bool
    body: str
    duration_s: int | None = None


class CaseOut(Schema):
    id: int
    member_id: int | None = None
    subject: str
    reason: str
    status: str
    channel: str
    channels: str
    opened_at: dt.datetime
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


class CaseDetail(CaseOut):
    interactions: list[InteractionOut]


class CaseIn(Schema):
    subject: str
    body: str
    reason: str = "other"
    channel: str = "web"
    member_id: int | None = None  # staff only: whose case


class InteractionIn(Schema):
    kind: str  # members: chat or form; agents: note, chat, call, email_out (sent by email)
    body: str
    duration_s: int | None = None


class StatusIn(Schema):
    status: str
    reason: str = ""


class ActionIn(Schema):
    kind: str
    reason: str
    amount: Decimal | None = None
    percent: int | None = None
    rentals: int | None = None
    target: str = ""
    idempotency_key: str | None = None


class ActionOut(Schema):
    outcome: str  # done | waiting
    id: int
    kind: str
    value: Decimal
    why_waiting: str = ""


class ApprovalOut(Schema):
    id: int
    case_id: int
    member_id: int
    kind: str
    value: Decimal
    reason: str
    why_waiting: str
    status: str
    requested_at: dt.datetime


class DecideIn(Schema):
    approve: bool
    note: str = ""


@router.get("/cases", response=list[CaseOut])
def list_cases(request, status: str | None = None, member_id: int | None = None):
    """Your own cases (members), or every case (support), newest first, at most 100."""
    rows = Case.objects.all()
    if _staff(request):
        if member_id is not None:
            rows = rows.filter(member_id=member_id)
    else:
        rows = rows.filter(member=_me(request))
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("-opened_at", "-pk")[:100])


@router.post("/cases", response={201: CaseDetail})
def open_case(request, body: CaseIn):
    if _staff(request):
        member = Member.objects.filter(pk=body.member_id).first() if body.member_id else None
        if body.member_id and member is None:
            raise NotFound(f"No member {body.member_id}.", code="unknown_member")
    else:
        member = _me(request)
        if body.member_id not in (None, member.pk):
            raise NotFound("No such member.")
        if body.channel not in ("web", "chat"):
            raise DomainError("Members open cases by the web form or chat.")
    case = actions.open_case(
        member,
        channel=body.channel,
        subject=body.subject,
        body=body.body,
        reason=body.reason,
        actor=request.auth,
    )
    return Status(201, _detail(request, case))


def _detail(request, case: Case) -> dict:
    rows = case.interactions.all()
    if not _staff(request):
        rows = rows.filter(kind__in=PUBLIC_KINDS)
    out = CaseOut.from_orm(case).dict()
    out["interactions"] = list(rows)
    return out


class DiscProblemIn(Schema):
    shipment_id: int
    problem: str  # not_received | damaged | wrong_disc


class OwnDiscIn(Schema):
    choice: str  # mail_back | credit
    description: str = ""
    scan_id: int | None = None  # one of your discs at a return desk, when it is already there


class ResendIn(Schema):
    statement_id: int
    idempotency_key: str = ""


@router.post("/self-service/disc-problem", response={201: CaseDetail})
def disc_problem(request, body: DiscProblemIn):
    """A member: a disc at home never arrived, arrived damaged, or another disc was in its
    sleeve. Resolved on the spot under policy (a flagged member's lost report waits for an
    agent)."""
    member = _me(request)
    case = actions.report_disc(member, body.shipment_id, body.problem, actor=request.auth)
    return Status(201, _detail(request, case))


@router.post("/self-service/own-disc", response={201: CaseDetail})
def own_disc(request, body: OwnDiscIn):
    """A member mailed back their own disc by mistake: what it is, and mail it back or a
    credit for its value. Matched to the disc when a return desk scans it in."""
    member = _me(request)
    case = actions.report_own_disc(
        member,
        choice=body.choice,
        description=body.description,
        scan_id=body.scan_id,
        actor=request.auth,
    )
    return Status(201, _detail(request, case))


@router.post("/cases/{case_id}/own-disc/settle", response=CaseOut)
def settle_own_disc(request, case_id: int):
    """Support: settle a member's own disc on its case (the credit they chose, or mail it
    back), once the disc is at a return desk."""
    if not _staff(request):
        raise Forbidden("Only support settles members' discs.")
    return actions.settle_own_disc(_case(request, case_id), actor=request.auth)


@router.post("/cases/{case_id}/resend-statement", response={201: InteractionOut})
def resend_statement(request, case_id: int, body: ResendIn):
    """Support: email the case's member one of their statements again."""
    if not _staff(request):
        raise Forbidden("Only support resends statements.")
    row = actions.resend_statement(
        _case(request, case_id),
        body.statement_id,
        actor=request.auth,
        idempotency_key=body.idempotency_key,
    )
    return Status(201, row)


@router.get("/cases/{case_id}", response=CaseDetail)
def get_case(request, case_id: int):
    return _detail(request, _case(request, case_id))


@router.post("/cases/{case_id}/interactions", response={201: InteractionOut})
def add_interaction(request, case_id: int, body: InteractionIn):
    case = _case(request, case_id)
    if body.kind == Interaction.Kind.EMAIL_OUT:
        return Status(201, actions.reply_by_email(case, body.body, actor=request.auth))
    return Status(
        201,
        actions.add_interaction(
            case, kind=body.kind, body=body.body, actor=request.auth, duration_s=body.duration_s
        ),
    )


@router.post("/cases/{case_id}/status", response=CaseOut)
def set_status(request, case_id: int, body: StatusIn):
    if not _staff(request):
        raise Forbidden("Only support changes a case's status.")
    return actions.set_status(
        _case(request, case_id), body.status, actor=request.auth, reason=body.reason
    )


@router.post("/cases/{case_id}/actions", response={201: ActionOut, 202: ActionOut})
def compensate(request, case_id: int, body: ActionIn):
    """Give the member something on this case: done at once within your limits (201), or
    waiting for a lead's approval (202). A repeated idempotency key lands once."""
    if not _staff(request):
        raise Forbidden("Only support gives compensation.")
    got = actions.compensate(
        _case(request, case_id),
        body.kind,
        actor=request.auth,
        reason=body.reason,
        amount=body.amount,
        percent=body.percent,
        rentals=body.rentals,
        target=body.target,
        idempotency_key=body.idempotency_key,
    )
    if isinstance(got, Action):
        return Status(201, {"outcome": "done", "id": got.pk, "kind": got.kind, "value": got.value})
    return Status(
        202,
        {
            "outcome": "waiting",
            "id": got.pk,
            "kind": got.kind,
            "value": got.value,
            "why_waiting": got.why_waiting,
        },
    )


@router.get("/approvals", response=list[ApprovalOut])
def approvals(request):
    if not has_role(request.auth, Role.SUPPORT_LEAD, Role.ADMIN):
        raise Forbidden("Only leads see the approval queue.")
    return list(Approval.objects.filter(status=Approval.Status.WAITING).order_by("requested_at"))


@router.post("/approvals/{approval_id}/decide", response=ApprovalOut)
def decide(request, approval_id: int, body: DecideIn):
    return actions.decide(approval_id, approve=body.approve, actor=request.auth, note=body.note)


# The telephony webhook ------------------------------------------------------------------------


class CallOut(Schema):
    call_id: str
    number: str
    member_id: int | None = None
    started_at: dt.datetime
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


def signature_ok(raw: bytes, given: str) -> bool:
    secret = settings.REDENVELOPE.get("SUPPORT_CTI_SECRET", "")
    if not secret:
        return False
    want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, (given or "").strip())


@router.post("/calls", auth=None, response=CallOut)
def call_event(request):
    """A telephony event in the shape of Zammad's CTI API (form or JSON fields: `event` newCall
    | answer | hangup, `callId`, `from`, `to`, `direction` in | out, `user`), signed with the
    shared secret: header `X-Signature: sha256=<hex HMAC-SHA256 of the body>`."""
    raw = request.body
    if not signature_ok(raw, request.headers.get("X-Signature", "")):
        raise Forbidden("Bad or missing signature.", code="bad_signature")
    if request.content_type == "application/json":
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise DomainError("The body is not JSON.") from None
        if not isinstance(data, dict):
            raise DomainError("The body is not a JSON object.")
    else:
        data = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    return actions.call_event(
        str(data.get("event", "")),
        str(data.get("callId", "")),
        number=str(data.get("from", "")),
        direction=str(data.get("direction", "in")),
    )


class ArticleOut(Schema):
    id: int
    slug: str
    title: str
    body: str
    published: bool
    updated_at: dt.datetime


class ArticleIn(Schema):
    title: str
    body: str
    slug: str = ""
    published: bool = True


@router.get("/articles", response=list[ArticleOut])
def articles(request, q: str = ""):
    """Help-center articles (published ones; support sees drafts too), searched by words."""
    return list(actions.search_articles(q, staff=_staff(request), limit=100))


@router.post("/articles", response={201: ArticleOut})
def new_article(request, body: ArticleIn):
    return Status(201, actions.save_article(actor=request.auth, **body.dict()))


@router.put("/articles/{article_id}", response=ArticleOut)
def edit_article(request, article_id: int, body: ArticleIn):
    row = Article.objects.filter(pk=article_id).first()
    if row is None:
        raise NotFound("No such article.")
    return actions.save_article(actor=request.auth, article=row, **body.dict())
