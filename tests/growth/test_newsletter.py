"""The newsletter through a real local SMTP server (aiosmtpd): an issue built from the catalog,
personalised per member, queued, sent exactly once with List-Unsubscribe; double opt-in; the
one-click unsubscribe (and a tampered token); bounces through the support mail intake (hard:
suppressed; soft: scored; unknown: nothing stored); pause and resume; the rate limit."""

import datetime as dt
import time

import pytest

from redenvelope.core.errors import Conflict
from redenvelope.core.mail import deliver
from redenvelope.growth import newsletter
from redenvelope.growth.models import Delivery, Event, Issue, Subscriber, Suppression
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member
from redenvelope.support.mail import receive

pytestmark = pytest.mark.usefixtures("emails_at_once")


def dsn(addr: str, status: str, action: str = "failed", original_id: str = "") -> bytes:
    inner = f"Message-ID: {original_id}\r\n" if original_id else ""
    return (
        "From: MAILER-DAEMON@mx.example\r\nTo: newsletter@redenvelope.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        "Message-ID: <dsn-" + addr + status + "@mx.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; {addr}\r\nAction: {action}\r\nStatus: {status}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{inner}Subject: New this week\r\n\r\n--B--\r\n"
    ).encode()


@pytest.fixture
def subscriber(world, smtp):
    sub = newsletter.subscribe("fan@example.org")
    assert sub.status == "pending"
    deliver()
    [(to, subject, body, _)] = [m for m in smtp.messages if m[0] == ["fan@example.org"]]
    link = [w for w in body.split() if "/newsletter/confirm/" in w][0]
    return sub, link.split("/newsletter/confirm/")[1].strip("/")


def test_double_opt_in(client, subscriber):
    sub, token = subscriber
    assert client.get(f"/newsletter/confirm/{token}x/").status_code == 400
    assert Subscriber.objects.get(pk=sub.pk).status == "pending"
    r = client.get(f"/newsletter/confirm/{token}/")
    assert r.status_code == 200 and Subscriber.objects.get(pk=sub.pk).status == "confirmed"
    r = client.post("/newsletter/", {"email": "not an address"})
    assert r.status_code == 400 and "not an email" in r.content.decode()


def test_build_queue_send_exactly_once_with_unsubscribe(
    client, world, smtp, subscriber, transactional_db
):
    sub, token = subscriber
    newsletter.confirm(token)
    newsletter.subscribe("pending@example.org")  # not confirmed: gets nothing
    membership.set_muted_emails(world.bob, {"newsletter"})  # bob turned it off
    issue = newsletter.build_issue()
    assert issue.dvd_titles and issue.status == "draft"
    n = newsletter.queue_issue(issue)
    assert n == 2  # alice and the confirmed subscriber
    with pytest.raises(Conflict):
        newsletter.queue_issue(Issue.objects.get(pk=issue.pk))
    alice = Delivery.objects.get(issue_id=issue.pk, member_id=world.alice.pk)
    assert alice.picks and set(map(int, alice.picks.split(","))) <= set(
        issue.dvd_titles + issue.stream_titles
    )
    before = len(smtp.received)
    result = newsletter.send_issue(Issue.objects.get(pk=issue.pk), rate=0, connections=2)
    assert result.sent == 2 and result.failed == 0 and result.unconfirmed == 0
    got = smtp.received[before:]
    assert sorted(m["To"] for m in got) == ["alice@example.com", "fan@example.org"]
    msg = [m for m in got if m["To"] == "alice@example.com"][0]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = msg["List-Unsubscribe"].strip("<>")
    assert newsletter.delivery_of_message_id(msg["Message-ID"]) == alice.pk
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Picked for you" in text and "Hello Alice" in text and "<ul>" in html
    assert Issue.objects.get(pk=issue.pk).status == "sent"
    # sending again sends nobody twice
    with pytest.raises(Conflict):
        newsletter.send_issue(Issue.objects.get(pk=issue.pk))
    assert len(smtp.received) == before + 2
    # opens and clicks
    tok = newsletter.token(alice.pk)
    assert client.get(f"/n/o/{tok}.gif")["Content-Type"] == "image/gif"
    r = client.get(f"/n/c/{tok}/{issue.dvd_titles[0]}/")
    assert r.status_code == 302 and r.url == f"/catalog/{issue.dvd_titles[0]}/"
    assert r.cookies["re_source"].value == "newsletter"
    assert client.get(f"/n/o/{tok[:-1]}0.gif").status_code == 200  # tampered: not counted
    assert Event.objects.filter(kind="open").count() == 1
    # one-click unsubscribe: a tampered token changes nothing; the real one stops it
    path = unsub.split("127.0.0.1:8000", 1)[-1] if "://" in unsub else unsub
    assert client.post(path.replace(tok, tok[:-2] + "00")).status_code == 400
    assert "newsletter" not in Member.objects.get(pk=world.alice.pk).muted
    assert client.get(path).status_code == 200  # a person's GET: a button, nothing changed
    assert "newsletter" not in Member.objects.get(pk=world.alice.pk).muted
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert "newsletter" in Member.objects.get(pk=world.alice.pk).muted
    rows = newsletter.recipients()
    assert world.alice.pk not in rows["members"]["member_id"].tolist()


