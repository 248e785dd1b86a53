"""Mail to the support address: each message opens a case or continues its thread.

Two ways in, both calling `receive`: an SMTP listener (`redenvelope support mail-gateway`, on
aiosmtpd, for an MTA to relay to) and a pipe (`redenvelope support receive-mail < message.eml`).

- Threading: the message's In-Reply-To and References name an earlier message of a case (one we
  received, or a reply we sent); failing that, "[case N]" in the subject from the same sender.
- The same Message-ID twice is one message (a relay's retry, a double pipe): nothing is added.
- Auto-replies and bounces (Auto-Submitted, Precedence: bulk/junk/list, X-Autoreply, mail from
  mailer-daemon or postmaster, an empty Return-Path) are dropped: they never open cases, and we
  never answer them, so two robots cannot loop.
- A burst (more mail from one sender within 10 minutes of a case they opened, before anyone
  answered it) continues that case instead of opening another.
- A sender not a member gets a case of their own (agents can attach it to a member later).
- Over `SUPPORT_MAIL_MAX_BYTES` (default 10 MiB) or without a usable From: refused (an SMTP
  error on the gateway, a non-zero exit on the pipe), nothing stored.
- A flood (more than `SUPPORT_MAIL_FLOOD` messages from one address in a minute, default 30):
  further messages are accepted and kept, held on the sender's latest case (no new cases),
  and staff are told once per flood; other senders are not slowed (the check is one indexed
  count of that sender's last minute).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from redenvelope.core import clock
from redenvelope.core.mail import queue_email
from redenvelope.membership.models import Member

from .actions import _locked_case, _note, _touch
from .models import Attachment, Case, Channel, Interaction

MAX_ATTACHMENTS = 20
BURST = dt.timedelta(minutes=10)
CASE_TAG = re.compile(r"\[case (\d+)\]", re.I)
REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.I)


class MailRefused(Exception):
    """The message is refused: (SMTP code, text)."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class Received:
    outcome: str  # opened | threaded | duplicate | held | ignored
    case_id: int | None = None
    interaction_id: int | None = None


def max_bytes() -> int:
    return int(settings.REDENVELOPE.get("SUPPORT_MAIL_MAX_BYTES", 10 * 1024 * 1024))


def flood_limit() -> int:
    return int(settings.REDENVELOPE.get("SUPPORT_MAIL_FLOOD", 30))


def is_automatic(msg) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if str(msg.get("Precedence", "")).strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress"):
        return True
    if str(msg.get("Return-Path", "x")).strip() in {"<>", ""}:
        return True
    sender = email.utils.parseaddr(str(msg.get("From", "")))[1].lower()
    local = sender.partition("@")[0]
    return local in {"mailer-daemon", "postmaster", "noreply", "no-reply"}


def _ids(value) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(value or ""))


