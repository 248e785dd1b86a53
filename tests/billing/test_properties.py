"""Property tests: over any sequence of billing events the ledger balances, statements add up,
re-running a day changes nothing, revenue recognised equals charges less discounts, and
proration is the exact day count rounded once."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redenvelope.billing import actions
from redenvelope.billing.models import Statement
from redenvelope.billing.recognition import recognize_revenue
from redenvelope.billing.run import run_billing, share
from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.ledger.models import JournalLine
from redenvelope.ledger.queries import trial_balance
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member

START = dt.date(2026, 4, 1)
DAYS = 40


@given(
    cents=st.integers(0, 10**7),
    num=st.integers(0, 31),
    den=st.integers(1, 31),
)
def test_share_is_exact_fraction_rounded_half_up_once(cents, num, den):
    exact = Fraction(cents * num, den) / 100
    expected = Decimal(exact.numerator) / Decimal(exact.denominator)
    expected = expected.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert share(cents, num, den) == int(expected * 100)


event = st.one_of(
    st.tuples(st.just("credit"), st.sampled_from(["alice", "bob"]), st.integers(1, 2500)),
    st.tuples(st.just("percent"), st.sampled_from(["alice", "bob"]), st.integers(1, 100)),
    st.tuples(st.just("hold"), st.sampled_from(["alice", "bob"]), st.integers(1, 20)),
    st.tuples(st.just("plan"), st.sampled_from(["alice", "bob"]), st.integers(0, 1)),
    st.tuples(st.just("card"), st.sampled_from(["alice", "bob"]), st.integers(0, 2)),
    st.tuples(st.just("fee"), st.sampled_from(["alice", "bob"]), st.integers(0, 1)),
    st.tuples(st.just("rerun"), st.just("alice"), st.just(0)),
)
CARDS = ["4242424242424242", "4000000000009995", "4000000000000002"]


class Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(st.tuples(st.integers(0, DAYS - 1), event), max_size=25))
def test_any_sequence_keeps_the_books(world, plan):
    try:
        with transaction.atomic():
            _play(world, plan)
            raise Rollback
    except Rollback:
        pass


def _play(world, plan):
    Member.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).update(billing_day=5)
    agent = world.staff["support_lead"]
    who = {"alice": world.alice, "bob": world.bob}
    todo: dict[int, list] = {}
    for day, ev in plan:
        todo.setdefault(day, []).append(ev)
    for k in range(DAYS):
        day = START + dt.timedelta(days=k)
        with clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(9)))):
            for kind, name, n in todo.get(k, []):
                m = Member.objects.get(pk=who[name].pk)
                try:
                    if kind == "credit":
                        actions.issue_credit(m, Decimal(n) / 100, reason="p", issuer=agent)
                    elif kind == "percent":
                        actions.issue_credit(m, kind="percent", percent=n, reason="p", issuer=agent)
                    elif kind == "hold":
                        membership.place_hold(
                            m, day + dt.timedelta(days=1), day + dt.timedelta(days=1 + n)
                        )
                    elif kind == "plan":
                        actions.change_plan(m, [world.plan1, world.plan3][n])
                    elif kind == "card":
                        actions.add_payment_method(
                            m, kind="card", number=CARDS[n], exp_month=12, exp_year=2030
                        )
                    elif kind == "fee":
                        actions.charge_fee(
                            m, ["lost_disc", "damaged_disc"][n], reason="p", issuer=agent
                        )
                    elif kind == "rerun":
                        before = (Statement.objects.count(), JournalLine.objects.count())
                        run_billing(day - dt.timedelta(days=1))
                        assert (Statement.objects.count(), JournalLine.objects.count()) == before
                except DomainError as exc:
                    # Refused events change nothing; only these refusals are expected. Money
                    # given to a member who is still a member is never refused.
                    # (A hold may overlap another; a plan change may be to the same plan, or
                    # declined by the card.)
                    expected_refusal = m.status == "cancelled" or kind in ("hold", "plan")
                    assert expected_refusal, (kind, name, n, exc.message)
            run_billing(day)
            recognize_revenue(day)
    assert Statement.objects.filter(kind="period").exists()
    assert trial_balance().balanced
    bad = [
        r
        for r in run_checks()
        if not r.ok and r.name in {"ledger_balanced", "statement_totals", "statement_paid"}
    ]
    assert bad == []
    # Revenue earned, checked against the contract rather than a copy of the formula: a statement
    # whose period has ended has earned exactly its price less discount; one still running has
    # earned no more than its exact share of the days gone, and less by under a cent a day.
    end = START + dt.timedelta(days=DAYS)
    exact_ended, share_running, days_running = Decimal(0), Decimal(0), 0
    for s in Statement.objects.all():
        earned_total = s.subtotal - s.discount
        days = (s.period_end - s.period_start).days
        if s.written_off_on and s.written_off_on < min(s.period_end, end):
            # Written off: earns whole cents a day only for the days served (decision 0006).
            served = (s.written_off_on - s.period_start).days
            exact_ended += (earned_total * 100 // days) * served / 100
        elif s.period_end <= end:
            exact_ended += earned_total
        else:
            elapsed = (end - s.period_start).days
            share_running += earned_total * elapsed / days
            days_running += elapsed
    earned = sum((ln.credit - ln.debit) for ln in JournalLine.objects.filter(account__code="4000"))
    upper = exact_ended + share_running
    assert upper - Decimal(days_running) / 100 <= earned <= upper
