import datetime as dt

import pytest
from django.utils import timezone

from redenvelope.checks import run_checks
from redenvelope.core.errors import Conflict, NotFound
from redenvelope.fulfillment.actions import (
    CsvError,
    import_scans_csv,
    mark_overdue_lost,
    report_problem,
    scan_return,
    ship_copy,
)
from redenvelope.fulfillment.models import ReturnScan, Shipment
from redenvelope.inventory.barcodes import make_barcode
from redenvelope.queues import actions as queues


@pytest.fixture
def out(world):
    """Alice has Film 0 and Film 1 out; Bob has Film 2."""
    w = world
    w.out = []
    for member, film in ((w.alice, w.films[0]), (w.alice, w.films[1]), (w.bob, w.films[2])):
        queues.add_to_queue(member, film)
        copy = w.new_copy(film)
        ship_copy(member, copy)
        w.out.append(copy)
    return w


def test_scan_outcomes(out):
    w = out
    a0, a1, b2 = w.out
    assert scan_return(a0.barcode, w.sjc).outcome == "returned"
    assert scan_return(a0.barcode, w.sjc).outcome == "duplicate"
    assert scan_return("RE12", w.sjc).outcome == "malformed"
    assert scan_return(make_barcode(777), w.sjc).outcome == "unknown"
    damaged = scan_return(b2.barcode, w.ewr, damaged=True)
    assert damaged.outcome == "damaged"
    b2.refresh_from_db()
    assert b2.status == "damaged"
    wrong = scan_return(a1.barcode, w.ewr, envelope_member=w.bob.pk)
    assert wrong.outcome == "wrong_member" and wrong.shipment.member == w.alice
    a0.refresh_from_db()
    assert a0.status == "on_shelf" and a0.dc == w.sjc
    assert not Shipment.objects.filter(status="open").exists()
    # Every scan is on record, problems flagged; the books still balance.
    assert ReturnScan.objects.count() == 6
    assert {s.outcome for s in ReturnScan.objects.all() if s.is_problem} == {
        "duplicate",
        "malformed",
        "unknown",
        "wrong_member",
    }
    assert all(r.ok for r in run_checks())


def test_not_out_is_set_aside(world):
    copy = world.new_copy(world.films[4])
    scan = scan_return(copy.barcode, world.ewr)
    assert scan.outcome == "not_out" and "set it aside" in scan.message


def test_csv_import(out):
    w = out
    a0, a1, b2 = w.out
    text = f"barcode,damaged\n{a0.barcode},no\nnot-a-barcode,\n{b2.barcode},yes\n{a0.barcode},\n"
    scans = import_scans_csv(text, w.ewr)
    assert [s.outcome for s in scans] == ["returned", "malformed", "damaged", "duplicate"]
    assert len({s.batch for s in scans}) == 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("code\nRE0000000017\n", "barcode"),
        ("barcode,damaged\nRE0000000017,perhaps\n", "damaged must be"),
        ("barcode\n", "no scans"),
    ],
)
def test_broken_csv_changes_nothing(out, text, message):
    with pytest.raises(CsvError, match=message):
        import_scans_csv(text, out.ewr)
    assert not ReturnScan.objects.exists()
    assert Shipment.objects.filter(status="open").count() == 3


def test_member_reports_and_overdue(out):
    w = out
    a0, a1, b2 = w.out
    s0 = Shipment.objects.get(copy=a0)
    report_problem(w.alice, s0.pk, "not_received")
    with pytest.raises(Conflict):
        report_problem(w.alice, s0.pk, "damaged")
    with pytest.raises(NotFound):
        report_problem(w.bob, Shipment.objects.get(copy=a1).pk, "damaged")  # not Bob's
    report_problem(w.alice, Shipment.objects.get(copy=a1).pk, "damaged")
    a0.refresh_from_db()
    assert a0.status == "lost"
    # The lost disc turns up at a DC later: found and shelved.
    assert scan_return(a0.barcode, w.ewr).outcome == "found"
    a0.refresh_from_db()
    assert a0.status == "on_shelf"
    # Bob's disc is out too long.
    assert mark_overdue_lost(timezone.localdate() + dt.timedelta(days=61), days=60) == 1
    b2.refresh_from_db()
    assert b2.status == "lost"
    assert mark_overdue_lost(timezone.localdate() + dt.timedelta(days=61), days=60) == 0
    assert all(r.ok for r in run_checks()), [r for r in run_checks() if not r.ok]


def test_incidents_are_validated(world):
    from redenvelope.core.errors import DomainError
    from redenvelope.fulfillment.actions import open_incident

    today = timezone.localdate()
    inc = open_incident(world.ewr, today, today + dt.timedelta(days=3), "flood", actor=None)
    assert inc.dc == world.ewr
    with pytest.raises(Conflict):
        open_incident(world.ewr, today + dt.timedelta(days=2), today + dt.timedelta(days=5), "x")
    with pytest.raises(DomainError):
        open_incident(world.sjc, today, today, "zero days")
    with pytest.raises(DomainError):
        open_incident(world.sjc, today, today + dt.timedelta(days=1), "  ")
