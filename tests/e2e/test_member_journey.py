"""The member website as a new visitor meets it, in Debian's chromium against the live server:
search with a typo, open a title, join on a trial with a test card, confirm the email from a
real local SMTP server (aiosmtpd), queue five titles, reorder and rate with the keyboard alone,
a dispatch day ships discs, start a vacation hold, cancel, rejoin and find the queue intact."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.membership.models import Member
from redenvelope.queues.models import QueueEntry
from redenvelope.ratings.models import Rating

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def queue_names(member):
    return list(
        QueueEntry.objects.filter(member=member)
        .order_by("position")
        .values_list("title__name", flat=True)
    )


def test_visitor_to_member_and_back(live_server, world, page, smtp):
    base = live_server.url
    for film in world.films[:6]:
        world.new_copy(film)
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    # A visitor searches with a typo and opens the title.
    page.goto(f"{base}/catalog/")
    page.get_by_label("Search titles").fill("fillm 5")
    page.get_by_label("Search titles").press("Enter")
    page.get_by_role("link", name="Film 5").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Film 5")

    # Adding asks to join; joining completes the add.
    page.get_by_role("button", name="Add to top of queue: Film 5").click()
    page.get_by_role("link", name="Join: start your free trial").click()
    page.get_by_label("3 at a time").check()
    page.get_by_label("First name").fill("Vera")
    page.get_by_label("Last name").fill("Visitor")
    page.get_by_label("Email").fill("vera@example.com")
    page.get_by_label("Password").fill("a-long-unusual-passphrase-7")
    page.get_by_label("Street").fill("5 Elm St")
    page.get_by_label("City").fill("New York")
    page.get_by_label("State (two letters)").fill("NY")
    page.get_by_label("ZIP code").fill("10003")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill(str(dt.date.today().year + 3))
    page.get_by_role("button", name="Start my free trial").click()
    page.wait_for_url("**/queue/")
    vera = Member.objects.get(user__email="vera@example.com")
    assert vera.status == "trial" and queue_names(vera) == ["Film 5"]

    # The confirmation link arrives by SMTP; opening it confirms the address.
    def inbox(subject):
        for _ in range(50):
            for to, subj, body, _id in smtp.messages:
                if to == ["vera@example.com"] and subj == subject:
                    return body
            page.wait_for_timeout(100)
        raise AssertionError(f"no email {subject!r}: {[m[1] for m in smtp.messages]}")

    assert "Fill your queue" in inbox("Welcome to Red Envelope")
    link = re.search(r"https?://\S+/account/verify/\S+", inbox("Confirm your email address"))
    page.goto(base + "/account/" + link.group(0).split("/account/", 1)[1])
    expect(page.get_by_text("is confirmed")).to_be_visible()
    vera.refresh_from_db()
    assert vera.email_verified_at is not None

    # Four more titles from the catalog (htmx buttons swap in place).
    page.goto(f"{base}/catalog/")
    for n in (0, 1, 2, 3):
        page.get_by_role("button", name=f"Add to bottom of queue: Film {n}").click()
        expect(page.locator(f"#action-{world.films[n].pk}")).to_contain_text("In your queue")
    assert queue_names(vera) == ["Film 5", "Film 0", "Film 1", "Film 2", "Film 3"]

    # Keyboard only: Film 3 up one (focus its button, press Enter), Film 0 to position 4.
    page.goto(f"{base}/queue/")
    page.get_by_role("button", name="Move Film 3 up one").focus()
    page.keyboard.press("Enter")
    expect(page.locator("table.queue tbody tr").nth(3)).to_contain_text("Film 3")
    box = page.get_by_label("New position for Film 0")
    box.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    expect(page.locator("table.queue tbody tr").nth(3)).to_contain_text("Film 0")
    assert queue_names(vera) == ["Film 5", "Film 1", "Film 3", "Film 0", "Film 2"]

    # A dispatch day: the top three ship; the queue page shows them at home.
    run = run_dispatch(dt.date.today())
    assert run.figures["shipments"] == 3
    page.reload()
    at_home = page.locator("section[aria-labelledby=at-home]")
    for name in ("Film 5", "Film 1", "Film 3"):
        expect(at_home).to_contain_text(name)
    assert "Your disc is on its way" in [m[1] for m in smtp.messages] or any(
        "on their way" in m[1] for m in smtp.messages
    )

    # Rate one from the keyboard, on the history page.
    page.goto(f"{base}/history/")
    page.get_by_role("button", name="Rate Film 5 4 stars").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Rated 4 stars.")).to_be_visible()
    assert Rating.objects.get(member=vera).stars == 4

    # A vacation hold, then cancel, then rejoin with the queue kept.
    page.goto(f"{base}/account/")
    start = dt.date.today() + dt.timedelta(days=7)
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("Until").fill((start + dt.timedelta(days=14)).isoformat())
    page.get_by_role("button", name="Set a hold").click()
    expect(page.get_by_text("Hold set")).to_be_visible()
    page.get_by_role("button", name="Cancel my membership").click()
    expect(page.get_by_text("We keep your queue for 24 months").first).to_be_visible()
    vera.refresh_from_db()
    assert vera.status == "cancelled"
    page.get_by_role("button", name="Rejoin, with my queue").click()
    expect(page.get_by_text("Your queue is just as you left it")).to_be_visible()
    vera.refresh_from_db()
    assert vera.status == "active" and queue_names(vera) == ["Film 0", "Film 2"]
    page.goto(f"{base}/queue/")
    expect(page.locator("table.queue tbody tr")).to_have_count(2)
    assert refused == []