def _body(msg) -> str:
    part = msg.get_body(("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        text = part.get_payload(decode=True).decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        text = re.sub(r"<[^>]+>", " ", text)
    return text.strip()[:50_000]


def parse(raw: bytes):
    if len(raw) > max_bytes():
        raise MailRefused(552, f"Message too large (limit {max_bytes()} bytes)")
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        sender = email.utils.parseaddr(str(msg.get("From", "")))[1].strip().lower()
    except Exception:  # noqa: BLE001 - any parse failure is a refusal, not a crash
        raise MailRefused(554, "Malformed message") from None
    if "@" not in sender or len(sender) > 254 or " " in sender:
        raise MailRefused(550, "Malformed message: no sender address")
    return msg, sender


def receive(raw: bytes) -> Received:
    """Take one message (its bytes as received): see the module's text."""
    msg, sender = parse(raw)
    if is_automatic(msg):
        return Received("ignored")
    mid = (_ids(msg.get("Message-ID")) or [None])[0]
    if mid is None:  # a message without one: named by its content, so a retry is recognised
        mid = f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id>"
    mid = mid[:250]
    done = Interaction.objects.filter(message_id=mid).first()
    if done:
        return Received("duplicate", done.case_id, done.pk)
    try:
        with transaction.atomic():
            return _store(msg, sender, mid)
    except IntegrityError:  # the same message stored by a parallel delivery just now
        done = Interaction.objects.filter(message_id=mid).first()
        if done is None:
            raise
        return Received("duplicate", done.case_id, done.pk)


def _store(msg, sender: str, mid: str) -> Received:
    now = clock.now()
    user = get_user_model().objects.filter(email__iexact=sender).first()
    member = Member.objects.filter(user=user).first() if user else None
    subject = " ".join(str(msg.get("Subject", "") or "").split())[:200]
    body = _body(msg)
    recent = Interaction.objects.filter(
        address=sender, kind=Interaction.Kind.EMAIL_IN, at__gte=now - dt.timedelta(minutes=1)
    ).count()
    case = _thread(msg, sender, member, subject)
    if case is None:  # a burst: mail from one sender minutes apart, not yet answered, is one case
        case = _latest_case(sender, member, since=now - BURST)
        if case is not None and case.status != Case.Status.NEW:
            case = None
    outcome = "threaded"
    held = False
    if recent >= flood_limit():
        held = True
        outcome = "held"
        if case is None:
            case = _latest_case(sender, member)
    if case is None or case.status == Case.Status.CLOSED:
        outcome = "held" if held else "opened"
        case = Case.objects.create(
            member=member,
            contact="" if member else sender,
            subject=REPLY_PREFIX.sub("", subject)[:200] or "(no subject)",
            channel=Channel.EMAIL,
            channels=Channel.EMAIL,
            opened_at=now,
            updated_at=now,
        )
    else:
        case = _locked_case(case.pk)
    row = Interaction.objects.create(
        case=case,
        member_id=case.member_id,
        kind=Interaction.Kind.EMAIL_IN,
        at=now,
        from_member=True,
        body=body,
        address=sender,
        message_id=mid,
        held=held,
    )
    for n, part in enumerate(msg.iter_attachments()):
        if n >= MAX_ATTACHMENTS:
            break
        data = part.get_payload(decode=True) or b""
        Attachment.objects.create(
            interaction=row,
            filename=(part.get_filename() or f"attachment-{n + 1}")[:200],
            content_type=part.get_content_type()[:100],
            size=len(data),
            data=data,
        )
    if held:
        first = case.held == 0
        Case.objects.filter(pk=case.pk).update(held=case.held + 1)
        if first:
            _note(case, f"Mail from {sender} held: over {flood_limit()} messages in a minute.")
            _alert(case, sender)
    elif case.status in (Case.Status.WAITING, Case.Status.RESOLVED):
        case.status = Case.Status.OPEN
        case.resolved_at = None
        case.save(update_fields=["status", "resolved_at"])
    _touch(case, Channel.EMAIL)
    return Received(outcome, case.pk, row.pk)


def _thread(msg, sender: str, member, subject: str) -> Case | None:
    refs = _ids(msg.get("In-Reply-To")) + list(reversed(_ids(msg.get("References"))))
    if refs:
        hit = (
            Interaction.objects.filter(message_id__in=refs[:50])
            .select_related("case")
            .order_by("-at")
            .first()
        )
        if hit is not None and _same_sender(hit.case, sender, member):
            return hit.case
    tag = CASE_TAG.search(subject)
    if tag:
        case = Case.objects.filter(pk=int(tag.group(1))).first()
        if case is not None and _same_sender(case, sender, member):
            return case
    return None


def _same_sender(case: Case, sender: str, member) -> bool:
    if member is not None:
        return case.member_id == member.pk
    return case.member_id is None and case.contact == sender


def _latest_case(sender: str, member, since=None) -> Case | None:
    cases = Case.objects.exclude(status=Case.Status.CLOSED)
    if since is not None:
        cases = cases.filter(opened_at__gte=since)
    cases = cases.filter(member=member) if member else cases.filter(contact=sender)
    return cases.order_by("-opened_at", "-pk").first()


def _alert(case: Case, sender: str) -> None:
    to = settings.REDENVELOPE.get("SUPPORT_ALERTS_EMAIL", "")
    if not to:
        return
    queue_email(
        key=f"support-flood:{case.pk}:{clock.today().isoformat()}",
        kind="support_alert",
        to=to,
        subject=f"Mail flood from {sender} held on case {case.pk}"[:200],
        body=(
            f"More than {flood_limit()} messages a minute came from {sender}. They are kept, "
            f"held on case {case.pk}, and open no new cases."
        ),
    )
