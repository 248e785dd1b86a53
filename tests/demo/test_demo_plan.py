"""The demo's planning day on a small simulated business: the planner's recommendations applied
through the actions (DCs opened with transit, purchase orders received, answers kept), and the
days simulated after it ship more next day and from the top 3 than the days before; every
invariant holds."""

import datetime as dt

import pytest
from typer.testing import CliRunner

from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.demo import build_demo
from redenvelope.demo.workforce import seed_workforce
from redenvelope.insight.models import PlanRun
from redenvelope.inventory.models import DistributionCenter, Transit
from redenvelope.payables.models import PurchaseOrder


def _shares(output: str) -> tuple[float, float]:
    line = [x for x in output.splitlines() if "from the top 3" in x][-1]
    top3 = float(line.split("shipped, ")[1].split("%")[0])
    next_day = float(line.split("queue, ")[1].split("%")[0])
    return next_day, top3


@pytest.mark.django_db(transaction=True)
def test_demo_planning_day_raises_next_day(settings, tmp_path):
    from redenvelope.cli import app

    settings.DATA_DIR = tmp_path
    today = clock.today()
    build_demo(members=400, seed=5, n_films=150, today=today - dt.timedelta(days=10))
    seed_workforce()
    run = CliRunner().invoke
    r = run(app, ["simulate", "--days", "5", "--start", str(today - dt.timedelta(days=9))])
    assert r.exit_code == 0, r.output
    before = _shares(r.output)
    dcs = DistributionCenter.objects.count()
    r = run(app, ["demo-plan", "--day", str(today - dt.timedelta(days=4)), "--days", "5"])
    assert r.exit_code == 0, r.output
    assert DistributionCenter.objects.count() > dcs
    new = DistributionCenter.objects.order_by("-id").first()
    assert Transit.objects.filter(dc=new, days=1).exists()
    assert PurchaseOrder.objects.filter(status="received").exists()
    assert set(PlanRun.objects.values_list("question", flat=True)) >= {"baseline", "stock"}
    r = run(app, ["simulate", "--days", "4", "--start", str(today - dt.timedelta(days=4))])
    assert r.exit_code == 0, r.output
    after = _shares(r.output)
    assert after[0] > before[0] + 0.2 * 100 and after[1] > before[1], (before, after)
    assert [c for c in run_checks() if not c.ok] == []
