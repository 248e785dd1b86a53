"""Statement payments through the provider, by the outbox (model `PaymentIntent`):

1. `queue_charges` records each payment to make (statement, member, card, amount, key) in the
   caller's transaction: nothing is sent yet;
2. once that has committed, `send_charges` calls the provider with each intent's key (a
   repeated key returns the first answer, so sending again is always safe);
3. `settle_charges` records the answers in one transaction: the payments, what was collected in
   the ledger, where the dunning schedule takes each statement and member, and the intent's
   outcome. An intent is claimed before it is applied, so two settlers never apply one twice;
   one whose answer was lost stays open (`unknown`).

`settle_open_charges` (run first by every daily run, and by `billing reconcile`) asks the
provider by key about every intent still open and applies what it says; a run intent the
provider never received is sent again, a member's "pay now" that never arrived is abandoned
(the member was told it failed)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from redenvelope.core import clock
from redenvelope.core.bulk import (
    copy_arrays,
    db_timestamp,
    execute,
    index_joins,
    is_postgres,
    new_ids,
    read_columns,
    temp_table,
)
from redenvelope.ledger.actions import post_bulk

from .run import Notices, _day, _ids_sql, member_statuses

CHUNK = 2000
OPEN_SQL = "('pending', 'unknown')"
# A member's own payment still unanswered after this long is abandoned by reconciliation (its
# request is dead); a younger one may still be on its way and is left for the next pass.
ABANDON_AFTER = dt.timedelta(minutes=5)
NO_METHOD = ("no_payment_method", "No payment method on file.")


@dataclass
class Answer:
    """What the provider said about one intent (`ok` None: no answer came)."""

    intent_id: int
    ok: bool | None
    reference: str = ""
    decline_code: str = ""
    message: str = ""


def queue_charges(
    day: dt.date,
    statement_ids,
    member_ids,
    balances,
    attempts_before=None,
    first_failed=None,
    *,
    manual: bool = False,
    keys=None,
    actor_id: int | None = None,
) -> np.ndarray:
    """Record a payment intent for each statement's balance (cents), charged to its member's
    default payment method; returns the intents' ids. The key is the statement and its place
    in the schedule (`charge:<statement>:<attempt>`), so a run repeated queues nothing new; a
    manual payment's key is the caller's (or a fresh one)."""
    statement_ids = np.asarray(statement_ids, np.int64)
    member_ids = np.asarray(member_ids, np.int64)
    n = len(statement_ids)
    if n == 0:
        return np.zeros(0, np.int64)
    before = np.zeros(n, np.int64) if attempts_before is None else np.asarray(attempts_before)
    first_failed = [None] * n if first_failed is None else list(first_failed)
    temp_table("pay_members", "member_id bigint", {"member_id": np.unique(member_ids)})
    with index_joins():  # a day's members' cards of millions, by index
        methods = read_columns(
            "SELECT pm.member_id, pm.id, pm.token FROM pay_members b "
            "JOIN billing_paymentmethod pm ON pm.member_id = b.member_id "
            "WHERE pm.is_default AND pm.removed_at IS NULL",
            [("member_id", "int64"), ("id", "int64"), ("token", "object")],
        )
    method_of = {
        m: (i, t)
        for m, i, t in zip(
            methods["member_id"].tolist(), methods["id"].tolist(), methods["token"], strict=True
        )
    }
    attempt = before.astype(np.int64) + 1
    if keys is None:
        keys = [
            f"manual:{s}:{secrets.token_hex(8)}" if manual else f"charge:{s}:{a}"
            for s, a in zip(statement_ids.tolist(), attempt.tolist(), strict=True)
        ]
    ids = new_ids("billing_paymentintent", n)
    copy_arrays(
        "billing_paymentintent",
        {
            "id": ids,
            "key": list(keys),
            "kind": "charge",
            "status": "pending",
            "member_id": member_ids,
            "statement_id": statement_ids,
            "method_id": [method_of[m][0] if m in method_of else None for m in member_ids.tolist()],
            "payment_id": None,
            "token": [method_of[m][1] if m in method_of else "" for m in member_ids.tolist()],
            "amount": np.asarray(balances, np.int64),
            "day": day.isoformat(),
            "attempt": attempt,
            "first_failed_on": [f.isoformat() if f else None for f in first_failed],
            "manual": manual,
            "request": "{}",
            "actor_id": actor_id,
            "reference": "",
            "decline_code": "",
            "message": "",
            "created_at": db_timestamp(clock.now()),
            "settled_at": None,
        },
    )
    return ids


def queue_retries(day: dt.date) -> np.ndarray:
    """Intents for every past-due statement whose retry day has come (and none in flight)."""
    due = read_columns(
        "SELECT s.id, s.member_id, s.total_due - s.amount_paid, s.attempts, "  # noqa: S608
        "s.first_failed_on FROM billing_statement s WHERE s.status = 'past_due' "
        f"AND s.next_retry_on <= '{day.isoformat()}' AND NOT EXISTS (SELECT 1 FROM "
        "billing_paymentintent i WHERE i.statement_id = s.id AND i.kind = 'charge' "
        f"AND i.status IN {OPEN_SQL}) ORDER BY s.id",
        [
            ("id", "int64"),
            ("member_id", "int64"),
            ("cents", "int64"),
            ("attempts", "int64"),
            ("first", "object"),
        ],
    )
    return queue_charges(
        day,
        due["id"],
        due["member_id"],
        due["cents"],
        due["attempts"],
        [_day(f) if f else day for f in due["first"]],
    )


def _open_intents(intent_ids) -> dict:
    temp_table("pay_intents", "id bigint", {"id": np.asarray(intent_ids, np.int64)})
    return read_columns(
        "SELECT i.id, i.key, i.token, i.amount FROM billing_paymentintent i "  # noqa: S608
        f"JOIN pay_intents t ON t.id = i.id WHERE i.status IN {OPEN_SQL} ORDER BY i.id",
        [("id", "int64"), ("key", "object"), ("token", "object"), ("cents", "int64")],
    )


def send_charges(intent_ids) -> list[Answer]:
    """Call the provider for each open intent, with its key (never inside a transaction of
    ours: the intents are committed first). An intent without a payment method fails here."""
    from .gateway import get_gateway

    if len(intent_ids) == 0:
        return []
    rows = _open_intents(intent_ids)
    gateway = get_gateway()
    answers: list[Answer] = []
    todo = [
        (int(i), k, t, int(c))
        for i, k, t, c in zip(
            rows["id"].tolist(), rows["key"], rows["token"], rows["cents"].tolist(), strict=True
        )
    ]
    for i, _, token, _ in todo:
        if not token:
            answers.append(Answer(i, False, "", *NO_METHOD))
    todo = [r for r in todo if r[2]]
    for c in range(0, len(todo), CHUNK):
        part = todo[c : c + CHUNK]
        results = gateway.charge_many([(k, t, cents) for _, k, t, cents in part])
        for (i, *_), r in zip(part, results, strict=True):
            if r is None:
                answers.append(Answer(i, None))
            else:
                answers.append(Answer(i, r.ok, r.reference, r.decline_code, r.message[:200]))
    return answers


@dataclass
class Attempts:
    """Answered statement payments of one business day, and where each leaves its statement."""

    day: dt.date
    rows: dict = field(default_factory=lambda: defaultdict(list))
    status: list = field(default_factory=list)
    first: list = field(default_factory=list)
    next: list = field(default_factory=list)
    ok_idx: list = field(default_factory=list)
    final: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows["statement_id"])


def _claim(by_id: dict[int, Answer]) -> list[int]:
    """Take the intents still open and record each one's answer, in one statement (a
    concurrent settler gets none of them): those returned are this settler's to apply. Each
    freshly written intent row is rewritten once, not once to claim and again to record."""
    if not by_id:
        return []
    temp_table(
        "pay_answer",
        "id bigint PRIMARY KEY, status varchar(9), reference varchar(40), "
        "decline_code varchar(40), message varchar(200)",
        [
            (
                i,
                "succeeded" if a.ok else "failed",
                a.reference,
                a.decline_code,
                a.message,
            )
            for i, a in sorted(by_id.items())
        ],
    )
    with connection.cursor() as cursor:
        if is_postgres():
            # Looked up by primary key from the answers: right after the run's COPY of intents
            # the table's statistics say none is open, and a plan made on them joined every
            # answer against every open intent (60 s for a day's 32,000).
            with index_joins():
                cursor.execute(
                    "UPDATE billing_paymentintent AS i SET status = a.status, "  # noqa: S608
                    "reference = a.reference, decline_code = a.decline_code, "
                    "message = a.message, settled_at = %s FROM pay_answer a "
                    f"WHERE i.id = a.id AND i.status IN {OPEN_SQL} RETURNING i.id",
                    [clock.now()],
                )
        else:
            answer = "(SELECT a.{0} FROM pay_answer a WHERE a.id = billing_paymentintent.id)"
            cursor.execute(
                "UPDATE billing_paymentintent SET "  # noqa: S608
                + ", ".join(
                    f"{c} = {answer.format(c)}"
                    for c in ("status", "reference", "decline_code", "message")
                )
                + ", settled_at = %s WHERE id IN (SELECT id FROM pay_answer) "  # noqa: S608
                f"AND status IN {OPEN_SQL} RETURNING id",
                [clock.now()],
            )
        return sorted(int(r[0]) for r in cursor.fetchall())


def settle_charges(answers: list[Answer], notices: Notices) -> dict:
    """Record the provider's answers (one transaction): payments, ledger, dunning, members, and
    each intent's outcome. Intents already settled by someone else are skipped."""
    summary = {"attempted": 0, "succeeded": 0, "failed": 0, "collected_cents": 0, "cancelled": 0}
    summary["unanswered"] = 0
    if not answers:
        return summary
    with transaction.atomic():
        lost = [a.intent_id for a in answers if a.ok is None]
        if lost:
            execute(
                "UPDATE billing_paymentintent SET status = 'unknown' "  # noqa: S608
                f"WHERE id IN ({_ids_sql(lost)}) AND status = 'pending'"
            )
            summary["unanswered"] = len(lost)
        by_id = {a.intent_id: a for a in answers if a.ok is not None}
        claimed = _claim(by_id)
        if not claimed:
            return summary
        temp_table("pay_claimed", "id bigint PRIMARY KEY", {"id": np.asarray(claimed, np.int64)})
        with index_joins():  # a day's intents and statements of millions, by primary key
            rows = _claimed_rows()
        groups: dict[tuple[dt.date, bool], Attempts] = {}
        for k in range(len(rows["id"])):
            day = _day(rows["day"][k])
            manual = bool(rows["manual"][k])
            att = groups.setdefault((day, manual), Attempts(day))
            _attempt(att, rows, k, by_id[int(rows["id"][k])], manual, notices)
        for (_, manual), att in groups.items():
            for name, v in record(att, manual=manual).items():
                summary[name] += v
        notices.queue()  # the members' emails, committed with what they tell
    return summary


