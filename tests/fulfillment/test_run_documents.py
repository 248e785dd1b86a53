"""The warehouse downloads a run's pick lists and labels; other roles and members cannot."""

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.fulfillment.documents import write_run_documents
from tests.fulfillment.test_dispatch import stocked  # noqa: F401 (fixture)


def test_run_documents_are_served_to_the_warehouse_only(
    stocked,  # noqa: F811
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):  # documents move in after commit
        run = run_dispatch(timezone.localdate())
    write_run_documents(run)  # inside the test's transaction they are drawn on request
    warehouse = Client()
    warehouse.force_login(stocked.staff["warehouse"])
    listing = warehouse.get(reverse("run_documents", args=[run.pk]))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "EWR-picklist.pdf" in page and "SJC-labels.pdf" in page
    pdf = warehouse.get(reverse("run_document", args=[run.pk, "EWR-labels.pdf"]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    # Only the run's own documents, by exact name.
    for name in ("../../../settings.py", "EWR-labels.PDF", "nothing.pdf"):
        assert warehouse.get(f"/warehouse/runs/{run.pk}/{name}").status_code == 404
    for who in (stocked.staff["finance"], stocked.alice.user):
        other = Client()
        other.force_login(who)
        assert other.get(reverse("run_documents", args=[run.pk])).status_code == 403
        assert (
            other.get(reverse("run_document", args=[run.pk, "EWR-labels.pdf"])).status_code == 403
        )


def test_a_killed_runs_half_drawn_documents_are_swept(stocked, settings, tmp_path):  # noqa: F811
    import subprocess

    from redenvelope.fulfillment.documents import run_folder, sweep_partial

    settings.MEDIA_ROOT = tmp_path
    run = run_dispatch(timezone.localdate())
    folder = run_folder(run)
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process that no longer exists, as a run killed while drawing
    left = folder / f".partial-{dead.pid}-abc"
    left.mkdir()
    (left / "EWR-labels.pdf").write_bytes(b"%PDF half")
    mine = folder / ".partial-1-live"  # pid 1 is alive: a run still drawing is left alone
    mine.mkdir()
    write_run_documents(run)
    assert not left.exists() and mine.exists()
    assert sweep_partial(folder) == 0
    assert sorted(p.name for p in folder.glob("*.pdf")) == [
        "EWR-labels.pdf",
        "EWR-picklist.pdf",
        "SJC-labels.pdf",
        "SJC-picklist.pdf",
    ]
