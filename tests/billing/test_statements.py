import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from redenvelope.billing.actions import issue_credit, issue_statement
from redenvelope.billing.models import Statement
from redenvelope.core.errors import DomainError
from redenvelope.ledger.actions import ensure_chart
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member


@pytest.fixture
def billed(world):
    ensure_chart()
    # Alice joined on the 31st of a month: she is billed on each month's last day.
    Member.objects.filter(pk=world.alice.pk).update(
        joined_at=timezone.make_aware(dt.datetime(2026, 1, 31, 12)), billing_day=31
    )
    world.alice.refresh_from_db()
    return world


def test_statement_with_tax_and_credit(billed, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "SALES_TAX": {"NY": "0.08875"}}
    issue_credit(billed.alice, "5.00", reason="late disc", issuer=billed.staff["support_lead"])
    st = issue_statement(billed.alice, dt.date(2026, 2, 28))
    assert (st.period_start, st.period_end) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    assert st.subtotal == Decimal("16.99") and st.tax == Decimal("1.51")  # 1.5079 half-up
    assert st.credit_applied == Decimal("5.00") and st.total_due == Decimal("13.50")
    assert trial_balance().balanced
    # Billing again for the period changes nothing.
    assert issue_statement(billed.alice, dt.date(2026, 2, 28)).pk == st.pk
    assert Statement.objects.count() == 1


def test_credit_larger_than_bill_carries_over(billed):
    issue_credit(billed.alice, "25.00", reason="outage", issuer=billed.staff["support_lead"])
    first = issue_statement(billed.alice, dt.date(2026, 2, 28))
    assert first.total_due == 0 and first.status == "paid"
    second = issue_statement(billed.alice, dt.date(2026, 3, 31))
    assert second.credit_applied == Decimal("8.01") and second.total_due == Decimal("8.98")
    assert trial_balance().balanced


def test_wrong_day_and_cancelled_refused(billed):
    with pytest.raises(DomainError, match="billing day"):
        issue_statement(billed.alice, dt.date(2026, 2, 27))
    membership.cancel(billed.alice)
    with pytest.raises(DomainError, match="not billed"):
        issue_statement(billed.alice, dt.date(2026, 2, 28))
    assert not Statement.objects.exists()


def test_check_covers_ledger_and_statements(billed):
    from django.db import connection

    from redenvelope.checks import run_checks

    st = issue_statement(billed.alice, dt.date(2026, 2, 28))
    assert [r for r in run_checks() if not r.ok] == []
    with connection.cursor() as cur:
        cur.execute("UPDATE billing_statement SET total_due = 1 WHERE id = %s", [st.pk])
        cur.execute("UPDATE ledger_journalline SET debit = debit + 100 WHERE debit > 0")
    assert {r.name for r in run_checks() if not r.ok} == {"ledger_balanced", "statement_totals"}


def test_member_sees_only_own_billing(billed, client):
    issue_statement(billed.alice, dt.date(2026, 2, 28))
    client.force_login(billed.alice.user)
    html = client.get("/account/billing/").content.decode()
    assert "$16.99" in html and "Feb 28, 2026" in html
    client.force_login(billed.bob.user)
    html = client.get("/account/billing/").content.decode()
    assert "No statements yet." in html and "Feb 28, 2026" not in html
    client.force_login(billed.staff["finance"])
    assert client.get("/account/billing/").status_code == 403
