"""Money rows carry no database foreign keys (decision 0010): `check` proves every reference, and
names the row and the field of one that points nowhere."""

import datetime as dt

import pytest
from django.db import connection

from redenvelope.billing.models import Payment, Statement
from redenvelope.billing.run import run_billing
from redenvelope.checks import run_checks
from redenvelope.membership.models import Member
from tests.billing.test_lifecycle import GOOD, at, card

pytestmark = pytest.mark.usefixtures("emails_at_once")


def _refs():
    return next(r for r in run_checks() if r.name == "money_refs")


def test_check_finds_a_reference_that_points_nowhere(shop):
    card(shop.alice, GOOD)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    statement = Statement.objects.get(member=shop.alice)
    payment = Payment.objects.get(statement=statement)
    assert _refs().ok
    gone = 987654321
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE billing_payment SET statement_id = %s WHERE id = %s", [gone, payment.pk]
        )
        cur.execute(
            "UPDATE ledger_journalline SET account_id = %s WHERE entry_id = %s "
            "AND id = (SELECT MIN(id) FROM ledger_journalline WHERE entry_id = %s)",
            [gone, statement.entry_id, statement.entry_id],
        )
    found = _refs()
    assert found.violations == 2
    assert {(r[0], r[2], r[3]) for r in found.examples} == {
        ("payment", "statement_id", gone),
        ("journal line", "account_id", gone),
    }


def test_check_finds_a_billed_until_no_statement_ends(shop):
    card(shop.alice, GOOD)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    check = next(r for r in run_checks() if r.name == "billed_until")
    assert check.ok
    # A billed_until past every statement would let the run skip a period it never billed.
    Member.objects.filter(pk=shop.alice.pk).update(billed_until=dt.date(2026, 9, 10))
    check = next(r for r in run_checks() if r.name == "billed_until")
    assert check.violations == 1 and check.examples[0][0] == shop.alice.pk
