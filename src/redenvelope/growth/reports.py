"""Growth reports, each a table computed in SQL: signups by source and partner (with what they
cost and how many trials became paying members), and each newsletter issue's figures."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from redenvelope.billing.reports import Report
from redenvelope.ledger.money import from_cents

REPORTS = {
    "signups": "Signups by source and partner: cost per acquired member, trial to paid",
    "newsletter": "Newsletter: sends, bounces, opens, clicks and unsubscribes per issue",
}


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def signups(start: dt.date | None, end: dt.date | None) -> Report:
    where, params = [], []
    if start:
        where.append("s.at >= %s")
        params.append(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    if end:
        where.append("s.at < %s")
        params.append(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    sql = (
        "SELECT s.source, COALESCE(p.name, ''), COUNT(*), "  # noqa: S608 - fixed text
        "SUM(CASE WHEN EXISTS (SELECT 1 FROM billing_payment y WHERE y.member_id = s.member_id "
        "AND y.status = 'succeeded') THEN 1 ELSE 0 END), "
        "COALESCE(SUM(CASE WHEN c.status NOT IN ('reversed', 'rejected') "
        "THEN c.amount_cents ELSE 0 END), 0) "
        "FROM growth_signup s LEFT JOIN growth_partner p ON p.id = s.partner_id "
        "LEFT JOIN growth_commission c ON c.member_id = s.member_id "
        + ("WHERE " + " AND ".join(where) + " " if where else "")
        + "GROUP BY s.source, p.name ORDER BY COUNT(*) DESC, s.source, p.name"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    out = []
    for source, partner, n, paid, cents in rows:
        out.append(
            [
                source,
                partner or "-",
                n,
                paid,
                _pct(paid, n),
                from_cents(cents),
                from_cents(cents // paid) if paid else "-",
            ]
        )
    return Report(
        "signups",
        "Signups by source and partner",
        ["Source", "Partner", "Signups", "Became paying", "Trial to paid", "Commissions",
         "Cost per paying member"],
        out,
        note="Commissions count what was earned and not reversed or rejected.",
    )  # fmt: skip


def newsletter(start: dt.date | None, end: dt.date | None) -> Report:
    where, params = [], []
    if start:
        where.append("i.week >= %s")
        params.append(start)
    if end:
        where.append("i.week <= %s")
        params.append(end)
    sql = (
        "SELECT i.id, i.week, i.subject, i.status, i.recipients, "  # noqa: S608 - fixed text
        "(SELECT COUNT(*) FROM growth_delivery d WHERE d.issue_id = i.id AND d.state = 'sent'), "
        "(SELECT COUNT(*) FROM growth_delivery d WHERE d.issue_id = i.id "
        "AND d.state IN ('failed', 'skipped')), "
        "(SELECT COUNT(*) FROM growth_delivery d WHERE d.issue_id = i.id "
        "AND d.state = 'unconfirmed') "
        "FROM growth_issue i "
        + ("WHERE " + " AND ".join(where) + " " if where else "")
        + "ORDER BY i.week DESC"
    )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        issues = cur.fetchall()
        cur.execute(
            "SELECT issue_id, kind, COUNT(DISTINCT delivery_id) FROM growth_event "
            "GROUP BY issue_id, kind"
        )
        events: dict = {}
        for iid, kind, n in cur.fetchall():
            events.setdefault(iid, {})[kind] = n
    rows = []
    for iid, week, subject, status, recipients, sent, failed, unconfirmed in issues:
        e = events.get(iid, {})
        rows.append(
            [
                week, subject, status, recipients, sent, failed, unconfirmed,
                e.get("bounce_hard", 0), e.get("bounce_soft", 0),
                e.get("open", 0), _pct(e.get("open", 0), sent),
                e.get("click", 0), _pct(e.get("click", 0), sent),
                e.get("unsubscribe", 0),
            ]
        )  # fmt: skip
    return Report(
        "newsletter",
        "Newsletter issues",
        ["Week", "Subject", "Status", "Recipients", "Sent", "Failed or skipped", "Unconfirmed",
         "Hard bounces", "Soft bounces", "Opened", "Open rate", "Clicked", "Click rate",
         "Unsubscribed"],
        rows,
        note="Opens and clicks count recipients (each once), where tracking is on.",
    )  # fmt: skip


def build(name: str, start, end) -> Report:
    return {"signups": signups, "newsletter": newsletter}[name](start, end)
