"""`redenvelope check`: prove the invariants over the whole database, in set-based SQL.

Each check returns how many rows break it and a few examples; a clean database has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from redenvelope.core import clock
from redenvelope.inventory.models import TRANSITIONS


@dataclass
class CheckResult:
    name: str
    description: str
    violations: int
    examples: list[tuple] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.violations == 0


def _run(sql: str, params=()) -> tuple[int, list[tuple]]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM ({sql}) AS v", params)  # noqa: S608
        n = cur.fetchone()[0]
        examples = []
        if n:
            cur.execute(f"{sql} LIMIT 5", params)
            examples = cur.fetchall()
    return n, examples


LAST_EVENT = """
    SELECT c.barcode, c.status, e.to_status
    FROM inventory_copy c
    LEFT JOIN inventory_copyevent e ON e.id = (
        SELECT MAX(e2.id) FROM inventory_copyevent e2 WHERE e2.copy_id = c.id)
    WHERE e.id IS NULL OR e.to_status <> c.status
"""

# Each event leaves the copy where TRANSITIONS says, and starts where the previous one ended.
_TO = " OR ".join(f"(e.kind = '{k}' AND e.to_status = '{v[1]}')" for k, v in TRANSITIONS.items())
EVENT_CHAIN = f"""
    SELECT c.barcode, e.id, e.kind, e.from_status, prev.to_status
    FROM inventory_copyevent e
    JOIN inventory_copy c ON c.id = e.copy_id
    LEFT JOIN inventory_copyevent prev ON prev.id = (
        SELECT MAX(p.id) FROM inventory_copyevent p WHERE p.copy_id = e.copy_id AND p.id < e.id)
    WHERE NOT ({_TO})
       OR (prev.id IS NULL AND e.kind <> 'received')
       OR (prev.id IS NOT NULL AND e.from_status <> prev.to_status)
"""  # noqa: S608 (built from TRANSITIONS constants)

# Copy events carry no database foreign keys (decision 0004): prove their references here.
EVENT_REFS = """
    SELECT e.id, e.copy_id, e.dc_id, e.actor_id FROM inventory_copyevent e
    WHERE NOT EXISTS (SELECT 1 FROM inventory_copy c WHERE c.id = e.copy_id)
       OR NOT EXISTS (SELECT 1 FROM inventory_distributioncenter d WHERE d.id = e.dc_id)
       OR (e.actor_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM auth_user u WHERE u.id = e.actor_id))
"""

SHIPMENT_REFS = """
    SELECT s.id, s.member_id, s.copy_id, s.title_id, s.dc_id FROM fulfillment_shipment s
    WHERE NOT EXISTS (SELECT 1 FROM membership_member m WHERE m.id = s.member_id)
       OR NOT EXISTS (SELECT 1 FROM inventory_copy c WHERE c.id = s.copy_id
                      AND c.title_id = s.title_id)
       OR NOT EXISTS (SELECT 1 FROM catalog_title t WHERE t.id = s.title_id)
       OR NOT EXISTS (SELECT 1 FROM inventory_distributioncenter d WHERE d.id = s.dc_id)
       OR (s.returned_to_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM inventory_distributioncenter d WHERE d.id = s.returned_to_id))
       OR (s.run_id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM fulfillment_dispatchrun r WHERE r.id = s.run_id))
"""

# Journal lines and entries, statements, payments and payment intents carry no database foreign
# keys (decision 0010): each (record, column, referenced table) proved here.
MONEY_REFERENCES = (
    ("journal line", "ledger_journalline", "entry_id", "ledger_journalentry"),
    ("journal line", "ledger_journalline", "account_id", "ledger_account"),
    ("journal entry", "ledger_journalentry", "actor_id", "auth_user"),
    ("statement", "billing_statement", "member_id", "membership_member"),
    ("statement", "billing_statement", "plan_id", "membership_plan"),
    ("statement", "billing_statement", "entry_id", "ledger_journalentry"),
    ("payment", "billing_payment", "member_id", "membership_member"),
    ("payment", "billing_payment", "statement_id", "billing_statement"),
    ("payment", "billing_payment", "method_id", "billing_paymentmethod"),
    ("payment", "billing_payment", "entry_id", "ledger_journalentry"),
    ("intent", "billing_paymentintent", "member_id", "membership_member"),
    ("intent", "billing_paymentintent", "statement_id", "billing_statement"),
    ("intent", "billing_paymentintent", "method_id", "billing_paymentmethod"),
    ("intent", "billing_paymentintent", "payment_id", "billing_payment"),
    ("intent", "billing_paymentintent", "actor_id", "auth_user"),
)
MONEY_REFS = "\nUNION ALL\n".join(
    f"SELECT '{what}' AS record, x.id, '{column}' AS field, x.{column} AS value "  # noqa: S608
    f"FROM {table} x WHERE x.{column} IS NOT NULL AND NOT EXISTS "
    f"(SELECT 1 FROM {target} t WHERE t.id = x.{column})"
    for what, table, column, target in MONEY_REFERENCES
)

# The daily run skips members billed past today (Member.billed_until): each paying member's
# billed_until must be the end of a period statement of theirs that still counts.
BILLED_UNTIL = """
    SELECT m.id, m.billed_until FROM membership_member m
    WHERE m.billed_until IS NOT NULL AND m.status IN ('active', 'past_due')
      AND NOT EXISTS (SELECT 1 FROM billing_statement s WHERE s.member_id = m.id
                      AND s.kind = 'period' AND s.status <> 'written_off'
                      AND s.period_end = m.billed_until)
