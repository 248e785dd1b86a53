import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from redenvelope.billing.actions import issue_statement
from redenvelope.billing.recognition import recognize_revenue
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.models import JournalLine
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership.models import Member


@pytest.fixture
def statement(world):
    ensure_chart()
    Member.objects.filter(pk=world.alice.pk).update(billing_day=31)
    return issue_statement(Member.objects.get(pk=world.alice.pk), dt.date(2026, 2, 28))


def earned():
    return JournalLine.objects.filter(account__code="4000").aggregate(s=Sum("credit"))["s"]


def test_a_period_earns_exactly_its_price(statement):
    day = statement.period_start
    while day < statement.period_end:  # Feb 28 to Mar 31: 31 days
        recognize_revenue(day)
        day += dt.timedelta(days=1)
    assert earned() == Decimal("16.99")
    deferred = JournalLine.objects.filter(account__code="2000").aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    assert deferred["d"] == deferred["c"] == Decimal("16.99")
    assert trial_balance().balanced


def test_same_day_twice_recognises_once(statement):
    first = recognize_revenue(statement.period_start)
    assert first["members"] == 1 and first["cents"] == 54  # 1699 // 31
    assert recognize_revenue(statement.period_start)["already"]
    assert earned() == Decimal("0.54")
    assert recognize_revenue(statement.period_end)["members"] == 0  # next period not billed
