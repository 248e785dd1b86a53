"""The daily billing run, set-wise: every member whose billing day it is gets the statement
`actions.issue_statement` would give them (same records, same idempotency keys), written with a
handful of statements however many members are due."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.bulk import (
    copy_arrays,
    db_timestamp,
    execute,
    next_id,
    read_columns,
    reset_sequence,
    temp_table,
)

from .actions import tax_rate
from .cycle import period_containing
from .money import to_money


@transaction.atomic
def run_billing(day: dt.date | None = None) -> dict:
    day = day or clock.today()
    last = calendar.monthrange(day.year, day.month)[1]
    due_days = f"m.billing_day = {day.day}" if day.day < last else f"m.billing_day >= {day.day}"
    due = read_columns(
        "SELECT m.id, p.id, ROUND(p.monthly_price * 100), m.state FROM membership_member m "  # noqa: S608
        "JOIN membership_plan p ON p.id = m.plan_id "
        f"WHERE m.status IN ('active', 'past_due') AND {due_days} "
        "AND NOT EXISTS (SELECT 1 FROM billing_statement s WHERE s.member_id = m.id "
        f"AND s.period_start = '{day.isoformat()}') ORDER BY m.id",
        [
            ("member_id", "int64"),
            ("plan_id", "int64"),
            ("price_cents", "int64"),
            ("state", "object"),
        ],
    )
    n = len(due["member_id"])
    if n == 0:
        return {"statements": 0}
    members = due["member_id"]
    temp_table("bill_due", "member_id bigint", {"member_id": members})
    credits = read_columns(
        "SELECT c.id, c.member_id, ROUND(c.remaining * 100) FROM billing_credit c "
        "JOIN bill_due d ON d.member_id = c.member_id WHERE c.remaining > 0 "
        "ORDER BY c.member_id, c.issued_at, c.id",
        [("id", "int64"), ("member_id", "int64"), ("remaining_cents", "int64")],
    )
    # Amounts in Decimal per member (the rounding rule lives in to_money).
    subtotal, tax, applied = [], [], []
    credit_left: dict[int, list[list[int]]] = {}
    for cid, mid, rem in zip(
        credits["id"].tolist(),
        credits["member_id"].tolist(),
        credits["remaining_cents"].tolist(),
        strict=True,
    ):
        credit_left.setdefault(mid, []).append([cid, rem])
    credit_updates = []
    for mid, cents, state in zip(
        members.tolist(), due["price_cents"].tolist(), due["state"].tolist(), strict=True
    ):
        sub = to_money(Decimal(cents) / 100)
        tx = to_money(sub * tax_rate(state))
        gross_cents = int((sub + tx) * 100)
        used = 0
        for c in credit_left.get(mid, []):
            take = min(c[1], gross_cents - used)
            if take <= 0:
                break
            used += take
            credit_updates.append((c[0], c[1] - take))
        subtotal.append(sub)
        tax.append(tx)
        applied.append(Decimal(used) / 100)
    start, end = period_containing(day.day if day.day < last else 31, day)
    now = db_timestamp(clock.now())
    e0 = next_id("billing_journalentry")
    entry_ids = np.arange(e0, e0 + n, dtype=np.int64)
    copy_arrays(
        "billing_journalentry",
        {
            "id": entry_ids,
            "kind": "statement",
            "effective_date": day.isoformat(),
            "posted_at": now,
            "memo": f"Statement {start} to {end}",
            "member_id": members,
            "actor_id": None,
            "idempotency_key": np.array([f"statement:{m}:{start}" for m in members.tolist()]),
        },
    )
    reset_sequence("billing_journalentry")
    accounts = _account_ids()
    rows = []
    for i in range(n):
        e, mid = int(entry_ids[i]), int(members[i])
        gross = subtotal[i] + tax[i]
        rows.append((e, accounts["1100"], mid, gross, Decimal(0)))
        rows.append((e, accounts["2000"], mid, Decimal(0), subtotal[i]))
        if tax[i]:
            rows.append((e, accounts["2100"], mid, Decimal(0), tax[i]))
        if applied[i]:
            rows.append((e, accounts["2200"], mid, applied[i], Decimal(0)))
            rows.append((e, accounts["1100"], mid, Decimal(0), applied[i]))
    l0 = next_id("billing_journalline")
    cols = list(zip(*rows, strict=True))
    copy_arrays(
        "billing_journalline",
        {
            "id": np.arange(l0, l0 + len(rows), dtype=np.int64),
            "entry_id": np.array(cols[0], np.int64),
            "account_id": np.array(cols[1], np.int64),
            "member_id": np.array(cols[2], np.int64),
            "debit": [str(v) for v in cols[3]],
            "credit": [str(v) for v in cols[4]],
            "currency": "USD",
        },
    )
    reset_sequence("billing_journalline")
    s0 = next_id("billing_statement")
    total = [s + t - a for s, t, a in zip(subtotal, tax, applied, strict=True)]
    copy_arrays(
        "billing_statement",
        {
            "id": np.arange(s0, s0 + n, dtype=np.int64),
            "member_id": members,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "plan_id": due["plan_id"],
            "subtotal": [str(v) for v in subtotal],
            "tax": [str(v) for v in tax],
            "credit_applied": [str(v) for v in applied],
            "total_due": [str(v) for v in total],
            "currency": "USD",
            "status": ["paid" if t == 0 else "due" for t in total],
            "issued_at": now,
            "entry_id": entry_ids,
        },
    )
    reset_sequence("billing_statement")
    if credit_updates:
        temp_table(
            "bill_credits",
            "id bigint, remaining_cents bigint",
            {
                "id": np.array([c for c, _ in credit_updates], np.int64),
                "remaining_cents": np.array([r for _, r in credit_updates], np.int64),
            },
        )
        execute(
            "UPDATE billing_credit SET remaining = (SELECT remaining_cents FROM bill_credits b"
            " WHERE b.id = billing_credit.id) / 100.0 "
            "WHERE id IN (SELECT id FROM bill_credits)"
        )
    return {"statements": n, "credit_applied": str(sum(applied, Decimal(0)))}


def _account_ids() -> dict[str, int]:
    from .models import Account

    return dict(Account.objects.values_list("code", "id"))