"""

SHIPPED_HAS_SHIPMENT = """
    SELECT c.barcode, c.status, COUNT(s.id) AS open_shipments
    FROM inventory_copy c
    LEFT JOIN fulfillment_shipment s ON s.copy_id = c.id AND s.status = 'open'
    GROUP BY c.id, c.barcode, c.status
    HAVING (c.status = 'shipped' AND COUNT(s.id) <> 1)
        OR (c.status <> 'shipped' AND COUNT(s.id) <> 0)
"""

# A member may have one disc more than the plan out while they have bonus rentals left, or while
# the disc shipped into that bonus slot is still out (the last bonus disc stays out after the
# count reaches zero) — never for having once had a bonus.
OVER_LIMIT = """
    SELECT m.id, COUNT(s.id) AS out, p.discs_at_once AS plan_limit
    FROM membership_member m
    JOIN membership_plan p ON p.id = m.plan_id
    JOIN fulfillment_shipment s ON s.member_id = m.id AND s.status = 'open'
    GROUP BY m.id, p.discs_at_once, m.bonus_rentals
    HAVING COUNT(s.id) > p.discs_at_once + CASE WHEN m.bonus_rentals > 0
        OR SUM(CASE WHEN s.bonus THEN 1 ELSE 0 END) > 0 THEN 1 ELSE 0 END
"""

QUEUE_ORDER = """
    SELECT member_id, position, COUNT(*) AS n
    FROM queues_queueentry
    GROUP BY member_id, position
    HAVING COUNT(*) > 1
"""

QUEUE_RELEASED = """
    SELECT q.member_id, q.title_id, t.release_date
    FROM queues_queueentry q JOIN catalog_title t ON t.id = q.title_id
    WHERE t.release_date > %s
"""

MEMBER_REGION = """
    SELECT m.id, m.zip_code, r.zip3
    FROM membership_member m JOIN inventory_region r ON r.id = m.region_id
    WHERE SUBSTR(m.zip_code, 1, 3) <> r.zip3
"""


ENTRY_BALANCED = """
    SELECT entry_id, SUM(debit) AS d, SUM(credit) AS c
    FROM ledger_journalline GROUP BY entry_id
    HAVING SUM(debit) - SUM(credit) <> 0
"""

STATEMENT_TOTALS = """
    SELECT id, subtotal, discount, adjustment, fees, tax, credit_applied, gift_applied, total_due
    FROM billing_statement
    WHERE subtotal - discount + adjustment + fees + tax - credit_applied - gift_applied
                - total_due <> 0
       OR total_due < 0 OR amount_paid > total_due
       OR (status = 'paid' AND amount_paid <> total_due)
"""

# What a statement says was paid is what its payments brought in, less chargebacks.
STATEMENT_PAID = """
    SELECT s.id, s.amount_paid, COALESCE(p.paid, 0) AS payments
    FROM billing_statement s
    LEFT JOIN (SELECT statement_id, SUM(amount) AS paid FROM billing_payment
               WHERE status = 'succeeded' AND charged_back_at IS NULL
               GROUP BY statement_id) p ON p.statement_id = s.id
    WHERE s.amount_paid - COALESCE(p.paid, 0) <> 0
"""

# A fee, a payment, a refund or an account credit says the same amount as its journal entry.
RECORD_MATCHES_ENTRY = """
    WITH e AS (SELECT entry_id, SUM(debit) AS d FROM ledger_journalline GROUP BY entry_id)
    SELECT 'fee' AS record, f.id, f.amount, e.d FROM billing_fee f
      JOIN e ON e.entry_id = f.entry_id WHERE f.amount <> e.d
    UNION ALL
    SELECT 'payment', p.id, p.amount, e.d FROM billing_payment p
      JOIN e ON e.entry_id = p.entry_id WHERE p.amount <> e.d
    UNION ALL
    SELECT 'refund', r.id, r.amount, e.d FROM billing_refund r
      JOIN e ON e.entry_id = r.entry_id WHERE r.amount <> e.d
    UNION ALL
    SELECT 'credit', c.id, c.amount, e.d FROM billing_credit c
      JOIN e ON e.entry_id = c.entry_id WHERE c.kind = 'account' AND c.amount <> e.d