def _claimed_rows() -> dict:
    return read_columns(
        "SELECT i.id, i.key, i.statement_id, i.member_id, i.method_id, i.amount, i.day, "
        "i.attempt, i.first_failed_on, CASE WHEN i.manual THEN 1 ELSE 0 END, s.status, "
        "s.next_retry_on FROM pay_claimed c "
        "JOIN billing_paymentintent i ON i.id = c.id "
        "JOIN billing_statement s ON s.id = i.statement_id ORDER BY i.day, i.id",
        [
            ("id", "int64"),
            ("key", "object"),
            ("statement_id", "int64"),
            ("member_id", "int64"),
            ("method_id", "float64"),
            ("cents", "int64"),
            ("day", "object"),
            ("attempt", "int64"),
            ("first", "object"),
            ("manual", "int64"),
            ("stmt_status", "object"),
            ("next_retry", "object"),
        ],
    )


def _attempt(att: Attempts, rows: dict, k: int, answer: Answer, manual: bool, notices) -> None:
    """Where one answer leaves its statement on the dunning schedule."""
    retry_days = settings.REDENVELOPE["DUNNING_RETRY_DAYS"]
    sid, m = int(rows["statement_id"][k]), int(rows["member_id"][k])
    attempt = int(rows["attempt"][k])
    first = _day(rows["first"][k]) if rows["first"][k] else None
    method = rows["method_id"][k]
    r = att.rows
    j = len(att)
    r["intent_id"].append(int(rows["id"][k]))
    r["key"].append(rows["key"][k])
    r["statement_id"].append(sid)
    r["member_id"].append(m)
    r["method_id"].append(None if method != method else int(method))  # NaN: none
    r["cents"].append(int(rows["cents"][k]))
    r["status"].append("succeeded" if answer.ok else "failed")
    r["attempt"].append(attempt)
    r["reference"].append(answer.reference)
    r["decline_code"].append(answer.decline_code)
    r["message"].append(answer.message[:200])
    if answer.ok:
        att.ok_idx.append(j)
        att.status.append("paid")
        att.first.append(first)
        att.next.append(None)
        if attempt > 1:
            notices.add("recovered", m, sid)
        return
    if manual:
        # A member's "pay now" is not a retry of the schedule: it moves nothing along.
        att.status.append(rows["stmt_status"][k])
        att.first.append(first)
        nxt = rows["next_retry"][k]
        att.next.append(_day(nxt) if nxt else None)
        r["attempt"][-1] = attempt - 1  # the statement keeps its count
        return
    first = first or att.day
    att.first.append(first)
    retries_done = attempt - 1
    if retries_done < len(retry_days):
        att.status.append("past_due")
        att.next.append(first + dt.timedelta(days=retry_days[retries_done]))
        notices.add("failed", m, sid)
    else:
        att.status.append("written_off")
        att.next.append(None)
        att.final.append(j)
        notices.add("cancelled_unpaid", m, sid)


