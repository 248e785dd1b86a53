"""Reads of the ledger that reports, checks and pages share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from .models import Account
from .money import from_cents


@dataclass
class TrialBalance:
    rows: list[tuple[Account, Decimal, Decimal]]
    debits: Decimal
    credits: Decimal

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


def trial_balance(as_of: dt.date | None = None) -> TrialBalance:
    """Debits and credits per account over every entry up to a date (inclusive): integer sums
    of cents in SQL, so exact on every database."""
    if as_of is None:  # every line: one scan, no join
        sql, params = (
            "SELECT account_id, SUM(debit), SUM(credit) FROM ledger_journalline "
            "GROUP BY account_id",
            [],
        )
    else:
        sql, params = (
            "SELECT l.account_id, SUM(l.debit), SUM(l.credit) FROM ledger_journalline l "
            "JOIN ledger_journalentry e ON e.id = l.entry_id WHERE e.effective_date <= %s "
            "GROUP BY l.account_id",
            [as_of],
        )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        sums = {a: (int(d or 0), int(c or 0)) for a, d, c in cur.fetchall()}
    rows = [(a, *sums.get(a.pk, (0, 0))) for a in Account.objects.all()]
    return TrialBalance(
        [(a, from_cents(d), from_cents(c)) for a, d, c in rows],
        from_cents(sum(r[1] for r in rows)),
        from_cents(sum(r[2] for r in rows)),
    )


def account_ids() -> dict[str, int]:
    return dict(Account.objects.values_list("code", "id"))
