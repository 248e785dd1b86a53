"""Money is integer cents in the database on both backends: sums are exact, whatever the count."""

from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.db.models import F, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redenvelope.core.errors import Conflict, DomainError
from redenvelope.ledger.actions import Line, ensure_chart, post_bulk, post_entry
from redenvelope.ledger.fields import money_value
from redenvelope.ledger.models import JournalLine
from redenvelope.ledger.money import from_cents, share, to_cents, to_money
from redenvelope.ledger.queries import trial_balance


@pytest.fixture
def chart(db):
    ensure_chart()


def test_one_rounding_rule():
    assert to_money("0.005") == Decimal("0.01")  # half-up, not half-even
    assert to_money("0.015") == Decimal("0.02")
    assert to_money("-0.005") == Decimal("-0.01")
    assert to_cents("19.99") == 1999 and from_cents(1999) == Decimal("19.99")
    assert share(1999, 1, 2) == 1000  # 999.5 -> 1000
    assert share(1000, Decimal("0.0625"), 1) == 63  # 62.5 -> 63
    assert share(1, 1, 3) == 0


@pytest.mark.parametrize("bad", ["१२", "²", "12.5e30", "1e30", "nan", "inf", "", "12,50", 1.5])
def test_money_refuses_what_is_not_an_amount(bad):
    with pytest.raises(DomainError):
        to_money(bad)


def test_columns_hold_integers(chart):
    post_entry("adjustment", [Line("1000", debit="0.10"), Line("3000", credit="0.10")], memo="x")
    with connection.cursor() as cur:
        cur.execute("SELECT debit FROM ledger_journalline WHERE debit > 0")
        (raw,) = cur.fetchone()
    assert raw == 10 and isinstance(raw, int)
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("SELECT typeof(debit) FROM ledger_journalline")
            assert {r[0] for r in cur.fetchall()} == {"integer"}
    assert JournalLine.objects.filter(debit__gt=0).get().debit == Decimal("0.10")


def test_tenths_that_drift_as_floats_sum_exactly(chart):
    # 0.1 added 10,000 times is 1000.0000000001588 in binary floating point.
    n = 10_000
    post_bulk(
        "adjustment",
        effective_date=__import__("datetime").date(2026, 1, 1),
        memo="tenths",
        member_ids=np.arange(n),
        keys=None,
        lines=[ln for i in range(n) for ln in ((i, "1000", 10, 0), (i, "3000", 0, 10))],
    )
    tb = trial_balance()
    assert tb.balanced and tb.debits == Decimal("1000.00")
    total = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    assert total == {"d": Decimal("1000.00"), "c": Decimal("1000.00")}


@settings(
    max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([99, 9_999, 999_999_99]))
def test_a_million_random_cents_sum_exactly(chart, seed, scale):
    """A million lines of random cents (1 cent up to the scale), in entries of 2 to 6 lines:
    the trial balance and the ORM's sums equal the exact integer totals."""
    rng = np.random.default_rng(seed)
    n_entries = 250_000  # a million lines an example
    debits = rng.integers(1, scale + 1, size=(n_entries, 2))
    lines = []
    for i, (a, b) in enumerate(debits.tolist()):
        lines += [(i, "1000", a, 0), (i, "1100", b, 0), (i, "4000", 0, a), (i, "4100", 0, b)]
    before = trial_balance()
    post_bulk(
        "adjustment",
        effective_date=__import__("datetime").date(2026, 1, 2),
        memo="random",
        member_ids=np.arange(n_entries),
        keys=None,
        lines=lines,
    )
    expected = Decimal(int(debits.sum())) / 100
    tb = trial_balance()
    assert tb.balanced
    assert tb.debits - before.debits == expected
    rows = {a.code: (d, c) for a, d, c in tb.rows}
    assert rows["1000"][0] - {a.code: d for a, d, _ in before.rows}["1000"] == (
        Decimal(int(debits[:, 0].sum())) / 100
    )


def test_key_reused_for_another_posting_is_a_conflict(chart):
    post_entry(
        "adjustment",
        [Line("1000", debit="5"), Line("3000", credit="5")],
        memo="a",
        idempotency_key="k1",
    )
    again = post_entry(
        "adjustment",
        [Line("1000", debit="5"), Line("3000", credit="5")],
        memo="a",
        idempotency_key="k1",
    )
    assert again.lines.count() == 2
    with pytest.raises(Conflict):
        post_entry(
            "adjustment",
            [Line("1000", debit="6"), Line("3000", credit="6")],
            memo="a",
            idempotency_key="k1",
        )
    assert JournalLine.objects.count() == 2


def test_bulk_entry_needs_two_lines(chart):
    import datetime as dt

    with pytest.raises(DomainError, match="fewer than two"):
        post_bulk(
            "statement",
            effective_date=dt.date(2026, 1, 1),
            memo="zero",
            member_ids=[1, 2],
            keys=None,
            lines=[(0, "1000", 5, 0), (0, "3000", 0, 5)],
        )
    assert not JournalLine.objects.exists()


def test_amount_expressions_are_in_cents(chart):
    post_entry("adjustment", [Line("1000", debit="5.25"), Line("3000", credit="5.25")], memo="x")
    JournalLine.objects.filter(debit__gt=0).update(debit=F("debit") + money_value("0.75"))
    assert JournalLine.objects.filter(debit__gt=0).get().debit == Decimal("6.00")
