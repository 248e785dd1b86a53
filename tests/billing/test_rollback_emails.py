"""A change that rolls back sends no email: notices go out only after a commit."""

import datetime as dt

from django.core import mail
from django.db import transaction
from django.utils import timezone

from redenvelope.billing import actions
from redenvelope.billing.models import OutageCompensation
from redenvelope.fulfillment.actions import open_incident
from redenvelope.membership.models import Member


def _incident(world):
    Member.objects.update(joined_at=timezone.make_aware(dt.datetime(2026, 1, 1)))
    return open_incident(
        world.ewr, dt.date(2026, 3, 1), dt.date(2026, 3, 4), reason="flood", actor=None
    )


def test_rolled_back_compensation_sends_nothing(world, django_capture_on_commit_callbacks):
    incident = _incident(world)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                comp = actions.compensate_outage(
                    incident, 10, issuer=world.staff["finance"], reason="flood"
                )
                assert comp.members == 1
                raise RuntimeError("the request failed after the action")
        except RuntimeError:
            pass
    assert callbacks == [] and mail.outbox == []
    assert not OutageCompensation.objects.exists()
    # The same change committed does send (so the test above proves something).
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        actions.compensate_outage(incident, 10, issuer=world.staff["finance"], reason="flood")
    assert len(callbacks) == 1 and [m.to for m in mail.outbox] == [["alice@example.com"]]
