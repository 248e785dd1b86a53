"""The demo's content money seeds on a simulated business: contracts over what was rented,
disc windows (one closed: that title no longer ships), orders to receive, bills to approve and
pay, statements, an original and a placement; every invariant holds."""

import datetime as dt

import pytest
from typer.testing import CliRunner

from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.demo import build_demo
from redenvelope.demo.payables import seed_payables
from redenvelope.fulfillment.dispatch import gather
from redenvelope.payables.models import Bill, PurchaseOrder
from redenvelope.rights.avails import import_avails
from redenvelope.rights.models import LicenseWindow
from redenvelope.rights.queries import disc_allowed


@pytest.mark.django_db(transaction=True)
def test_demo_payables(settings, tmp_path):
    from redenvelope.cli import app

    settings.DATA_DIR = tmp_path
    today = clock.today()
    build_demo(members=300, seed=3, n_films=200, today=today - dt.timedelta(days=4))
    r = CliRunner().invoke(
        app, ["simulate", "--days", "4", "--start", str(today - dt.timedelta(days=3))]
    )
    assert r.exit_code == 0, r.output
    made = seed_payables()
    assert made["licensors"] == 3, made
    assert seed_payables() == {"skipped": "payables are seeded already"}
    assert [c for c in run_checks() if not c.ok] == []
    pulled = LicenseWindow.objects.get(note="pulled by the studio").title_id
    assert not disc_allowed(pulled)
    assert pulled not in set(gather(today).instance["stock"]["title_id"].tolist())
    assert PurchaseOrder.objects.filter(status="sent").exists()
    assert Bill.objects.filter(status="recorded").exists()
    assert Bill.objects.filter(status="approved").exists()
    sample = tmp_path / "avails-sample.xlsx"
    result = import_avails(sample.name, sample.read_bytes(), mode="valid")
    assert result.record.rejected == 3 and result.record.created > 0
