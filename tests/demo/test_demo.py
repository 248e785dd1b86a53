import datetime as dt

import pytest
from django.core.management import call_command
from typer.testing import CliRunner

from redenvelope.catalog.models import Title
from redenvelope.checks import run_checks
from redenvelope.cli import app
from redenvelope.core.errors import DomainError
from redenvelope.demo import build_demo
from redenvelope.fulfillment.models import Shipment
from redenvelope.inventory.models import Copy
from redenvelope.membership.models import Member
from redenvelope.queues.models import QueueEntry, SavedEntry

DAY = dt.date(2026, 11, 2)


def snapshot():
    return {
        "titles": list(
            Title.objects.order_by("name", "year").values_list(
                "name", "year", "release_date", "popularity", "series__name", "season"
            )
        ),
        "copies": list(
            Copy.objects.order_by("barcode").values_list(
                "barcode", "title__name", "dc__code", "status", "format"
            )
        ),
        "members": list(
            Member.objects.order_by("user__username").values_list(
                "user__username", "plan__code", "status", "zip_code", "region__zip3"
            )
        ),
        "queues": list(
            QueueEntry.objects.order_by("member__user__username", "position").values_list(
                "member__user__username", "position", "title__name"
            )
        ),
        "out": list(
            Shipment.objects.order_by("copy__barcode").values_list(
                "copy__barcode", "member__user__username", "dc__code"
            )
        ),
    }


@pytest.mark.django_db(transaction=True)  # flushes between the two builds
def test_demo_business_is_believable_clean_and_repeatable():
    report = build_demo(members=400, seed=7, n_films=300, today=DAY)
    assert report.counts["members"] == 400 and report.counts["DCs"] >= 5
    assert [r for r in run_checks() if not r.ok] == []
    # Plans from 1 to 8 discs, several series, new releases at the top of queues, saved lists.
    assert set(Member.objects.values_list("plan__discs_at_once", flat=True)) >= {1, 2, 3, 4}
    assert Title.objects.exclude(series=None).values("series").distinct().count() >= 5
    assert SavedEntry.objects.exists() and Shipment.objects.exists()
    tops = QueueEntry.objects.filter(position=1).values_list("title__release_date", flat=True)
    recent = sum(1 for d in tops if d >= DAY - dt.timedelta(days=60))
    assert recent > len(tops) / 3
    # Popular titles have more copies.
    top, bottom = (
        Title.objects.filter(series=None).order_by("-popularity")[0],
        Title.objects.filter(series=None).order_by("popularity")[0],
    )
    assert top.copies.count() > bottom.copies.count()
    first = snapshot()
    with pytest.raises(DomainError, match="empty"):
        build_demo(members=10, seed=7, n_films=50, today=DAY)

    call_command("flush", interactive=False, verbosity=0)
    build_demo(members=400, seed=7, n_films=300, today=DAY)
    assert snapshot() == first


@pytest.mark.django_db
def test_synthetic_catalog_fallback():
    report = build_demo(members=50, seed=3, n_films=60, catalog="synthetic", today=DAY)
    assert report.source == "synthetic"
    assert [r for r in run_checks() if not r.ok] == []


@pytest.mark.django_db
def test_check_reports_broken_invariants():
    build_demo(members=60, seed=5, n_films=80, catalog="synthetic", today=DAY)
    runner = CliRunner()
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    copy = Copy.objects.filter(status="on_shelf").first()
    Copy.objects.filter(pk=copy.pk).update(status="shipped")  # behind the actions' back
    from django.db.models import Count

    from redenvelope.membership.models import Plan

    busy = (
        Shipment.objects.filter(status="open")
        .values("member")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .order_by("member")
        .first()
    )
    Member.objects.filter(pk=busy["member"]).update(plan=Plan.objects.get(code="1-unlimited"))
    bad = {r.name for r in run_checks() if not r.ok}
    assert bad == {"copy_status", "one_place", "disc_limit"}
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "disc_limit" in result.output and "copy_status" in result.output
