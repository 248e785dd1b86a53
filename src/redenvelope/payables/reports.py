"""Content and payables reports, each a table computed in SQL (with its CSV): cost per title
against its rentals and streams, revenue share owed per licensor per month, licenses expiring
in 30/60/90 days, purchase orders open, accounts payable aging, placement revenue."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from redenvelope.billing.reports import Report
from redenvelope.core import clock
from redenvelope.ledger.money import from_cents

REPORTS = {
    "cost-per-title": "Cost per title against its rentals and streams",
    "revenue-share": "Revenue share owed per licensor per month",
    "expiring": "Licenses expiring in the next 30, 60 and 90 days",
    "open-orders": "Purchase orders open",
    "ap-aging": "Accounts payable aging",
    "placement": "Product placement revenue",
}


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    lo = start or clock.today() - dt.timedelta(days=90)
    hi = (end or clock.today()) + dt.timedelta(days=1)
    return (
        dt.datetime.combine(lo, dt.time(), tzinfo=tz),
        dt.datetime.combine(hi, dt.time(), tzinfo=tz),
    )


def _at(moment: dt.datetime):
    """A moment as the database compares it (raw SQL: UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def cost_per_title(start, end) -> Report:
    """What each title cost in the window (discs bought, revenue share and fees billed for it)
    against how often it was rented and streamed: the titles that cost most first."""
    lo, hi = _bounds(start, end)
    sql = """
        WITH cost AS (
            SELECT l.title_id,
                   SUM(CASE WHEN l.account = '5500' THEN l.amount_cents ELSE 0 END) AS discs,
                   SUM(CASE WHEN l.account <> '5500' THEN l.amount_cents ELSE 0 END) AS other
            FROM payables_billline l JOIN payables_bill b ON b.id = l.bill_id
            WHERE l.title_id IS NOT NULL AND b.status IN ('approved', 'paid')
              AND b.issued_on >= %s AND b.issued_on < %s
            GROUP BY l.title_id
        ), share AS (
            SELECT s.title_id, SUM(s.earned_cents) AS earned FROM payables_statementline s
            JOIN payables_bill b ON b.id = s.bill_id
            WHERE b.period >= %s AND b.period < %s GROUP BY s.title_id
        ), rented AS (
            SELECT title_id, COUNT(*) AS n FROM fulfillment_shipment
            WHERE shipped_at >= %s AND shipped_at < %s GROUP BY title_id
        ), streamed AS (
            SELECT title_id, COUNT(*) AS n FROM streaming_session
            WHERE started_at >= %s AND started_at < %s GROUP BY title_id
        ), titles AS (
            SELECT title_id FROM cost UNION SELECT title_id FROM share
        )
        SELECT t.id, t.name, COALESCE(c.discs, 0), COALESCE(s.earned, 0), COALESCE(c.other, 0),
               COALESCE(r.n, 0), COALESCE(w.n, 0)
        FROM titles x JOIN catalog_title t ON t.id = x.title_id
        LEFT JOIN cost c ON c.title_id = x.title_id LEFT JOIN share s ON s.title_id = x.title_id
        LEFT JOIN rented r ON r.title_id = x.title_id
        LEFT JOIN streamed w ON w.title_id = x.title_id
    """  # noqa: S608 - fixed text
    d0, d1 = lo.date(), hi.date()
    rows = _rows(sql, [d0, d1, d0.replace(day=1), d1, _at(lo), _at(hi), _at(lo), _at(hi)])
    out = []
    for tid, name, discs, earned, other, rentals, streams in rows:
        total = discs + earned + other
        uses = rentals + streams
        out.append(
            [tid, name, from_cents(discs), from_cents(earned), from_cents(other),
             from_cents(total), rentals, streams,
             from_cents(total // uses) if uses else "-"]
        )  # fmt: skip
    out.sort(key=lambda r: -r[5])
    return Report(
        "cost-per-title",
        REPORTS["cost-per-title"],
        ["Title id", "Title", "Discs bought", "Revenue share", "Fees and other", "Total cost",
         "Rentals", "Streams", "Cost per rental or stream"],
        out,
        note="Costs from approved bills issued in the window (revenue share by statement month);"
        " rentals are discs shipped, streams are playbacks started. Default: the last 90 days.",
    )  # fmt: skip


def revenue_share(start, end) -> Report:
    where, params = [], []
    if start:
        where.append("b.period >= %s")
        params.append(start.replace(day=1))
    if end:
        where.append("b.period <= %s")
        params.append(end)
    sql = (
        "SELECT l.name, b.period, COUNT(DISTINCT b.id), "  # noqa: S608 - fixed text
        "COALESCE(SUM(x.rentals), 0), COALESCE(SUM(x.streams), 0), "
        "COALESCE(SUM(x.earned), 0), SUM(b.total_cents), "
        "SUM(CASE WHEN b.status = 'paid' THEN b.total_cents ELSE 0 END) "
        "FROM payables_bill b JOIN rights_contract c ON c.id = b.contract_id "
        "JOIN rights_licensor l ON l.id = c.licensor_id "
        "LEFT JOIN (SELECT bill_id, SUM(rentals) AS rentals, SUM(streams) AS streams, "
        "SUM(earned_cents) AS earned FROM payables_statementline GROUP BY bill_id) x "
        "ON x.bill_id = b.id WHERE b.kind = 'revenue_share' "
        + ("AND " + " AND ".join(where) + " " if where else "")
        + "GROUP BY l.name, b.period ORDER BY b.period DESC, l.name"
    )
    rows = [
        [name, period, n, rentals, streams, from_cents(earned), from_cents(total),
         from_cents(paid), from_cents(total - paid)]
        for name, period, n, rentals, streams, earned, total, paid in _rows(sql, params)
    ]  # fmt: skip
    return Report(
        "revenue-share",
        REPORTS["revenue-share"],
        ["Licensor", "Month", "Statements", "Rentals", "Streams", "Earned", "Payable after "
         "recoupment and fees", "Paid", "Owed"],
        rows,
        note="Earned is the per-rental and per-stream share; payable adds flat fees and takes "
        "off what recouped a minimum guarantee.",
    )  # fmt: skip


def expiring(start, end) -> Report:
    now = clock.now()
    sql = """
        SELECT w.id, t.name, w.kind, w.territories, w.ends_at, COALESCE(c.reference, ''),
               COALESCE(l.name, '')
        FROM rights_licensewindow w JOIN catalog_title t ON t.id = w.title_id
        LEFT JOIN rights_contract c ON c.id = w.contract_id
        LEFT JOIN rights_licensor l ON l.id = c.licensor_id
        WHERE w.ends_at > %s AND w.ends_at <= %s ORDER BY w.ends_at, t.name
    """
    rows = []
    for wid, name, kind, territories, ends_at, ref, licensor in _rows(
        sql, [_at(now), _at(now + dt.timedelta(days=90))]
    ):
        ends_at = _aware(ends_at)
        days = (ends_at - now).days + 1
        bucket = "30 days" if days <= 30 else "60 days" if days <= 60 else "90 days"
        rows.append([bucket, wid, name, kind, territories, ends_at.date(), ref, licensor])
    return Report(
        "expiring",
        REPORTS["expiring"],
        ["Within", "Window", "Title", "Kind", "Territories", "Ends", "Contract", "Licensor"],
        rows,
        note="From today, whatever dates are chosen.",
    )


def open_orders(start, end) -> Report:
    sql = """
        SELECT o.number, v.name, d.code, o.status, o.created_at, o.expected_on,
               SUM(l.quantity), SUM(l.received), SUM(l.billed), SUM(l.quantity * l.unit_cents)
        FROM payables_purchaseorder o JOIN payables_vendor v ON v.id = o.vendor_id
        JOIN inventory_distributioncenter d ON d.id = o.dc_id
        JOIN payables_purchaseline l ON l.order_id = o.id
        WHERE o.status IN ('draft', 'sent', 'partial')
        GROUP BY o.number, v.name, d.code, o.status, o.created_at, o.expected_on
        ORDER BY o.created_at
    """
    rows = [
        [n, v, dc, st, _aware(created).date(), exp or "-", q, r, b, from_cents(value)]
        for n, v, dc, st, created, exp, q, r, b, value in _rows(sql)
    ]
    return Report(
        "open-orders",
        REPORTS["open-orders"],
        ["Order", "Vendor", "DC", "Status", "Ordered on", "Expected", "Copies ordered",
         "Received", "Billed", "Value"],
        rows,
    )  # fmt: skip


def ap_aging(start, end) -> Report:
    """Approved bills not yet paid, by vendor, in buckets of days past due (as of `end` or
    today)."""
    as_of = end or clock.today()
    sql = """
        SELECT v.name, b.due_on, b.total_cents FROM payables_bill b
        JOIN payables_vendor v ON v.id = b.vendor_id
        WHERE b.status = 'approved' AND b.total_cents > 0
    """
    buckets = ["Not yet due", "1-30", "31-60", "61-90", "Over 90"]
    by: dict[str, list[int]] = {}
    for name, due, cents in _rows(sql):
        late = (as_of - due).days
        i = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
        by.setdefault(name, [0] * 5)[i] += cents
    rows = [
        [name, *(from_cents(c) for c in cents), from_cents(sum(cents))]
        for name, cents in sorted(by.items())
    ]
    if by:
        totals = [sum(v[i] for v in by.values()) for i in range(5)]
        rows.append(["Total", *(from_cents(c) for c in totals), from_cents(sum(totals))])
    return Report(
        "ap-aging",
        REPORTS["ap-aging"],
        ["Vendor", *buckets, "Owed"],
        rows,
        note=f"Days past due as of {as_of}.",
    )


def placement(start, end) -> Report:
    sql = """
        SELECT d.brand, p.name, d.scene, d.fee_cents, d.invoiced_cents,
               COALESCE((SELECT SUM(i.amount_cents) FROM payables_placementinvoice i
                         WHERE i.deal_id = d.id AND i.paid_at IS NOT NULL), 0),
               d.recognised_cents
        FROM payables_placementdeal d JOIN payables_production p ON p.id = d.production_id
        ORDER BY p.name, d.brand
    """
    rows = [
        [brand, prod, scene, from_cents(fee), from_cents(inv), from_cents(paid),
         from_cents(rec), from_cents(fee - rec)]
        for brand, prod, scene, fee, inv, paid, rec in _rows(sql)
    ]  # fmt: skip
    return Report(
        "placement",
        REPORTS["placement"],
        ["Brand", "Production", "Scene or episode", "Fee", "Invoiced", "Paid",
         "Recognised (delivered)", "Still to deliver"],
        rows,
        note="Revenue is recognised as each deliverable is delivered, whatever was invoiced.",
    )  # fmt: skip


def build(name: str, start, end) -> Report:
    return {
        "cost-per-title": cost_per_title,
        "revenue-share": revenue_share,
        "expiring": expiring,
        "open-orders": open_orders,
        "ap-aging": ap_aging,
        "placement": placement,
    }[name](start, end)
