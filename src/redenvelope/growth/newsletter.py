"""The weekly newsletter: every state change of it (issues, subscribers, deliveries, bounces,
opens and clicks), and the sender.

An issue lists the week's new arrivals on disc and to stream, and "picked for you": each
recipient's likeliest titles among them, from the live recommendations model
(`recommendations.serving.picks_among`, the top-picks model scored for every member at once).
Queueing writes one Delivery per recipient (in bulk, with its picks); the message is rendered
from the issue, the recipient and the picks when it is sent (the same bytes every time), as
plain text and HTML with a one-click unsubscribe (RFC 8058).

Sending, exactly once. Each SMTP connection hands the server one message at a time: the
envelope and the content go first, then, in one transaction, the previous message is recorded
as `sent` (the server accepted it) and this one as `sending`, and only after that commit is
the final "." sent that makes the server take it. A sender killed at any moment (kill -9)
therefore leaves at most two deliveries per connection `sending`: ones the server has taken
or is taking. The next sender records them `unconfirmed` and never sends them again (an
operator may, with `--resend-unconfirmed`); everything else is still `queued` and goes out
once. Only a kill in the microseconds between that commit and the write of the "." loses a
message (recorded unconfirmed, not sent); none is ever sent twice. One sender works on an
issue at a time (a lease on the issue: host, pid, heartbeat; a dead one's is taken over).

Pausing is a status the sender reads between messages; resuming continues from the queued.
Rate: a shared pace of NEWSLETTER_RATE messages a second over all connections (0: as fast as
the server takes them). A temporary refusal (4xx) is retried later, up to NEWSLETTER_TRIES; a
permanent one (5xx) fails the delivery and counts as a hard bounce.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import html
import logging
import os
import queue as queue_mod
import quopri
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime, parseaddr

from django.conf import settings
from django.core import signing
from django.db import connection, transaction

from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound

from .models import Delivery, Event, Issue, Subscriber, Suppression

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
CONFIRM_SALT = "redenvelope.growth.subscribe"
CONFIRM_DAYS = 7


def _setting(name: str):
    return settings.REDENVELOPE[name]


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


# --------------------------------------------------------------------------- tokens


def _mac(text: str, n: int = 16) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:n]


def token(delivery_id: int) -> str:
    """A delivery's token in its links (unsubscribe, open pixel, clicks)."""
    return f"{int(delivery_id):x}-{_mac(f'nl:{int(delivery_id)}')}"


def read_token(value: str) -> int | None:
    """The delivery id of a token, or None when it was altered."""
    head, _, mac = (value or "").partition("-")
    try:
        did = int(head, 16)
    except ValueError:
        return None
    return did if hmac.compare_digest(mac, _mac(f"nl:{did}")) else None


def message_id(issue_id: int, delivery_id: int) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "redenvelope"
    return f"<nl.{issue_id}.{delivery_id}.{_mac(f'mid:{delivery_id}', 8)}@{domain}>"


def delivery_of_message_id(mid: str) -> int | None:
    parts = (mid or "").strip("<> ").partition("@")[0].split(".")
    if len(parts) != 4 or parts[0] != "nl" or not parts[2].isdigit():
        return None
    did = int(parts[2])
    return did if hmac.compare_digest(parts[3], _mac(f"mid:{did}", 8)) else None


# --------------------------------------------------------------------------- subscribers


def _clean_email(email: str) -> str:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError("That is not an email address.", code="bad_email") from None
    return email


def subscribe(email: str) -> Subscriber:
    """A visitor asks for the newsletter: recorded as pending, and a confirmation link mailed
    (double opt-in); nothing is sent to them until they follow it. Asking again re-sends the
    link; a confirmed subscriber is left as they are."""
    from redenvelope.core.mail import queue_email

    email = _clean_email(email)
    with transaction.atomic():
        sub = Subscriber.objects.select_for_update().filter(email=email).first()
        if sub is None:
            sub = Subscriber.objects.create(
                email=email, status=Subscriber.Status.PENDING, created_at=clock.now()
            )
        elif sub.status == Subscriber.Status.CONFIRMED:
            return sub
        else:
            sub.status = Subscriber.Status.PENDING
            sub.save(update_fields=["status"])
        link = site_url(
            f"/newsletter/confirm/{signing.dumps(sub.pk, salt=CONFIRM_SALT, compress=True)}/"
        )
        queue_email(
            key=f"newsletter-confirm:{sub.pk}:{int(clock.now().timestamp()) // 600}",
            kind="newsletter_confirm",
            to=email,
            subject="Confirm your Red Envelope newsletter",
            body=(
                "Someone (we hope you) asked for Red Envelope's weekly newsletter at this "
                f"address. To start receiving it, confirm here:\n\n{link}\n\n"
                f"The link works for {CONFIRM_DAYS} days. If it was not you, ignore this "
                "email: nothing more will come.\n\nRed Envelope"
            ),
        )
    return sub