def test_bounces_through_the_support_intake(world, smtp, transactional_db):
    issue = newsletter.build_issue()
    newsletter.queue_issue(issue)
    assert newsletter.send_issue(issue, rate=0).sent == 2
    d = Delivery.objects.get(issue_id=issue.pk, member_id=world.bob.pk)
    # the receiving server later bounces the message it had taken: its report, with the
    # original's headers, comes back through the support mail intake
    sent = [m for m in smtp.received if m["To"] == "bob@example.com"][-1]
    mid = sent["Message-ID"]
    got = receive(dsn("bob@example.com", "5.1.1", original_id=mid))
    assert got.outcome == "bounce-hard" and got.case_id is None
    assert Suppression.objects.get(email="bob@example.com").suppressed
    assert Event.objects.get(kind="bounce_hard").delivery_id == d.pk
    # a bounce for an address that is not ours: nothing stored
    assert receive(dsn("stranger@nowhere.example", "5.1.1")).outcome == "bounce-unknown"
    assert not Suppression.objects.filter(email="stranger@nowhere.example").exists()
    # soft bounces: scored, suppressed at the limit (3)
    for k in range(3):
        got = receive(dsn("alice@example.com", "4.2.2", action="delayed") + str(k).encode())
        assert got.outcome == "bounce-soft"
    sup = Suppression.objects.get(email="alice@example.com")
    assert sup.soft_score == 3 and sup.suppressed
    # the suppressed are left out of the next issue, and skipped if already queued
    assert newsletter.recipients()["members"]["member_id"].size == 0
    nxt = newsletter.build_issue(issue.week + dt.timedelta(days=7))
    Delivery.objects.create(issue=nxt, email="bob@example.com", member_id=world.bob.pk)
    Issue.objects.filter(pk=nxt.pk).update(status="queued", recipients=1)
    result = newsletter.send_issue(Issue.objects.get(pk=nxt.pk), rate=0)
    assert result.sent == 0
    assert Delivery.objects.get(issue_id=nxt.pk).state == "skipped"


def test_a_permanent_refusal_fails_and_suppresses(world, transactional_db, settings):
    from redenvelope.core.smtpsink import SmtpSink

    class Refusing(SmtpSink):
        pass

    with SmtpSink() as sink:
        for k, v in sink.settings().items():
            setattr(settings, k, v)

        async def handle_RCPT(server, session, envelope, address, options):
            if address.startswith("bob@"):
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        sink.inbox.handle_RCPT = handle_RCPT
        issue = newsletter.build_issue()
        newsletter.queue_issue(issue)
        result = newsletter.send_issue(Issue.objects.get(pk=issue.pk), rate=0, connections=1)
    assert result.sent == 1 and result.failed == 1
    assert Suppression.objects.get(email="bob@example.com").suppressed
    bob = Delivery.objects.get(issue_id=issue.pk, member_id=world.bob.pk)
    assert bob.state == "failed" and "550" in bob.error


