import datetime as dt
from decimal import Decimal

import pytest

from redenvelope.billing.actions import issue_credit
from redenvelope.billing.models import Statement
from redenvelope.billing.run import run_billing
from redenvelope.checks import run_checks
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership.models import Member


@pytest.fixture
def due(world, settings):
    ensure_chart()
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SALES_TAX": {"NY": "0.08875"}}
    Member.objects.filter(pk=world.alice.pk).update(billing_day=31)  # NY, $16.99
    Member.objects.filter(pk=world.bob.pk).update(billing_day=28, state="CA")  # $8.99, no tax
    issue_credit(world.bob, "20.00", reason="outage", issuer=world.staff["support_lead"])
    return world


def test_month_end_run_bills_everyone_due_once(due):
    result = run_billing(dt.date(2026, 2, 28))  # the 28th is February's last day: 28-31 are due
    assert result["statements"] == 2
    alice = Statement.objects.get(member=due.alice)
    assert (alice.subtotal, alice.tax, alice.credit_applied, alice.total_due) == (
        Decimal("16.99"),
        Decimal("1.51"),
        Decimal("0.00"),
        Decimal("18.50"),
    )
    bob = Statement.objects.get(member=due.bob)
    assert (bob.credit_applied, bob.total_due, bob.status) == (
        Decimal("8.99"),
        Decimal("0.00"),
        "paid",
    )
    assert due.bob.credits.get().remaining == Decimal("11.01")
    assert trial_balance().balanced
    assert [r for r in run_checks() if not r.ok] == []
    assert run_billing(dt.date(2026, 2, 28))["statements"] == 0
    assert Statement.objects.count() == 2


def test_only_members_due_that_day(due):
    assert run_billing(dt.date(2026, 3, 28))["statements"] == 1  # Bob (28th); Alice on the 31st
    assert run_billing(dt.date(2026, 3, 31))["statements"] == 1
    assert run_billing(dt.date(2026, 3, 30))["statements"] == 0
