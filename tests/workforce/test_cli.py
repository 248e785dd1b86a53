"""HR and operators from the command line: add an employee, scan a badge, read capacity, close a
pay period; refusals print one clear line and exit 2."""

import datetime as dt

from typer.testing import CliRunner

from redenvelope.cli import app
from redenvelope.core import clock
from redenvelope.workforce.models import Employee, PayrollRun

runner = CliRunner()


def test_workforce_commands(world, tmp_path):
    start = (clock.today() - dt.timedelta(days=30)).isoformat()
    add = ["workforce", "employee-add", "Pat Picker", "--job", "picker", "--dc", "EWR",
           "--badge", "B-P7", "--hourly", "19.50", "--starts", start]  # fmt: skip
    r = runner.invoke(app, [*add, "--staff", "staff_finance"])
    assert r.exit_code == 2 and "does not hold a role" in r.output
    r = runner.invoke(app, [*add, "--staff", "staff_hr"])
    assert r.exit_code == 0, r.output
    assert Employee.objects.get(badge="B-P7").rate_cents == 1950
    r = runner.invoke(app, ["workforce", "scan", "B-NOBODY", "--dc", "EWR"])
    assert r.exit_code == 2 and "nobody's" in r.output
    assert "clocked in" in runner.invoke(app, ["workforce", "scan", "b-p7"]).output
    assert "clocked out" in runner.invoke(app, ["workforce", "scan", "B-P7"]).output
    r = runner.invoke(app, ["workforce", "capacity", "--days", "1"])
    assert r.exit_code == 0 and "EWR" in r.output and "typed" in r.output
    end = clock.today() - dt.timedelta(days=1)
    out = tmp_path / "pay.csv"
    period = [(end - dt.timedelta(days=13)).isoformat(), end.isoformat()]
    r = runner.invoke(app, ["workforce", "payroll", *period, "--staff", "staff_hr",
                            "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert PayrollRun.objects.count() == 1 and out.read_text().startswith("employee_id,")
    r = runner.invoke(app, ["workforce", "payroll", *period, "--staff", "staff_hr"])
    assert r.exit_code == 2 and "that period is" in r.output
