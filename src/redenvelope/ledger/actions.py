"""Posting to the ledger: the one door through which money moves, for every domain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction

from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError

from .chart import CHART
from .models import Account, JournalEntry, JournalLine
from .money import to_cents

# A bulk posting of at least this many lines refreshes the planner's statistics (PostgreSQL).
ANALYZE_AFTER = 200_000


def ensure_chart() -> None:
    """Create the chart of accounts (safe to run again)."""
    for code, name, kind in CHART:
        Account.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})


@dataclass(frozen=True)
class Line:
    account: str  # account code
    debit: Decimal | str | int = 0  # dollars (a Decimal or its text), never a float
    credit: Decimal | str | int = 0
    member_id: int | None = None


def _fingerprint(kind: str, rows) -> tuple:
    return (kind, sorted((code, d, c, m or 0) for code, d, c, m in rows))


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
    entry posted the first time; the same key with other lines is refused (a conflict)."""
    if kind not in JournalEntry.Kind.values:
        raise DomainError(f"Unknown entry kind {kind!r}.")
    if len(lines) < 2:
        raise DomainError("An entry has at least two lines.")
    accounts = {a.code: a for a in Account.objects.filter(code__in={ln.account for ln in lines})}
    rows, debits, credits = [], 0, 0
    for ln in lines:
        debit, credit = to_cents(ln.debit), to_cents(ln.credit)
        if debit < 0 or credit < 0:
            raise DomainError("Amounts on a line are never negative; use the other side.")
        if (debit > 0) == (credit > 0):
            raise DomainError("Each line is either a debit or a credit, and not zero.")
        if ln.account not in accounts:
            raise DomainError(f"Unknown account {ln.account!r}.")
        debits += debit
        credits += credit
        rows.append((ln.account, debit, credit, ln.member_id or member_id))
    if debits != credits:
        raise DomainError(f"Unbalanced entry: debits {debits} ≠ credits {credits} (cents).")
    if idempotency_key:
        done = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
        if done:
            return _same_or_conflict(done, kind, rows)
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
        done = JournalEntry.objects.get(idempotency_key=idempotency_key)
        return _same_or_conflict(done, kind, rows)
    JournalLine.objects.bulk_create(
        [
            JournalLine(
                entry=entry,
                account=accounts[code],
                debit=Decimal(d) / 100,
                credit=Decimal(c) / 100,
                member_id=m,
            )
            for code, d, c, m in rows
        ]
    )
    return entry


def _same_or_conflict(done: JournalEntry, kind: str, rows) -> JournalEntry:
    posted = [
        (ln.account.code, to_cents(ln.debit), to_cents(ln.credit), ln.member_id)
        for ln in done.lines.select_related("account")
    ]
    if _fingerprint(done.kind, posted) != _fingerprint(kind, rows):
        raise Conflict(
            "That idempotency key was already used for a different posting; nothing was posted."
        )
    return done


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
    credit cents), one side non-zero. Entries that are no member's (a licensor's statements)
    pass `member_ids=None` and one key per entry. Every entry is proven balanced, and has at
    least two lines, before anything is written. Returns the new entry ids, in order."""
    from redenvelope.core.bulk import (
        copy_arrays,
        db_timestamp,
        execute,
        is_postgres,
        new_ids,
    )

    from .queries import account_ids

    no_member = member_ids is None
    member_ids = np.asarray(
        np.zeros(len(keys), np.int64) if no_member else member_ids, dtype=np.int64
    )
    n = len(member_ids)
    if n == 0:
        return np.zeros(0, np.int64)
    idx = np.array([ln[0] for ln in lines], np.int64)
    debit = np.array([ln[2] for ln in lines], np.int64)
    credit = np.array([ln[3] for ln in lines], np.int64)
    if (debit < 0).any() or (credit < 0).any() or ((debit > 0) == (credit > 0)).any():
        raise DomainError("Each line is either a debit or a credit, positive.")
    count = np.bincount(idx, minlength=n)
    if (count < 2).any():
        bad = int(np.flatnonzero(count < 2)[0])
        raise DomainError(f"Entry {bad} (member {member_ids[bad]}) has fewer than two lines.")
    net = np.bincount(idx, weights=debit - credit, minlength=n)
    if np.abs(net).max() > 0:
        bad = int(np.flatnonzero(net)[0])
        raise DomainError(f"Unbalanced entry {bad} (member {member_ids[bad]}); nothing posted.")
    ids = new_ids("ledger_journalentry", n)
    copy_arrays(
        "ledger_journalentry",
        {
            "id": ids,
            "kind": kind,
            "effective_date": effective_date.isoformat(),
            "posted_at": db_timestamp(clock.now()),
            "memo": memo,
            "member_id": None if no_member else member_ids,
            "actor_id": actor_id,
            "idempotency_key": keys,
        },
    )
    acct = account_ids()
    copy_arrays(
        "ledger_journalline",
        {
            "entry_id": ids[idx],
            "account_id": np.array([acct[ln[1]] for ln in lines], np.int64),
            "member_id": None if no_member else member_ids[idx],
            "debit": debit,
            "credit": credit,
            "currency": "USD",
        },
    )
    if len(lines) >= ANALYZE_AFTER and is_postgres():
        # Plans made on the statistics of before a large load can take minutes (nested loops
        # over what the planner thinks is a small table): refresh them at once.
        execute("ANALYZE ledger_journalentry")
        execute("ANALYZE ledger_journalline")
    return ids
