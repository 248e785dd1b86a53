"""Emails about money, queued to the outbox with the records they describe (delivered after the
commit, in batches: `core.mail`)."""

from __future__ import annotations

from redenvelope.core import clock
from redenvelope.core.mail import queue_emails
from redenvelope.membership.models import Member

from .models import Statement

SUBJECTS = {
    "failed": "We could not take your payment",
    "recovered": "Payment received: your membership is back to normal",
    "cancelled_unpaid": "Your membership has been cancelled",
    "outage_credit": "We are sorry: a credit on your next statement",
    "refund": "Your refund is on its way",
    "chargeback": "Your payment was reversed by your bank",
}


def _body(kind: str, member: Member, statement: Statement | None, extra: str) -> str:
    name = member.user.first_name or member.user.username
    owed = f"${statement.balance}" if statement else ""
    if kind == "failed":
        when = (
            f"We will try again on {statement.next_retry_on:%B %-d}."
            if statement and statement.next_retry_on
            else "We will try again soon."
        )
        text = (
            f"We could not charge {owed} for your statement of "
            f"{statement.period_start:%B %-d}. Until it is paid, no new discs ship. {when} "
            "You can pay now, or change your payment method, on your Billing page."
        )
    elif kind == "recovered":
        text = "Thank you: your payment went through. Your discs ship again from today's run."
    elif kind == "cancelled_unpaid":
        text = (
            "We tried your payment several times without success, so your membership is now "
            "cancelled. Your queue is kept: rejoin any time from the website."
        )
    elif kind == "chargeback":
        text = (
            f"Your bank reversed a payment to us, so {owed} is owed again and no new discs ship "
            "until it is paid. Please add a payment method on your Billing page."
        )
    else:
        text = extra
    return f"Hello {name},\n\n{text}\n\nRed Envelope"


def queue_billing_emails(
    items: list[tuple[str, int, int | None, str | None]], extra: dict | None = None
) -> int:
    """items: (kind, member id, statement id or None, reference or None), queued to the outbox
    in the caller's transaction. `extra` gives the text for kinds without a template above, per
    kind. Each email's key is its kind, member, statement and reference (the day when none):
    queueing one again adds nothing."""
    extra = extra or {}
    # in_bulk reads in batches the database accepts (an outage's whole region is many members).
    members = Member.objects.select_related("user").in_bulk(sorted({i[1] for i in items}))
    statements = Statement.objects.in_bulk([i[2] for i in items if i[2]])
    today = clock.today().isoformat()
    cols: dict[str, list] = {c: [] for c in ("key", "kind", "member_id", "to", "subject", "body")}
    for kind, member_id, statement_id, ref in items:
        member = members.get(member_id)
        if member is None or not member.user.email:
            continue
        cols["key"].append(f"{kind}:{member_id}:{statement_id or '-'}:{ref or today}")
        cols["kind"].append(kind)
        cols["member_id"].append(member_id)
        cols["to"].append(member.user.email)
        cols["subject"].append(SUBJECTS[kind])
        cols["body"].append(_body(kind, member, statements.get(statement_id), extra.get(kind, "")))
    return queue_emails(cols)
