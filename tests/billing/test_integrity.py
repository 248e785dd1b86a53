"""Money is never taken twice, keys belong to their owner, and clicking "pay now" again never
spends the dunning schedule."""

import datetime as dt
from decimal import Decimal

import pytest

from redenvelope.billing import actions
from redenvelope.billing.models import Credit, Payment, Statement
from redenvelope.billing.run import run_billing
from redenvelope.core.errors import Conflict, DomainError, Forbidden
from redenvelope.membership import actions as membership
from tests.billing.test_lifecycle import GOOD, INSUFFICIENT, at, card, clean, fresh

pytestmark = pytest.mark.usefixtures("emails_at_once")


def _statements(shop, alice_card=INSUFFICIENT, bob_card=INSUFFICIENT):
    card(shop.alice, alice_card)
    card(shop.bob, bob_card)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    return (
        Statement.objects.get(member=shop.alice),
        Statement.objects.get(member=shop.bob),
    )


def test_a_payment_key_belongs_to_its_member(shop):
    alice_st, bob_st = _statements(shop)
    card(shop.alice, GOOD)
    card(shop.bob, GOOD)
    with at(dt.date(2026, 4, 10)):
        paid = actions.pay_statement(alice_st, member=fresh(shop.alice), idempotency_key="k")
        # Bob replays Alice's key: he gets his own payment, never hers.
        his = actions.pay_statement(bob_st, member=fresh(shop.bob), idempotency_key="k")
    assert paid.member_id == shop.alice.pk and his.member_id == shop.bob.pk
    assert his.pk != paid.pk and his.statement_id == bob_st.pk
    # Someone else's statement is refused before any key is looked at.
    with pytest.raises(Forbidden):
        actions.pay_statement(alice_st, member=fresh(shop.bob), idempotency_key="k")
    clean()


def test_a_key_reused_for_another_statement_is_a_conflict(shop):
    from redenvelope.billing.models import Statement as S

    alice_st, _ = _statements(shop)
    card(shop.alice, GOOD)
    with at(dt.date(2026, 4, 10)):
        actions.pay_statement(alice_st, member=fresh(shop.alice), idempotency_key="k2")
        other = S.objects.create(
            member=shop.alice,
            kind="proration",
            period_start=dt.date(2026, 4, 10),
            period_end=dt.date(2026, 5, 10),
            plan=shop.plan3,
            subtotal=Decimal("0"),
            tax=Decimal("0"),
            credit_applied=0,
            total_due=0,
            status="paid",
            issued_at=alice_st.issued_at,
        )
        with pytest.raises(Conflict, match="another statement"):
            actions.pay_statement(other, member=fresh(shop.alice), idempotency_key="k2")
    with pytest.raises(DomainError, match="at most 64"):
        actions.pay_statement(alice_st, member=fresh(shop.alice), idempotency_key="x" * 65)


def test_credit_keys_are_scoped_to_the_issuer_and_checked(shop):
    agent, lead = shop.staff["support_agent"], shop.staff["support_lead"]
    a = actions.issue_credit(shop.alice, "5", reason="late", issuer=agent, idempotency_key="c")
    again = actions.issue_credit(shop.alice, "5", reason="late", issuer=agent, idempotency_key="c")
    assert again.pk == a.pk
    # Another staff member's identical key is their own request.
    b = actions.issue_credit(shop.alice, "5", reason="late", issuer=lead, idempotency_key="c")
    assert b.pk != a.pk
    # The same key for another amount or member is refused, and nothing lands.
    with pytest.raises(Conflict):
        actions.issue_credit(shop.alice, "6", reason="late", issuer=agent, idempotency_key="c")
    with pytest.raises(Conflict):
        actions.issue_credit(shop.bob, "5", reason="late", issuer=agent, idempotency_key="c")
    assert Credit.objects.count() == 2
    clean()


def test_pay_now_with_a_failing_card_is_not_a_dunning_retry(shop):
    _, bob_st = _statements(shop)
    assert bob_st.status == "past_due" and bob_st.attempts == 1
    with at(dt.date(2026, 4, 10)):
        for _ in range(3):
            p = actions.pay_statement(bob_st, member=fresh(shop.bob))
            assert p.status == "failed"
    bob_st.refresh_from_db()
    assert bob_st.status == "past_due" and bob_st.attempts == 1
    assert bob_st.next_retry_on == dt.date(2026, 4, 11)
    assert fresh(shop.bob).status == "past_due"  # not cancelled
    assert Payment.objects.filter(statement=bob_st).count() == 4
    # The schedule goes on as planned.
    with at(dt.date(2026, 4, 11)):
        run_billing(dt.date(2026, 4, 11))
    bob_st.refresh_from_db()
    assert bob_st.attempts == 2 and bob_st.next_retry_on == dt.date(2026, 4, 13)
    # A manual payment that goes through settles it.
    card(shop.bob, GOOD)
    with at(dt.date(2026, 4, 12)):
        p = actions.pay_statement(bob_st, member=fresh(shop.bob))
    bob_st.refresh_from_db()
    assert p.status == "succeeded" and bob_st.status == "paid"
    assert fresh(shop.bob).status == "active"
    clean()


