"""The payment outbox: every call to the provider is recorded and committed first, sent with its
key, and settled from the provider's answer; a lost answer or a crash is settled later by asking
the provider by key, so each intent is charged once and every charge is on record."""

import datetime as dt
from decimal import Decimal

import pytest

from redenvelope.billing import actions
from redenvelope.billing.gateway import get_gateway
from redenvelope.billing.models import Gift, Payment, PaymentIntent, Refund, Statement
from redenvelope.billing.run import run_billing
from redenvelope.core.errors import Conflict, DomainError
from tests.billing.test_lifecycle import GOOD, INSUFFICIENT, at, card, clean, fresh

pytestmark = pytest.mark.usefixtures("emails_at_once")
DAY = dt.date(2026, 4, 10)


def faults(**kw):
    """Set the provider's faults from now on (seeded, so runs repeat)."""
    import random

    gw = get_gateway()
    gw.faults = kw
    gw._rng = random.Random(1)


def charged_keys():
    return sorted(k for k, *_ in get_gateway().charged())


def test_lost_answers_are_settled_by_key_and_charged_once(shop):
    card(shop.alice, GOOD)
    card(shop.bob, INSUFFICIENT)
    faults(lost_answer=1)
    with at(DAY):
        summary = run_billing(DAY)
    assert summary["payments"]["unanswered"] == 2
    # The provider acted; we have no answer: statements due, intents unknown, no payment.
    assert set(Statement.objects.values_list("status", flat=True)) == {"due"}
    assert set(PaymentIntent.objects.values_list("status", flat=True)) == {"unknown"}
    assert Payment.objects.count() == 0
    faults()
    with at(DAY):
        again = run_billing(DAY)  # the rerun asks first, by key
    assert again["reconciled"]["answered"] == 2 and again["statements"] == 0
    alice = Statement.objects.get(member=shop.alice)
    bob = Statement.objects.get(member=shop.bob)
    assert alice.status == "paid" and bob.status == "past_due"
    assert fresh(shop.bob).status == "past_due"
    assert len(charged_keys()) == 1  # Alice once; Bob's decline moved nothing
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert set(PaymentIntent.objects.values_list("status", flat=True)) == {"succeeded", "failed"}
    clean()


def test_requests_that_never_arrived_are_sent_again_with_their_key(shop):
    card(shop.alice, GOOD)
    card(shop.bob, GOOD)
    faults(timeout=1)
    with at(DAY):
        run_billing(DAY)
    assert charged_keys() == [] and Payment.objects.count() == 0
    faults()
    with at(DAY):
        out = actions.reconcile_payments()
    assert out["charges"]["resent"] == 2
    assert set(Statement.objects.values_list("status", flat=True)) == {"paid"}
    with at(DAY):
        assert actions.reconcile_payments()["charges"]["open"] == 0
        run_billing(DAY)
    assert len(charged_keys()) == 2 and Payment.objects.count() == 2
    clean()


def test_a_crash_after_the_commit_before_the_call_is_finished_by_the_rerun(shop, monkeypatch):
    from redenvelope.billing import payments

    card(shop.alice, GOOD)
    card(shop.bob, GOOD)

    def crash(*_a, **_k):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(payments, "send_charges", crash)
    with at(DAY), pytest.raises(KeyboardInterrupt):
        run_billing(DAY)
    assert Statement.objects.count() == 2 and PaymentIntent.objects.count() == 2
    monkeypatch.undo()
    with at(DAY):
        run_billing(DAY)
    assert set(Statement.objects.values_list("status", flat=True)) == {"paid"}
    assert len(charged_keys()) == 2
    clean()


def _past_due_with_a_good_card(shop) -> Statement:
    card(shop.alice, INSUFFICIENT)
    card(shop.bob, INSUFFICIENT)
    with at(DAY):
        run_billing(DAY)
    card(shop.alice, GOOD)
    return Statement.objects.get(member=shop.alice)


