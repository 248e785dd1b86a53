import datetime as dt

import pytest

from redenvelope.checks import run_checks
from redenvelope.demo import build_demo
from redenvelope.fulfillment.models import DispatchRun, ReturnScan, Shipment
from redenvelope.sim import simulate

DAY = dt.date(2026, 10, 1)


@pytest.mark.django_db
def test_a_month_runs_cleanly():
    build_demo(members=200, seed=11, n_films=120, catalog="synthetic", today=DAY)
    reports = simulate(
        30, start=DAY + dt.timedelta(days=1), seed=3, loss_rate=0.02, damage_rate=0.03
    )
    assert len(reports) == 30 and DispatchRun.objects.count() == 30
    assert sum(r.shipped for r in reports) > 500
    assert sum(r.returned for r in reports) > 500
    assert sum(r.damaged for r in reports) > 0
    assert Shipment.objects.filter(status="lost").exists()
    assert ReturnScan.objects.filter(source="sim").exists()
    from redenvelope.billing.models import Statement

    assert Statement.objects.exists()
    # customer service: lost discs raised cases on several channels, agents answered
    from redenvelope.support import reports
    from redenvelope.support.models import Action, Case

    assert Case.objects.filter(reason="not_received").count() > 3
    assert Case.objects.values("channel").distinct().count() >= 2
    assert (
        Action.objects.filter(kind="mark_lost").exists()
        or Case.objects.filter(channel="web").exists()
    )
    _, rows = reports.cases(DAY, DAY + dt.timedelta(days=31))
    assert sum(r[2] for r in rows) == Case.objects.count()
    broken = [r for r in run_checks() if not r.ok]
    assert broken == []
    # Same day again changes nothing.
    before = Shipment.objects.count()
    simulate(1, start=DAY + dt.timedelta(days=30), seed=3)
    assert DispatchRun.objects.count() == 30 and Shipment.objects.count() == before


@pytest.mark.django_db
def test_demo_support_has_every_channel_a_flag_and_an_approval(emails_at_once):
    from redenvelope.demo.support import seed_support
    from redenvelope.support.models import Approval, Article, Case, Flag

    build_demo(members=150, seed=11, n_films=120, catalog="synthetic", today=DAY)
    simulate(3, start=DAY + dt.timedelta(days=1), seed=3)
    made = seed_support()
    assert Article.objects.count() >= 5
    assert set(Case.objects.values_list("channel", flat=True)) >= {"phone", "email", "chat", "web"}
    assert made["approval_waiting"] and Approval.objects.filter(status="waiting").exists()
    assert made["flagged"] and Flag.objects.filter(member_id=made["flagged"], status="open")
    from redenvelope.support.models import OwnDisc

    own = OwnDisc.objects.get()  # a member's own disc at the desk, a credit to settle
    assert own.scan_id and own.choice == "credit" and own.settled_at is None
    assert [r for r in run_checks() if not r.ok] == []
