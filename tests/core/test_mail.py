"""The email outbox: queued in the change's transaction, delivered after its commit in batches
through a real SMTP server, never lost when the server fails or the deliverer dies, and never
queued twice for one key."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.mail import deliver, message_id, pending_count, queue_emails
from redenvelope.core.models import OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)


def _emails(n: int, prefix: str = "t") -> dict:
    return {
        "key": [f"{prefix}:{i}" for i in range(n)],
        "kind": ["test"] * n,
        "member_id": list(range(n)),
        "to": [f"m{i}@example.com" for i in range(n)],
        "subject": [f"Hello {i}" for i in range(n)],
        "body": [f"Body {i} — with a dash" for i in range(n)],
    }


def test_delivered_after_commit_in_batches_through_smtp(smtp, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_BATCH": 7}
    with transaction.atomic():
        assert queue_emails(_emails(20)) == 20
        assert smtp.messages == []  # nothing leaves before the commit
    assert len(smtp.messages) == 20 and pending_count() == 0
    got = sorted((to[0], subject, body.strip(), mid) for to, subject, body, mid in smtp.messages)
    assert got[0] == ("m0@example.com", "Hello 0", "Body 0 — with a dash", message_id("t:0"))
    assert OutboundEmail.objects.filter(sent_at__isnull=False).count() == 20


def test_rolled_back_change_queues_and_sends_nothing(smtp):
    with pytest.raises(RuntimeError), transaction.atomic():
        queue_emails(_emails(3))
        raise RuntimeError("the change failed")
    assert smtp.messages == [] and not OutboundEmail.objects.exists()


def test_a_key_is_queued_once(smtp, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_DELIVERY": "worker"}
    assert queue_emails(_emails(5)) == 5
    assert queue_emails(_emails(8)) == 3  # the first five are already queued
    assert smtp.messages == []  # left to the worker
    assert deliver()["sent"] == 8 and len(smtp.messages) == 8
    assert deliver()["sent"] == 0


def test_server_down_keeps_the_emails_until_it_is_back(settings):
    from redenvelope.core.smtpsink import SmtpSink

    sink = SmtpSink()
    for k, v in sink.settings().items():
        setattr(settings, k, v)
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_BATCH": 2}
    queue_emails(_emails(5))  # delivery after commit fails: no server yet
    assert pending_count() == 5
    assert OutboundEmail.objects.exclude(last_error="").count() == 2  # the batch it tried
    with sink:
        result = deliver()
    assert result == {"sent": 5, "error": "", "pending": 0}
    assert sorted(m[0][0] for m in sink.messages) == [f"m{i}@example.com" for i in range(5)]


def test_a_dead_deliverers_batch_is_sent_again_after_its_claim_expires(smtp, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_DELIVERY": "worker"}
    queue_emails(_emails(4))
    # A deliverer claimed them and died before sending.
    OutboundEmail.objects.update(claimed_at=clock.now(), attempts=1)
    assert deliver()["sent"] == 0
    later = timezone.now() + dt.timedelta(minutes=11)
    with clock.frozen(later):
        assert deliver()["sent"] == 4
    assert len(smtp.messages) == 4
