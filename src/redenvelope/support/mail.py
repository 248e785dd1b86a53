"""Mail to the support address: each message opens a case or continues its thread.

Two ways in, both calling `receive`: an SMTP listener (`redenvelope support mail-gateway`, on
aiosmtpd, for an MTA to relay to) and a pipe (`redenvelope support receive-mail < message.eml`).

- Threading: the message's In-Reply-To and References name an earlier message of a case (one we
  received, or a reply we sent); failing that, "[case N]" in the subject from the same sender.
- The same Message-ID twice is one message (a relay's retry, a double pipe): nothing is added.
- Bounce reports (multipart/report delivery status) are handed to the newsletter's bounce
  handling (setting MAIL_BOUNCE): hard bounces suppress the address, soft ones are scored.
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
from email.header import decode_header, make_header
from email.parser import BytesParser

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from redenvelope.core import clock
from redenvelope.core.mail import queue_email

from .actions import _note
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
    # opened | threaded | duplicate | held | ignored | bounce-hard | bounce-soft | bounce-unknown
    outcome: str
    case_id: int | None = None
    interaction_id: int | None = None


def max_bytes() -> int:
    return int(settings.REDENVELOPE.get("SUPPORT_MAIL_MAX_BYTES", 10 * 1024 * 1024))


def flood_limit() -> int:
    return int(settings.REDENVELOPE.get("SUPPORT_MAIL_FLOOD", 30))


def _header(msg, name: str) -> str:
    """A header's text, encoded words (=?utf-8?...?=) decoded; '' when absent."""
    value = msg.get(name)
    if value is None:
        return ""
    value = str(value)
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError):
        return value


def is_automatic(msg) -> bool:
    auto = _header(msg, "Auto-Submitted").strip().lower() or "no"
    if auto != "no":
        return True
    if _header(msg, "Precedence").strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress"):
        return True
    if msg.get("Return-Path") is not None and _header(msg, "Return-Path").strip() in {"<>", ""}:
        return True
    sender = email.utils.parseaddr(_header(msg, "From"))[1].lower()
    local = sender.partition("@")[0]
    return local in {"mailer-daemon", "postmaster", "noreply", "no-reply"}


def _ids(value) -> list[str]:
    return re.findall(r"<[^<>\s]+>", str(value or ""))


def _text(part) -> str:
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _parts(msg):
    """(the body's text, the attachments as (filename, type, bytes)) of a message."""
    body, html, files = None, None, []
    for part in msg.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        disposition = str(part.get("Content-Disposition", "")).lower()
        if "attachment" in disposition or (part.get_filename() and kind[:5] != "text/"):
            files.append((part.get_filename(), kind, part.get_payload(decode=True) or b""))
        elif kind == "text/plain" and body is None:
            body = _text(part)
        elif kind == "text/html" and html is None:
            html = re.sub(r"<[^>]+>", " ", _text(part))
    return (body if body is not None else html or "").strip()[:50_000], files


def parse(raw: bytes):
    """The message (headers parsed the light way: compat32) and its sender, or a refusal."""
    if len(raw) > max_bytes():
        raise MailRefused(552, f"Message too large (limit {max_bytes()} bytes)")
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
        sender = email.utils.parseaddr(_header(msg, "From"))[1].strip().lower()
    except Exception:  # noqa: BLE001 - any parse failure is a refusal, not a crash
        raise MailRefused(554, "Malformed message") from None
    if "@" not in sender or len(sender) > 254 or " " in sender:
        raise MailRefused(550, "Malformed message: no sender address")
    return msg, sender


def receive(raw: bytes) -> Received:
    """Take one message (its bytes as received): see the module's text."""
    msg, sender = parse(raw)
    if msg.get_content_type() == "multipart/report" or is_automatic(msg):
        # A bounce report goes to whoever keeps our mailing lists (REDENVELOPE["MAIL_BOUNCE"]:
        # the newsletter's suppression); it never opens a case, nor does any robot's mail.
        from redenvelope.core.mail import _hook

        bounce = _hook("MAIL_BOUNCE")
        outcome = bounce(msg) if bounce else None
        return Received(outcome or "ignored")
    mid = (_ids(msg.get("Message-ID")) or [None])[0]
    if mid is None:  # a message without one: named by its content, so a retry is recognised
        mid = f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id>"
    mid = mid[:250]
    try:
        with transaction.atomic():
            return _store(msg, sender, mid)
    except IntegrityError:  # the same message again (a retry, a parallel delivery)
        done = Interaction.objects.filter(message_id=mid).values_list("case_id", "pk").first()
        if done is None:
            raise
        return Received("duplicate", *done)


