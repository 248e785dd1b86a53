"""Finance runs payables from the command line: avails in and out, statements, payment runs,
amortisation; bad rows and refusals print a clear line and exit non-zero."""

import datetime as dt

from typer.testing import CliRunner

from redenvelope.cli import app
from redenvelope.core import clock
from redenvelope.payables import actions as payables
from redenvelope.payables.models import PaymentRun
from redenvelope.rights.models import AvailsImport, LicenseWindow

runner = CliRunner()


def test_avails_round_trip_and_bad_rows(world, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "Territory,LicenseType,FormatProfile,Start,End,ContentID\n"
        f"US,SVOD,HD,2026-01-01,2028-01-01,{world.films[0].pk}\n"
        f"XX,SVOD,HD,2026-01-01,2028-01-01,{world.films[1].pk}\n"
    )
    fin = "staff_finance"
    r = runner.invoke(app, ["rights", "avails-import", str(src), "--staff", fin])
    assert r.exit_code == 1 and "line 3: unknown territory code 'XX'" in r.output
    assert "nothing imported" in r.output and not LicenseWindow.objects.exists()
    r = runner.invoke(app, ["rights", "avails-import", str(src), "--staff", fin, "--mode", "valid"])
    assert r.exit_code == 1 and LicenseWindow.objects.count() == 1
    assert AvailsImport.objects.latest("at").by.username == fin
    r = runner.invoke(app, ["rights", "avails-import", str(src), "--staff", "staff_warehouse"])
    assert r.exit_code == 2
    out = tmp_path / "out.xlsx"
    assert runner.invoke(app, ["rights", "avails-export", str(out)]).exit_code == 0
    assert out.read_bytes()[:2] == b"PK"


def test_statements_pay_run_and_amortise(world, tmp_path, distributor):
    fin = "staff_finance"
    last = (clock.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    r = runner.invoke(app, ["payables", "statements", last, "--staff", fin])
    assert r.exit_code == 0 and "0 statement(s)" in r.output
    r = runner.invoke(app, ["payables", "statements", clock.today().strftime("%Y-%m"),
                            "--staff", fin])  # fmt: skip
    assert r.exit_code == 2 and "has not ended" in r.output
    po = payables.create_order(distributor, world.ewr, [(world.films[0], 2, 700)])
    payables.send_order(po)
    line = po.lines.get()
    payables.receive(line, quantity=2)
    bill = payables.record_bill(distributor, number="Z1", kind="goods", order=po,
                                lines=[{"order_line": line.pk, "quantity": 2,
                                        "amount_cents": 1400}])  # fmt: skip
    payables.approve_bill(bill)
    xml = tmp_path / "run.xml"
    r = runner.invoke(app, ["payables", "pay-run", "--staff", fin, "--out", str(xml)])
    assert r.exit_code == 0 and "1 bill(s), 14.00" in r.output, r.output
    assert "<CtrlSum>14.00</CtrlSum>" in xml.read_text()
    assert PaymentRun.objects.count() == 1
    r = runner.invoke(app, ["payables", "amortise", last, "--staff", fin])
    assert r.exit_code == 0 and "Nothing to book" in r.output
    assert runner.invoke(app, ["payables", "plan"]).exit_code == 0