@transaction.atomic
def confirm(value: str) -> Subscriber:
    try:
        sid = signing.loads(value, salt=CONFIRM_SALT, max_age=dt.timedelta(days=CONFIRM_DAYS))
    except signing.SignatureExpired:
        raise DomainError(
            "That confirmation link has expired: ask again.", code="expired"
        ) from None
    except signing.BadSignature:
        raise DomainError("That confirmation link is not valid.", code="bad_token") from None
    sub = Subscriber.objects.select_for_update().filter(pk=sid).first()
    if sub is None:
        raise NotFound("That confirmation link is not valid.", code="bad_token")
    if sub.status != Subscriber.Status.CONFIRMED:
        sub.status = Subscriber.Status.CONFIRMED
        sub.confirmed_at = clock.now()
        sub.save(update_fields=["status", "confirmed_at"])
    return sub


def unsubscribe(value: str) -> Delivery:
    """The recipient of a delivery stops the newsletter (a member: the newsletter muted in
    their preferences; a subscriber: unsubscribed). A second time changes nothing; an altered
    token is refused."""
    from redenvelope.membership import actions as membership
    from redenvelope.membership.models import Member

    did = read_token(value)
    d = Delivery.objects.filter(pk=did).first() if did is not None else None
    if d is None:
        raise DomainError("That unsubscribe link is not valid.", code="bad_token")
    with transaction.atomic():
        if d.member_id:
            member = Member.objects.filter(pk=d.member_id).first()
            if member is not None and "newsletter" not in member.muted:
                membership.set_muted_emails(member, set(member.muted) | {"newsletter"})
        if d.subscriber_id:
            Subscriber.objects.filter(pk=d.subscriber_id).exclude(
                status=Subscriber.Status.UNSUBSCRIBED
            ).update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=clock.now())
        _event(d, Event.Kind.UNSUBSCRIBE, once=True)
    return d


def _event(d: Delivery, kind: str, url: str = "", once: bool = False) -> None:
    if once and Event.objects.filter(delivery_id=d.pk, kind=kind).exists():
        return
    Event.objects.create(issue_id=d.issue_id, delivery_id=d.pk, kind=kind, at=clock.now(), url=url)


def track(value: str, kind: str, url: str = "") -> Delivery | None:
    """An open (the pixel) or a click (the redirect); ignored when tracking is off or the token
    was altered."""
    setting = "NEWSLETTER_TRACK_OPENS" if kind == Event.Kind.OPEN else "NEWSLETTER_TRACK_CLICKS"
    did = read_token(value)
    if did is None or not _setting(setting):
        return None
    d = Delivery.objects.filter(pk=did).first()
    if d is not None:
        _event(d, kind, url[:300])
    return d


# --------------------------------------------------------------------------- bounces


def _dsn(msg) -> list[tuple[str, str, str]]:
    """(recipient, action, status) of each recipient a delivery status notification reports."""
    out = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else []
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            rcpt = str(block.get("Final-Recipient", "") or block.get("Original-Recipient", ""))
            addr = rcpt.partition(";")[2].strip() or rcpt.strip()
            if addr:
                out.append(
                    (
                        addr.strip("<>").lower(),
                        str(block.get("Action", "")).strip().lower(),
                        str(block.get("Status", "")).strip(),
                    )
                )
    return out


def _original_ids(msg) -> list[str]:
    ids = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if hasattr(inner, "get"):
                ids.append(str(inner.get("Message-ID", "")))
        elif ctype == "text/rfc822-headers":
            body = part.get_payload(decode=True) or b""
            for line in body.decode("utf-8", "replace").splitlines():
                if line.lower().startswith("message-id:"):
                    ids.append(line.partition(":")[2].strip())
    return [i for i in ids if i]


def receive_bounce(msg) -> str | None:
    """The mail intake hands over an automatic message. A delivery status notification about
    one of our addresses: a hard bounce (failed, 5.x.x) suppresses the address; a soft one
    (4.x.x, or delayed) adds to its score, and NEWSLETTER_SOFT_BOUNCES of them suppress it.
    Returns "bounce-hard", "bounce-soft", "bounce-unknown" (no address of ours: nothing
    stored), or None (not a bounce report)."""
    from redenvelope.membership.models import Member

    reports = _dsn(msg)
    if not reports:
        return None
    ids = [delivery_of_message_id(i) for i in _original_ids(msg)]
    by_mid = Delivery.objects.filter(pk__in=[i for i in ids if i]).first()
    outcome = "bounce-unknown"
    for addr, action, status in reports:
        hard = action == "failed" and status.startswith("5")
        soft = not hard and (action in ("delayed", "failed") or status.startswith("4"))
        if not (hard or soft):
            continue
        d = by_mid if by_mid is not None and by_mid.email == addr else None
        if d is None:
            d = Delivery.objects.filter(email=addr).order_by("-id").first()
        known = (
            d is not None
            or Subscriber.objects.filter(email=addr).exists()
            or Member.objects.filter(user__email__iexact=addr).exists()
        )
        if not known:
            continue
        with transaction.atomic():
            sup = Suppression.objects.select_for_update().filter(email=addr).first()
            if sup is None:
                sup = Suppression(email=addr, updated_at=clock.now())
            if hard:
                sup.suppressed = True
                sup.reason = f"hard bounce {status}"
            else:
                sup.soft_score += 1
                if sup.soft_score >= _setting("NEWSLETTER_SOFT_BOUNCES"):
                    sup.suppressed = True
                    sup.reason = f"{sup.soft_score} soft bounces (last {status or action})"
            sup.updated_at = clock.now()
            sup.save()
            if d is not None:
                _event(d, Event.Kind.BOUNCE_HARD if hard else Event.Kind.BOUNCE_SOFT, status)
        outcome = (
            "bounce-hard" if hard else ("bounce-soft" if outcome != "bounce-hard" else outcome)
        )
    return outcome


