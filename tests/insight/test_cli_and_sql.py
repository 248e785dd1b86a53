"""Insight from the command line (refresh, export, the planner's questions and refusals) and the
read-only SQL role a BI tool uses."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from django.db import connection
from typer.testing import CliRunner

from redenvelope.cli import app
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.insight.reporting import VIEWS
from redenvelope.insight.sqlrole import grant_readonly
from redenvelope.queues.actions import add_to_queue

runner = CliRunner()


def _day(world):
    for f in world.films[:3]:
        add_to_queue(world.alice, f)
        world.new_copy(f)
    run_dispatch(world.today, notify=False)


def test_refresh_and_export_every_chart(world, tmp_path):
    _day(world)
    r = runner.invoke(app, ["insight", "refresh"])
    assert r.exit_code == 0 and "ship" in r.output
    r = runner.invoke(app, ["insight", "export", str(tmp_path), "--from", str(world.today)])
    assert r.exit_code == 0, r.output
    table = pq.read_table(tmp_path / "shipments.parquet")
    assert table.column("shipped").to_pylist() == [3]
    assert (tmp_path / "cohorts.csv").read_text().startswith("months since joining")
    bad = runner.invoke(app, ["insight", "export", str(tmp_path), "--from", "2026-13-01"])
    assert bad.exit_code == 2


def test_plan_questions_and_refusals(world):
    _day(world)
    r = runner.invoke(app, ["plan", "baseline", "--days", "3", "--seeds", "1"])
    assert r.exit_code == 0 and "next day" in r.output, r.output
    assert runner.invoke(app, ["plan", "baseline", "--seeds", "x"]).exit_code == 2
    assert runner.invoke(app, ["plan", "stock", "--depths", "0"]).exit_code == 2
    r = runner.invoke(app, ["plan", "release", "999999", "--days", "2", "--seeds", "1"])
    assert r.exit_code == 2 and "No title" in r.output
    r = runner.invoke(app, ["plan", "staffing", "--days", "2", "--seeds", "1"])
    assert r.exit_code == 0 and "EWR" in r.output
    r = runner.invoke(
        app,
        ["plan", "rebalance", "--days", "2", "--seeds", "1", "--apply", "--staff", "staff_finance"],
    )
    assert r.exit_code == 2  # finance may not move copies


def test_read_only_role_reads_the_views_and_nothing_else(world):
    if connection.vendor != "postgresql":
        with pytest.raises(DomainError):
            grant_readonly("redenvelope_reader")
        return
    with pytest.raises(DomainError):
        grant_readonly("Robert'); DROP TABLE x;--")
    lines = grant_readonly("redenvelope_reader_t")
    assert any("reporting views" in x for x in lines)
    from django.db import transaction

    with connection.cursor() as cur:
        for view in VIEWS:
            with transaction.atomic():
                cur.execute("SET LOCAL ROLE redenvelope_reader_t")
                cur.execute(f"SELECT COUNT(*) FROM {view}")  # noqa: S608
        with pytest.raises(Exception, match="permission denied"), transaction.atomic():
            cur.execute("SET LOCAL ROLE redenvelope_reader_t")
            cur.execute("SELECT COUNT(*) FROM membership_member")


@pytest.mark.django_db(transaction=True)
def test_a_migration_may_change_a_table_the_views_read():
    """SQLite rebuilds a table to change it, PostgreSQL refuses to retype a column a view reads:
    every migrate sets the views aside first and puts them back after."""
    from django.apps import apps
    from django.db import models
    from django.db.models.signals import post_migrate, pre_migrate

    from redenvelope.membership.models import Plan

    pg = connection.vendor == "postgresql"
    if pg:
        grant_readonly("redenvelope_reader_m")
    cfg = apps.get_app_config("insight")
    old = Plan._meta.get_field("name")
    wider = models.CharField(max_length=150)
    wider.set_attributes_from_name("name")
    wider.model = Plan
    for a, b in ((old, wider), (wider, old)):
        pre_migrate.send(sender=cfg, app_config=cfg, verbosity=0, interactive=False,
                         using="default", plan=[("change", False)], apps=apps)  # fmt: skip
        with connection.schema_editor() as editor:
            editor.alter_field(Plan, a, b)
        post_migrate.send(sender=cfg, app_config=cfg, verbosity=0, interactive=False,
                          using="default", plan=[], apps=apps)  # fmt: skip
    from django.db import transaction

    with connection.cursor() as cur:
        for view in VIEWS:
            with transaction.atomic():
                if pg:  # the BI role's grants came back with the views
                    cur.execute("SET LOCAL ROLE redenvelope_reader_m")
                cur.execute(f"SELECT COUNT(*) FROM {view}")  # noqa: S608
