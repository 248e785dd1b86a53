"""Revenue recognition: each day, every statement's price moves from deferred to earned by its
share of the period (the cents left over on the last day), as one journal entry for the day
with a pair of lines per member. Idempotent per day (the entry's key)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.bulk import copy_arrays, db_timestamp, next_id, read_columns, reset_sequence

from .ledger import account_ids as _account_ids
from .models import JournalEntry


@transaction.atomic
def recognize_revenue(day: dt.date | None = None) -> dict:
    day = day or clock.today()
    key = f"recognition:{day.isoformat()}"
    if JournalEntry.objects.filter(idempotency_key=key).exists():
        return {"members": 0, "already": True}
    d = day.isoformat()
    rows = read_columns(
        "SELECT member_id, ROUND((subtotal - discount) * 100), period_start, period_end "  # noqa: S608
        f"FROM billing_statement WHERE period_start <= '{d}' AND period_end > '{d}' "
        "ORDER BY member_id",
        [("member_id", "int64"), ("cents", "int64"), ("start", "object"), ("end", "object")],
    )
    n = len(rows["member_id"])
    if n == 0:
        return {"members": 0}
    start = np.array(
        [dt.date.fromisoformat(str(s)[:10]) for s in rows["start"]], dtype="datetime64[D]"
    )
    end = np.array([dt.date.fromisoformat(str(s)[:10]) for s in rows["end"]], dtype="datetime64[D]")
    days = (end - start).astype(np.int64)
    base = rows["cents"] // days
    last = (end - np.timedelta64(1, "D")) == np.datetime64(day)
    cents = base + np.where(last, rows["cents"] - base * days, 0)
    keep = cents > 0
    members, cents = rows["member_id"][keep], cents[keep]
    entry_id = next_id("billing_journalentry")
    copy_arrays(
        "billing_journalentry",
        {
            "id": np.array([entry_id], np.int64),
            "kind": "recognition",
            "effective_date": d,
            "posted_at": db_timestamp(clock.now()),
            "memo": f"Revenue earned on {d}",
            "member_id": None,
            "actor_id": None,
            "idempotency_key": key,
        },
    )
    reset_sequence("billing_journalentry")
    acct = _account_ids()
    m = len(members)
    amounts = [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]
    l0 = next_id("billing_journalline")
    copy_arrays(
        "billing_journalline",
        {
            "id": np.arange(l0, l0 + 2 * m, dtype=np.int64),
            "entry_id": entry_id,
            "account_id": np.tile(np.array([acct["2000"], acct["4000"]], np.int64), m),
            "member_id": np.repeat(members, 2),
            "debit": [a for amt in amounts for a in (amt, "0")],
            "credit": [a for amt in amounts for a in ("0", amt)],
            "currency": "USD",
        },
    )
    reset_sequence("billing_journalline")
    return {"members": m, "cents": int(cents.sum())}