# --------------------------------------------------------------------------- issues


def week_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _arrivals(today: dt.date, now) -> tuple[list[int], list[int]]:
    """The week's new arrivals: discs released in the last 4 weeks (else the newest), and
    titles whose streaming window opened in the last 4 weeks; a series only by its first
    disc; the most popular first, 12 of each at most."""
    from django.db.models import Q

    from redenvelope.catalog.models import Title
    from redenvelope.rights.models import LicenseWindow
    from redenvelope.rights.queries import STREAM_KINDS

    first = Q(series__isnull=True) | Q(season=1, disc_number=1)
    since = today - dt.timedelta(days=28)
    released = Title.objects.filter(first, release_date__lte=today)
    disc = list(
        released.filter(release_date__gte=since)
        .order_by("-popularity", "-release_date", "id")
        .values_list("pk", flat=True)[:12]
    )
    if len(disc) < 4:
        disc += [
            t
            for t in released.order_by("-release_date", "-popularity", "id").values_list(
                "pk", flat=True
            )[:12]
            if t not in disc
        ][: 12 - len(disc)]
    opened = (
        LicenseWindow.objects.filter(
            kind__in=STREAM_KINDS,
            starts_at__lte=now,
            starts_at__gte=now - dt.timedelta(days=28),
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .values_list("title_id", flat=True)
    )
    stream = list(
        Title.objects.filter(first, pk__in=list(opened))
        .order_by("-popularity", "id")
        .values_list("pk", flat=True)[:12]
    )
    return disc, stream


def build_issue(day: dt.date | None = None, *, subject: str = "", intro: str = "") -> Issue:
    """The issue of the week containing `day` (today): its arrivals chosen now. Building a
    week's issue again returns it while it is a draft (refreshed), and refuses once queued."""
    from redenvelope.catalog.models import Title

    day = day or clock.today()
    week = week_of(day)
    disc, stream = _arrivals(day, clock.now())
    if not disc and not stream:
        raise DomainError("Nothing new to tell: the catalog has no released titles.")
    names = dict(Title.objects.filter(pk__in=disc + stream).values_list("pk", "name"))
    lead = names.get((disc or stream)[0], "")
    more = len(set(disc) | set(stream)) - 1
    subject = subject or (f"New this week: {lead}" + (f" and {more} more" if more else ""))
    intro = intro or "Here is what arrived this week, and what we think you will like most."
    with transaction.atomic():
        issue = Issue.objects.select_for_update().filter(week=week).first()
        if issue is not None and issue.status != Issue.Status.DRAFT:
            raise Conflict(
                f"The issue of the week of {week:%d %b %Y} is already "
                f"{issue.get_status_display().lower()}.",
                code="issue_queued",
            )
        if issue is None:
            issue = Issue(week=week, created_at=clock.now())
        issue.subject, issue.intro = subject[:200], intro
        issue.dvd_titles, issue.stream_titles = disc, stream
        issue.save()
    return issue


def recipients() -> dict:
    """Who gets an issue now: members (not cancelled) who did not turn the newsletter off, and
    confirmed subscribers who are not members; never a suppressed address."""
    from redenvelope.core.bulk import read_columns

    members = read_columns(
        "SELECT m.id, LOWER(u.email), u.first_name, m.region_id, "  # noqa: S608
        "(CASE WHEN p.discs_at_once > 0 THEN 1 ELSE 0 END) + "
        "(CASE WHEN p.streaming_screens > 0 THEN 2 ELSE 0 END) "
        "FROM membership_member m JOIN auth_user u ON u.id = m.user_id "
        "JOIN membership_plan p ON p.id = m.plan_id "
        "WHERE m.status <> 'cancelled' AND u.email <> '' "
        "AND (',' || m.muted_emails || ',') NOT LIKE '%,newsletter,%' "
        "AND NOT EXISTS (SELECT 1 FROM growth_suppression s "
        "WHERE s.email = LOWER(u.email) AND s.suppressed) ORDER BY m.id",
        [("member_id", "int64"), ("email", "object"), ("name", "object"),
         ("region_id", "int64"), ("kinds", "int64")],
    )  # fmt: skip
    subs = read_columns(
        "SELECT s.id, s.email FROM growth_subscriber s WHERE s.status = 'confirmed' "
        "AND NOT EXISTS (SELECT 1 FROM auth_user u WHERE LOWER(u.email) = s.email) "
        "AND NOT EXISTS (SELECT 1 FROM growth_suppression x "
        "WHERE x.email = s.email AND x.suppressed) ORDER BY s.id",
        [("subscriber_id", "int64"), ("email", "object")],
    )
    return {"members": members, "subscribers": subs}


QUEUE_CHUNK = 50_000


def _start_queueing(issue_id: int) -> None:
    """Mark the issue as being queued by this process (from a draft, or from a queueing whose
    process died: its partial rows are removed)."""
    now = clock.now()
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue_id)
        if locked.status == Issue.Status.QUEUEING:
            if locked.sender and _alive(locked.sender, locked.sender_seen_at, now):
                raise Conflict(f"The issue is being queued by {locked.sender}.", code="queueing")
        elif locked.status != Issue.Status.DRAFT:
            raise Conflict("That issue is already queued.", code="issue_queued")
        locked.status = Issue.Status.QUEUEING
        locked.sender, locked.sender_seen_at = _me(), now
        locked.save(update_fields=["status", "sender", "sender_seen_at"])
    Delivery.objects.filter(issue_id=issue_id).delete()  # a crashed queueing's rows


