"""Billing the runs missed, upgrades without a statement, and every billed cent earned by the
period's end."""

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from redenvelope.billing import actions
from redenvelope.billing.models import Statement
from redenvelope.billing.recognition import earned_cents
from redenvelope.billing.run import run_billing
from redenvelope.ledger.models import JournalLine
from redenvelope.ledger.money import to_cents
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member
from tests.billing.test_lifecycle import GOOD, INSUFFICIENT, at, card, clean, fresh
from tests.members import join_member


def members_since(shop, day=dt.date(2026, 1, 1)):
    """The shared world's members joined 'now' (the real date); these tests are in 2026's
    spring, so they joined earlier."""
    from django.utils import timezone

    Member.objects.filter(pk__in=[shop.alice.pk, shop.bob.pk]).update(
        joined_at=timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    )


def test_a_member_who_joins_after_the_days_run_is_billed_by_the_next(shop):
    with at(dt.date(2026, 4, 12)):
        run_billing(dt.date(2026, 4, 12))  # the day's run has been
        m = join_member("late", shop.plan1, trial=False)
        card(m)
    assert fresh(m).billing_day == 12
    with at(dt.date(2026, 4, 13)):
        run_billing(dt.date(2026, 4, 13))
    st = Statement.objects.get(member=m)
    assert (st.period_start, st.period_end) == (dt.date(2026, 4, 12), dt.date(2026, 5, 12))
    assert st.subtotal == Decimal("8.99") and st.status == "paid"
    with at(dt.date(2026, 4, 14)):
        run_billing(dt.date(2026, 4, 14))  # once
    assert Statement.objects.filter(member=m).count() == 1
    clean()


def test_a_day_the_scheduler_missed_is_billed_the_next_day(shop):
    members_since(shop)
    card(shop.alice)
    with at(dt.date(2026, 4, 11)):
        run_billing(dt.date(2026, 4, 11))  # the 10th never ran
    st = Statement.objects.get(member=shop.alice)
    assert st.period_start == dt.date(2026, 4, 10) and st.status == "paid"
    clean()


def test_a_rejoined_member_is_billed_from_the_day_they_rejoin(shop):
    members_since(shop)
    card(shop.bob)
    with at(dt.date(2026, 4, 3)):
        membership.cancel(fresh(shop.bob), reason="moving")
    with at(dt.date(2026, 4, 20)):
        run_billing(dt.date(2026, 4, 20))
        membership.rejoin(fresh(shop.bob))
    assert fresh(shop.bob).billing_day == 20
    with at(dt.date(2026, 4, 21)):
        run_billing(dt.date(2026, 4, 21))
    st = Statement.objects.get(member=shop.bob)
    assert (st.period_start, st.period_end) == (dt.date(2026, 4, 20), dt.date(2026, 5, 20))
    clean()


def test_the_run_skips_members_billed_past_today_and_a_write_off_unbills_the_period(shop):
    """The daily run reads only members whose billed period has ended (Member.billed_until):
    a statement written off stops counting, so a member who comes back is billed at once."""
    members_since(shop)
    bob = shop.bob
    card(bob, INSUFFICIENT)
    card(shop.alice)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    assert fresh(shop.alice).billed_until == dt.date(2026, 5, 10)
    assert fresh(bob).billed_until == dt.date(2026, 5, 10)
    for d in (11, 13, 17):  # the retries fail; the last writes the statement off
        with at(dt.date(2026, 4, d)):
            run_billing(dt.date(2026, 4, d))
    assert Statement.objects.get(member=bob).status == "written_off"
    assert fresh(bob).status == "cancelled" and fresh(bob).billed_until is None
    card(bob, GOOD)
    with at(dt.date(2026, 4, 18)):
        membership.rejoin(fresh(bob))
        run_billing(dt.date(2026, 4, 18))
    again = Statement.objects.filter(member=bob, status="paid").get()
    assert (again.period_start, again.period_end) == (dt.date(2026, 4, 18), dt.date(2026, 5, 18))
    assert fresh(bob).billed_until == dt.date(2026, 5, 18)
    # Alice, billed through May 10, is not looked at again until then.
    assert Statement.objects.filter(member=shop.alice).count() == 1
    clean()


def test_an_upgrade_is_charged_without_a_current_statement(shop):
    bob = shop.bob  # $8.99, billed on the 10th, never billed yet
    card(bob)
    with at(dt.date(2026, 4, 25)):  # 15 of 30 days left of Apr 10 - May 10
        result = actions.change_plan(fresh(bob), shop.plan3)
    st = result["statement"]
    assert st is not None and st.status == "paid"
    assert st.subtotal == Decimal("8.50") - Decimal("4.50")  # 16.99/2 - 8.99/2, half-up
    assert fresh(bob).plan_id == shop.plan3.pk
    clean()


def test_the_upgrade_days_revenue_is_recognised_and_matches_the_schedule(shop):
    alice = shop.alice
    card(alice)
    Member.objects.filter(pk=alice.pk).update(plan=shop.plan1)
    day = dt.date(2026, 4, 10)
    while day <= dt.date(2026, 5, 10):
        with at(day):
            actions.daily_billing(day)  # revenue recognition included
            if day == dt.date(2026, 4, 22):
                actions.change_plan(fresh(alice), shop.plan3)  # after the day's recognition
        day += dt.timedelta(days=1)
    upgrade = Statement.objects.get(member=alice, kind="proration")
    assert upgrade.period_start == dt.date(2026, 4, 22)
    in_ledger = JournalLine.objects.filter(account__code="4000").aggregate(c=Sum("credit"))["c"]
    schedule = sum(c for c, _ in earned_cents(dt.date(2026, 4, 10), dt.date(2026, 5, 10)).values())
    assert to_cents(in_ledger) == schedule  # the ledger earned what the report says
    # The upgrade's first day is in it: earned over its whole period, to the cent.
    upgrade_days = (upgrade.period_end - upgrade.period_start).days
    assert upgrade_days == 18
    clean()
