"""The double-entry ledger: the chart of accounts, posting, and the trial balance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Sum

from redenvelope.core import clock
from redenvelope.core.errors import DomainError

from .models import Account, JournalEntry, JournalLine
from .money import to_money

K = Account.Kind
CHART = [
    ("1000", "Cash", K.ASSET),
    ("1100", "Accounts receivable", K.ASSET),
    ("2000", "Deferred revenue", K.LIABILITY),
    ("2100", "Sales tax payable", K.LIABILITY),
    ("2200", "Member credit balances", K.LIABILITY),
    ("2300", "Gift subscriptions outstanding", K.LIABILITY),
    ("3000", "Owner's equity", K.EQUITY),
    ("4000", "Subscription revenue", K.REVENUE),
    ("4100", "Fee revenue", K.REVENUE),
    ("4900", "Credits and discounts", K.CONTRA_REVENUE),
    ("5000", "Postage", K.EXPENSE),
    ("5100", "Content licensing", K.EXPENSE),
    ("5200", "Affiliate payouts", K.EXPENSE),
    ("5300", "Payment processing and chargebacks", K.EXPENSE),
    ("6000", "Bad debt", K.EXPENSE),
]


def ensure_chart() -> None:
    """Create the chart of accounts (safe to run again)."""
    for code, name, kind in CHART:
        Account.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})


@dataclass(frozen=True)
class Line:
    account: str  # account code
    debit: Decimal | str | int = 0
    credit: Decimal | str | int = 0
    member_id: int | None = None


@transaction.atomic
def post_entry(
    kind: str,
    lines: list[Line],
    *,
    memo: str,
    effective_date: dt.date | None = None,
    member_id: int | None = None,
    actor=None,
    idempotency_key: str | None = None,
) -> JournalEntry:
    """Post one balanced entry. Refused, with nothing written, when unbalanced, empty, with a
    negative or two-sided line, or an unknown account. A repeated idempotency key returns the
    entry posted the first time."""
    if idempotency_key:
        done = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
        if done:
            return done
    if kind not in JournalEntry.Kind.values:
        raise DomainError(f"Unknown entry kind {kind!r}.")
    if len(lines) < 2:
        raise DomainError("An entry has at least two lines.")
    accounts = {a.code: a for a in Account.objects.filter(code__in={ln.account for ln in lines})}
    rows, debits, credits = [], Decimal(0), Decimal(0)
    for ln in lines:
        debit, credit = to_money(ln.debit), to_money(ln.credit)
        if debit < 0 or credit < 0:
            raise DomainError("Amounts on a line are never negative; use the other side.")
        if (debit > 0) == (credit > 0):
            raise DomainError("Each line is either a debit or a credit, and not zero.")
        if ln.account not in accounts:
            raise DomainError(f"Unknown account {ln.account!r}.")
        debits += debit
        credits += credit
        rows.append((accounts[ln.account], debit, credit, ln.member_id or member_id))
    if debits != credits:
        raise DomainError(f"Unbalanced entry: debits {debits} ≠ credits {credits}.")
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                kind=kind,
                effective_date=effective_date or clock.today(),
                posted_at=clock.now(),
                memo=memo[:300],
                member_id=member_id,
                actor=actor,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # The same key was posted at the same moment by another request: theirs stands.
        return JournalEntry.objects.get(idempotency_key=idempotency_key)
    JournalLine.objects.bulk_create(
        [JournalLine(entry=entry, account=a, debit=d, credit=c, member_id=m) for a, d, c, m in rows]
    )
    return entry


@dataclass
class TrialBalance:
    rows: list[tuple[Account, Decimal, Decimal]]
    debits: Decimal
    credits: Decimal

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


def trial_balance(as_of: dt.date | None = None) -> TrialBalance:
    """Debits and credits per account over every entry up to a date (inclusive)."""
    lines = JournalLine.objects.all()
    if as_of:
        lines = lines.filter(entry__effective_date__lte=as_of)
    sums = {
        r["account_id"]: (r["d"] or Decimal(0), r["c"] or Decimal(0))
        for r in lines.values("account_id").annotate(d=Sum("debit"), c=Sum("credit"))
    }
    rows = [(a, *sums.get(a.pk, (Decimal(0), Decimal(0)))) for a in Account.objects.all()]
    return TrialBalance(
        rows, sum((r[1] for r in rows), Decimal(0)), sum((r[2] for r in rows), Decimal(0))
    )


def cents_str(cents) -> list[str]:
    """Non-negative cents (ints) as decimal strings for COPY."""
    return [f"{c // 100}.{c % 100:02d}" for c in cents]


def account_ids() -> dict[str, int]:
    return dict(Account.objects.values_list("code", "id"))


def post_bulk(
    kind: str,
    *,
    effective_date: dt.date,
    memo,
    member_ids,
    keys,
    lines: list[tuple[int, str, int, int]],
    actor_id: int | None = None,
) -> np.ndarray:
    """Post many entries at once (the set-wise runs). `memo`, `member_ids` and `keys` give one
    value per entry (or one for all); `lines` are (entry index, account code, debit cents,
    credit cents), one side non-zero. Every entry is proven balanced before anything is written.
    Returns the new entry ids, in order."""
    from redenvelope.core.bulk import copy_arrays, db_timestamp, next_id, reset_sequence

    member_ids = np.asarray(member_ids, dtype=np.int64)
    n = len(member_ids)
    if n == 0:
        return np.zeros(0, np.int64)
    idx = np.array([ln[0] for ln in lines], np.int64)
    debit = np.array([ln[2] for ln in lines], np.int64)
    credit = np.array([ln[3] for ln in lines], np.int64)
    if len(lines):
        if (debit < 0).any() or (credit < 0).any() or ((debit > 0) == (credit > 0)).any():
            raise DomainError("Each line is either a debit or a credit, positive.")
        net = np.bincount(idx, weights=debit - credit, minlength=n)
        if np.abs(net).max() > 0:
            bad = int(np.flatnonzero(net)[0])
            raise DomainError(f"Unbalanced entry for member {member_ids[bad]}; nothing posted.")
    e0 = next_id("billing_journalentry")
    ids = np.arange(e0, e0 + n, dtype=np.int64)
    copy_arrays(
        "billing_journalentry",
        {
            "id": ids,
            "kind": kind,
            "effective_date": effective_date.isoformat(),
            "posted_at": db_timestamp(clock.now()),
            "memo": memo,
            "member_id": member_ids,
            "actor_id": actor_id,
            "idempotency_key": keys,
        },
    )
    reset_sequence("billing_journalentry")
    if len(lines):
        acct = account_ids()
        l0 = next_id("billing_journalline")
        copy_arrays(
            "billing_journalline",
            {
                "id": np.arange(l0, l0 + len(lines), dtype=np.int64),
                "entry_id": ids[idx],
                "account_id": np.array([acct[ln[1]] for ln in lines], np.int64),
                "member_id": member_ids[idx],
                "debit": cents_str(debit.tolist()),
                "credit": cents_str(credit.tolist()),
                "currency": "USD",
            },
        )
        reset_sequence("billing_journalline")
    return ids
