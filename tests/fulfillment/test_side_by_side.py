"""The scheduler's per-DC runs side by side (one process each, on PostgreSQL) ship what the same
runs one after another ship, each with its pick lists and labels, and leave `check` clean."""

import pytest

from tests.trials import business

PROBE = """
import datetime as dt
from django.utils import timezone
from redenvelope.checks import run_checks
from redenvelope.fulfillment.dispatch import run_due_dispatches
from redenvelope.fulfillment.models import Shipment

evening = timezone.make_aware(dt.datetime(2026, 11, 21, 23, 59))
runs = run_due_dispatches(evening, workers=WORKERS)
result = {
    "runs": sorted(r.scope for r in runs),
    "documents": all(r.documents for r in runs if r.figures.get("shipments")),
    "shipped": sorted(
        Shipment.objects.filter(run__run_date="2026-11-21").values_list(
            "member_id", "title_id", "dc_id", "run__scope"
        )
    ),
    "failed_checks": [r.name for r in run_checks() if not r.ok],
}
"""


@pytest.fixture(scope="module")
def dcs(tmp_path_factory):
    b = business(tmp_path_factory, "side-by-side", members=600, seed=8, today="2026-11-20")
    yield b
    b.drop()


def test_runs_side_by_side_ship_what_runs_in_turn_ship(dcs):
    apart, together = dcs.copy(), dcs.copy()
    try:
        in_turn = apart.probe(PROBE.replace("WORKERS", "1"))
        side = together.probe(PROBE.replace("WORKERS", "2"))
    finally:
        apart.drop()
        together.drop()
    assert len(in_turn["runs"]) > 1 and in_turn["shipped"]
    assert side == in_turn
    assert side["failed_checks"] == [] and side["documents"]