def queue_issue(issue: Issue, *, progress=None) -> int:
    """Queue the issue: one delivery per recipient with their picks. The rows are written in
    chunks (so a million do not hold SQLite's write lock for half a minute) while the issue is
    `queuing`, which nothing sends; it becomes queued only with the last chunk. A queueing that
    died is started over by the next (its rows removed first). Refused once queued."""
    from redenvelope.core.bulk import copy_arrays, new_ids
    from redenvelope.recommendations.serving import live_bundle, picks_among

    if issue.status not in (Issue.Status.DRAFT, Issue.Status.QUEUEING):
        raise Conflict("That issue is already queued.", code="issue_queued")
    _start_queueing(issue.pk)
    who = recipients()
    mem, subs = who["members"], who["subscribers"]
    if progress:
        progress(f"picks for {mem['member_id'].size:,} members")
    picks = picks_among(
        mem["member_id"],
        mem["region_id"],
        {"disc": issue.dvd_titles, "stream": issue.stream_titles},
        mem["kinds"],
        n=4,
    )
    _, version, _ = live_bundle()
    text = [",".join(str(t) for t in row if t >= 0) for row in picks.tolist()]
    n_m, n_s = mem["member_id"].size, subs["subscriber_id"].size
    n = n_m + n_s
    if progress:
        progress(f"writing {n:,} deliveries")
    rows = {
        "email": list(mem["email"]) + list(subs["email"]),
        "member_id": mem["member_id"].tolist() + [None] * n_s,
        "subscriber_id": [None] * n_m + subs["subscriber_id"].tolist(),
        "name": [x or "" for x in mem["name"]] + [""] * n_s,
        "picks": text + [""] * n_s,
    }
    for a in range(0, n, QUEUE_CHUNK):
        b = min(n, a + QUEUE_CHUNK)
        with transaction.atomic():
            copy_arrays(
                "growth_delivery",
                {
                    "id": new_ids("growth_delivery", b - a),
                    "issue_id": issue.pk,
                    **{k: v[a:b] for k, v in rows.items()},
                    "state": Delivery.State.QUEUED.value,
                    "attempts": 0,
                    "next_try_at": None,
                    "sent_at": None,
                    "error": "",
                },
            )
            Issue.objects.filter(pk=issue.pk).update(sender_seen_at=clock.now())
    with transaction.atomic():
        locked = Issue.objects.select_for_update().get(pk=issue.pk)
        if locked.status != Issue.Status.QUEUEING or locked.sender != _me():
            raise Conflict("The issue was taken over while being queued.", code="queueing")
        locked.status = Issue.Status.QUEUED
        locked.queued_at = clock.now()
        locked.recipients = n
        locked.model_version = version
        locked.sender, locked.sender_seen_at = "", None
        locked.save(
            update_fields=[
                "status",
                "queued_at",
                "recipients",
                "model_version",
                "sender",
                "sender_seen_at",
            ]
        )
    issue.refresh_from_db()
    return n


@transaction.atomic
def pause_issue(issue: Issue) -> Issue:
    locked = Issue.objects.select_for_update().get(pk=issue.pk)
    if locked.status not in (Issue.Status.QUEUED, Issue.Status.SENDING):
        raise Conflict(f"A {locked.get_status_display().lower()} issue cannot be paused.")
    locked.status = Issue.Status.PAUSED
    locked.save(update_fields=["status"])
    return locked


@transaction.atomic
def resume_issue(issue: Issue) -> Issue:
    locked = Issue.objects.select_for_update().get(pk=issue.pk)
    if locked.status != Issue.Status.PAUSED:
        raise Conflict("Only a paused issue can be resumed.", code="not_paused")
    locked.status = Issue.Status.QUEUED
    locked.save(update_fields=["status"])
    return locked


# --------------------------------------------------------------------------- rendering


@dataclass
class Blocks:
    """An issue's fixed parts, rendered once; a message joins them with its recipient's."""

    issue: Issue
    text: dict[int, str] = field(default_factory=dict)
    html: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def blocks(issue: Issue) -> Blocks:
    from redenvelope.catalog.models import Title

    ids = list(dict.fromkeys(issue.dvd_titles + issue.stream_titles))
    b = Blocks(issue)
    for t in Title.objects.filter(pk__in=ids).prefetch_related("genres"):
        genres = ", ".join(g.name for g in t.genres.all())
        b.names[t.pk] = t.name
        b.text[t.pk] = f"{t.name} ({t.year})" + (f" - {genres}" if genres else "")
        b.html[t.pk] = f"<strong>{html.escape(t.name)}</strong> ({t.year})" + (
            f' <span style="color:#555">{html.escape(genres)}</span>' if genres else ""
        )
    return b


def _link(tok: str, title_id: int, track: bool = True) -> str:
    if track and _setting("NEWSLETTER_TRACK_CLICKS"):
        return site_url(f"/n/c/{tok}/{title_id}/")
    return site_url(f"/catalog/{title_id}/" if title_id else "/catalog/")