def test_pause_and_resume_send_each_once(world, smtp, transactional_db):
    from tests.conftest import _member

    for k in range(30):
        _member(f"m{k}", world.plan1, "10001")
    issue = newsletter.build_issue()
    n = newsletter.queue_issue(issue)
    before = len(smtp.received)
    first = newsletter.send_issue(issue, rate=0, connections=2, limit=10)
    assert first.sent == 10
    newsletter.pause_issue(Issue.objects.get(pk=issue.pk))
    with pytest.raises(Conflict, match="paused"):
        newsletter.send_issue(Issue.objects.get(pk=issue.pk))
    newsletter.resume_issue(Issue.objects.get(pk=issue.pk))
    rest = newsletter.send_issue(Issue.objects.get(pk=issue.pk), rate=0, connections=3)
    assert first.sent + rest.sent == n
    got = [m["To"] for m in smtp.received[before:]]
    assert len(got) == n and len(set(got)) == n


def test_rate_limit_is_kept(world, smtp, transactional_db):
    from tests.conftest import _member

    for k in range(40):
        _member(f"r{k}", world.plan1, "10001")
    issue = newsletter.build_issue()
    newsletter.queue_issue(issue)
    t0 = time.perf_counter()
    result = newsletter.send_issue(issue, rate=50, connections=2)
    took = time.perf_counter() - t0
    assert result.sent == 42
    assert took >= (42 - 1) / 50 * 0.95  # never faster than the limit


def test_preview_per_member(client, world):
    issue = newsletter.build_issue()
    client.force_login(world.staff["operations"])
    r = client.get(f"/growth/issues/{issue.pk}/preview/", {"member": world.alice.pk})
    assert r.status_code == 200 and "Picked for you" in r.content.decode()
    r = client.get(f"/growth/issues/{issue.pk}/preview/", {"member": 999999})
    assert r.status_code == 404
    client.force_login(world.alice.user)
    assert client.get(f"/growth/issues/{issue.pk}/preview/").status_code == 403


def test_week_and_queue_refusals(world):
    issue = newsletter.build_issue(dt.date(2026, 12, 2))
    assert issue.week == dt.date(2026, 11, 30)
    again = newsletter.build_issue(dt.date(2026, 12, 3))
    assert again.pk == issue.pk  # the same week's draft, refreshed
    newsletter.queue_issue(again)
    with pytest.raises(Conflict):
        newsletter.build_issue(dt.date(2026, 12, 4))


def test_a_queueing_that_died_is_started_over(world):
    import socket

    issue = newsletter.build_issue()
    # a queueing process died after writing part of its rows
    Issue.objects.filter(pk=issue.pk).update(
        status="queuing", sender=f"{socket.gethostname()}:999999999"
    )
    Delivery.objects.create(issue=issue, email="alice@example.com", member_id=world.alice.pk)
    with pytest.raises(Conflict, match="paused|not queued"):
        newsletter.send_issue(Issue.objects.get(pk=issue.pk))  # nothing sends a queueing
    assert newsletter.queue_issue(Issue.objects.get(pk=issue.pk)) == 2
    assert Delivery.objects.filter(issue_id=issue.pk).count() == 2
    # one still at work (this very process) is not taken over
    other = newsletter.build_issue(issue.week + dt.timedelta(days=7))
    Issue.objects.filter(pk=other.pk).update(
        status="queuing", sender=f"{socket.gethostname()}:{__import__('os').getpid()}"
    )
    with pytest.raises(Conflict, match="being queued"):
        newsletter.queue_issue(Issue.objects.get(pk=other.pk))
