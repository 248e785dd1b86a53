"""Disc purchasing (orders, receiving at the DC, three-way matched bills) and accounts payable
(approval, a payment run as a pain.001 file), with the ledger balanced after each step."""

import datetime as dt
from xml.etree import ElementTree as ET

import pytest

from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.inventory.models import Copy, CopyEvent
from redenvelope.ledger.models import JournalEntry, JournalLine
from redenvelope.ledger.queries import trial_balance
from redenvelope.payables import actions as payables
from redenvelope.payables import bankfile
from redenvelope.payables.models import Bill, PurchaseOrder


def balance(code: str) -> int:
    """Debits less credits on an account, in cents."""
    from django.db.models import Sum

    from redenvelope.ledger.money import to_cents

    s = JournalLine.objects.filter(account__code=code).aggregate(d=Sum("debit"), c=Sum("credit"))
    return to_cents((s["d"] or 0) - (s["c"] or 0))


def clean():
    assert trial_balance().balanced
    bad = [r for r in run_checks() if not r.ok]
    assert not bad, bad


def test_bank_details_are_checked(world):
    assert bankfile.iban_ok("DE89370400440532013000")
    assert not bankfile.iban_ok("DE89370400440532013001")
    assert bankfile.aba_ok("011000015") and not bankfile.aba_ok("011000016")
    with pytest.raises(DomainError, match="IBAN .* fails its check digits"):
        payables.add_vendor("Bad Bank", kind="other", iban="DE00370400440532013000")
    with pytest.raises(DomainError, match="ABA checksum"):
        payables.add_vendor("Bad Route", kind="other", account_number="1234", routing_number="1")
    with pytest.raises(DomainError, match="both an account and a routing"):
        payables.add_vendor("Half", kind="other", account_number="12345678")


