from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redenvelope.core.errors import DomainError
from redenvelope.ledger.actions import Line, ensure_chart, post_entry
from redenvelope.ledger.models import JournalEntry, JournalLine
from redenvelope.ledger.money import to_money
from redenvelope.ledger.queries import trial_balance


@pytest.fixture
def chart(db):
    ensure_chart()


def test_money_rounds_half_up_and_refuses_floats():
    assert to_money("2.345") == Decimal("2.35")
    assert to_money("2.344") == Decimal("2.34")
    assert to_money(-1) == Decimal("-1.00")
    with pytest.raises(DomainError, match="never a float"):
        to_money(1.1)
    with pytest.raises(DomainError):
        to_money("abc")


def test_post_balanced_entry(chart):
    entry = post_entry(
        "statement",
        [Line("1100", debit="16.99"), Line("2000", credit="16.99")],
        memo="November statement",
        member_id=7,
    )
    assert entry.lines.count() == 2
    tb = trial_balance()
    assert tb.balanced and tb.debits == Decimal("16.99")


@pytest.mark.parametrize(
    "lines,message",
    [
        ([Line("1100", debit="10"), Line("2000", credit="9.99")], "Unbalanced"),
        ([Line("1100", debit="10")], "at least two"),
        ([Line("1100", debit="-5"), Line("2000", credit="-5")], "never negative"),
        ([Line("1100", debit="5", credit="5"), Line("2000", credit="0")], "either a debit"),
        ([Line("9999", debit="5"), Line("2000", credit="5")], "Unknown account"),
    ],
)
def test_bad_entries_change_nothing(chart, lines, message):
    with pytest.raises(DomainError, match=message):
        post_entry("adjustment", lines, memo="bad")
    assert not JournalEntry.objects.exists() and not JournalLine.objects.exists()


def test_idempotency_key_posts_once(chart):
    lines = [Line("1000", debit="5"), Line("1100", credit="5")]
    first = post_entry("payment", lines, memo="card", idempotency_key="pay-1")
    again = post_entry("payment", lines, memo="card", idempotency_key="pay-1")
    assert first.pk == again.pk and JournalEntry.objects.count() == 1


AMOUNT = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1000", "1100", "2000", "4000", "4900", "2200"]),
            st.sampled_from(["1000", "1100", "2000", "4000", "4900", "2200"]),
            AMOUNT,
        ),
        min_size=1,
        max_size=15,
    )
)
def test_any_sequence_of_entries_balances(chart, moves):
    from django.db import transaction

    with transaction.atomic():
        for debit_acct, credit_acct, amount in moves:
            post_entry(
                "adjustment",
                [Line(debit_acct, debit=amount), Line(credit_acct, credit=amount)],
                memo="move",
            )
        tb = trial_balance()
        assert tb.balanced and tb.debits == sum(a for _, _, a in moves)
        transaction.set_rollback(True)


def test_cli_exits_nonzero_when_unbalanced(chart):
    from redenvelope.cli import app

    post_entry("statement", [Line("1100", debit="10"), Line("2000", credit="10")], memo="x")
    runner = CliRunner()
    assert runner.invoke(app, ["ledger", "trial-balance"]).exit_code == 0
    with connection.cursor() as cur:  # behind the ledger's back
        cur.execute("UPDATE ledger_journalline SET credit = 900 WHERE credit = 1000")
    result = runner.invoke(app, ["ledger", "trial-balance"])
    assert result.exit_code == 1 and "Out of balance" in result.output
