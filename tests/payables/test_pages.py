"""The payables and licenses pages: each role sees what it may, and every change goes through
the actions (receiving at the desk, recording, approving and paying bills, avails upload)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from redenvelope.core import clock
from redenvelope.payables import actions as payables
from redenvelope.payables import reports
from redenvelope.payables.models import Bill, PaymentRun
from redenvelope.rights import actions as rights
from redenvelope.rights.models import AvailsImport, LicenseWindow

from .test_purchasing_and_ap import clean


def login(client, world, role):
    client.force_login(world.staff[role])
    return client


@pytest.fixture
def order(world, distributor):
    po = payables.create_order(distributor, world.ewr, [(world.films[0], 3, 1500)])
    payables.send_order(po)
    return po


def test_who_sees_what(client, world, order):
    client.force_login(world.alice.user)
    for url in ("/payables/", "/rights/", "/payables/plan/", f"/payables/orders/{order.pk}/",
                "/payables/reports/ap-aging/", "/rights/avails.csv"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    login(client, world, "warehouse")
    assert client.get("/payables/").status_code == 403
    assert client.get("/payables/receiving/").status_code == 200
    page = client.get(f"/payables/orders/{order.pk}/").content.decode()
    assert "Receive" in page and "Record the vendor" not in page
    login(client, world, "support_agent")
    assert client.get("/rights/").status_code == 403
    assert client.get(f"/payables/orders/{order.pk}/").status_code == 403


def test_receive_bill_approve_pay_through_the_pages(client, world, order):
    line = order.lines.get()
    wh = login(client, world, "warehouse")
    r = wh.post(f"/payables/orders/{order.pk}/", {"action": "receive", "line": line.pk,
                                                  "quantity": "2", "key": "k1"})  # fmt: skip
    assert r.status_code == 302
    wh.post(f"/payables/orders/{order.pk}/", {"action": "receive", "line": line.pk,
                                              "quantity": "2", "key": "k1"})  # fmt: skip
    line.refresh_from_db()
    assert line.received == 2  # the double submit received once
    # The warehouse cannot record bills.
    wh.post(f"/payables/orders/{order.pk}/", {"action": "bill", "number": "X", f"qty-{line.pk}": 2})
    assert not Bill.objects.exists()

    fin = login(client, world, "finance")
    r = fin.post(f"/payables/orders/{order.pk}/", {"action": "bill", "number": "INV-9",
                                                   f"qty-{line.pk}": "3"}, follow=True)  # fmt: skip
    assert "only 2 received and not yet billed" in r.content.decode()
    fin.post(f"/payables/orders/{order.pk}/", {"action": "bill", "number": "INV-9",
                                               f"qty-{line.pk}": "2"})  # fmt: skip
    bill = Bill.objects.get(number="INV-9")
    assert bill.total_cents == 3000
    r = fin.post("/payables/do/", {"action": "pay", "bill": [bill.pk]}, follow=True)
    assert "not approved" in r.content.decode()
    fin.post("/payables/do/", {"action": "approve", "id": bill.pk})
    fin.post("/payables/do/", {"action": "pay", "bill": [bill.pk]})
    run = PaymentRun.objects.get()
    f = fin.get(f"/payables/runs/{run.pk}/file/")
    assert f.status_code == 200 and b"pain.001.001.03" in f.content
    assert "attachment" in f["Content-Disposition"]
    clean()


def test_avails_upload_and_reports(client, world):
    fin = login(client, world, "finance")
    header = "Territory,LicenseType,FormatProfile,Start,End,ContentID\n"
    good = f"US,DVD,HD,2026-01-01,2030-01-01,{world.films[1].pk}\n"
    bad = f"QQ,SVOD,HD,2026-01-01,2030-01-01,{world.films[2].pk}\n"
    upload = SimpleUploadedFile("studio.csv", (header + good + bad).encode())
    r = fin.post("/rights/", {"file": upload, "mode": "all"}, follow=True)
    page = r.content.decode()
    assert "unknown territory code &#x27;QQ&#x27;" in page and "Nothing was imported" in page
    assert not LicenseWindow.objects.exists()
    upload = SimpleUploadedFile("studio.csv", (header + good + bad).encode())
    fin.post("/rights/", {"file": upload, "mode": "valid"})
    assert LicenseWindow.objects.filter(kind="dvd").count() == 1
    assert AvailsImport.objects.count() == 2
    assert b"studio.csv" in fin.get("/rights/").content
    assert fin.get("/rights/avails.xlsx").status_code == 200
    assert b"DVD" in fin.get("/rights/avails.csv").content

    studio = rights.add_licensor("Paragon")
    deal = rights.add_contract(studio, reference="P-1", name="Lib", territories="US",
                               starts_on=clock.today() - dt.timedelta(days=5),
                               ends_on=clock.today() + dt.timedelta(days=20),
                               per_rental_cents=10, titles=[world.films[1]])  # fmt: skip
    rights.add_window(world.films[1], territories="US", starts_at=clock.now(), contract=deal,
                      ends_at=clock.now() + dt.timedelta(days=19))  # fmt: skip
    fin.post(f"/rights/contracts/{deal.pk}/", {"per_rental_cents": "0.25", "reason": "uplift"})
    deal.refresh_from_db()
    assert deal.version == 2 and deal.per_rental_cents == 25
    ops = login(client, world, "operations")
    ops.post(f"/rights/contracts/{deal.pk}/", {"per_rental_cents": "0.50", "reason": "x"})
    deal.refresh_from_db()
    assert deal.per_rental_cents == 25  # operations reads, finance amends
    fin = login(client, world, "finance")
    for name in reports.REPORTS:
        r = fin.get(f"/payables/reports/{name}/")
        assert r.status_code == 200, name
        csv = fin.get(f"/payables/reports/{name}/?format=csv")
        assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "P-1" in fin.get("/payables/reports/expiring/").content.decode()


def test_overview_shows_budget_spent_and_payment_schedule(client, world):
    crew = payables.add_vendor("Grip", kind="production", account_number="12345678",
                               routing_number="011000015")  # fmt: skip
    prod = payables.add_production("Envelope", budget={"Crew": 1_000})
    b = payables.record_bill(crew, number="G1", kind="production", production=prod,
                             lines=[{"amount_cents": 1_500, "budget_line": "Crew"}])  # fmt: skip
    payables.approve_bill(b)
    payables.add_placement(prod, brand="FizzCo", scene="Ep 1", deliverables=[("Can", 700)],
                           schedule=[(clock.today(), 300), (clock.today(), 400)])  # fmt: skip
    page = login(client, world, "finance").get("/payables/").content.decode()
    assert "Crew: $15.00 of $10.00 <strong>(over)</strong>" in page
    assert "Payment schedule: $3.00 on" in page