def render(
    b: Blocks, delivery_id: int, name: str, picks: str, track: bool = True
) -> tuple[str, str]:
    """(plain text, HTML) of one recipient's message (`track=False`: a staff preview, whose
    looking and clicking must not count as the recipient's)."""
    issue = b.issue
    tok = token(delivery_id)
    mine = [int(t) for t in picks.split(",") if t and int(t) in b.text]
    hello = f"Hello {name}," if name else "Hello,"
    text = [hello, "", issue.intro, ""]
    parts = [
        f"<p>{html.escape(hello)}</p>",
        f"<p>{html.escape(issue.intro)}</p>",
    ]

    def section(heading: str, ids: list[int]) -> None:
        ids = [t for t in ids if t in b.text]
        if not ids:
            return
        text.extend([heading, "-" * len(heading)])
        items = []
        for t in ids:
            url = _link(tok, t, track)
            text.append(f"* {b.text[t]}\n  {url}")
            items.append(f'<li><a href="{html.escape(url)}">{b.html[t]}</a></li>')
        text.append("")
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>{''.join(items)}</ul>")

    section("Picked for you", mine)
    section("New on DVD", [t for t in issue.dvd_titles if t not in mine])
    section("New to stream", [t for t in issue.stream_titles if t not in mine])
    unsub = site_url(f"/n/u/{tok}/")
    everything = _link(tok, 0, track)
    text.append(f"Everything new: {everything}")
    text.append(f"\nTo stop this newsletter: {unsub}\nRed Envelope")
    parts.append(f'<p><a href="{html.escape(everything)}">Everything new</a></p>')
    parts.append(
        f'<p style="font-size:small;color:#555">You get this because you are a member or '
        f'asked for it. <a href="{html.escape(unsub)}">Stop this newsletter</a>.</p>'
    )
    if track and _setting("NEWSLETTER_TRACK_OPENS"):
        parts.append(f'<img src="{site_url(f"/n/o/{tok}.gif")}" width="1" height="1" alt="">')
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif;line-height:1.5;color:#1a1a1a">\n'
        + "\n".join(parts)
        + "\n</body></html>"
    )
    return "\n".join(text), body


def _qp(text: str) -> bytes:
    return quopri.encodestring(text.replace("\r\n", "\n").encode()).replace(b"\n", b"\r\n")


def mime(b: Blocks, d: tuple, now: dt.datetime) -> bytes:
    """One message's bytes (headers, plain text and HTML parts, quoted-printable), with the
    one-click unsubscribe headers. `d` is (id, email, name, picks)."""
    from email.header import Header

    did, email, name, picks = d
    text, body = render(b, did, name, picks)
    sender = _setting("NEWSLETTER_FROM")
    unsub = site_url(f"/n/u/{token(did)}/")
    boundary = f"=_nl{did:x}_{_mac(f'b:{did}', 8)}"
    subject = b.issue.subject
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode()
    head = (
        f"From: {sender}\r\nTo: {email}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(now)}\r\nMessage-ID: {message_id(b.issue.pk, did)}\r\n"
        f"List-Unsubscribe: <{unsub}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        f"List-Id: Red Envelope newsletter <newsletter.{settings.ALLOWED_HOSTS[0]}>\r\n"
        "Precedence: bulk\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    part = (
        "--{b}\r\nContent-Type: {t}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return (
        head.encode()
        + part.format(b=boundary, t="text/plain").encode()
        + _qp(text)
        + b"\r\n"
        + part.format(b=boundary, t="text/html").encode()
        + _qp(body)
        + f"\r\n--{boundary}--\r\n".encode()
    )


def preview(issue: Issue, *, member_id: int | None = None, email: str = "") -> dict:
    """What one recipient gets (their queued delivery, or, before queueing, their picks now)."""
    from redenvelope.membership.models import Member
    from redenvelope.recommendations.serving import picks_among

    b = blocks(issue)
    d = None
    if member_id:
        d = Delivery.objects.filter(issue_id=issue.pk, member_id=member_id).first()
    elif email:
        d = Delivery.objects.filter(issue_id=issue.pk, email=email.lower()).first()
    if d is not None:
        text, body = render(b, d.pk, d.name, d.picks, track=False)
        return {"to": d.email, "text": text, "html": body, "delivery": d}
    member = Member.objects.select_related("user", "plan").filter(pk=member_id).first()
    if member is None:
        raise NotFound("No such recipient of this issue.")
    kinds = (1 if member.plan.discs_at_once else 0) + (2 if member.plan.streaming_screens else 0)
    picks = picks_among(
        [member.pk], [member.region_id],
        {"disc": issue.dvd_titles, "stream": issue.stream_titles}, [kinds], n=4,
    )[0]  # fmt: skip
    chosen = ",".join(str(t) for t in picks if t >= 0)
    text, body = render(b, 0, member.user.first_name, chosen, track=False)
    return {"to": member.user.email, "text": text, "html": body, "delivery": None}


# --------------------------------------------------------------------------- sending


