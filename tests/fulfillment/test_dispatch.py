import datetime as dt

import pytest
from django.utils import timezone

from redenvelope.checks import run_checks
from redenvelope.fulfillment.dispatch import gather, run_dispatch
from redenvelope.fulfillment.models import DispatchRun, Incident, Shipment
from redenvelope.inventory.models import Copy, CopyEvent
from redenvelope.membership import actions as membership
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry
from redenvelope.queues.queries import queue_of


@pytest.fixture
def stocked(world):
    """Alice (3 discs, NYC) and Bob (1 disc, SF) with queues; copies at both DCs."""
    for t in world.films[:4]:
        queues.add_to_queue(world.alice, t)
    for t in (world.films[0], world.films[5]):
        queues.add_to_queue(world.bob, t)
    world.new_copy(world.films[0], world.ewr)
    world.new_copy(world.films[1], world.ewr)
    world.new_copy(world.films[2], world.sjc)
    world.new_copy(world.films[5], world.sjc)
    return world


def test_run_ships_records_and_is_idempotent(stocked):
    w = stocked
    day = timezone.localdate()
    run = run_dispatch(day)
    assert run.figures["shipments"] == 4
    got = set(Shipment.objects.values_list("member__user__username", "title__name", "dc__code"))
    assert got == {
        ("alice", "Film 0", "EWR"),
        ("alice", "Film 1", "EWR"),
        ("alice", "Film 2", "SJC"),
        ("bob", "Film 5", "SJC"),
    }
    # Shipped titles left the queues (the member sees ranks 1..n).
    assert [(e.title.name, e.rank) for e in queue_of(w.alice.pk)] == [("Film 3", 1)]
    assert [(e.title.name, e.rank) for e in queue_of(w.bob.pk)] == [("Film 0", 1)]
    assert all(r.ok for r in run_checks()), [r for r in run_checks() if not r.ok]
    before = (Shipment.objects.count(), CopyEvent.objects.count())
    again = run_dispatch(day)
    assert again.pk == run.pk
    assert (Shipment.objects.count(), CopyEvent.objects.count()) == before


@pytest.mark.parametrize("where", ["events", "shipments"])
def test_failure_mid_write_leaves_nothing(stocked, where):
    before = (
        Shipment.objects.count(),
        CopyEvent.objects.count(),
        list(Copy.objects.values_list("status", flat=True)),
        list(QueueEntry.objects.values_list("id", "position")),
    )
    with pytest.raises(RuntimeError, match="injected"):
        run_dispatch(timezone.localdate(), fail_after=where)
    after = (
        Shipment.objects.count(),
        CopyEvent.objects.count(),
        list(Copy.objects.values_list("status", flat=True)),
        list(QueueEntry.objects.values_list("id", "position")),
    )
    assert after == before
    assert not DispatchRun.objects.exists()
    assert run_dispatch(timezone.localdate()).figures["shipments"] == 4


def test_who_is_left_out(stocked):
    w = stocked
    today = timezone.localdate()
    membership.place_hold(w.bob, today, today + dt.timedelta(days=7))
    membership.set_status(w.alice, "past_due")
    inst = gather(today).instance
    assert inst.n_members == 0


def test_incident_closes_a_dc_and_members_are_served_elsewhere(stocked):
    w = stocked
    today = timezone.localdate()
    Incident.objects.create(
        dc=w.ewr, starts_on=today, ends_on=today + dt.timedelta(days=3), reason="power outage"
    )
    run = run_dispatch(today)
    # EWR ships nothing; Alice (NYC) still gets Film 2 from SJC (5 days), Bob gets Film 5.
    assert set(Shipment.objects.values_list("dc__code", flat=True)) == {"SJC"}
    assert run.figures["shipments"] == 2


def test_series_order_respected(world):
    w = world
    for t in (w.discs[1], w.discs[0]):  # disc 2 queued above disc 1
        queues.add_to_queue(w.alice, t)
    for t in w.discs[:2]:
        w.new_copy(t, w.ewr)
    run_dispatch(timezone.localdate())
    assert list(Shipment.objects.values_list("title__name", flat=True)) == [w.discs[0].name]


def test_per_dc_run_uses_only_that_dc(stocked):
    run = run_dispatch(timezone.localdate(), stocked.sjc)
    assert run.scope == "SJC"
    assert set(Shipment.objects.values_list("dc__code", flat=True)) == {"SJC"}


