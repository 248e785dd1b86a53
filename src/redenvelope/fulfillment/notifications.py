"""Emails to members about their discs, sent after the records they describe are committed."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.message import EmailMessage

from .models import DispatchRun, Shipment


def send_run_emails(run_id: int) -> int:
    """One email per member telling what ships today and from where; one SMTP connection."""
    rows = (
        Shipment.objects.filter(run_id=run_id)
        .select_related("title", "dc", "member__user")
        .order_by("member_id", "title__name")
    )
    per_member: dict[int, list[Shipment]] = {}
    for s in rows:
        per_member.setdefault(s.member_id, []).append(s)
    run = DispatchRun.objects.get(pk=run_id)
    messages = []
    for shipments in per_member.values():
        user = shipments[0].member.user
        if not user.email:
            continue
        lines = [f"  • {s.title.name} — from our {s.dc.city} center" for s in shipments]
        body = (
            f"Hello {user.first_name or user.username},\n\n"
            f"On its way to you today ({run.run_date:%B %-d}):\n"
            + "\n".join(lines)
            + "\n\nWhen you are done, mail each disc back in its prepaid envelope and the next "
            "title in your queue ships.\n\nRed Envelope"
        )
        subject = (
            "Your disc is on its way"
            if len(shipments) == 1
            else f"{len(shipments)} discs are on their way"
        )
        messages.append(EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]))
    if messages:
        with get_connection() as connection:
            connection.send_messages(messages)
    return len(messages)