def test_percent_credits_stack_on_what_is_left(shop):
    lead = shop.staff["support_lead"]
    card(shop.bob, GOOD)
    actions.issue_credit(shop.bob, kind="percent", percent=15, reason="sorry", issuer=lead)
    actions.issue_credit(shop.bob, kind="percent", percent=10, reason="sorry", issuer=lead)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    st = Statement.objects.get(member=shop.bob)
    # 8.99: 15% is 1.35 (1.3485 half-up), then 10% of the 7.64 left is 0.76.
    assert st.subtotal == Decimal("8.99") and st.discount == Decimal("2.11")
    assert sorted(c.amount for c in Credit.objects.filter(kind="percent")) == [
        Decimal("0.76"),
        Decimal("1.35"),
    ]
    clean()


def test_a_statement_of_nothing_posts_no_entry_and_percent_credits_wait(shop):
    lead = shop.staff["support_lead"]
    card(shop.bob, GOOD)
    with at(dt.date(2026, 4, 1)):
        membership.place_hold(fresh(shop.bob), dt.date(2026, 4, 10), dt.date(2026, 5, 10))
        actions.issue_credit(shop.bob, kind="percent", percent=50, reason="sorry", issuer=lead)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    held = Statement.objects.get(member=shop.bob, period_start=dt.date(2026, 4, 10))
    assert held.subtotal == 0 and held.total_due == 0 and held.entry_id is None
    assert Credit.objects.get(kind="percent").applied_to_id is None  # still waiting
    with at(dt.date(2026, 5, 10)):
        run_billing(dt.date(2026, 5, 10))
    after = Statement.objects.get(member=shop.bob, period_start=dt.date(2026, 5, 10))
    assert after.discount == Decimal("4.50")  # 50% of 8.99, half-up
    assert Credit.objects.get(kind="percent").applied_to_id == after.pk
    clean()


def test_fees_need_a_role_and_a_double_submit_charges_once(shop):
    from redenvelope.billing.models import Fee

    with pytest.raises(Forbidden):
        actions.charge_fee(shop.bob, "lost_disc", reason="x", issuer=shop.staff["warehouse"])
    with pytest.raises(DomainError, match="staff member"):
        actions.charge_fee(shop.bob, "lost_disc", reason="x", issuer=None)
    agent = shop.staff["support_agent"]
    a = actions.charge_fee(shop.bob, "lost_disc", reason="x", issuer=agent, idempotency_key="f")
    b = actions.charge_fee(shop.bob, "lost_disc", reason="x", issuer=agent, idempotency_key="f")
    assert a.pk == b.pk and Fee.objects.count() == 1
    with pytest.raises(Conflict):
        actions.charge_fee(shop.alice, "lost_disc", reason="x", issuer=agent, idempotency_key="f")
    clean()


def test_a_gift_bought_twice_with_one_key_is_charged_once(shop):
    from redenvelope.billing.models import Gift

    buyer = shop.alice.user
    kw = dict(
        plan=shop.plan1,
        months=3,
        purchaser_name="Ann",
        purchaser_email="ann@example.com",
        card_number=GOOD,
        exp_month=12,
        exp_year=2030,
        buyer=buyer,
    )
    g1 = actions.purchase_gift(**kw, idempotency_key="g")
    g2 = actions.purchase_gift(**kw, idempotency_key="g")
    assert g1.pk == g2.pk and Gift.objects.count() == 1
    with pytest.raises(Conflict):
        actions.purchase_gift(**{**kw, "months": 4}, idempotency_key="g")
    clean()


def test_outage_compensation_is_capped_reasoned_and_audited(shop, settings):
    from redenvelope.fulfillment.actions import open_incident

    ops = shop.staff["operations"]
    incident = open_incident(
        shop.ewr, dt.date(2026, 4, 20), dt.date(2026, 4, 23), reason="storm", actor=ops
    )
    with pytest.raises(DomainError, match="from 1 to 25"):
        actions.compensate_outage(incident, 100, issuer=ops, reason="storm")
    with pytest.raises(DomainError, match="Say why"):
        actions.compensate_outage(incident, 10, issuer=ops, reason=" ")
    settings.REDENVELOPE = {**settings.REDENVELOPE, "OUTAGE_MAX_PERCENT": 40}
    comp = actions.compensate_outage(incident, 40, issuer=ops, reason="storm", via="api")
    assert (comp.percent, comp.reason, comp.via, comp.issuer) == (40, "storm", "api", ops)