def test_pay_now_without_an_answer_waits_and_never_charges_twice(shop):
    st = _past_due_with_a_good_card(shop)
    faults(lost_answer=1)
    with at(DAY), pytest.raises(DomainError, match="not be charged twice"):
        actions.pay_statement(st, member=fresh(shop.alice), idempotency_key="p1")
    # A second click while the first is unanswered is refused, with or without its key.
    with at(DAY), pytest.raises(Conflict):
        actions.pay_statement(st, member=fresh(shop.alice), idempotency_key="p1")
    with at(DAY), pytest.raises(Conflict):
        actions.pay_statement(st, member=fresh(shop.alice))
    faults()
    with at(DAY):
        actions.reconcile_payments()
    st.refresh_from_db()
    assert st.status == "paid" and fresh(shop.alice).status == "active"
    with at(DAY):
        replay = actions.pay_statement(st, member=fresh(shop.alice), idempotency_key="p1")
    assert replay.status == "succeeded" and len(charged_keys()) == 1
    clean()


def test_a_pay_now_that_never_arrived_is_abandoned_after_a_while(shop):
    st = _past_due_with_a_good_card(shop)
    faults(timeout=1)
    with at(DAY), pytest.raises(DomainError):
        actions.pay_statement(st, member=fresh(shop.alice))
    faults()
    with at(DAY):
        assert actions.reconcile_payments()["charges"]["abandoned"] == 0  # may still arrive
    later = clock_at(DAY, 10)
    with later:
        assert actions.reconcile_payments()["charges"]["abandoned"] == 1
        paid = actions.pay_statement(st, member=fresh(shop.alice))
    assert paid.status == "succeeded" and len(charged_keys()) == 1
    clean()


def clock_at(day, hour):
    from django.utils import timezone

    from redenvelope.core import clock

    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


def test_gift_refund_and_upgrade_are_finished_by_reconciliation(shop, mailoutbox):
    kw = dict(
        plan=shop.plan1,
        months=2,
        purchaser_name="Ann",
        purchaser_email="ann@example.com",
        card_number=GOOD,
        exp_month=12,
        exp_year=2030,
        buyer=shop.alice.user,
    )
    faults(lost_answer=1)
    with at(DAY), pytest.raises(DomainError, match="email the gift code"):
        actions.purchase_gift(**kw, idempotency_key="g")
    assert Gift.objects.count() == 0
    faults()
    with at(DAY):
        out = actions.reconcile_payments()
    assert out["others"] == {"gift_succeeded": 1}
    gift = Gift.objects.get()
    assert any(gift.code in m.body for m in mailoutbox)
    assert actions.purchase_gift(**kw, idempotency_key="g").pk == gift.pk

    card(shop.alice, GOOD)
    card(shop.bob, GOOD)
    with at(DAY):
        run_billing(DAY)
    payment = Payment.objects.get(member=shop.alice)
    finance = shop.staff["finance"]
    faults(lost_answer=1)
    with at(DAY), pytest.raises(DomainError, match="never given twice"):
        actions.refund_payment(payment, "5.00", reason="goodwill", issuer=finance)
    # While it is in flight, no more than what is left after it can be refunded.
    with at(DAY), pytest.raises(DomainError, match="At most"):
        actions.refund_payment(payment, payment.amount, reason="again", issuer=finance)
    faults()
    with at(DAY):
        actions.reconcile_payments()
    payment.refresh_from_db()
    assert payment.refunded == Decimal("5.00") and Refund.objects.count() == 1

    # Bob upgrades from $8.99 with no answer: his plan waits, then changes once.
    bob = fresh(shop.bob)
    faults(lost_answer=1)
    with at(dt.date(2026, 4, 25)), pytest.raises(DomainError, match="not changed yet"):
        actions.change_plan(bob, shop.plan3)
    assert fresh(shop.bob).plan_id == shop.plan1.pk
    faults()
    with at(dt.date(2026, 4, 25)):
        out = actions.reconcile_payments()
    assert out["others"] == {"upgrade_succeeded": 1}
    assert fresh(shop.bob).plan_id == shop.plan3.pk
    upgrade = Statement.objects.get(member=shop.bob, kind="proration")
    assert upgrade.status == "paid" and upgrade.payments.count() == 1
    clean()
