"""The demo's content money: three licensors with contracts over the titles members rent most
(a revenue share with a minimum guarantee paid in advance, a monthly flat fee, a disc-only deal
ending within the month), disc-rental windows under them, one title whose disc window has just
closed (the next dispatch skips it), a sample avails file with a few bad rows to import, a disc
distributor with a purchase order waiting at a DC's desk and bills to approve and pay, last
month's revenue-share statements, an original with its costs, amortisation and a product
placement deal. Run after `simulate` (it reads what was rented)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count

from redenvelope.core import clock
from redenvelope.fulfillment.models import Shipment
from redenvelope.inventory.models import Copy, CopyStatus, DistributionCenter
from redenvelope.payables import actions as payables
from redenvelope.payables.models import Vendor
from redenvelope.rights import actions as rights
from redenvelope.rights import avails
from redenvelope.rights.models import Licensor

SAMPLE_AVAILS = "avails-sample.xlsx"


def seed_payables() -> dict:
    if Licensor.objects.exists():
        return {"skipped": "payables are seeded already"}
    finance = get_user_model().objects.get(username="finance")
    today = clock.today()
    now = clock.now()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    rented = list(
        Shipment.objects.values("title_id")
        .annotate(n=Count("id"))
        .order_by("-n", "title_id")
        .values_list("title_id", flat=True)[:60]
    )
    if len(rented) < 20:
        return {"skipped": "run simulate first (too few rentals to license)"}
    start = last_month - dt.timedelta(days=180)

    paragon = rights.add_licensor("Paragon Pictures", email="rights@paragon.example")
    northwind = rights.add_licensor("Northwind Studios", country="CA", email="ar@northwind.example")
    harbor = rights.add_licensor("Harbor Home Video", email="billing@harbor.example")
    par = rights.add_contract(
        paragon, reference="PAR-2026-LIB", name="Paragon library, disc and streaming",
        territories="US,CA", starts_on=start, ends_on=today + dt.timedelta(days=365),
        per_rental_cents=35, per_stream_cents=12, minimum_guarantee_cents=250_000,
        titles=rented[:20], actor=finance,
    )  # fmt: skip
    nw = rights.add_contract(
        northwind, reference="NW-OUTPUT-26", name="Northwind output deal",
        territories="US", starts_on=start, ends_on=today + dt.timedelta(days=60),
        flat_fee_cents=150_000, flat_fee_every="month", per_stream_cents=8,
        titles=rented[20:35], actor=finance,
    )  # fmt: skip
    hb = rights.add_contract(
        harbor, reference="HB-DVD-9", name="Harbor disc rental",
        territories="US", starts_on=start, ends_on=today + dt.timedelta(days=20),
        per_rental_cents=50, titles=rented[35:50], actor=finance,
    )  # fmt: skip
    rights.amend_contract(par, reason="uplift for new releases", per_rental_cents=40, actor=finance)
    windows = 0
    opened = dt.datetime.combine(start, dt.time(), tzinfo=now.tzinfo)
    for deal, titles in ((par, rented[:20]), (nw, rented[20:35]), (hb, rented[35:50])):
        closes = dt.datetime.combine(deal.ends_on, dt.time(), tzinfo=now.tzinfo)
        for t in titles:
            rights.add_window(t, territories="US", kind="dvd", starts_at=opened, ends_at=closes,
                              contract=deal, actor=finance, note="demo")  # fmt: skip
            windows += 1
    # One title's disc window has closed (the studio pulled it): it no longer ships.
    pulled = rented[50]
    rights.add_window(
        pulled, territories="US", kind="dvd", starts_at=opened,
        ends_at=dt.datetime.combine(today, dt.time(), tzinfo=now.tzinfo), actor=finance,
        note="pulled by the studio",
    )  # fmt: skip
    _sample_avails(rented[51:60])

    for lic in (paragon, northwind, harbor):
        payables.set_bank_account(
            payables.vendor_for_licensor(lic), account_number="4400123456",
            routing_number="026009593",
        )  # fmt: skip
    payables.bill_advance(par, actor=finance)
    statements = payables.run_statements(last_month, actor=finance)

    ingram = payables.add_vendor(
        "Ingram Disc Supply", kind="distributor", email="orders@ingram.example",
        account_number="998877665", routing_number="011000015", terms_days=30,
    )  # fmt: skip
    dcs = list(DistributionCenter.objects.order_by("id")[:2])
    top = rented[:3]
    waiting = payables.create_order(
        ingram, dcs[0], [(t, 4, 1299) for t in top], actor=finance, note="new-release top-up",
        expected_on=today + dt.timedelta(days=1),
    )  # fmt: skip
    payables.send_order(waiting, actor=finance)
    received = payables.create_order(ingram, dcs[-1], [(top[0], 6, 1249)], actor=finance)
    payables.send_order(received, actor=finance)
    line = received.lines.get()
    warehouse = get_user_model().objects.get(username="warehouse")
    payables.receive(line, quantity=6, actor=warehouse)
    goods = payables.record_bill(
        ingram, number="ING-20931", kind="goods", order=received, actor=finance,
        lines=[{"order_line": line.pk, "quantity": 4, "amount_cents": 4 * 1249}],
    )  # fmt: skip
    payables.approve_bill(goods, actor=finance)
    payables.record_bill(
        ingram, number="ING-20944", kind="goods", order=received, actor=finance,
        lines=[{"order_line": line.pk, "quantity": 2, "amount_cents": 2 * 1249}],
    )  # fmt: skip

    crew = payables.add_vendor(
        "Lantern Production Services", kind="production", iban="GB82WEST12345698765432",
        bic="WESTGB22", country="GB",
    )  # fmt: skip
    film = payables.add_production(
        "The Last Envelope (original)",
        budget={"Development": 4_000_000, "Cast": 12_000_000, "Crew": 9_000_000,
                "Post-production": 5_000_000},
        title=rented[0], amortise_months=48,
    )  # fmt: skip
    for i, (line_name, cents) in enumerate(
        (("Cast", 11_500_000), ("Crew", 8_700_000), ("Post-production", 4_900_000)), start=1
    ):
        b = payables.record_bill(
            crew, number=f"LPS-{i:03d}", kind="production", production=film, actor=finance,
            issued_on=last_month - dt.timedelta(days=120 - 20 * i),
            lines=[{"description": line_name, "amount_cents": cents, "budget_line": line_name}],
        )  # fmt: skip
        payables.approve_bill(b, actor=finance)
    payables.release_production(film, on=last_month - dt.timedelta(days=31), actor=finance)
    amortised = payables.amortise(last_month - dt.timedelta(days=31), actor=finance)
    amortised += payables.amortise(last_month, actor=finance)
    deal = payables.add_placement(
        film, brand="FizzCo Cola", scene="Act 2, the diner", brand_email="brands@fizzco.example",
        deliverables=[("Bottle on the counter, 4 seconds", 600_000),
                      ("Line of dialogue naming the brand", 900_000),
                      ("Closing-credit thanks", 100_000)],
        schedule=[(last_month, 800_000), (today + dt.timedelta(days=30), 800_000)],
        actor=finance,
    )  # fmt: skip
    for invoice in payables.invoice_due_instalments(actor=finance):
        payables.record_placement_payment(invoice, actor=finance)
    payables.deliver(deal.deliverables.order_by("id").first(), actor=finance)
    on_shelf = Copy.objects.filter(title_id=pulled, status=CopyStatus.ON_SHELF).count()
    return {
        "licensors": 3,
        "contracts": 3,
        "disc windows": windows + 1,
        "title pulled from disc": f"{pulled} ({on_shelf} copies on shelves stay there)",
        "statements": len(statements),
        "orders": 2,
        "bills": 7 + len(statements),
        "amortised": len(amortised),
        "sample avails": str(Path(settings.DATA_DIR) / SAMPLE_AVAILS),
        "placement deals": 1,
        "vendors": Vendor.objects.count(),
    }


def _sample_avails(title_ids: list[int]) -> Path:
    """An avails workbook for finance to import: SVOD and disc rows for a few titles, and three
    bad rows (an unknown territory, a window that ends before it starts, a title we don't
    carry) so the import shows what it refuses."""
    import openpyxl

    from redenvelope.catalog.models import Title

    titles = {t.pk: t for t in Title.objects.filter(pk__in=title_ids)}
    today = clock.today()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Movies"
    sheet.append(["Avails", "Northwind Studios", "Full extract"])
    sheet.append(avails.COLUMNS)
    rows = []
    for i, pk in enumerate(title_ids):
        t = titles[pk]
        end = (today + dt.timedelta(days=400)).isoformat()
        rows.append(
            {
                "Territory": "US",
                "LicenseType": "DVD",
                "FormatProfile": "HD",
                "Start": today.isoformat(),
                "End": end,
                "ContentID": f"md:cid:org:redenvelope:{pk}",
                "TitleInternalAlias": t.name,
                "ReleaseYear": t.year,
                "EntryType": "Full Extract",
                "LicenseRightsDescription": "Non-exclusive" if i % 3 else "Exclusive",
            }
        )
    rows.append({**rows[0], "Territory": "UK"})  # UK is not an ISO code (GB is)
    rows.append({**rows[1], "Start": "2027-03-01", "End": "2027-02-01"})
    rows.append({**rows[2], "ContentID": "", "TitleInternalAlias": "A Film We Do Not Carry"})
    for r in rows:
        sheet.append([r.get(c, "") for c in avails.COLUMNS])
    path = Path(settings.DATA_DIR) / SAMPLE_AVAILS
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