def test_cli_refuses_unknown_staff_and_records_who_ran_it(shop):
    from typer.testing import CliRunner

    from redenvelope.billing.models import OutageCompensation
    from redenvelope.cli import app
    from redenvelope.fulfillment.models import Incident

    runner = CliRunner()
    base = ["dispatch", "incident", "--dc", "EWR", "--from", "2026-04-20", "--to", "2026-04-22"]
    r = runner.invoke(app, [*base, "--reason", "flood", "--staff", "nobody"])
    assert r.exit_code == 2 and "No staff member" in r.output
    r = runner.invoke(app, [*base, "--reason", "flood", "--staff", "staff_warehouse"])
    assert r.exit_code == 2 and not Incident.objects.exists()
    r = runner.invoke(app, [*base, "--reason", "flood", "--staff", "staff_operations"])
    assert r.exit_code == 0, r.output
    inc = Incident.objects.get()
    assert inc.created_by == shop.staff["operations"] and inc.via.startswith("cli:")
    r = runner.invoke(
        app,
        ["billing", "compensate-outage", str(inc.pk), "--percent", "10"]
        + ["--staff", "staff_finance", "--reason", "flood"],
    )
    assert r.exit_code == 0, r.output
    comp = OutageCompensation.objects.get()
    assert comp.issuer == shop.staff["finance"] and comp.via.startswith("cli:")


def test_an_upgrade_with_a_declining_card_changes_nothing(shop):
    alice = shop.alice
    card(alice)
    from redenvelope.membership.models import Member

    Member.objects.filter(pk=alice.pk).update(plan=shop.plan1)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    card(alice, INSUFFICIENT)
    before = (Statement.objects.count(), Payment.objects.count())
    with at(dt.date(2026, 4, 22)), pytest.raises(DomainError, match="plan has not changed"):
        actions.change_plan(fresh(alice), shop.plan3)
    assert fresh(alice).plan == shop.plan1
    assert (Statement.objects.count(), Payment.objects.count()) == before
    clean()


def test_the_scheduled_job_takes_the_same_path_as_the_cli(shop):
    """The Huey job bills, records the provider's chargebacks and recognises the day's revenue,
    like `redenvelope billing run` (it used to skip disputes)."""
    from redenvelope.billing.tasks import billing_daily
    from redenvelope.ledger.models import JournalEntry

    card(shop.bob, "4000000000000259")  # goes through, then disputed by the bank
    with at(dt.date(2026, 4, 10)):
        result = billing_daily.call_local()
    assert result["statements"] == 2 and result["chargebacks"] == 1
    assert Payment.objects.filter(member=shop.bob).exclude(charged_back_at=None).exists()
    assert JournalEntry.objects.filter(kind="recognition", effective_date="2026-04-10").exists()
    clean()


def test_a_written_off_statement_stops_earning_and_leaves_no_deferred_revenue(shop):
    """Rule (decision 0006): revenue is earned for the days served; after the last retry fails
    the membership is cancelled, the statement stops earning on the write-off day and the
    deferred revenue of the days never served is reversed against the bad debt."""
    from redenvelope.billing.recognition import recognize_revenue
    from redenvelope.ledger.queries import trial_balance

    card(shop.bob, INSUFFICIENT)
    day = dt.date(2026, 4, 10)
    while day < dt.date(2026, 5, 15):
        with at(day):
            run_billing(day)
            recognize_revenue(day)
        day += dt.timedelta(days=1)
    statements = list(Statement.objects.all())  # Alice has no card: written off too
    assert len(statements) == 2
    served = unearned = Decimal(0)
    for st in statements:
        assert st.status == "written_off" and st.written_off_on == dt.date(2026, 4, 17)
        price = st.subtotal - st.discount
        earned = (price * 100 // 30) * 7 / 100  # whole cents a day for Apr 10..16
        served += earned
        unearned += price - earned
    tb = {a.code: (d, c) for a, d, c in trial_balance().rows}
    assert served == Decimal("2.03") + Decimal("3.92")
    assert tb["4000"][1] - tb["4000"][0] == served
    assert tb["2000"][1] - tb["2000"][0] == 0  # nothing left deferred
    # Bad debt is what was owed less the revenue never earned.
    owed = sum(st.total_due for st in statements)
    assert tb["6000"][0] - tb["6000"][1] == owed - unearned
    clean()