class Pace:
    """A shared pace: at most `rate` messages a second over every connection (0: no limit)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next = time.perf_counter()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.perf_counter()
            at = max(self.next, now)
            self.next = at + self.interval
        if at > now:
            time.sleep(at - now)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str, seen_at, now) -> bool:
    """Whether the sender holding the lease is still at work: on this machine, whether its
    process lives; on another, whether its heartbeat is fresh."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return bool(seen_at and seen_at > now - LEASE)
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _take(issue_id: int, resend_unconfirmed: bool) -> Issue:
    """Take the issue's sending lease; a dead sender's deliveries caught mid-hand-over become
    unconfirmed (or queued again when the operator asks)."""
    now = clock.now()
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue_id)
        if issue.status == Issue.Status.PAUSED:
            raise Conflict("The issue is paused: resume it first.", code="paused")
        if issue.status in (Issue.Status.DRAFT, Issue.Status.QUEUEING):
            raise Conflict("The issue is not queued yet.", code="not_queued")
        if issue.status == Issue.Status.SENT:
            raise Conflict("The issue has been sent.", code="sent")
        if issue.sender and _alive(issue.sender, issue.sender_seen_at, now):
            raise Conflict(f"The issue is being sent by {issue.sender}.", code="being_sent")
        stuck = Delivery.objects.filter(issue_id=issue_id, state=Delivery.State.SENDING)
        if resend_unconfirmed:
            Delivery.objects.filter(issue_id=issue_id, state=Delivery.State.UNCONFIRMED).update(
                state=Delivery.State.QUEUED
            )
            stuck.update(state=Delivery.State.QUEUED)
        else:
            stuck.update(
                state=Delivery.State.UNCONFIRMED,
                error="the sender stopped while the server was taking it: not sent again",
            )
        issue.sender = _me()
        issue.sender_seen_at = now
        issue.status = Issue.Status.SENDING
        issue.save(update_fields=["sender", "sender_seen_at", "status"])
    return issue


class _Connection:
    """One SMTP connection, handing over one message at a time (see the module's text)."""

    def __init__(self):
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> smtplib.SMTP:
        if self.smtp is None:
            s = smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=30)
            # The content and its final "." go as two writes: without this, Nagle's algorithm
            # holds the "." until the server's delayed ACK (tens of ms a message).
            s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.ehlo_or_helo_if_needed()
            if getattr(settings, "EMAIL_USE_TLS", False):
                s.starttls()
                s.ehlo()
            if getattr(settings, "EMAIL_HOST_USER", ""):
                s.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            self.smtp = s
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # noqa: BLE001 - a broken connection is simply dropped
                self.smtp.close()
            self.smtp = None


def _quote(data: bytes) -> bytes:
    """Dot-stuffing (RFC 5321 4.5.2), CRLF line ends, ending with CRLF."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    retry: int = 0
    unconfirmed: int = 0
    seconds: float = 0.0
    stopped: str = ""

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


class _Journal(threading.Thread):
    """Group commit: the connections' marks ("sent", "sending") that are waiting together are
    written in one transaction, and each connection goes on (writes its ".") only once its
    mark is committed. One commit per message per connection would cap the sender at the
    database's commits a second."""

    def __init__(self, sender: Sender):
        super().__init__(daemon=True)
        self.s = sender
        self.requests: queue_mod.Queue = queue_mod.Queue()
        self.error: Exception | None = None

    def mark(self, sent: int | None, sending: int | None) -> bool:
        done = threading.Event()
        box: dict = {}
        self.requests.put((sent, sending, done, box))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["taken"]

    def stop(self) -> None:
        self.requests.put(None)
        self.join()

    def _write(self, batch: list) -> set[int]:
        now = clock.now()
        sent = [b[0] for b in batch if b[0] is not None]
        sending = [b[1] for b in batch if b[1] is not None]
        taken: set[int] = set()
        with self.s.db, transaction.atomic(), connection.cursor() as cur:
            if sent:
                marks = ", ".join(["%s"] * len(sent))
                cur.execute(
                    "UPDATE growth_delivery SET state = 'sent', sent_at = %s, error = '' "  # noqa: S608
                    f"WHERE id IN ({marks})",
                    [now, *sent],
                )
            if sending:
                marks = ", ".join(["%s"] * len(sending))
                cur.execute(
                    "UPDATE growth_delivery SET state = 'sending', attempts = attempts + 1 "  # noqa: S608
                    f"WHERE id IN ({marks}) AND state = 'queued' RETURNING id",
                    sending,
                )
                taken = {r[0] for r in cur.fetchall()}
        return taken

    def run(self) -> None:
        try:
            while True:
                first = self.requests.get()
                if first is None:
                    break
                batch = [first]
                while True:
                    try:
                        more = self.requests.get_nowait()
                    except queue_mod.Empty:
                        break
                    if more is None:
                        self.requests.put(None)  # stop after this batch
                        break
                    batch.append(more)
                try:
                    taken = self._write(batch)
                except Exception as exc:  # noqa: BLE001 - each waiting connection raises it
                    for _, _, done, box in batch:
                        box["error"] = exc
                        done.set()
                    continue
                for _, sending, done, box in batch:
                    box["taken"] = sending is None or sending in taken
                    done.set()
        finally:
            connection.close()


