"""The email outbox: every email a domain sends is queued here in the transaction of the change
it describes, then delivered after the commit, in batches, through one SMTP connection.

    queue_emails({"key": [...], "kind": [...], "member_id": [...], "to": [...],
                  "subject": [...], "body": [...]})   # inside the change's transaction

A rolled-back change queues nothing; a crash after the commit leaves the emails queued, and the
next delivery (after any later commit, the `deliver_mail` job every minute, or
`redenvelope mail deliver`) sends them. Delivery is at least once: a deliverer killed between
the SMTP server's acceptance and recording it sends that batch again; each message's
Message-ID is derived from its key, so a duplicate is recognisable downstream.

Settings: REDENVELOPE["MAIL_DELIVERY"] is "after_commit" (default: the process that committed
delivers at once) or "worker" (left to the Huey job, off the committing process's path);
REDENVELOPE["MAIL_BATCH"] (default 500) messages per SMTP batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging

import numpy as np
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction

from . import clock
from .bulk import copy_arrays, db_timestamp, execute, is_postgres, temp_table

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = dt.timedelta(minutes=10)


def _setting(name: str, default):
    return settings.REDENVELOPE.get(name, default)


def queue_emails(rows: dict, *, new_keys: bool = False) -> int:
    """Queue emails given as columns (see the module's text); keys already queued are skipped.
    Returns how many were added. Delivery is arranged for after the commit. `new_keys`: the
    keys name a record made in this transaction (a dispatch run's), so none can be queued yet:
    the rows are copied straight in (a key seen twice still fails on the unique key)."""
    n = len(rows["key"])
    if n == 0:
        return 0
    text = {c: list(rows[c]) for c in ("key", "kind", "to", "subject", "body")}
    now = db_timestamp(clock.now())
    if new_keys:
        added = copy_arrays(
            "core_outboundemail",
            {
                **text,
                "member_id": list(rows["member_id"]),
                "created_at": now,
                "claimed_at": None,
                "sent_at": None,
                "attempts": 0,
                "last_error": "",
            },
        )
        transaction.on_commit(deliver_soon)  # (at once when not in a transaction: written by now)
        return added
    temp_table(
        "mail_new",
        "key varchar(200), kind varchar(40), member_id bigint, recipient varchar(254), "
        "subject varchar(200), body text",
        {
            "key": text["key"],
            "kind": text["kind"],
            # -1 stands for no member (an email to a gift's buyer), NULL once inserted
            "member_id": np.array(
                [-1 if m is None else int(m) for m in rows["member_id"]], np.int64
            ),
            "recipient": text["to"],
            "subject": text["subject"],
            "body": text["body"],
        },
    )
    added = execute(
        'INSERT INTO core_outboundemail (key, kind, member_id, "to", subject, body, '
        "created_at, attempts, last_error) "
        "SELECT key, kind, CASE WHEN member_id < 0 THEN NULL ELSE member_id END, recipient, "
        "subject, body, %s, 0, '' FROM mail_new WHERE true "
        "ON CONFLICT (key) DO NOTHING",
        [now],
    )
    transaction.on_commit(deliver_soon)
    return added


def queue_email(
    *, key: str, kind: str, to: str, subject: str, body: str, member_id=None, headers=None
) -> int:
    """One email; `headers` (threading headers of a reply) travel with it in the outbox."""
    if headers:
        import json

        from .models import OutboundEmail

        _, made = OutboundEmail.objects.get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "member_id": member_id,
                "to": to,
                "subject": subject[:200],
                "body": body,
                "created_at": clock.now(),
                "headers": json.dumps(headers),
            },
        )
        transaction.on_commit(deliver_soon)
        return int(made)
    return queue_emails(
        {
            "key": [key],
            "kind": [kind],
            "member_id": [member_id],
            "to": [to],
            "subject": [subject],
            "body": [body],
        }
    )


def deliver_soon() -> None:
    """After a commit that queued emails: deliver now, or leave it to the worker."""
    if _setting("MAIL_DELIVERY", "after_commit") == "worker":
        return
    try:
        deliver()
    except Exception:  # the emails stay queued; the job delivers them later
        log.exception("email delivery failed; the emails stay queued")


def message_id(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "redenvelope"
    return f"<{digest}@{domain}>"


def _claim(batch: int) -> list[tuple]:
    now = clock.now()
    stale = now - CLAIM_TIMEOUT
    # Deliverers running at once (Huey's workers) take different batches: on PostgreSQL the
    # rows another is claiming are skipped, and the outer test is checked again after any wait.
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    with transaction.atomic(), connection.cursor() as cursor:
        # The batch is chosen once, in a CTE (PostgreSQL may otherwise run a LIMIT subquery
        # of an UPDATE's IN again per row and claim more than the batch).
        cursor.execute(
            "WITH batch AS (SELECT id FROM core_outboundemail WHERE sent_at IS NULL "  # noqa: S608
            f"AND (claimed_at IS NULL OR claimed_at < %s) ORDER BY id LIMIT %s{lock}) "
            "UPDATE core_outboundemail SET claimed_at = %s, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM batch) "
            "AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < %s) "
            'RETURNING id, key, "to", subject, body, kind, member_id, headers',
            [stale, batch, now, stale],
        )
        return sorted(cursor.fetchall())


def deliver(*, batch: int | None = None, limit: int | None = None, progress=None) -> dict:
    """Send what is queued, oldest first, in batches through one SMTP connection; each batch is
    recorded as sent once the server accepted it. A failing server stops the delivery and
    leaves the rest (the failed batch included) queued, with the error recorded."""
    batch = batch or int(_setting("MAIL_BATCH", 500))
    sent = 0
    error = ""
    smtp = None
    try:
        while limit is None or sent < limit:
            rows = _claim(batch if limit is None else min(batch, limit - sent))
            if not rows:
                break
            muted = _muted([(r[6], r[5]) for r in rows])
            if muted:
                _mark_sent([r[0] for r in rows if (r[6], r[5]) in muted], note="muted")
                rows = [r for r in rows if (r[6], r[5]) not in muted]
                if not rows:
                    continue
            messages = [_message(*r[1:]) for r in rows]
            ids = [r[0] for r in rows]
            try:
                if smtp is None:
                    smtp = get_connection(fail_silently=False)
                    smtp.open()
                smtp.send_messages(messages)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                _release(ids, error)
                break
            _mark_sent(ids)
            sent += len(ids)
            if progress:
                progress(len(ids))
    finally:
        if smtp is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                smtp.close()
    return {"sent": sent, "error": error, "pending": pending_count()}


def _ids_table(ids: list[int]) -> None:
    temp_table("mail_ids", "id bigint", {"id": np.asarray(ids, np.int64)})


def _mark_sent(ids: list[int], note: str = "") -> None:
    """Record a batch as done: sent, or (with a note) not to be sent ("muted": the member
    turned that kind of notice off)."""
    with transaction.atomic():
        _ids_table(ids)
        execute(
            "UPDATE core_outboundemail SET sent_at = %s, last_error = %s "
            "WHERE id IN (SELECT id FROM mail_ids)",
            [clock.now(), note],
        )


def _hook(name: str):
    """A function named in settings (REDENVELOPE[name]): the domains above answer for the
    outbox what it cannot know (who muted what, where unsubscribing goes)."""
    from django.utils.module_loading import import_string

    path = _setting(name, "")
    return import_string(path) if path else None


def _muted(pairs: list[tuple]) -> set:
    hook = _hook("MAIL_MUTED")
    return hook(pairs) if hook else set()


def as_html(body: str) -> str:
    """The HTML part of an email: its plain text as paragraphs (links made clickable)."""
    import re

    from django.utils.html import escape

    paras = []
    for block in body.split("\n\n"):
        text = escape(block)
        text = re.sub(r"(https?://[^\s<]+)", r'<a href="\1">\1</a>', text)
        paras.append("<p>" + text.replace("\n", "<br>\n") + "</p>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"></head>'
        '<body style="font-family: sans-serif; line-height: 1.5; color: #1a1a1a">'
        + "\n".join(paras)
        + "</body></html>"
    )


def _message(key: str, to: str, subject: str, body: str, kind: str, member_id, extra=""):
    """One email as sent: plain text and HTML; a notice a member may turn off carries a
    one-click unsubscribe (RFC 8058)."""
    import json

    from django.core.mail import EmailMultiAlternatives

    headers = {"Message-ID": message_id(key), **(json.loads(extra) if extra else {})}
    hook = _hook("MAIL_UNSUBSCRIBE_URL")
    url = hook(member_id, kind) if hook and member_id is not None else None
    if url:
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        body = body + f"\n\nTo stop these emails: {url}"
    message = EmailMultiAlternatives(
        subject, body, settings.DEFAULT_FROM_EMAIL, [to], headers=headers
    )
    message.attach_alternative(as_html(body), "text/html")
    return message


def _release(ids: list[int], error: str) -> None:
    with transaction.atomic():
        _ids_table(ids)
        execute(
            "UPDATE core_outboundemail SET claimed_at = NULL, last_error = %s "
            "WHERE id IN (SELECT id FROM mail_ids)",
            [error],
        )


def pending_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM core_outboundemail WHERE sent_at IS NULL")
        return int(cursor.fetchone()[0])
