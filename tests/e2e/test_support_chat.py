"""Customer service end to end, in Debian's chromium against the live server: a member opens a
chat from the chat box, an agent sees it arrive in the console (no reload), answers it, gives a
month's credit within the limit, the answer appears in the member's chat box (no reload), and
the member's next statement carries the credit."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from redenvelope.billing.actions import issue_statement
from redenvelope.ledger.actions import ensure_chart
from redenvelope.support.models import Action, Case
from tests.e2e.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_chat_answered_with_a_months_credit_on_the_next_statement(live_server, world, browser):
    ensure_chart()
    base = live_server.url
    member = browser.new_context().new_page()
    agent = browser.new_context().new_page()
    for p in (member, agent):
        p.set_default_timeout(15_000)
    refused = []
    member.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    sign_in(member, base, "alice")
    member.goto(f"{base}/queue/")
    member.get_by_text("Chat with us").click()
    member.get_by_label("Message").fill("My disc arrived cracked, can you help?")
    member.get_by_label("Message").press("Enter")
    expect(member.locator("#chat-panel")).to_contain_text("arrived cracked")
    expect(member.get_by_label("Message")).to_have_value("")

    sign_in(agent, base, "staff_support_agent")
    agent.goto(f"{base}/support/")
    chat = Case.objects.get(channel="chat")
    waiting = agent.get_by_role("region", name="Chats waiting")
    waiting.get_by_role("link", name=f"#{chat.pk} Alice Tester").click()
    agent.get_by_label("As", exact=True).select_option("chat")
    agent.get_by_label("Message", exact=True).fill("So sorry! Here is a month on us.")
    agent.get_by_role("button", name="Add", exact=True).click()
    agent.get_by_label("What", exact=True).select_option("credit")
    agent.get_by_label("Amount ($)").fill("16.99")
    agent.get_by_label("Why", exact=True).fill("cracked disc: a month free")
    agent.get_by_role("button", name="Give", exact=True).click()
    expect(agent.get_by_text("Done: Account credit.")).to_be_visible()

    expect(member.locator("#chat-panel")).to_contain_text("a month on us")  # polled, no reload
    action = Action.objects.get(case=chat)
    assert action.value == Decimal("16.99") and action.actor.username == "staff_support_agent"

    world.alice.refresh_from_db()
    statement = issue_statement(world.alice)
    assert statement.credit_applied == Decimal("16.99")
    member.goto(f"{base}/account/billing/")
    expect(member.get_by_role("cell", name="$16.99").first).to_be_visible()
    assert refused == []
