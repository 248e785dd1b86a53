"""Reads the console, the API and reports share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.models import Shipment
from redenvelope.inventory.barcodes import parse_barcode
from redenvelope.inventory.models import Copy
from redenvelope.membership.models import Member

from .models import Approval, Case, Flag

LOOKUP_LIMIT = 20


@dataclass
class Found:
    members: list[Member]
    how: str  # email | phone | barcode | name | none


def find_members(text: str, limit: int = LOOKUP_LIMIT) -> Found:
    """The agent's lookup: an email address (exact, any case), a phone number (its digits), a
    disc's barcode (the member it was last sent to), or the start of a name (first, last, or
    'first last'). Each is one indexed query."""
    text = " ".join((text or "").split())
    if not text:
        return Found([], "none")
    if len(text) > 200:
        raise DomainError("Search for at most 200 characters.")
    base = Member.objects.select_related("user", "plan")
    if "@" in text:
        return Found(list(base.filter(user__in=_users_by_email(text))[:limit]), "email")
    if text.upper().startswith("RE") and any(c.isdigit() for c in text):
        code = parse_barcode(text)  # a malformed one is refused with what is wrong
        copy = Copy.objects.filter(barcode=code).first()
        if copy is None:
            raise DomainError(f"No disc has the barcode {code}.", code="unknown_barcode")
        # the disc's open shipment, else its latest closed one (each read by its own index)
        ship = Shipment.objects.filter(copy_id=copy.pk, status=Shipment.Status.OPEN).first()
        if ship is None:
            ship = (
                Shipment.objects.filter(copy_id=copy.pk)
                .exclude(status=Shipment.Status.OPEN)
                .order_by("-shipped_at", "-pk")
                .first()
            )
        return Found([ship.member] if ship else [], "barcode")
    digits = "".join(c for c in text if c.isdigit())
    if digits and len(digits) >= 7 and not any(c.isalpha() for c in text):
        if len(digits) == 10:
            digits = "1" + digits
        return Found(list(base.filter(phone=digits)[:limit]), "phone")
    ids = _member_ids_by_name(text.split(" "), limit)
    by_id = base.in_bulk(ids)
    return Found([by_id[i] for i in ids if i in by_id], "name")


# A name's start, read in index order so a common prefix ("smi" among a million members) stops
# after `limit` rows instead of sorting every match: PostgreSQL by UPPER(name) COLLATE "C" (the
# index serves both the LIKE prefix and the order), SQLite by name COLLATE NOCASE (its
# case-insensitive LIKE uses such an index). Both indexes come from support migration 0008.
_NAME_KEY = {  # (what LIKE tests, what orders, the comparison)
    "postgresql": ('UPPER(u.{col}) COLLATE "C"', 'UPPER(u.{col}) COLLATE "C"', "LIKE UPPER(%s)"),
    "sqlite": ("u.{col}", "u.{col} COLLATE NOCASE", "LIKE %s ESCAPE '\\'"),
}


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _member_ids_by_name(words: list[str], limit: int) -> list[int]:
    """Member ids whose last name starts with the text, then those whose first name does
    (one word); or first name starting with the first word and last name with the rest."""
    from django.db import connection

    test, key, like = _NAME_KEY["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    last, first = test.format(col="last_name"), test.format(col="first_name")
    by_last, by_first = key.format(col="last_name"), key.format(col="first_name")

    def run(where: str, order: str, params: list) -> list[int]:
        sql = (
            "SELECT m.id FROM auth_user u JOIN membership_member m ON m.user_id = u.id "  # noqa: S608
            f"WHERE {where} ORDER BY {order}, u.id LIMIT %s"
        )
        with connection.cursor() as cur:
            cur.execute(sql, [*params, limit])
            return [r[0] for r in cur.fetchall()]

    if len(words) >= 2:
        where = f"{first} {like} AND {last} {like}"
        return run(where, by_last, [_like_prefix(words[0]), _like_prefix(" ".join(words[1:]))])
    pattern = _like_prefix(words[0])
    ids = run(f"{last} {like}", by_last, [pattern])
    if len(ids) < limit:
        seen = set(ids)
        ids += [i for i in run(f"{first} {like}", by_first, [pattern]) if i not in seen]
    return ids[:limit]


def _users_by_email(address: str):
    """Users with this address in any case: LOWER(email) = the address lower-cased (the
    expression has its own index on both databases; Django's iexact would scan on SQLite)."""
    from django.db.models.functions import Lower

    return (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(email_lower=address.strip().lower())
        .values("pk")
    )


def member_by_email(address: str) -> int | None:
    """The member id of a user with this address (any case), or None: one plain query on the
    LOWER(email) index (every message the mail gateway takes asks it)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT m.id FROM membership_member m JOIN auth_user u ON u.id = m.user_id "
            "WHERE LOWER(u.email) = %s ORDER BY m.id LIMIT 1",
            [address.strip().lower()],
        )
        row = cur.fetchone()
    return row[0] if row else None


def member_glance(member: Member) -> dict:
    """Everything the agent sees at once: plan, status, discs out (each shipment's story),
    queue, balance and statements, past cases, flags."""
    from redenvelope.billing.models import Credit, Fee, Statement
    from redenvelope.inventory.models import CopyEvent
    from redenvelope.queues.models import QueueEntry

    out = list(
        Shipment.objects.filter(member=member)
        .select_related("copy__title", "dc")
        .order_by("-shipped_at", "-pk")[:15]
    )
    copies = [s.copy_id for s in out]
    story: dict[int, list] = {}
    for ev in CopyEvent.objects.filter(copy_id__in=copies).order_by("at", "pk"):
        story.setdefault(ev.copy_id, []).append(ev)
    for s in out:
        s.story = [e for e in story.get(s.copy_id, []) if e.at >= s.shipped_at - dt.timedelta(1)]
    return {
        "member": member,
        "shipments": out,
        "queue": list(
            QueueEntry.objects.filter(member_id=member.pk)
            .select_related("title")
            .order_by("position")[:10]
        ),
        "queue_length": QueueEntry.objects.filter(member_id=member.pk).count(),
        "statements": list(Statement.objects.filter(member=member).order_by("-period_start")[:6]),
        "credits": list(Credit.objects.filter(member=member).order_by("-issued_at")[:10]),
        "fees": list(Fee.objects.filter(member=member).order_by("-created_at")[:10]),
        "cases": list(Case.objects.filter(member=member).order_by("-opened_at")[:10]),
        "flags": list(Flag.objects.filter(member=member).order_by("-raised_at")[:10]),
        "discs_here": members_discs_waiting(member.pk),
    }


def members_discs_waiting(member_id: int) -> list:
    """The member's own discs that reached a return desk and wait for their choice (no case
    has claimed them yet)."""
    from redenvelope.fulfillment.models import ReturnScan

    return list(
        ReturnScan.objects.filter(
            member_id=member_id,
            outcome=ReturnScan.Outcome.MEMBERS_DISC,
            own_disc__isnull=True,
            disposition="",
        )
        .select_related("dc")
        .order_by("scanned_at")[:20]
    )


def waiting_approvals():
    return (
        Approval.objects.filter(status=Approval.Status.WAITING)
        .select_related("case", "member__user", "requested_by")
        .order_by("requested_at")
    )


def open_cases(limit: int = 100):
    return (
        Case.objects.exclude(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED])
        .select_related("member__user", "assigned_to")
        .order_by("opened_at")[:limit]
    )


def now():
    return clock.now()


def chats_waiting(limit: int = 50) -> list[Case]:
    """Open chats whose last message is the member's: the agents' chat queue, oldest first."""
    from django.db.models import OuterRef, Subquery

    from .models import Channel, Interaction

    last = (
        Interaction.objects.filter(case=OuterRef("pk")).exclude(kind="note").order_by("-at", "-pk")
    )
    rows = (
        Case.objects.filter(channel=Channel.CHAT)
        .exclude(status__in=[Case.Status.RESOLVED, Case.Status.CLOSED])
        .annotate(last_from_member=Subquery(last.values("from_member")[:1]))
        .filter(last_from_member=True)
        .select_related("member__user")
        .order_by("updated_at")[:limit]
    )
    return list(rows)
