import datetime as dt

import pytest
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.growth import actions
from tests.web.test_member_site import GOOD

JOIN = {**GOOD, "plan": "one"}


def on(day, hour=10):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


@pytest.fixture
def partner(world):
    p = actions.create_partner(
        username="pat", password="partner-pass-123", email="pat@partners.example",
        name="Pat's Picks", street="9 Far Rd", zip_code="94105", flat_cents=2000,
    )  # fmt: skip
    actions.create_link(p, code="pat")
    return p


def join_via(client, code=None, **changes):
    """A visitor follows a partner's link (if any), then joins on the website."""
    if code:
        r = client.get(f"/r/{code}/", REMOTE_ADDR="203.0.113.7")
        assert r.status_code == 302 and r.url == "/join/"
    r = client.post("/join/", {**JOIN, **changes})
    assert r.status_code == 302, r.content.decode()[:2000]
    from redenvelope.membership.models import Member

    return Member.objects.get(user__email=changes.get("email", JOIN["email"]))
