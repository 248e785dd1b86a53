"""The dispatch run killed (`kill -9`) at random moments, writing included: the rerun ships each
disc once, the day's shipments are the uninterrupted run's, and no pick list or label is left
from the killed run (only the recorded run's documents, complete)."""

import random

import pytest

from tests.trials import TRIALS, business

DAY = "2026-11-21"

PROBE = (
    f'day = "{DAY}"\n'
    + """
from pathlib import Path
from django.conf import settings
from django.db.models import Count
from redenvelope.checks import run_checks
from redenvelope.core.models import OutboundEmail
from redenvelope.fulfillment.models import DispatchRun, Shipment

media = Path(settings.MEDIA_ROOT)
shipments = Shipment.objects.filter(run__run_date=day)
folder = media / "runs" / day / "ALL"
copies_twice = (
    Shipment.objects.filter(run__run_date=day).values("copy_id").annotate(n=Count("id"))
    .filter(n__gt=1).values_list("copy_id", flat=True)
)
result = {
    "runs": DispatchRun.objects.filter(run_date=day).count(),
    "shipped": sorted(shipments.values_list("member_id", "title_id", "dc_id")),
    "copies_twice": list(copies_twice[:5]),
    "files": sorted(p.name for p in folder.iterdir()) if folder.exists() else [],
    "pdfs": sorted(str(p.relative_to(media)) for p in media.rglob("*.pdf")),
    "failed_checks": [r.name for r in run_checks() if not r.ok],
    "emailed": sorted(
        OutboundEmail.objects.filter(key__startswith="shipped:").values_list("member_id", flat=True)
    ),
}
"""
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    b = business(tmp_path_factory, "dispatch-trials", members=800, seed=6, today="2026-11-20")
    yield b
    b.drop()


def test_dispatch_run_killed_anywhere_ships_each_disc_once(warehouse):
    control = warehouse.copy()
    first_write, whole = control.timed("dispatch", "run", "--date", DAY)
    expected = control.probe(PROBE)
    control.drop()
    assert expected["runs"] == 1 and len(expected["shipped"]) > 200
    assert expected["files"] and all(f.endswith(".pdf") for f in expected["files"])
    members_shipped = sorted({m for m, _, _ in expected["shipped"]})
    assert expected["emailed"] == members_shipped  # one email each, queued with the run
    rng = random.Random(7)
    seen = []
    for k in range(TRIALS):
        trial = warehouse.copy()
        # Spread over the command's time, most of them once it writes (the run's rows, then,
        # after the commit, its pick lists and labels).
        if k == 0:
            at = rng.uniform(0, first_write)
        else:
            at = first_write + (whole - first_write) * (k - 1 + rng.random()) / (TRIALS - 1)
        status = trial.kill_during("dispatch", "run", "--date", DAY, after_s=at)
        after_kill = trial.probe(PROBE)
        seen.append((status, after_kill["runs"], len(after_kill["pdfs"])))
        if after_kill["runs"] == 0:
            # Killed before the commit: nothing recorded, and no document of it anywhere.
            assert after_kill["shipped"] == [] and after_kill["pdfs"] == []
            assert after_kill["emailed"] == []
        else:  # killed after the commit: every email is on record, none lost
            assert after_kill["emailed"] == members_shipped
        trial.run("dispatch", "run", "--date", DAY)
        got = trial.probe(PROBE)
        trial.drop()
        assert got["runs"] == 1 and got["shipped"] == expected["shipped"]
        assert got["copies_twice"] == []
        assert got["files"] == expected["files"], "a killed run's documents were left behind"
        assert got["pdfs"] == expected["pdfs"]
        assert got["failed_checks"] == []
        assert got["emailed"] == members_shipped
    print("trials (exit status, runs recorded at the kill, PDFs at the kill):", seen)
    assert any(s is None for s, _, _ in seen), "no trial was killed mid-run"
