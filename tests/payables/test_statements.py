"""Licensors' revenue-share statements from our own rentals and streams, minimum guarantees
recouped then trued up, flat fees prorated; posted once, whatever runs it again."""

import datetime as dt

import pytest

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.models import Shipment
from redenvelope.payables import actions as payables
from redenvelope.payables.models import Bill, Recoupment, StatementLine
from redenvelope.rights import actions as rights
from redenvelope.streaming.models import Encode, Session

from .test_purchasing_and_ap import balance, clean


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=clock.now().tzinfo)


@pytest.fixture
def month():
    return (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def rent(world, title, day, n):
    copy = world.new_copy(title)
    Shipment.objects.bulk_create(
        [
            Shipment(
                member=world.alice,
                copy=copy,
                title=title,
                dc=world.ewr,
                shipped_at=at(day),
                status="returned",
                closed_at=at(day) + dt.timedelta(days=3),
            )  # fmt: skip
            for _ in range(n)
        ]
    )


def stream(world, title, day, n):
    enc = Encode.objects.create(title=title, master_sha256="x" * 64, master_name="m",
                                prefix="p", started_at=at(day), status="ready")  # fmt: skip
    Session.objects.bulk_create(
        [
            Session(
                lease_id=f"{title.pk}-{day}-{i}",
                member=world.alice,
                title=title,
                encode=enc,
                started_at=at(day, 20),
            )  # fmt: skip
            for i in range(n)
        ]
    )


def test_statements_recoup_prorate_true_up_and_run_once(world, month):
    fin = world.staff["finance"]
    f = world.films
    studio = rights.add_licensor("Paragon")
    main = rights.add_contract(
        studio, reference="PAR-1", name="Library", territories="US,CA",
        starts_on=month - dt.timedelta(days=40), ends_on=month + dt.timedelta(days=400),
        per_rental_cents=35, per_stream_cents=12, minimum_guarantee_cents=500,
        titles=[f[0], f[1]],
    )  # fmt: skip
    late = rights.add_contract(
        studio, reference="PAR-2", name="Late starter", territories="US",
        starts_on=month + dt.timedelta(days=15), ends_on=month + dt.timedelta(days=400),
        flat_fee_cents=3000, flat_fee_every="month", per_rental_cents=100, titles=[f[3]],
    )  # fmt: skip
    ended = rights.add_contract(
        studio, reference="PAR-3", name="Ended", territories="US",
        starts_on=month - dt.timedelta(days=100), ends_on=month + dt.timedelta(days=5),
        minimum_guarantee_cents=10_000, titles=[f[4]],
    )  # fmt: skip
    abroad = rights.add_contract(
        studio, reference="PAR-4", name="Not here", territories="GB",
        starts_on=month - dt.timedelta(days=10), ends_on=month + dt.timedelta(days=400),
        per_rental_cents=999, titles=[f[0]],
    )  # fmt: skip
    payables.bill_advance(main, actor=fin)
    payables.bill_advance(ended, actor=fin)
    assert Recoupment.objects.get(contract=main).advanced_cents == 500
    assert balance("1400") == 10_500

    rent(world, f[0], month + dt.timedelta(days=2), 10)
    rent(world, f[1], month + dt.timedelta(days=20), 4)
    rent(world, f[0], clock.today(), 1)  # this month: not in the statement
    rent(world, f[2], month + dt.timedelta(days=3), 5)  # no contract covers it
    rent(world, f[3], month + dt.timedelta(days=5), 7)  # before PAR-2 starts
    rent(world, f[3], month + dt.timedelta(days=16), 2)
    stream(world, f[0], month + dt.timedelta(days=6), 6)

    with pytest.raises(DomainError, match="has not ended"):
        payables.run_statements(clock.today(), actor=fin)
    bills = payables.run_statements(month, actor=fin)
    by = {b.contract_id: b for b in bills}
    assert set(by) == {main.pk, late.pk}
    assert abroad.pk not in by
    s = by[main.pk]
    lines = {sl.title_id: (sl.rentals, sl.streams, sl.earned_cents)
             for sl in StatementLine.objects.filter(bill=s)}  # fmt: skip
    assert lines == {f[0].pk: (10, 6, 422), f[1].pk: (4, 0, 140)}
    # 562 earned, 500 recouped from the advance: 62 payable.
    assert s.total_cents == 62 and s.status == Bill.Status.APPROVED and s.approved_by == fin
    assert Recoupment.objects.get(contract=main).recouped_cents == 500
    days = (payables._next_month(month) - month).days
    fee = round(3000 * (days - 15) / days)
    assert by[late.pk].total_cents == fee + 2 * 100
    # PAR-3 ended with its advance unrecouped: expensed (true-up).
    assert Recoupment.objects.get(contract=ended).trued_up_cents == 10_000
    assert balance("1400") == 0
    assert balance("5100") == 562 + fee + 200 + 10_000
    assert balance("2500") == -(500 + 10_000 + 62 + fee + 200)
    clean()

    assert payables.run_statements(month, actor=fin) == []  # again: nothing new
    assert Bill.objects.filter(kind="revenue_share").count() == 2
    clean()

    vendor = s.vendor
    payables.set_bank_account(vendor, iban="DE89370400440532013000", bic="COBADEFFXXX")
    adv = Bill.objects.filter(kind="advance")
    run = payables.payment_run([s, by[late.pk], *adv], actor=fin)
    assert run.total_cents == 62 + fee + 200 + 10_500
    assert balance("2500") == 0
    assert "<IBAN>DE89370400440532013000</IBAN>" in run.file
    clean()


def test_a_rental_counts_on_the_business_day_across_a_change_of_offset(world, settings):
    """Days are the business's (daylight saving ends on 1 Nov 2026 in Los Angeles): 23:30 local
    on the 1st is day 0, 00:30 on the 2nd day 1, whatever UTC says."""
    from zoneinfo import ZoneInfo

    from redenvelope.payables.actions import _day_counts

    settings.TIME_ZONE = "America/Los_Angeles"
    la = ZoneInfo("America/Los_Angeles")
    copy = world.new_copy(world.films[0])
    for when in (dt.datetime(2026, 11, 1, 0, 30, tzinfo=la), dt.datetime(2026, 11, 1, 23, 30,
                 tzinfo=la), dt.datetime(2026, 11, 2, 0, 30, tzinfo=la),
                 dt.datetime(2026, 11, 30, 23, 59, tzinfo=la),
                 dt.datetime(2026, 12, 1, 0, 1, tzinfo=la)):  # fmt: skip
        Shipment.objects.create(member=world.alice, copy=copy, title=world.films[0],
                                dc=world.ewr, shipped_at=when, status="returned",
                                closed_at=when)  # fmt: skip
    counts = _day_counts(
        "fulfillment_shipment", "shipped_at", dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    )[world.films[0].pk]
    assert counts[0] == 2 and counts[1] == 1 and counts[29] == 1 and counts.sum() == 4