def record(att: Attempts, *, manual: bool = False) -> dict:
    """Write the attempts (payments, what was collected in the ledger), move the statements along
    and the members with them."""
    n, rows, day = len(att), att.rows, att.day
    ok = att.ok_idx
    entry_ids = post_bulk(
        "payment",
        effective_date=day,
        memo="Payment received",
        member_ids=[rows["member_id"][k] for k in ok],
        keys=[f"payment:{rows['key'][k]}" for k in ok],
        lines=[
            ln
            for j, k in enumerate(ok)
            for ln in ((j, "1000", rows["cents"][k], 0), (j, "1100", 0, rows["cents"][k]))
        ],
    )
    entry_of = np.full(n, -1, np.int64)
    if ok:
        entry_of[np.array(ok, np.int64)] = entry_ids
    copy_arrays(
        "billing_payment",
        {
            "member_id": np.array(rows["member_id"], np.int64),
            "statement_id": np.array(rows["statement_id"], np.int64),
            "method_id": rows["method_id"],
            "amount": np.array(rows["cents"], np.int64),
            "status": rows["status"],
            "attempt": np.maximum(np.array(rows["attempt"], np.int64), 1),
            "reference": rows["reference"],
            "decline_code": rows["decline_code"],
            "message": rows["message"],
            "attempted_at": db_timestamp(clock.now()),
            "refunded": 0,
            "charged_back_at": None,
            "entry_id": [int(e) if e >= 0 else None for e in entry_of.tolist()],
            "idempotency_key": rows["key"],
        },
    )
    paid = [
        c if s == "succeeded" else 0 for c, s in zip(rows["cents"], rows["status"], strict=True)
    ]
    temp_table(
        "bill_outcome",
        "statement_id bigint, paid_cents bigint, status varchar(12), attempts integer, "
        "first_failed_on date, next_retry_on date",
        [
            (s, p, st, a, f.isoformat() if f else None, nx.isoformat() if nx else None)
            for s, p, st, a, f, nx in zip(
                rows["statement_id"],
                paid,
                att.status,
                rows["attempt"],
                att.first,
                att.next,
                strict=True,
            )
        ],
    )
    with index_joins():  # a day's few thousand statements of millions, by primary key
        execute(
            "UPDATE billing_statement SET amount_paid = amount_paid + o.paid_cents, "
            "status = o.status, attempts = o.attempts, first_failed_on = o.first_failed_on, "
            "next_retry_on = o.next_retry_on FROM bill_outcome o "
            "WHERE o.statement_id = billing_statement.id"
        )
    failed = sorted(
        {rows["member_id"][k] for k in range(n) if rows["status"][k] == "failed" and not manual}
    )
    succeeded = sorted({rows["member_id"][k] for k in ok})
    cancelled = sorted({rows["member_id"][k] for k in att.final})
    member_statuses(day, failed, succeeded, cancelled)
    return {
        "attempted": n,
        "succeeded": len(ok),
        "failed": n - len(ok),
        "collected_cents": int(sum(paid)),
        "cancelled": len(cancelled),
    }


