"""Reads the payables pages, the CLI and the reports share: the buying plan, bills to approve
and to pay, open orders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from redenvelope.core import clock

from .actions import copies_for_wait
from .models import Bill, PurchaseOrder

DEFAULT_CYCLE_DAYS = 7.0


def cycle_days(days_back: int = 90) -> float:
    """How long a disc takes to come home, measured: the mean days from shipping to its return
    scan over the last `days_back` days (the simulator's and the members' own pace)."""
    since = connection.ops.adapt_datetimefield_value(clock.now() - dt.timedelta(days=days_back))
    span = (
        "EXTRACT(EPOCH FROM (closed_at - shipped_at)) / 86400.0"
        if connection.vendor == "postgresql"
        else "julianday(closed_at) - julianday(shipped_at)"
    )
    with connection.cursor() as cur:  # one aggregate, however many shipments the window holds
        cur.execute(
            f"SELECT AVG({span}) FROM fulfillment_shipment "  # noqa: S608 - fixed text
            "WHERE status = 'returned' AND closed_at IS NOT NULL AND shipped_at >= %s",
            [since],
        )
        mean = cur.fetchone()[0]
    return round(float(mean), 2) if mean is not None else DEFAULT_CYCLE_DAYS


@dataclass
class Need:
    title_id: int
    title: str
    dc_id: int
    dc: str
    demand: int  # members whose home DC this is with the title among their first 3
    copies: int  # copies the DC holds (on the shelf, out, in transfer)
    on_order: int  # ordered and not yet received
    needed: int  # copies for the target wait
    buy: int  # needed - copies - on order (never negative)


def buying_plan(target_wait_days: float = 7.0, *, limit: int = 200) -> tuple[float, list[Need]]:
    """Per title and DC, how many copies to buy so that members with the title among the
    first three of their queue, at their nearest DC, wait no more than the target: from queue
    demand now and the measured cycle (copies_for_wait). Largest shortfall first."""
    cycle = cycle_days()
    sql = """
        WITH near AS (
            SELECT t.region_id, MIN(t.days) AS d FROM inventory_transit t GROUP BY t.region_id
        ), home AS (
            SELECT t.region_id, MIN(t.dc_id) AS dc_id FROM inventory_transit t
            JOIN near n ON n.region_id = t.region_id AND n.d = t.days GROUP BY t.region_id
        ), ranked AS (
            SELECT q.member_id, q.title_id,
                   ROW_NUMBER() OVER (PARTITION BY q.member_id ORDER BY q.position) AS k
            FROM queues_queueentry q
        ), demand AS (
            SELECT h.dc_id, r.title_id, COUNT(*) AS n FROM ranked r
            JOIN membership_member m ON m.id = r.member_id
            JOIN home h ON h.region_id = m.region_id
            WHERE r.k <= 3 AND m.status IN ('trial', 'active')
            GROUP BY h.dc_id, r.title_id
        ), held AS (
            SELECT c.dc_id, c.title_id, COUNT(*) AS n FROM inventory_copy c
            WHERE c.status IN ('on_shelf', 'picked', 'shipped', 'in_transfer')
            GROUP BY c.dc_id, c.title_id
        ), ordered AS (
            SELECT o.dc_id, l.title_id, SUM(l.quantity - l.received) AS n
            FROM payables_purchaseline l JOIN payables_purchaseorder o ON o.id = l.order_id
            WHERE o.status IN ('draft', 'sent', 'partial') GROUP BY o.dc_id, l.title_id
        )
        SELECT d.dc_id, dc.code, d.title_id, t.name, d.n, COALESCE(h.n, 0), COALESCE(o.n, 0)
        FROM demand d
        JOIN inventory_distributioncenter dc ON dc.id = d.dc_id
        JOIN catalog_title t ON t.id = d.title_id
        LEFT JOIN held h ON h.dc_id = d.dc_id AND h.title_id = d.title_id
        LEFT JOIN ordered o ON o.dc_id = d.dc_id AND o.title_id = d.title_id
    """
    with connection.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    out = []
    for dc_id, code, title_id, name, demand, held, on_order in rows:
        needed = copies_for_wait(int(demand), cycle, target_wait_days)
        buy = max(0, needed - int(held) - int(on_order))
        if buy:
            out.append(
                Need(
                    title_id, name, dc_id, code, int(demand), int(held), int(on_order), needed, buy
                )
            )
    out.sort(key=lambda n: (-n.buy, n.dc, n.title))
    return cycle, out[:limit]


def to_approve():
    return Bill.objects.filter(status=Bill.Status.RECORDED).select_related("vendor")[:200]


def to_pay():
    return (
        Bill.objects.filter(status=Bill.Status.APPROVED, total_cents__gt=0)
        .select_related("vendor")
        .order_by("due_on", "id")[:500]
    )


def open_orders():
    return (
        PurchaseOrder.objects.exclude(
            status__in=(PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.CANCELLED)
        )
        .select_related("vendor", "dc")
        .order_by("created_at")[:200]
    )
