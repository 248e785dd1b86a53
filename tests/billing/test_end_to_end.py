"""End to end, through the pages and a real SMTP server (aiosmtpd): a member joins on a trial,
upgrades, gets an outage credit, a payment is declined and then recovers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from redenvelope.billing import actions
from redenvelope.billing.models import Statement
from redenvelope.billing.run import run_billing
from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.fulfillment.actions import open_incident
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member

pytestmark = pytest.mark.usefixtures("emails_at_once")


def on(day):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(10))))


def test_trial_upgrade_outage_decline_recovery(world, smtp, client, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SALES_TAX": {"NY": "0.10"}}
    with on(dt.date(2026, 3, 1)):
        erin = membership.join(
            username="erin",
            email="erin@example.com",
            password="x-long-password-1",
            plan=world.plan1,
            street="5 B St",
            city="New York",
            state="NY",
            zip_code="10003",
        )
    client.force_login(erin.user)
    # She saves a card that will be declined for lack of funds.
    with on(dt.date(2026, 3, 2)):
        r = client.post(
            "/account/billing/do/",
            {
                "action": "add_card",
                "number": "4000 0000 0000 9995",
                "exp_month": 12,
                "exp_year": 2030,
            },
        )
        assert r.status_code == 302
    # The trial ends on Mar 31: she converts and is billed; the card is declined.
    with on(dt.date(2026, 3, 31)):
        run_billing(dt.date(2026, 3, 31))
    erin = Member.objects.get(pk=erin.pk)
    first = Statement.objects.get(member=erin)
    assert erin.status == "past_due" and first.status == "past_due"
    assert first.total_due == Decimal("9.89")  # 8.99 + 10% tax
    html = client.get("/queue/").content.decode()
    assert "no new discs ship" in html
    # She adds a good card and pays from the page; everything is restored at once.
    with on(dt.date(2026, 4, 1)):
        client.post(
            "/account/billing/do/",
            {"action": "add_card", "number": "4242424242424242", "exp_month": 12, "exp_year": 2030},
        )
        client.post("/account/billing/do/", {"action": "pay", "statement": first.pk, "key": "k-1"})
        client.post(
            "/account/billing/do/", {"action": "pay", "statement": first.pk, "key": "k-1"}
        )  # double click
    first.refresh_from_db()
    assert first.status == "paid" and Member.objects.get(pk=erin.pk).status == "active"
    assert first.payments.filter(status="succeeded").count() == 1
    # She upgrades on Apr 15: 15 of 30 days left of Mar 31 - Apr 30.
    with on(dt.date(2026, 4, 15)):
        client.post("/account/billing/do/", {"action": "change_plan", "plan": world.plan3.pk})
    upgrade = Statement.objects.get(member=erin, kind="proration")
    assert upgrade.subtotal == Decimal("8.50") - Decimal("4.50")  # 16.99/2 - 8.99/2, half-up
    assert upgrade.status == "paid"
    # A three-day outage at Newark (her DC): operations records it, finance compensates 15%.
    incident = open_incident(
        world.ewr,
        dt.date(2026, 4, 20),
        dt.date(2026, 4, 23),
        reason="storm",
        actor=world.staff["operations"],
    )
    staff = client.__class__()
    staff.force_login(world.staff["finance"])
    r = staff.post(
        "/finance/outages/", {"incident": incident.pk, "percent": "15", "reason": "flood"}
    )
    assert r.status_code == 302
    staff.post(
        "/finance/outages/", {"incident": incident.pk, "percent": "15", "reason": "flood"}
    )  # once only
    with on(dt.date(2026, 4, 30)):
        run_billing(dt.date(2026, 4, 30))
    may = Statement.objects.get(member=erin, kind="period", period_start=dt.date(2026, 4, 30))
    assert may.discount == Decimal("2.55")  # 15% of 16.99, half-up
    assert may.status == "paid" and may.total_due == Decimal("16.99") - Decimal("2.55") + may.tax
    subjects = [s for to, s, *_ in smtp.messages if to == ["erin@example.com"]]
    assert subjects == [
        "We could not take your payment",
        "Payment received: your membership is back to normal",
        "You are now on 3 at a time",
        "We are sorry: a credit on your next statement",
    ]
    body = next(b for to, s, b, _ in smtp.messages if s.startswith("We are sorry"))
    assert "15%" in body
    assert trial_balance().balanced
    assert [
        r
        for r in run_checks()
        if not r.ok and r.name in {"ledger_balanced", "statement_totals", "statement_paid"}
    ] == []
    # Finance sees her ledger; an agent sees balances but no ledger lines, and cannot refund.
    page = staff.get(f"/finance/members/{erin.pk}/").content.decode()
    assert "Ledger lines" in page and "Accounts receivable" in page
    agent = client.__class__()
    agent.force_login(world.staff["support_agent"])
    page = agent.get(f"/finance/members/{erin.pk}/").content.decode()
    assert "Ledger lines" not in page and "Owed" in page
    payment = first.payments.get(status="succeeded")
    agent.post(
        f"/finance/members/{erin.pk}/do/",
        {"action": "refund", "payment": payment.pk, "reason": "x"},
    )
    payment.refresh_from_db()
    assert payment.refunded == 0
    assert agent.get("/finance/reports/mrr/").status_code == 403
    # Her statement as PDF; not someone else's.
    pdf = client.get(f"/billing/statements/{may.pk}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    client.force_login(world.bob.user)
    assert client.get(f"/billing/statements/{may.pk}.pdf").status_code == 403
    assert actions.current_statement(erin, dt.date(2026, 5, 1)) == may


def test_gift_page(world, client):
    client.force_login(world.bob.user)
    assert client.get("/gifts/").status_code == 200
    r = client.post(
        "/gifts/",
        {
            "plan": world.plan1.pk,
            "months": 2,
            "then": "stop",
            "purchaser_name": "Bob",
            "purchaser_email": "bob@example.com",
            "number": "4242424242424242",
            "exp_month": 12,
            "exp_year": 2030,
        },
    )
    assert "The gift code is" in r.content.decode()