def send_and_settle(intent_ids, notices: Notices) -> dict:
    """Send the (committed) intents and record the answers."""
    return settle_charges(send_charges(intent_ids), notices)


def settle_open_charges(notices: Notices, *, now=None) -> dict:
    """Every statement payment still open, settled by asking the provider by key: its answer
    is applied; one it never received is sent again (a run's) or abandoned (a member's own,
    once it is older than ABANDON_AFTER). Returns what was found."""
    from .gateway import get_gateway

    now = now or clock.now()
    cutoff = db_timestamp(now - ABANDON_AFTER)
    rows = read_columns(
        "SELECT id, key, CASE WHEN manual THEN 1 ELSE 0 END, "  # noqa: S608
        f"CASE WHEN created_at <= '{cutoff}' THEN 1 ELSE 0 END FROM billing_paymentintent "
        f"WHERE kind = 'charge' AND status IN {OPEN_SQL} ORDER BY id",
        [("id", "int64"), ("key", "object"), ("manual", "int64"), ("old", "int64")],
    )
    out = {"open": len(rows["id"]), "answered": 0, "resent": 0, "abandoned": 0}
    if not out["open"]:
        return out
    gateway = get_gateway()
    answers, resend, abandon = [], [], []
    for i, key, manual, old in zip(
        rows["id"].tolist(), rows["key"], rows["manual"].tolist(), rows["old"].tolist(), strict=True
    ):
        r = gateway.lookup(key)
        if r is not None:
            answers.append(Answer(i, r.ok, r.reference, r.decline_code, r.message[:200]))
        elif not manual:
            resend.append(i)
        elif old:
            abandon.append(i)
    if abandon:
        execute(
            "UPDATE billing_paymentintent SET status = 'abandoned', settled_at = %s, "  # noqa: S608
            "message = 'Never reached the provider.' "
            f"WHERE id IN ({_ids_sql(abandon)}) AND status IN {OPEN_SQL}",
            [now],
        )
    answers += send_charges(resend)
    settled = settle_charges(answers, notices)
    out.update(answered=len(answers) - len(resend), resent=len(resend), abandoned=len(abandon))
    out["settled"] = settled
    return out
