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
    # The world's other members are billed on the day of the month they joined (today's): on
    # a 4th, 11th or 28th-31st they were billed on one of these tests' dates and earned too.
    Member.objects.exclude(pk=world.alice.pk).update(billing_day=15)
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


def test_days_the_scheduler_missed_are_recognised_by_the_next_run(statement):
    """The job ran on Feb 28, then not until Mar 4: the next daily billing recognises Mar 1, 2
    and 3 as well as the 4th (each day once, on its own date), and a month of such gaps still
    earns exactly the period's price by its end."""
    from redenvelope.billing.actions import daily_billing
    from redenvelope.ledger.models import JournalEntry

    daily_billing(dt.date(2026, 2, 28))
    daily_billing(dt.date(2026, 3, 4))
    days = sorted(
        JournalEntry.objects.filter(kind="recognition").values_list("effective_date", flat=True)
    )
    assert days == [dt.date(2026, 2, 28) + dt.timedelta(days=k) for k in range(5)]
    assert earned() == Decimal("0.54") * 5
    for day in (dt.date(2026, 3, 11), dt.date(2026, 3, 30)):  # gaps of a week and more
        daily_billing(day)
    # Mar 30 is the period's last day: every cent of it is earned, each day once.
    assert earned() == Decimal("16.99")
    assert JournalEntry.objects.filter(kind="recognition").count() == 31
    assert trial_balance().balanced