def test_pick_lists_labels_and_emails(
    stocked, tmp_path, settings, mailoutbox, django_capture_on_commit_callbacks
):
    from pypdf import PdfReader

    from redenvelope.fulfillment.documents import write_run_documents

    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        run = run_dispatch(timezone.localdate())
    paths = write_run_documents(run)
    assert sorted(p.name for p in paths) == [
        "EWR-labels.pdf",
        "EWR-picklist.pdf",
        "SJC-labels.pdf",
        "SJC-picklist.pdf",
    ]
    text = (
        PdfReader(str(tmp_path / "runs" / str(run.run_date) / "ALL" / "EWR-picklist.pdf"))
        .pages[0]
        .extract_text()
    )
    assert text.index("Film 0") < text.index("Film 1")  # shelf order
    labels = PdfReader(str(paths[0].parent / "SJC-labels.pdf")).pages[0].extract_text()
    assert "Bob Tester" in labels and "94105" in labels
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]
    assert "Film 5" in next(m.body for m in mailoutbox if m.to == ["bob@example.com"])


def test_code128_matches_reportlab_for_our_barcodes():
    from reportlab.graphics.barcode import code128

    from redenvelope.fulfillment.documents import code128_symbols
    from redenvelope.inventory.barcodes import make_barcode

    for serial in (1, 41652, 999_999_999, 123_456_789):
        value = make_barcode(serial)
        ref = code128.Code128(value)
        ref.validate()
        assert code128_symbols(value) == ref.encode()


def test_queues_keep_their_order_when_middle_titles_ship_and_saved_titles_arrive(world):
    w = world
    for t in (w.films[4], w.films[0], w.films[5], w.films[1]):  # 4 and 5 have no copies
        queues.add_to_queue(w.alice, t)
    queues.save_title(w.alice, w.unreleased)
    w.new_copy(w.films[0], w.ewr)
    w.new_copy(w.films[1], w.ewr)
    run_dispatch(timezone.localdate(), notify=False)
    assert [(e.title.name, e.rank) for e in queue_of(w.alice.pk)] == [("Film 4", 1), ("Film 5", 2)]
    assert [r for r in run_checks() if not r.ok] == []
    from redenvelope.core import clock

    with clock.frozen(dt.datetime.combine(w.unreleased.release_date, dt.time(12))):
        queues.release_saved_titles()
        assert [(e.title.name, e.rank) for e in queue_of(w.alice.pk)] == [
            ("Coming Soon", 1),
            ("Film 4", 2),
            ("Film 5", 3),
        ]
        assert [r for r in run_checks() if not r.ok] == []
    queues.move_in_queue(w.alice, w.films[5], 1)  # member edits renumber 1..n
    assert list(
        QueueEntry.objects.filter(member=w.alice)
        .order_by("position")
        .values_list("position", flat=True)
    ) == [1, 2, 3]


def test_label_barcodes_scan_back(stocked, tmp_path, settings):
    """Render the labels and read every Code 128 back with a real decoder (zbar)."""
    import shutil
    import subprocess

    from redenvelope.fulfillment.documents import write_run_documents

    if not (shutil.which("pdftoppm") and shutil.which("zbarimg")):
        pytest.skip("needs poppler-utils and zbar-tools (make test installs them)")
    settings.MEDIA_ROOT = tmp_path
    run = run_dispatch(timezone.localdate(), notify=False)
    paths = [p for p in write_run_documents(run) if p.name.endswith("labels.pdf")]
    read = set()
    for path in paths:
        subprocess.run(
            ["pdftoppm", "-png", "-r", "200", str(path), str(tmp_path / path.stem)], check=True
        )
        for png in tmp_path.glob(f"{path.stem}*.png"):
            out = subprocess.run(["zbarimg", "-q", str(png)], capture_output=True, text=True)
            read |= {line.split(":", 1)[1] for line in out.stdout.split()}
    shipped = set(Shipment.objects.values_list("copy__barcode", flat=True))
    assert read == shipped and len(shipped) == 4


def test_documents_drawn_while_writing_match_the_recorded_run(
    stocked, tmp_path, settings, monkeypatch
):
    """The pick lists and labels drawn from memory by forked workers during the write are the
    ones drawn again from the database afterwards."""
    from pypdf import PdfReader

    from redenvelope.fulfillment import documents

    settings.MEDIA_ROOT = tmp_path
    forked = []
    finish = documents.Renderer.finish

    def spy(self):
        forked.append(len(self.procs))
        return finish(self)

    monkeypatch.setattr(documents.Renderer, "finish", spy)
    monkeypatch.setattr(documents, "FORK_ABOVE", 0)
    run = run_dispatch(timezone.localdate(), documents=True)
    assert forked and forked[0] >= 1  # drawn by forked processes
    monkeypatch.undo()
    folder = tmp_path / "runs" / str(run.run_date) / "ALL"
    assert sorted(p.name for p in run.documents) == sorted(p.name for p in folder.iterdir())
    drawn = {p.name: [pg.extract_text() for pg in PdfReader(str(p)).pages] for p in run.documents}
    again = documents.write_run_documents(run)
    redrawn = {p.name: [pg.extract_text() for pg in PdfReader(str(p)).pages] for p in again}
    assert drawn == redrawn
    assert "Bob Tester" in "".join(drawn["SJC-labels.pdf"])


