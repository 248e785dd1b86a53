"""Operators keep license windows from the command line: add (overlaps refused and named), end
early (only shorter), list what expires; only operations and admins may."""

from __future__ import annotations

from typer.testing import CliRunner

from redenvelope.cli import app
from redenvelope.rights.models import LicenseWindow

runner = CliRunner()


def test_add_end_and_list_windows(world):
    film = world.films[0]
    ops = "staff_operations"
    add = ["rights", "add", str(film.pk), "--territories", "us,ca", "--from", "2026-01-01"]
    r = runner.invoke(app, [*add, "--to", "2027-01-01", "--staff", ops, "--note", "deal 7"])
    assert r.exit_code == 0, r.output
    w = LicenseWindow.objects.get(title=film)
    assert w.territories == "CA,US" and w.created_by.username == ops
    r = runner.invoke(app, [*add, "--staff", ops])  # overlaps the first in CA and US
    assert r.exit_code == 2 and f"window {w.pk}" in r.output
    r = runner.invoke(app, [*add, "--to", "2025-01-01", "--staff", ops])
    assert r.exit_code == 2 and "end after it starts" in r.output
    r = runner.invoke(app, [*add, "--staff", "staff_warehouse"])
    assert r.exit_code == 2 and "does not hold a role" in r.output
    r = runner.invoke(
        app, ["rights", "end", str(w.pk), "--on", "2027-06-01", "--staff", ops, "--note", "x"]
    )
    assert r.exit_code == 2 and "only shorten" in r.output
    end = ["rights", "end", str(w.pk), "--on", "2026-12-20", "--staff", ops, "--note", "lost it"]
    assert runner.invoke(app, end).exit_code == 0
    w.refresh_from_db()
    assert w.ends_at.date().isoformat() == "2026-12-20" and "lost it" in w.note
    assert LicenseWindow.objects.count() == 1
    r = runner.invoke(app, ["rights", "expiring", "--days", "3650"])
    assert r.exit_code == 0 and film.name[:20] in r.output
    r = runner.invoke(app, ["media", "encodes"])
    assert r.exit_code == 0 and "Encodes" in r.output
