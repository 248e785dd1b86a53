"""Growth's pages by role: the staff overview (review, payouts, issues), the issue page, the
reports (page and CSV), the announcement feeds, and the newsletter sign-up form."""

import datetime as dt
from xml.etree import ElementTree

import pytest

from redenvelope.growth import actions, newsletter
from redenvelope.growth.models import Announcement, Issue, PayoutStatement
from redenvelope.ledger.queries import trial_balance
from tests.growth.conftest import join_via, on

pytestmark = pytest.mark.usefixtures("emails_at_once")


def test_overview_by_role(client, world, partner):
    for role, code in [("finance", 200), ("operations", 200), ("admin", 200),
                       ("support_agent", 403), ("warehouse", 403)]:  # fmt: skip
        client.force_login(world.staff[role])
        assert client.get("/growth/").status_code == code, role
    client.force_login(world.alice.user)
    assert client.get("/growth/").status_code == 403
    client.logout()
    assert client.get("/growth/").status_code == 302  # to sign in


def test_finance_closes_a_month_and_pays_from_the_page(client, world, partner):
    from redenvelope.billing.run import run_billing

    with on(dt.date(2026, 3, 1)):
        member = join_via(client, "pat")
    with on(member.trial_ends_on):
        run_billing(member.trial_ends_on)
    actions.settle_commissions(member.trial_ends_on + dt.timedelta(days=30))
    client.force_login(world.staff["operations"])
    r = client.post("/growth/do/", {"action": "close_month", "period": "2026-04-01"})
    assert r.status_code == 403 and not PayoutStatement.objects.exists()
    client.force_login(world.staff["finance"])
    with on(dt.date(2026, 5, 3)):
        client.post("/growth/do/", {"action": "close_month", "period": "2026-04-01"})
    st = PayoutStatement.objects.get()
    client.post("/growth/do/", {"action": "pay", "id": st.pk})
    r = client.post("/growth/do/", {"action": "pay", "id": st.pk}, follow=True)
    assert "already paid" in r.content.decode()
    assert PayoutStatement.objects.get().status == "paid" and trial_balance().balanced


def test_operations_build_queue_and_see_an_issue(client, world):
    client.force_login(world.staff["operations"])
    client.post("/growth/do/", {"action": "build"})
    issue = Issue.objects.get()
    client.post("/growth/do/", {"action": "queue", "id": issue.pk})
    assert Issue.objects.get().status == "queued" and Issue.objects.get().recipients == 2
    r = client.get(f"/growth/issues/{issue.pk}/")
    assert r.status_code == 200 and "queued: 2" in r.content.decode()
    client.force_login(world.staff["finance"])
    r = client.post("/growth/do/", {"action": "pause", "id": issue.pk})
    assert r.status_code == 403


def test_reports_page_and_csv(client, world, partner):
    with on(dt.date(2026, 3, 1)):
        join_via(client, "pat")
    client.force_login(world.staff["finance"])
    r = client.get("/growth/reports/signups/")
    assert r.status_code == 200 and "Pat&#x27;s Picks" in r.content.decode()
    r = client.get("/growth/reports/signups/", {"format": "csv"})
    assert r["Content-Type"] == "text/csv" and "affiliate,Pat's Picks,1,0" in r.content.decode()
    newsletter.queue_issue(newsletter.build_issue())
    r = client.get("/growth/reports/newsletter/")
    assert r.status_code == 200
    assert client.get("/growth/reports/nope/").status_code == 404
    assert client.get("/growth/reports/signups/", {"from": "yesterday"}).status_code == 400


def test_announcement_feeds(client, world):
    n = actions.announce_new_titles(since=world.today - dt.timedelta(days=500))
    assert n == len(world.films) + 4 and actions.announce_new_titles(since=world.today) == 0
    r = client.get("/announcements.atom")
    root = ElementTree.fromstring(r.content)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert r.status_code == 200 and len(entries) == Announcement.objects.count()
    r = client.get("/announcements.csv")
    assert r.content.decode().splitlines()[0] == "id,kind,publish_at,text,link"


def test_subscribe_form(client, world, smtp):
    r = client.get("/newsletter/")
    assert r.status_code == 200 and 'for="nl-email"' in r.content.decode()
    r = client.post("/newsletter/", {"email": "new.fan@example.org"})
    assert r.status_code == 200 and "sent you an email" in r.content.decode()