def test_failed_run_leaves_no_documents(stocked, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(RuntimeError, match="injected"):
        run_dispatch(timezone.localdate(), documents=True, fail_after="shipments")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_big_dcs_documents_come_in_parts(stocked, tmp_path, settings, monkeypatch):
    from pypdf import PdfReader

    from redenvelope.fulfillment import documents

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(documents, "PART", 1)
    run = run_dispatch(timezone.localdate(), documents=True)
    names = sorted(p.name for p in run.documents)
    assert names == sorted(
        f"{dc}-{kind}-{part}.pdf"
        for dc in ("EWR", "SJC")
        for kind in ("labels", "picklist")
        for part in (1, 2)
    )
    text = PdfReader(str(run.documents[0].parent / "EWR-picklist-2.pdf")).pages[0].extract_text()
    assert "Part 2 of 2" in text


def test_queue_changed_after_reading_stops_the_run(stocked, monkeypatch):
    """A member reorders their queue between the read and the write: the run records nothing
    rather than renumber a queue it no longer knows."""
    from redenvelope.core.errors import Conflict
    from redenvelope.fulfillment import dispatch

    w = stocked
    real = dispatch.gather

    def gather_then_reorder(day, dc=None):
        got = real(day, dc)
        queues.move_in_queue(w.alice, w.films[3], 1)
        return got

    monkeypatch.setattr(dispatch, "gather", gather_then_reorder)
    with pytest.raises(Conflict):
        run_dispatch(timezone.localdate())
    assert not Shipment.objects.exists() and not DispatchRun.objects.exists()


def test_a_title_out_with_the_member_is_not_sent_again(stocked):
    from redenvelope.fulfillment.actions import ship_copy

    w = stocked
    ship_copy(w.bob, w.new_copy(w.films[0], w.sjc))  # Film 0 goes out to Bob ...
    QueueEntry.objects.create(member=w.bob, title=w.films[0], position=0)  # ... and is queued
    w.new_copy(w.films[0], w.sjc)
    run_dispatch(timezone.localdate())
    assert Shipment.objects.filter(member=w.bob, title=w.films[0]).count() == 1


def test_reads_over_other_connections_outside_a_transaction(
    transactional_db, stocked, tmp_path, settings, monkeypatch
):
    """On PostgreSQL outside a transaction, queues are read over two connections at once and
    the labels' addresses over a third while the engine solves: the same run as one read."""
    from pypdf import PdfReader

    from redenvelope.fulfillment import dispatch

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(dispatch, "PARALLEL_ABOVE", 0)
    run = run_dispatch(timezone.localdate(), documents=True)
    assert run.figures["shipments"] == 4
    got = set(Shipment.objects.values_list("member__user__username", "title__name"))
    assert got == {("alice", "Film 0"), ("alice", "Film 1"), ("alice", "Film 2"), ("bob", "Film 5")}
    labels = PdfReader(str(run.documents[0].parent / "SJC-labels.pdf")).pages[0].extract_text()
    assert "Bob Tester" in labels


def test_dispatch_run_from_the_cli(stocked, tmp_path, settings, monkeypatch):
    from typer.testing import CliRunner

    from redenvelope.cli import app
    from redenvelope.fulfillment import dispatch

    settings.MEDIA_ROOT = tmp_path
    runner = CliRunner()
    real = dispatch.gather

    def gather_then_reorder(day, dc=None):
        got = real(day, dc)
        queues.move_in_queue(stocked.alice, stocked.films[3], 1)
        return got

    monkeypatch.setattr(dispatch, "gather", gather_then_reorder)
    day = str(timezone.localdate())
    result = runner.invoke(app, ["dispatch", "run", "--date", day])
    assert result.exit_code == 2, result.output
    assert "Nothing was recorded" in result.output and not Shipment.objects.exists()
    monkeypatch.undo()
    settings.MEDIA_ROOT = tmp_path
    result = runner.invoke(app, ["dispatch", "run", "--date", day])
    assert result.exit_code == 0, result.output
    assert "shipments" in result.output and "4 PDFs" in result.output
    shipped = Shipment.objects.count()
    assert shipped >= 3
    again = runner.invoke(app, ["dispatch", "run", "--date", day])
    assert again.exit_code == 0 and Shipment.objects.count() == shipped