# Everything a message's storing needs to know first, in one round trip (the gateway's cost is
# its round trips to the database): the sender's member id (by LOWER(email), as
# `queries.member_by_email`), how many messages they sent in the last minute, and their newest
# case still open that was opened within BURST, with the columns used here.
_CASE_COLUMNS = [  # in the model's order, as Model.from_db wants them
    f.attname
    for f in Case._meta.concrete_fields
    if f.attname in {"id", "status", "held", "channels", "member_id", "contact"}
]
_CONTEXT_SQL = """
SELECT x.mid, x.recent, {columns}
FROM (
  SELECT m.mid,
    (SELECT COUNT(*) FROM support_interaction i
      WHERE i.address = %s AND i.kind = %s AND i.at >= %s) AS recent,
    COALESCE(
      (SELECT c1.id FROM support_case c1
        WHERE c1.member_id = m.mid AND c1.opened_at >= %s AND c1.status <> %s
        ORDER BY c1.opened_at DESC, c1.id DESC LIMIT 1),
      (SELECT c2.id FROM support_case c2
        WHERE m.mid IS NULL AND c2.contact = %s AND c2.member_id IS NULL
          AND c2.opened_at >= %s AND c2.status <> %s
        ORDER BY c2.opened_at DESC, c2.id DESC LIMIT 1)
    ) AS bid
  FROM (
    SELECT (SELECT mm.id FROM membership_member mm JOIN auth_user u ON u.id = mm.user_id
            WHERE LOWER(u.email) = %s ORDER BY mm.id LIMIT 1) AS mid
  ) m
) x LEFT JOIN support_case c ON c.id = x.bid
""".format(columns=", ".join(f"c.{c}" for c in _CASE_COLUMNS))  # noqa: S608 - column names


def _context(sender: str, now) -> tuple[int | None, int, Case | None]:
    """(member id or None, messages from the sender in the last minute, the burst case)."""
    from django.db import connection

    at = connection.ops.adapt_datetimefield_value
    minute, burst = at(now - dt.timedelta(minutes=1)), at(now - BURST)
    shut = Case.Status.CLOSED
    with connection.cursor() as cur:
        cur.execute(
            _CONTEXT_SQL,
            [sender, Interaction.Kind.EMAIL_IN, minute, burst, shut, sender, burst, shut, sender],
        )
        row = cur.fetchone()
    case = None
    if row[2 + _CASE_COLUMNS.index("id")] is not None:
        case = Case.from_db(connection.alias, _CASE_COLUMNS, row[2:])
    return row[0], int(row[1]), case


def _store(msg, sender: str, mid: str) -> Received:
    now = clock.now()
    member_id, recent, burst_case = _context(sender, now)
    subject = " ".join(_header(msg, "Subject").split())[:200]
    body, files = _parts(msg)
    case = _thread(msg, sender, member_id, subject)
    if case is None and burst_case is not None and burst_case.status == Case.Status.NEW:
        case = burst_case  # a burst: mail from one sender minutes apart, not yet answered
    outcome = "threaded"
    held = False
    if recent >= flood_limit():
        held = True
        outcome = "held"
        if case is None:
            case = _latest_case(sender, member_id)
    created = False
    if case is None or case.status == Case.Status.CLOSED:
        outcome = "held" if held else "opened"
        created = True
        case = Case.objects.create(
            member_id=member_id,
            contact="" if member_id else sender,
            subject=REPLY_PREFIX.sub("", subject)[:200] or "(no subject)",
            channel=Channel.EMAIL,
            channels=Channel.EMAIL,
            opened_at=now,
            updated_at=now,
        )
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
    if files:
        Attachment.objects.bulk_create(
            [
                Attachment(
                    interaction=row,
                    filename=(name or f"attachment-{n + 1}")[:200],
                    content_type=kind[:100],
                    size=len(data),
                    data=data,
                )
                for n, (name, kind, data) in enumerate(files[:MAX_ATTACHMENTS])
            ]
        )
    change = {"updated_at": now}
    if "email" not in case.channels.split(","):
        change["channels"] = ",".join(c for c in [*case.channels.split(","), "email"] if c)
    if held:
        change["held"] = F("held") + 1
        if case.held == 0:
            _note(case, f"Mail from {sender} held: over {flood_limit()} messages in a minute.")
            _alert(case, sender)
    elif case.status in (Case.Status.WAITING, Case.Status.RESOLVED):
        change.update(status=Case.Status.OPEN, resolved_at=None)
    if not created or len(change) > 1:  # a case opened just now already has it all
        Case.objects.filter(pk=case.pk).update(**change)
    return Received(outcome, case.pk, row.pk)


def _thread(msg, sender: str, member_id, subject: str) -> Case | None:
    refs = _ids(msg.get("In-Reply-To")) + list(reversed(_ids(msg.get("References"))))
    if refs:
        hit = (
            Interaction.objects.filter(message_id__in=refs[:50])
            .select_related("case")
            .order_by("-at")
            .first()
        )
        if hit is not None and _same_sender(hit.case, sender, member_id):
            return hit.case
    tag = CASE_TAG.search(subject)
    if tag:
        case = Case.objects.filter(pk=int(tag.group(1))).first()
        if case is not None and _same_sender(case, sender, member_id):
            return case
    return None


def _same_sender(case: Case, sender: str, member_id) -> bool:
    if member_id is not None:
        return case.member_id == member_id
    return case.member_id is None and case.contact == sender


def _latest_case(sender: str, member_id, since=None) -> Case | None:
    cases = Case.objects.exclude(status=Case.Status.CLOSED)
    if since is not None:
        cases = cases.filter(opened_at__gte=since)
    cases = cases.filter(member_id=member_id) if member_id else cases.filter(contact=sender)
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
