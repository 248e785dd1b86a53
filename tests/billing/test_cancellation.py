"""A membership ends one way, whichever door ends it: a member cancelling during a trial, staff
cancelling at once, a scheduled cancellation taking effect in the billing run, the last failed
retry. Each leaves the same records: cancelled as of the moment, nothing scheduled or pending,
one `cancelled` event with its reason."""

import datetime as dt
import pathlib
import re

import pytest
from django.utils import timezone

from redenvelope.billing import actions
from redenvelope.billing.run import run_billing
from redenvelope.core import clock
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member, MemberEvent
from tests.members import join_member

GOOD = "4242424242424242"
INSUFFICIENT = "4000000000009995"

pytestmark = pytest.mark.usefixtures("emails_at_once")


def at(day: dt.date):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(9))))


def card(member, number=GOOD):
    actions.add_payment_method(member, kind="card", number=number, exp_month=12, exp_year=2030)


def ended(member, day: dt.date, reason: str):
    m = Member.objects.get(pk=member.pk)
    assert m.status == "cancelled"
    assert m.cancelled_at == timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    assert (m.cancels_on, m.pending_plan_id) == (None, None)
    events = MemberEvent.objects.filter(member=m, kind="cancelled")
    assert [e.data["reason"] for e in events] == [reason]
    return m


def test_scheduled_cancellation_takes_effect_through_the_same_door(shop):
    bob = shop.bob
    card(bob)
    with at(dt.date(2026, 4, 10)):
        run_billing(dt.date(2026, 4, 10))
    with at(dt.date(2026, 4, 20)):
        actions.change_plan(Member.objects.get(pk=bob.pk), shop.plan3)  # an upgrade: paid now
        actions.change_plan(Member.objects.get(pk=bob.pk), shop.plan1)  # a downgrade pending
        assert Member.objects.get(pk=bob.pk).pending_plan_id == shop.plan1.pk
        actions.request_cancellation(Member.objects.get(pk=bob.pk), reason="moving")
    m = Member.objects.get(pk=bob.pk)
    assert m.cancels_on == dt.date(2026, 5, 10) and m.pending_plan_id is None
    with at(dt.date(2026, 5, 10)):
        summary = run_billing(dt.date(2026, 5, 10))
    assert summary["cancelled"] == 1
    ended(bob, dt.date(2026, 5, 10), "end of paid period")
    # A rerun of the day ends nobody twice.
    with at(dt.date(2026, 5, 10)):
        assert run_billing(dt.date(2026, 5, 10))["cancelled"] == 0
    ended(bob, dt.date(2026, 5, 10), "end of paid period")


def test_last_failed_retry_ends_through_the_same_door(shop):
    bob = shop.bob
    card(bob, INSUFFICIENT)
    for d in (10, 11, 13, 17):
        with at(dt.date(2026, 4, d)):
            run_billing(dt.date(2026, 4, d))
    ended(bob, dt.date(2026, 4, 17), "payment failed after every retry")


def test_staff_and_trial_cancellations_leave_the_same_records(shop):
    alice = shop.alice
    Member.objects.filter(pk=alice.pk).update(
        cancels_on=dt.date(2026, 5, 10), pending_plan=shop.plan1
    )
    with at(dt.date(2026, 4, 12)):
        membership.cancel(alice, actor=shop.staff["support_lead"], reason="asked by phone")
    m = ended(alice, dt.date(2026, 4, 12), "asked by phone")
    assert MemberEvent.objects.get(member=m, kind="cancelled").actor == shop.staff["support_lead"]
    with at(dt.date(2026, 3, 1)):
        dan = join_member("dan", shop.plan1)
        actions.request_cancellation(dan)
    ended(dan, dt.date(2026, 3, 1), "cancelled during trial")
    with at(dt.date(2026, 3, 2)), pytest.raises(Exception, match="already cancelled"):
        membership.cancel(dan)


def test_no_other_code_ends_a_membership():
    """Only `membership.actions.end_memberships` writes a cancelled status."""
    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "redenvelope"
    writes = re.compile(
        r"SET status = 'cancelled'|update\(.*status=(MemberStatus\.CANCELLED|\"cancelled\")"
    )
    found = []
    for path in src.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if writes.search(line):
                found.append(f"{path.relative_to(src)}:{n}: {line.strip()}")
    assert [f for f in found if not f.startswith("membership/actions.py")] == []
    assert len(found) == 1  # the UPDATE in end_memberships