"""


# Affiliate money (growth): each commission's accrual, and its reversal or rejection, and each
# paid payout statement, posted to the ledger under its key.
GROWTH_POSTED = """
    SELECT 'accrual', c.id, c.amount_cents FROM growth_commission c
      WHERE c.amount_cents > 0 AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e
        WHERE e.idempotency_key = 'commission:' || CAST(c.id AS varchar(20)))
    UNION ALL
    SELECT 'reversal', c.id, c.amount_cents FROM growth_commission c
      WHERE c.amount_cents > 0 AND c.status IN ('reversed', 'rejected')
        AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e WHERE e.idempotency_key IN (
          'commission-reversal:' || CAST(c.id AS varchar(20)),
          'commission-rejected:' || CAST(c.id AS varchar(20))))
    UNION ALL
    SELECT 'payout', p.id, p.amount_cents FROM growth_payoutstatement p
      WHERE p.status = 'paid' AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e
        WHERE e.idempotency_key = 'payout:' || CAST(p.id AS varchar(20)))
"""


# Payables: a bill's total is its lines' sum; every approved or paid bill that moves money is
# in the ledger under `bill:<id>`, every paid one under `pay:<id>`; no order line is billed
# beyond what was received (the three-way match, also a constraint).
PAYABLES_POSTED = """
    SELECT 'total', b.id, b.total_cents FROM payables_bill b
      WHERE b.total_cents <> (SELECT COALESCE(SUM(l.amount_cents), 0) FROM payables_billline l
                              WHERE l.bill_id = b.id)
    UNION ALL
    SELECT 'approval', b.id, b.total_cents FROM payables_bill b
      WHERE b.status IN ('approved', 'paid') AND b.total_cents > 0
        AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e
          WHERE e.idempotency_key = 'bill:' || CAST(b.id AS varchar(20)))
    UNION ALL
    SELECT 'payment', b.id, b.total_cents FROM payables_bill b
      WHERE b.status = 'paid' AND b.total_cents > 0
        AND NOT EXISTS (SELECT 1 FROM ledger_journalentry e
          WHERE e.idempotency_key = 'pay:' || CAST(b.id AS varchar(20)))
    UNION ALL
    SELECT 'over-billed', l.id, l.billed FROM payables_purchaseline l
      WHERE l.billed > l.received
"""


def run_checks() -> list[CheckResult]:

    today = clock.today()
    checks = [
        ("copy_status", "every copy's status agrees with its last event", LAST_EVENT, ()),
        (
            "copy_history",
            "every copy event follows the lifecycle from the one before",
            EVENT_CHAIN,
            (),
        ),
        (
            "event_refs",
            "every copy event's copy, DC and actor exist",
            EVENT_REFS,
            (),
        ),
        (
            "shipment_refs",
            "every shipment's member, copy (of its title), DC and run exist",
            SHIPMENT_REFS,
            (),
        ),
        (
            "one_place",
            "a shipped copy has exactly one open shipment, any other copy none",
            SHIPPED_HAS_SHIPMENT,
            (),
        ),
        (
            "disc_limit",
            "no member has more discs out than plan limit plus bonus rentals",
            OVER_LIMIT,
            (),
        ),
        (
            "queue_order",
            "no two entries of a queue share a position (positions order it; gaps are fine)",
            QUEUE_ORDER,
            (),
        ),
        (
            "queue_released",
            "queues hold only released titles (unreleased ones are Saved)",
            QUEUE_RELEASED,
            (today,),
        ),
        (
            "member_region",
            "every member lives in the region of their ZIP prefix",
            MEMBER_REGION,
            (),
        ),
        ("ledger_balanced", "every journal entry's debits equal its credits", ENTRY_BALANCED, ()),
        (
            "growth_posted",
            "every affiliate commission, reversal and paid payout is in the ledger",
            GROWTH_POSTED,
            (),
        ),
        (
            "payables_posted",
            "every vendor bill adds up, is in the ledger once approved and once paid, and bills "
            "no copies that were not received",
            PAYABLES_POSTED,
            (),
        ),
        (
            "billed_until",
            "every paying member's billed_until ends a period they were billed for",
            BILLED_UNTIL,
            (),
        ),
        (
            "money_refs",
            "every journal line's entry and account, and every statement's, payment's and "
            "payment intent's member, plan, statement, card, payment, entry and actor exist",
            MONEY_REFS,
            (),
        ),
        (
            "statement_totals",
            "every statement adds up: subtotal - discount + adjustment + fees + tax - credit"
            " - gift = total due, and is paid no more than its total",
            STATEMENT_TOTALS,
            (),
        ),
        (
            "statement_paid",
            "what each statement says is paid is what its payments brought in",
            STATEMENT_PAID,
            (),
        ),
        (
            "records_match_ledger",
            "every fee, payment, refund and account credit equals its journal entry",
            RECORD_MATCHES_ENTRY,
            (),
        ),
    ]
    results = []
    for name, desc, sql, params in checks:
        n, examples = _run(sql, params)
        results.append(CheckResult(name, desc, n, examples))
    return results
