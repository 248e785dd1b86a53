"""A member signs in with the browser and reorders the queue with the keyboard and the mouse."""

import pytest
from playwright.sync_api import expect

from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def order_in_db(member):
    return list(
        QueueEntry.objects.filter(member=member)
        .order_by("position")
        .values_list("title__name", flat=True)
    )


def titles(page):
    return page.locator("table.queue tbody tr td:nth-child(2) a")


def order_on_page(page):
    return titles(page).all_inner_texts()


def test_member_logs_in_and_reorders_queue(live_server, world, page):
    for film in world.films[:4]:
        queues.add_to_queue(world.alice, film)

    # The pages run under their Content-Security-Policy: nothing of ours may be refused by it.
    refused = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/for-you/")  # a member's home: their picks
    page.goto(f"{live_server.url}/queue/")
    assert order_on_page(page) == ["Film 0", "Film 1", "Film 2", "Film 3"]

    # "Top" moves Film 2 up without a page load (htmx swaps the queue in place).
    page.get_by_role("button", name="Move Film 2 to top").click()
    expect(titles(page).nth(0)).to_have_text("Film 2")
    assert order_on_page(page) == ["Film 2", "Film 0", "Film 1", "Film 3"]
    assert order_in_db(world.alice) == ["Film 2", "Film 0", "Film 1", "Film 3"]

    # Type a position and press Enter: Film 3 goes to position 2.
    box = page.get_by_label("New position for Film 3")
    box.fill("2")
    box.press("Enter")
    expect(titles(page).nth(1)).to_have_text("Film 3")
    assert order_in_db(world.alice) == ["Film 2", "Film 3", "Film 0", "Film 1"]

    # A position out of range is refused with a message, and nothing moves.
    box = page.get_by_label("New position for Film 0")
    box.fill("9")
    page.get_by_role("button", name="Move Film 0 to the position typed").click()
    page.get_by_role("alert").filter(has_text="out of range").wait_for()
    assert order_in_db(world.alice) == ["Film 2", "Film 3", "Film 0", "Film 1"]

    # Remove works too.
    page.get_by_role("button", name="Remove Film 1").click()
    page.locator("#queue-size").filter(has_text="3 titles").wait_for()
    assert order_in_db(world.alice) == ["Film 2", "Film 3", "Film 0"]
    assert refused == []