class _Worker(threading.Thread):
    def __init__(self, sender: Sender):
        super().__init__(daemon=True)
        self.s = sender
        self.conn = _Connection()
        self.prev: int | None = None  # accepted by the server, not yet recorded as sent

    def _mark(self, sent: int | None, sending: int | None) -> bool:
        """Committed before returning: `sent` recorded as sent, `sending` as being handed over
        (False when it is no longer queued: skipped or taken meanwhile). Every connection's
        marks waiting at the same moment share one commit (the journal)."""
        return self.s.journal.mark(sent, sending)

    def _flush(self) -> None:
        if self.prev is not None:
            self._mark(self.prev, None)
            self.prev = None

    def _later(self, did: int, attempts: int, error: str) -> None:
        """A temporary refusal: tried again later, or failed after the last try."""
        self._flush()
        tries = _setting("NEWSLETTER_TRIES")
        with self.s.db, transaction.atomic(), connection.cursor() as cur:
            if attempts + 1 >= tries:
                cur.execute(
                    "UPDATE growth_delivery SET state = 'failed', attempts = %s, error = %s "
                    "WHERE id = %s AND state IN ('queued', 'sending')",
                    [attempts + 1, error[:300], did],
                )
                self.s.count("failed")
            else:
                wait = _setting("NEWSLETTER_RETRY_S") * (2**attempts)
                cur.execute(
                    "UPDATE growth_delivery SET state = 'queued', attempts = %s, error = %s, "
                    "next_try_at = %s WHERE id = %s AND state IN ('queued', 'sending')",
                    [attempts + 1, error[:300], clock.now() + dt.timedelta(seconds=wait), did],
                )
                self.s.count("retry")

    def _refused(self, did: int, email: str, error: str) -> None:
        """A permanent refusal: failed, and the address suppressed as a hard bounce."""
        self._flush()
        with self.s.db, transaction.atomic():
            Delivery.objects.filter(pk=did).update(state=Delivery.State.FAILED, error=error[:300])
            sup, _ = Suppression.objects.get_or_create(
                email=email, defaults={"updated_at": clock.now()}
            )
            sup.suppressed, sup.reason, sup.updated_at = True, error[:200], clock.now()
            sup.save()
            Event.objects.create(
                issue_id=self.s.issue.pk, delivery_id=did, kind=Event.Kind.BOUNCE_HARD,
                at=clock.now(), url=error[:300],
            )  # fmt: skip
        self.s.count("failed")

    def send_one(self, row: tuple) -> None:
        did, email, name, picks, attempts = row
        data = _quote(mime(self.s.blocks, (did, email, name, picks), clock.now()))
        smtp = self.conn.open()
        code, resp = smtp.mail(self.s.envelope_from)
        if code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(code, resp, self.s.envelope_from)
        code, resp = smtp.rcpt(email)
        if code not in (250, 251):
            smtp.rset()
            error = f"{code} {resp.decode(errors='replace')}"
            if 500 <= code < 600:
                self._refused(did, email, error)
            else:
                self._later(did, attempts, error)
            return
        code, resp = smtp.docmd("data")
        if code != 354:
            smtp.rset()
            self._later(did, attempts, f"{code} {resp.decode(errors='replace')}")
            return
        smtp.send(data)  # the content; the server takes it only with the "." below
        taken = self._mark(self.prev, did)  # the previous one recorded sent, this one sending
        self.prev = None
        if not taken:  # no longer ours to send: drop the connection (the server discards it)
            self.conn.close()
            return
        smtp.send(b".\r\n")
        code, resp = smtp.getreply()
        if code == 250:
            self.prev = did
            self.s.count("sent")
        elif 500 <= code < 600:
            self._refused(did, email, f"{code} {resp.decode(errors='replace')}")
        else:
            self._later(did, attempts, f"{code} {resp.decode(errors='replace')}")

    def run(self) -> None:
        try:
            while True:
                row = self.s.work.get()
                try:
                    if row is None:
                        break
                    if self.s.stop.is_set():
                        continue  # stopping: the rest stay queued
                    self.s.pace.wait()
                    self._one(row)
                finally:
                    self.s.work.task_done()
            self._flush()
        except Exception as exc:  # noqa: BLE001 - reported by the sender, never lost
            log.exception("newsletter worker failed")
            self.s.fail(f"{type(exc).__name__}: {exc}")
        finally:
            self.conn.close()
            connection.close()

    def _one(self, row: tuple) -> None:
        try:
            self.send_one(row)
        except (smtplib.SMTPException, OSError) as exc:
            # The connection broke. Before the "." this delivery is still queued: tried again
            # later; after it, it stays `sending` and becomes unconfirmed.
            self.conn.close()
            self._flush()
            with self.s.db:
                state = Delivery.objects.filter(pk=row[0]).values_list("state", flat=True)
                state = state.first()
            if state == Delivery.State.QUEUED:
                self._later(row[0], row[4], f"{type(exc).__name__}: {exc}")
            self.s.fail(f"{type(exc).__name__}: {exc}")


