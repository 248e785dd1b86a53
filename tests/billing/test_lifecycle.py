"""Trials, plan changes, holds, credits, fees, payments, dunning, gifts and outages, each checked
against the statements, the member and the ledger."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from redenvelope.billing import actions
from redenvelope.billing.models import Credit, Fee, Payment, Statement
from redenvelope.billing.recognition import recognize_revenue
from redenvelope.billing.reports import REPORTS, build
from redenvelope.billing.run import run_billing
from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, Forbidden
from redenvelope.ledger.models import JournalLine
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member
from tests.members import join_member

GOOD = "4242424242424242"
INSUFFICIENT = "4000000000009995"


def at(day: dt.date):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(9))))


def fresh(member) -> Member:
    return Member.objects.select_related("plan").get(pk=member.pk)


def card(member, number=GOOD):
    return actions.add_payment_method(
        member, kind="card", number=number, exp_month=12, exp_year=2030
    )


def clean():
    assert trial_balance().balanced
    assert [r for r in run_checks() if not r.ok and r.name in _BILLING] == []


_BILLING = {"ledger_balanced", "statement_totals", "statement_paid", "billed_until", "money_refs"}


pytestmark = pytest.mark.usefixtures("emails_at_once")


def test_trial_converts_and_pays(shop):
    with at(dt.date(2026, 3, 1)):
        m = join_member("carol", shop.plan1)
        card(m)
    assert m.trial_ends_on == dt.date(2026, 3, 31)
    with at(dt.date(2026, 3, 30)):
        assert run_billing(dt.date(2026, 3, 30))["trials_converted"] == 0
    with at(dt.date(2026, 3, 31)):
        summary = run_billing(dt.date(2026, 3, 31))
    m = fresh(m)
    assert summary["trials_converted"] == 1 and m.status == "active" and m.billing_day == 31
    st = Statement.objects.get(member=m)
    assert (st.subtotal, st.tax, st.total_due, st.status) == (
        Decimal("8.99"),
        Decimal("0.80"),
        Decimal("9.79"),
        "paid",
    )
    assert Payment.objects.get(statement=st).status == "succeeded"
    clean()


def test_cancelled_trial_is_never_charged(shop):
    with at(dt.date(2026, 3, 1)):
        m = join_member("dan", shop.plan1)
        actions.request_cancellation(m)
    with at(dt.date(2026, 3, 31)):
        run_billing(dt.date(2026, 3, 31))
    assert fresh(m).status == "cancelled" and not Statement.objects.filter(member=m).exists()


def test_upgrade_prorates_by_exact_days_and_downgrade_waits(shop):
    alice = shop.alice  # 3 at a time, $16.99, NY tax
    card(alice)
    Member.objects.filter(pk=alice.pk).update(plan=shop.plan1)  # start on $8.99
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    with at(dt.date(2026, 4, 22)):  # 18 of 30 days left in Apr 10 - May 10
        result = actions.change_plan(fresh(alice), shop.plan3)
    st = result["statement"]
    new_part = (Decimal("16.99") * 18 / 30).quantize(Decimal("0.01"))  # 10.194 -> 10.19
    unused = (Decimal("8.99") * 18 / 30).quantize(Decimal("0.01"))  # 5.394 -> 5.39
    assert st.subtotal == new_part - unused == Decimal("4.80")
    assert st.tax == Decimal("0.43") and st.status == "paid"
    assert (st.period_start, st.period_end) == (dt.date(2026, 4, 22), dt.date(2026, 5, 10))
    assert fresh(alice).plan == shop.plan3
    # A downgrade waits for the next period.
    with at(dt.date(2026, 4, 25)):
        result = actions.change_plan(fresh(alice), shop.plan1)
    assert result["when"] == dt.date(2026, 5, 10) and fresh(alice).plan == shop.plan3
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    assert fresh(alice).plan == shop.plan1
    assert Statement.objects.get(
        member=alice, period_start=dt.date(2026, 5, 10)
    ).subtotal == Decimal("8.99")
    clean()


def test_hold_days_are_not_billed_and_late_holds_are_corrected(shop):
    bob = shop.bob  # $8.99, state NY in the fixture
    card(bob)
    with at(dt.date(2026, 4, 1)):
        membership.place_hold(bob, dt.date(2026, 4, 12), dt.date(2026, 4, 22))  # 10 days
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    april = Statement.objects.get(member=bob)
    assert april.held_days == 10
    assert april.subtotal == (Decimal("8.99") * 20 / 30).quantize(Decimal("0.01"))  # 5.99
    # A hold placed after April's statement: 5 more days, credited on May's.
    with at(dt.date(2026, 4, 25)):
        membership.place_hold(bob, dt.date(2026, 5, 5), dt.date(2026, 5, 10))
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    may = Statement.objects.get(member=bob, period_start=dt.date(2026, 5, 10))
    # A credit note on April's statement: 5 of the 20 days it billed, with their tax.
    net = (april.subtotal * 5 / 20).quantize(Decimal("0.01"))  # 1.50
    tax = (april.tax * 5 / 20).quantize(Decimal("0.01"))  # 0.53 * 5/20 = 0.13
    assert (may.adjustment, may.adjustment_tax) == (-(net + tax), -tax)
    assert may.total_due == Decimal("8.99") + may.tax + may.adjustment
    # Sales tax payable holds exactly the tax on what was billed, less the tax refunded.
    assert _tax_payable() == _tax_billed()
    clean()


def _tax_billed() -> Decimal:
    """Every statement's tax plus its correction's (negative when refunded), from the rows."""
    return sum((s.tax + s.adjustment_tax for s in Statement.objects.all()), Decimal(0))


def _tax_payable() -> Decimal:
    tb = {a.code: (d, c) for a, d, c in trial_balance().rows}
    return tb["2100"][1] - tb["2100"][0]


@pytest.mark.parametrize("percent", [100, 50])
def test_hold_correction_never_exceeds_what_the_statement_charged(shop, percent):
    bob = shop.bob  # $8.99, billed on the 10th, NY tax
    card(bob)
    agent = shop.staff["support_lead"]
    actions.issue_credit(bob, kind="percent", percent=percent, reason="outage", issuer=agent)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    april = Statement.objects.get(member=bob)
    assert april.discount == (Decimal("8.99") * percent / 100).quantize(Decimal("0.01"))
    with at(dt.date(2026, 4, 15)):  # 15 of April's 30 days held after the statement
        membership.place_hold(bob, dt.date(2026, 4, 25), dt.date(2026, 5, 10))
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    may = Statement.objects.get(member=bob, period_start=dt.date(2026, 5, 10))
    charged = april.subtotal - april.discount  # 0.00 or 4.50 for 30 days
    net = (charged * 15 / 30).quantize(Decimal("0.01"), ROUND_HALF_UP)  # 2.245: the rule is half up
    tax = (april.tax * 15 / 30).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert (may.adjustment, may.adjustment_tax) == (-(net + tax), -tax)
    if percent == 100:
        assert may.adjustment == 0 and not Credit.objects.filter(member=bob, issuer=None)
    assert _tax_payable() == _tax_billed()
    clean()


def test_percent_credit_applies_once_and_bonus_rentals(shop):
    bob = shop.bob
    card(bob)
    agent = shop.staff["support_agent"]
    actions.issue_credit(bob, kind="percent", percent=50, reason="a month half off", issuer=agent)
    with pytest.raises(Forbidden):
        actions.issue_credit(bob, kind="bonus_rentals", rentals=5, reason="x", issuer=agent)
    actions.issue_credit(bob, kind="bonus_rentals", rentals=2, reason="sorry", issuer=agent)
    assert fresh(bob).bonus_rentals == 2 and fresh(bob).disc_limit == 2
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    april, may = Statement.objects.filter(member=bob).order_by("period_start")
    assert april.discount == Decimal("4.50") and may.discount == 0
    credit = Credit.objects.get(member=bob, kind="percent")
    assert credit.applied_to == april and credit.amount == Decimal("4.50")
    clean()


def test_decline_dunning_recovery_and_emails(shop, mailoutbox):
    bob = shop.bob
    card(bob, INSUFFICIENT)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    st = Statement.objects.get(member=bob)
    assert st.status == "past_due" and st.next_retry_on == dt.date(2026, 4, 11)
    assert fresh(bob).status == "past_due"
    to_bob = [m.subject for m in mailoutbox if m.to == ["bob@example.com"]]
    assert to_bob == ["We could not take your payment"]
    with at(dt.date(2026, 4, 11)):
        run_billing(dt.date(2026, 4, 11))
    st.refresh_from_db()
    assert st.attempts == 2 and st.next_retry_on == dt.date(2026, 4, 13)
    with at(dt.date(2026, 4, 12)):
        card(bob, GOOD)
    with at(dt.date(2026, 4, 13)):
        run_billing(dt.date(2026, 4, 13))
    st.refresh_from_db()
    assert st.status == "paid" and st.amount_paid == st.total_due
    assert fresh(bob).status == "active"
    assert [m for m in mailoutbox if m.to == ["bob@example.com"]][-1].subject.startswith(
        "Payment received"
    )
    clean()


def test_last_retry_cancels_and_writes_off(shop, mailoutbox):
    bob = shop.bob
    card(bob, INSUFFICIENT)
    for d in (10, 11, 13, 17):
        with at(dt.date(2026, 4, d)):
            run_billing(dt.date(2026, 4, d))
    st = Statement.objects.get(member=bob)
    assert st.status == "written_off" and st.attempts == 4
    assert fresh(bob).status == "cancelled"
    assert Payment.objects.filter(statement=st, status="failed").count() == 4
    assert mailoutbox[-1].subject == "Your membership has been cancelled"
    written = JournalLine.objects.filter(member_id=bob.pk, account__code="6000")
    assert sum(ln.debit for ln in written) == st.total_due
    clean()


def test_pay_now_refused_for_someone_elses_statement(shop):
    card(shop.bob, INSUFFICIENT)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    st = Statement.objects.get(member=shop.bob)
    with pytest.raises(Forbidden):
        actions.pay_statement(st, member=shop.alice)
    assert Payment.objects.filter(statement=st).count() == 1
    card(shop.bob, GOOD)
    p1 = actions.pay_statement(st, member=fresh(shop.bob), idempotency_key="k1")
    p2 = actions.pay_statement(st, member=fresh(shop.bob), idempotency_key="k1")
    assert p1.pk == p2.pk and p1.status == "succeeded"
    with pytest.raises(Conflict):
        actions.pay_statement(st, member=fresh(shop.bob))
    clean()


def test_refunds_and_chargebacks(shop):
    bob, alice = shop.bob, shop.alice
    card(bob)
    card(alice, "4000000000000259")  # paid, then reversed by the bank
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    payment = Payment.objects.get(member=bob)
    assert payment.status == "succeeded"
    with pytest.raises(Forbidden):
        actions.refund_payment(payment, "1.00", reason="x", issuer=shop.staff["support_agent"])
    finance = shop.staff["finance"]
    actions.refund_payment(payment, "2.00", reason="late disc", issuer=finance)
    with pytest.raises(DomainError, match="At most"):
        actions.refund_payment(payment, "100.00", reason="too much", issuer=finance)
    with at(dt.date(2026, 4, 10)):
        assert actions.poll_disputes(dt.date(2026, 4, 10)) == 1
        assert actions.poll_disputes(dt.date(2026, 4, 10)) == 0
    st = Statement.objects.get(member=alice)
    assert st.status == "past_due" and st.amount_paid == 0
    assert fresh(alice).status == "past_due"
    assert not alice.payment_methods.filter(removed_at=None).exists()
    clean()


def test_fees_by_policy_and_waiver(shop):
    copy = shop.new_copy(shop.films[0])
    fee = actions.charge_fee(shop.bob, "damaged_disc", copy=copy, reason="cracked", issuer=None)
    again = actions.charge_fee(shop.bob, "damaged_disc", copy=copy, reason="cracked", issuer=None)
    assert fee.pk == again.pk and fee.amount == Decimal("10.00")
    with pytest.raises(Forbidden):
        actions.waive_fee(fee, actor=shop.staff["warehouse"], reason="x")
    lost = actions.charge_fee(
        shop.bob, "lost_disc", reason="never came back", issuer=shop.staff["support_agent"]
    )
    actions.waive_fee(fee, actor=shop.staff["support_agent"], reason="post office broke it")
    card(shop.bob)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    st = Statement.objects.get(member=shop.bob)
    assert st.fees == Decimal("20.00") and Fee.objects.get(pk=lost.pk).statement == st
    clean()


def test_gift_pays_months_then_stops(shop):
    gift = actions.purchase_gift(
        plan=shop.plan1,
        months=2,
        purchaser_name="Gran",
        purchaser_email="gran@example.com",
        card_number=GOOD,
        exp_month=12,
        exp_year=2030,
        then="stop",
    )
    with pytest.raises(DomainError, match="declined"):
        actions.purchase_gift(
            plan=shop.plan1,
            months=1,
            purchaser_name="X",
            purchaser_email="x@example.com",
            card_number=INSUFFICIENT,
            exp_month=12,
            exp_year=2030,
        )
    bob = shop.bob
    with at(dt.date(2026, 4, 1)):
        actions.redeem_gift(bob, gift.code)
        with pytest.raises(Conflict):
            actions.redeem_gift(shop.alice, gift.code)
    for d in (dt.date(2026, 4, 10), dt.date(2026, 5, 10), dt.date(2026, 6, 10)):
        with at(d):
            run_billing(d)
    sts = list(Statement.objects.filter(member=bob).order_by("period_start"))
    assert [s.gift_applied for s in sts] == [Decimal("8.99"), Decimal("8.99")]
    assert all(s.total_due == s.tax for s in sts)  # the gift pays the plan; tax remains
    assert fresh(bob).status == "cancelled"
    clean()


def test_outage_compensation_once_with_emails(shop, mailoutbox):
    from redenvelope.fulfillment.actions import open_incident

    card(shop.alice)
    incident = open_incident(
        shop.ewr,
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 4),
        reason="flood",
        actor=shop.staff["operations"],
    )
    Member.objects.update(joined_at=timezone.make_aware(dt.datetime(2026, 1, 1)))
    comp = actions.compensate_outage(incident, 15, issuer=shop.staff["finance"], reason="flood")
    assert comp.members == 1  # Alice (Manhattan, served by Newark); Bob is in San Francisco
    with pytest.raises(Conflict):
        actions.compensate_outage(incident, 15, issuer=shop.staff["finance"], reason="flood")
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    st = Statement.objects.get(member=shop.alice)
    assert st.discount == (Decimal("16.99") * Decimal("0.15")).quantize(Decimal("0.01"))
    clean()


def test_reports_and_recognition(shop):
    card(shop.alice)
    card(shop.bob, INSUFFICIENT)
    with at(dt.date(2026, 4, 20)):
        actions.issue_credit(shop.alice, "5.00", reason="late", issuer=shop.staff["support_agent"])
    for k in range(0, 31):
        d = dt.date(2026, 4, 10) + dt.timedelta(days=k)
        with at(d):
            run_billing(d)
            recognize_revenue(d)
    for name in REPORTS:
        with at(dt.date(2026, 5, 10)):
            r = build(name)
        assert r.rows and r.csv().startswith(",".join(r.columns)[:10])
    tb = {a.code: (d, c) for a, d, c in trial_balance().rows}
    # Alice's April fully earned (16.99); Bob's written off on Apr 17 earns only the 7 days
    # served (29 cents a day), the rest reversed out of deferred revenue (decision 0006).
    assert tb["4000"][1] - tb["4000"][0] >= Decimal("16.99") + Decimal("2.03")
    clean()


def test_hold_correction_larger_than_the_next_bill_is_carried_as_credit(shop):
    bob = shop.bob  # $8.99, billed on the 10th, NY tax
    card(bob)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    with at(dt.date(2026, 4, 15)):  # after April's statement: 20 April days and 20 May days
        membership.place_hold(bob, dt.date(2026, 4, 20), dt.date(2026, 5, 30))
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    may = Statement.objects.get(member=bob, period_start=dt.date(2026, 5, 10))
    april = Statement.objects.get(member=bob, period_start=dt.date(2026, 4, 10))
    tax = (april.tax * 20 / 30).quantize(Decimal("0.01"))  # the tax on those days, refunded too
    correction = (Decimal("8.99") * 20 / 30).quantize(Decimal("0.01")) + tax  # 5.99 + 0.53
    assert may.adjustment_tax == -tax
    billed = may.subtotal + may.tax  # 10 of 31 May days, taxed
    assert billed < correction and may.total_due == 0
    assert may.adjustment == -billed  # what the correction took off this bill
    carried = Credit.objects.get(member=bob, kind="account", issuer=None)
    assert carried.remaining == correction - billed
    clean()
