"""Originals: costs booked against budget lines are capitalised and amortised from release by
the documented schedule; product placement: invoices to brands, revenue on delivery."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.payables import actions as payables
from redenvelope.payables import amortisation

from .test_purchasing_and_ap import balance, clean


@given(
    cost=st.integers(0, 10**11),
    months=st.integers(1, 120),
    schedule=st.sampled_from(amortisation.SCHEDULES),
)
def test_schedules_add_up_to_the_cost_and_never_go_back(cost, months, schedule):
    by = [amortisation.amortised_by(cost, k, months, schedule) for k in range(months + 2)]
    assert by[0] == 0 and by[months] == cost and by[months + 1] == cost
    assert all(a <= b for a, b in zip(by, by[1:], strict=False))


def test_accelerated_front_loads():
    first = amortisation.amortised_by(1_000_000, 1, 48, "accelerated")
    assert first == round(1_000_000 * 48 / (48 * 49 / 2))  # 4.08% in the first month
    assert amortisation.amortised_by(1_000_000, 1, 48, "straight") == round(1_000_000 / 48)


def test_production_costs_capitalised_then_amortised(world):
    fin = world.staff["finance"]
    crew = payables.add_vendor("Grip & Co", kind="production", account_number="99887766",
                               routing_number="011000015")  # fmt: skip
    prod = payables.add_production(
        "The Envelope", budget={"Cast": 3_000_000, "Crew": 1_000_000}, title=world.films[7],
        amortise_months=12, schedule="straight",
    )  # fmt: skip
    with pytest.raises(DomainError, match="names no budget line"):
        payables.record_bill(crew, number="G-0", kind="production", production=prod,
                             lines=[{"amount_cents": 5, "budget_line": "Catering"}])  # fmt: skip
    b = payables.record_bill(
        crew, number="G-1", kind="production", production=prod, actor=fin,
        lines=[{"description": "Week 1 crew", "amount_cents": 1_200_000, "budget_line": "Crew"}],
    )  # fmt: skip
    payables.approve_bill(b, actor=fin)
    assert balance("1500") == 1_200_000
    today = clock.today()
    two_months_ago = (today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
    payables.release_production(prod, on=two_months_ago + dt.timedelta(days=10))
    assert payables.amortise(two_months_ago, actor=fin)[0][1] == 100_000
    last = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert payables.amortise(last, actor=fin)[0][1] == 100_000
    assert payables.amortise(last, actor=fin) == []  # booked once
    with pytest.raises(DomainError, match="has not ended"):
        payables.amortise(today.replace(day=1) + dt.timedelta(days=40))
    assert balance("5400") == 200_000 and balance("1500") == 1_000_000
    clean()


def test_placement_invoice_payment_and_revenue_on_delivery(world):
    fin = world.staff["finance"]
    prod = payables.add_production("Second Envelope", budget={"All": 100})
    deal = payables.add_placement(
        prod, brand="FizzCo", scene="Episode 3, diner", actor=fin,
        deliverables=[("Can on the counter", 40_000), ("Line of dialogue", 60_000)],
    )  # fmt: skip
    assert deal.fee_cents == 100_000
    inv = payables.invoice_placement(deal, amount_cents=50_000, actor=fin)
    with pytest.raises(Conflict, match="too much"):
        payables.invoice_placement(deal, amount_cents=50_001, actor=fin)
    assert balance("1150") == 50_000 and balance("2600") == -50_000
    payables.record_placement_payment(inv, actor=fin)
    payables.record_placement_payment(inv, actor=fin)
    assert balance("1150") == 0 and balance("1000") == 50_000
    first = deal.deliverables.order_by("id").first()
    payables.deliver(first, actor=fin)
    payables.deliver(first, actor=fin)
    deal.refresh_from_db()
    assert deal.recognised_cents == 40_000 and balance("4200") == -40_000
    clean()


def test_placement_schedule_invoiced_when_due_and_monthly_close_job(world):
    from redenvelope.payables.models import PlacementInvoice
    from redenvelope.payables.tasks import (
        payables_daily_placement_invoices,
        payables_monthly_close,
    )

    prod = payables.add_production("Third Envelope", budget={"All": 100})
    today = clock.today()
    with pytest.raises(DomainError, match="adds up to 900.00, not the fee of 1000.00"):
        payables.add_placement(prod, brand="B", scene="s", deliverables=[("x", 100_000)],
                               schedule=[(today, 90_000)])  # fmt: skip
    deal = payables.add_placement(
        prod, brand="FizzCo", scene="Ep. 2", deliverables=[("Can", 100_000)],
        schedule=[(today - dt.timedelta(days=1), 60_000), (today + dt.timedelta(days=30), 40_000)],
    )  # fmt: skip
    assert payables_daily_placement_invoices.call_local() == 1
    assert payables_daily_placement_invoices.call_local() == 0
    assert list(PlacementInvoice.objects.values_list("amount_cents", flat=True)) == [60_000]
    later = payables.invoice_due_instalments(today + dt.timedelta(days=31))
    assert [i.amount_cents for i in later] == [40_000]
    deal.refresh_from_db()
    assert deal.invoiced_cents == 100_000
    assert payables_monthly_close.call_local() == {"statements": 0, "amortised": 0}
    clean()