class Sender:
    def __init__(self, issue: Issue, *, rate: float | None, connections: int | None,
                 limit: int | None, progress):  # fmt: skip
        self.issue = issue
        self.blocks = blocks(issue)
        self.pace = Pace(_setting("NEWSLETTER_RATE") if rate is None else rate)
        self.n_conn = max(1, connections or _setting("NEWSLETTER_CONNECTIONS"))
        self.limit = limit
        self.progress = progress
        self.work: queue_mod.Queue = queue_mod.Queue(maxsize=self.n_conn * 64)
        self.stop = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        # SQLite takes one writer at a time anyway; its shared-cache memory databases (the
        # tests') refuse a second at once instead of waiting: one lock for the sender's
        # database work there.
        self.db = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()
        self.result = SendResult()
        self.errors: list[str] = []
        self.journal = _Journal(self)
        self.envelope_from = parseaddr(_setting("NEWSLETTER_FROM"))[1] or "newsletter@localhost"

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self.result, what, getattr(self.result, what) + 1)
        if what == "sent" and self.progress:
            self.progress(1)

    def fail(self, error: str) -> None:
        with self.lock:
            self.errors.append(error)
            if len(self.errors) >= 3 * self.n_conn:  # the server is gone: stop, resume later
                self.stop.set()

    def _status(self) -> str:
        with self.db:
            return Issue.objects.filter(pk=self.issue.pk).values_list("status", flat=True).first()

    def run(self) -> SendResult:
        started = time.perf_counter()
        self.journal.start()
        workers = [_Worker(self) for _ in range(self.n_conn)]
        for w in workers:
            w.start()
        fed = 0
        last = 0
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        try:
            while not self.stop.is_set():
                if self._status() != Issue.Status.SENDING:
                    self.result.stopped = "paused"
                    self.stop.set()
                    break
                with self.db:
                    batch = list(
                        Delivery.objects.filter(
                            issue_id=self.issue.pk, state=Delivery.State.QUEUED, id__gt=last
                        )
                        .exclude(next_try_at__gt=clock.now())
                        .order_by("id")
                        .values_list("id", "email", "name", "picks", "attempts")[:500]
                    )
                if not batch:
                    # every row handed out is settled (sent, failed or put off) before any
                    # queued row is looked at again: none is handed out twice
                    self.work.join()
                    if last:
                        last = 0
                        continue
                    with self.db:
                        soonest = (
                            Delivery.objects.filter(
                                issue_id=self.issue.pk, state=Delivery.State.QUEUED
                            )
                            .order_by("next_try_at")
                            .values_list("next_try_at", flat=True)
                            .first()
                        )
                    if soonest is None:
                        break
                    wait = (soonest - clock.now()).total_seconds()
                    if wait > 300:
                        self.result.stopped = f"retries waiting until {soonest:%H:%M}"
                        break
                    time.sleep(min(1.0, max(0.05, wait)))
                    continue
                with self.db:
                    suppressed = set(
                        Suppression.objects.filter(
                            email__in=[r[1] for r in batch], suppressed=True
                        ).values_list("email", flat=True)
                    )
                    if suppressed:
                        Delivery.objects.filter(
                            issue_id=self.issue.pk,
                            email__in=suppressed,
                            state=Delivery.State.QUEUED,
                        ).update(state=Delivery.State.SKIPPED, error="address suppressed")
                for row in batch:
                    last = row[0]
                    if row[1] in suppressed:
                        continue
                    if self.limit is not None and fed >= self.limit:
                        self.result.stopped = "limit"
                        break
                    self.work.put(row)
                    fed += 1
                if self.result.stopped == "limit":
                    break
        finally:
            for _ in workers:
                self.work.put(None)
            for w in workers:
                w.join()
            self.journal.stop()
            self.done.set()
            beat.join()
            self.result.seconds = time.perf_counter() - started
            self._finish()
        return self.result

    def _heartbeat(self) -> None:
        try:
            while not self.done.wait(10):
                with self.db:
                    Issue.objects.filter(pk=self.issue.pk).update(sender_seen_at=clock.now())
        finally:
            connection.close()

    def _finish(self) -> None:
        with transaction.atomic():
            issue = Issue.objects.select_for_update().get(pk=self.issue.pk)
            left = Delivery.objects.filter(
                issue_id=issue.pk, state__in=[Delivery.State.QUEUED, Delivery.State.SENDING]
            ).exists()
            if issue.status == Issue.Status.SENDING and not left:
                issue.status = Issue.Status.SENT
                issue.finished_at = clock.now()
            if self.errors:
                issue.note = self.errors[-1][:300]
            issue.sender = ""
            issue.sender_seen_at = None
            issue.save(update_fields=["status", "finished_at", "sender", "sender_seen_at", "note"])
        self.result.unconfirmed = Delivery.objects.filter(
            issue_id=self.issue.pk, state=Delivery.State.UNCONFIRMED
        ).count()
        if self.errors and not self.result.stopped:
            self.result.stopped = self.errors[-1]


def send_issue(
    issue: Issue,
    *,
    rate: float | None = None,
    connections: int | None = None,
    limit: int | None = None,
    resend_unconfirmed: bool = False,
    progress=None,
) -> SendResult:
    """Send the issue's queued deliveries (see the module's text). Refused while another
    sender is at it, or when the issue is paused or not queued."""
    issue = _take(issue.pk, resend_unconfirmed)
    return Sender(issue, rate=rate, connections=connections, limit=limit, progress=progress).run()


def issue_figures(issue_id: int) -> dict:
    """Sends, bounces, opens, clicks and unsubscribes of one issue."""
    from django.db.models import Count

    states = dict(
        Delivery.objects.filter(issue_id=issue_id)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    events = dict(
        Event.objects.filter(issue_id=issue_id)
        .values("kind")
        .annotate(n=Count("delivery_id", distinct=True))
        .values_list("kind", "n")
    )
    return {"states": states, "events": events}