def test_order_receive_bill_approve_pay(world, distributor):
    fin, wh = world.staff["finance"], world.staff["warehouse"]
    film, other = world.films[0], world.films[1]
    po = payables.create_order(
        distributor, world.ewr, [(film, 5, 1299), (other, 2, 999)], actor=fin
    )
    with pytest.raises(Conflict, match="only a sent order is received"):
        payables.receive(po.lines.first(), quantity=1, actor=wh)
    payables.send_order(po, actor=fin)
    first, second = po.lines.order_by("id")
    r = payables.receive(first, quantity=3, actor=wh, idempotency_key="desk-1")
    assert payables.receive(first, quantity=3, actor=wh, idempotency_key="desk-1") == r  # retry
    copies = Copy.objects.filter(barcode__in=r.barcodes.split())
    assert copies.count() == 3 and {c.dc_id for c in copies} == {world.ewr.pk}
    events = CopyEvent.objects.filter(copy__in=copies, kind="received")
    assert {e.ref for e in events} == {f"receipt:{r.pk}"}
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.PARTIAL
    with pytest.raises(Conflict, match="only 2 still expected"):
        payables.receive(first, quantity=3, actor=wh)

    # Three-way match: billing more than was received, or goods never received, is refused.
    with pytest.raises(Conflict, match="none of the 2 ordered has been received"):
        payables.record_bill(
            distributor, number="INV-1", kind="goods", order=po,
            lines=[{"order_line": second.pk, "quantity": 2, "amount_cents": 1998}],
        )  # fmt: skip
    with pytest.raises(Conflict, match="only 3 received and not yet billed"):
        payables.record_bill(
            distributor, number="INV-1", kind="goods", order=po,
            lines=[{"order_line": first.pk, "quantity": 4, "amount_cents": 4 * 1299}],
        )  # fmt: skip
    with pytest.raises(DomainError, match="not 30.00"):
        payables.record_bill(
            distributor, number="INV-1", kind="goods", order=po,
            lines=[{"order_line": first.pk, "quantity": 3, "amount_cents": 3000}],
        )  # fmt: skip
    with pytest.raises(DomainError, match="names the purchase order"):
        payables.record_bill(distributor, number="INV-1", kind="goods",
                             lines=[{"amount_cents": 100}])  # fmt: skip
    assert not Bill.objects.exists()

    bill = payables.record_bill(
        distributor, number="INV-1", kind="goods", order=po, actor=fin,
        lines=[{"order_line": first.pk, "quantity": 3, "amount_cents": 3 * 1299}],
    )  # fmt: skip
    first.refresh_from_db()
    assert first.billed == 3
    with pytest.raises(Conflict, match="already recorded"):
        payables.record_bill(distributor, number="INV-1", kind="goods", order=po,
                             lines=[{"order_line": first.pk, "amount_cents": 1299}])  # fmt: skip

    # A payment run with an unapproved bill pays nothing, and says which bill.
    with pytest.raises(Conflict, match=r"Ingram Discs bill INV-1 .* not approved"):
        payables.payment_run([bill], actor=fin)
    assert not JournalEntry.objects.filter(kind="ap_payment").exists()

    payables.approve_bill(bill, actor=fin)
    payables.approve_bill(bill, actor=fin)  # a double click
    assert balance("5500") == 3897 and balance("2500") == -3897
    clean()
    run = payables.payment_run([bill], actor=fin)
    bill.refresh_from_db()
    assert bill.status == Bill.Status.PAID and bill.payment_run == run
    assert balance("2500") == 0 and balance("1000") == -3897
    doc = ET.fromstring(run.file.split("\n", 1)[1])
    ns = {"p": bankfile.NS}
    assert doc.find(".//p:GrpHdr/p:NbOfTxs", ns).text == "1"
    assert doc.find(".//p:GrpHdr/p:CtrlSum", ns).text == "38.97"
    assert doc.find(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", ns).attrib["Ccy"] == "USD"
    assert doc.find(".//p:CdtrAgt//p:MmbId", ns).text == "011000015"
    assert doc.find(".//p:RmtInf/p:Ustrd", ns).text == "Invoice INV-1"
    with pytest.raises(Conflict, match="is paid, not approved"):
        payables.payment_run([bill], actor=fin)
    clean()


def test_void_frees_the_match_and_vendor_without_bank_cannot_be_paid(world):
    fin = world.staff["finance"]
    v = payables.add_vendor("No Bank Co", kind="distributor")
    po = payables.create_order(v, world.sjc, [(world.films[2], 2, 500)], actor=fin)
    payables.send_order(po)
    line = po.lines.get()
    payables.receive(line, quantity=2)
    twice = [{"order_line": line.pk, "quantity": 2, "amount_cents": 1000},
             {"order_line": line.pk, "quantity": 1, "amount_cents": 500}]  # fmt: skip
    with pytest.raises(Conflict, match="Line 2: 1 of .* only 0 received and not yet billed"):
        payables.record_bill(v, number="A", kind="goods", order=po, lines=twice)
    goods = [{"order_line": line.pk, "quantity": 2, "amount_cents": 1000}]
    b = payables.record_bill(v, number="A", kind="goods", order=po, lines=goods)
    with pytest.raises(DomainError, match="Say why"):
        payables.void_bill(b, actor=fin)
    payables.void_bill(b, actor=fin, reason="duplicate invoice")
    line.refresh_from_db()
    assert line.billed == 0
    goods = [{"order_line": line.pk, "quantity": 2, "amount_cents": 1000}]
    b2 = payables.record_bill(v, number="B", kind="goods", order=po, lines=goods)
    payables.approve_bill(b2, actor=fin)
    with pytest.raises(Conflict, match="no bank account"):
        payables.payment_run([b2], actor=fin)
    with pytest.raises(DomainError, match="in the past"):
        payables.payment_run([b2], pay_on=clock.today() - dt.timedelta(days=1))
    clean()


def test_buying_plan_formula():
    # 20 members want it, a copy comes back every 8 days: a 0-day target needs 20 copies, an
    # 8-day target (one cycle) 10, a 24-day target 5.
    assert payables.copies_for_wait(20, 8, 0) == 20
    assert payables.copies_for_wait(20, 8, 8) == 10
    assert payables.copies_for_wait(20, 8, 24) == 5
    assert payables.copies_for_wait(0, 8, 8) == 0
