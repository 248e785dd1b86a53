"""Support reports: real numbers on pages and in CSV, for leads and operations only."""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from redenvelope.ledger.actions import ensure_chart
from redenvelope.support import actions as support
from redenvelope.support import reports
from redenvelope.support.models import Survey


@pytest.fixture
def busy(world):
    ensure_chart()
    agent = world.staff["support_agent"]
    for channel in ("phone", "email", "chat"):
        case = support.open_case(
            world.alice,
            channel=channel,
            subject=f"{channel} case",
            body="x",
            actor=agent,
            reason="damaged",
        )
        support.add_interaction(
            case, kind="note" if channel == "chat" else "call", body="ok", actor=agent
        )
        support.compensate(case, "credit", amount="3.00", reason="sorry", actor=agent)
        support.set_status(case, "resolved", actor=agent)
    s = Survey.objects.first()
    support.answer_survey(s.case_id, 4, "fine")
    return world


def test_reports_count_what_happened(busy):
    today = busy.today
    cols, rows = reports.cases(today, today)
    assert sorted(r[0] for r in rows) == ["chat", "email", "phone"] and all(r[2] == 1 for r in rows)
    _, rows = reports.compensation(today, today)
    assert rows == [("damaged", "staff_support_agent", "credit", 3, Decimal("9.00"))]
    _, rows = reports.times(today, today)
    assert {r[0] for r in rows} == {"chat", "email", "phone"} and all(r[4] == 1 for r in rows)
    _, rows = reports.satisfaction(today, today)
    assert [r[2:] for r in rows] == [(1, 4.0)]
    _, rows = reports.staffing(today, today)
    assert len(rows) == 168 and sum(r[2] for r in rows) == 3  # no rota: "no agent" where opened
    assert {r[3] for r in rows if r[2]} == {"no agent"}


def test_report_pages_and_csv_by_role(busy):
    lead = Client()
    lead.force_login(busy.staff["support_lead"])
    for name in reports.REPORTS:
        assert lead.get(reverse("support_report", args=[name])).status_code == 200
    resp = lead.get(reverse("support_report", args=["compensation"]), {"format": "csv"})
    table = list(csv.reader(io.StringIO(resp.content.decode())))
    assert table[0][0] == "case reason" and table[1][-1] == "9.00"
    bad = lead.get(reverse("support_report", args=["cases"]), {"from": "nope"})
    assert bad.status_code == 302
    for role in ("support_agent", "warehouse", "finance"):
        c = Client()
        c.force_login(busy.staff[role])
        assert c.get(reverse("support_report", args=["cases"])).status_code == 403
