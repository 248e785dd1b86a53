"""One rule on both paths: the same scenario shipped by the daily dispatch (set-wise) and by
`ship_copy` one disc at a time gives the same records — the monthly limit counts the member's
billing month (not the calendar month), a DC in a shipping incident ships nothing, a disc into
the bonus slot uses a bonus rental and is marked — and `check`'s disc limit allows the extra
disc only while a bonus is left or the bonus disc is still out."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from redenvelope.checks import run_checks
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError
from redenvelope.fulfillment.actions import open_incident, ship_copy
from redenvelope.fulfillment.dispatch import run_dispatch
from redenvelope.fulfillment.models import Shipment
from redenvelope.inventory.models import Copy, Transit
from redenvelope.membership import actions as membership
from redenvelope.membership.models import Member
from redenvelope.queues.actions import add_to_queue
from redenvelope.queues.models import QueueEntry
from tests.members import join_member

DAY = dt.date(2026, 3, 3)


def at(day: dt.date, hour: int = 10):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


class Rollback(Exception):
    pass


def _join(name, plan, zip_code, billing_day):
    m = join_member(name, plan, city="X", zip_code=zip_code, trial=False)
    Member.objects.filter(pk=m.pk).update(billing_day=billing_day)
    return Member.objects.get(pk=m.pk)


def _past_shipment(world, member, title, when: dt.datetime):
    """A disc shipped and returned earlier: it counts against the month it shipped in."""
    copy = world.new_copy(title, world.sjc)
    Shipment.objects.create(
        member=member,
        copy=copy,
        title=title,
        dc=world.sjc,
        shipped_at=timezone.make_aware(when),
        status="returned",
        closed_at=timezone.make_aware(when + dt.timedelta(days=3)),
        returned_to=world.sjc,
    )


@pytest.fixture
def scenario(world):
    f = world.films
    limited = membership.create_plan(
        code="limited", name="2 a month", discs_at_once=2, monthly_disc_limit=2, monthly_price="7"
    )
    # Carol's billing month is Feb 20 - Mar 20: her two February discs use it up (the
    # calendar month would allow two more).
    carol = _join("carol", limited, "94105", 20)
    _past_shipment(world, carol, f[6], dt.datetime(2026, 2, 25, 10))
    _past_shipment(world, carol, f[7], dt.datetime(2026, 2, 26, 10))
    # Dave's billing month began Mar 2: his disc of Mar 1 was last month's (the calendar month
    # would allow one more, not two).
    dave = _join("dave", limited, "94105", 2)
    _past_shipment(world, dave, f[6], dt.datetime(2026, 3, 1, 10))
    # Bob: one at a time, one bonus rental left: two discs may go, the second uses the bonus.
    Member.objects.filter(pk=world.bob.pk).update(bonus_rentals=1)
    # Alice is in Manhattan, served by Newark, which has a shipping incident today.
    with at(DAY - dt.timedelta(days=2)):
        open_incident(world.ewr, DAY, DAY + dt.timedelta(days=2), reason="flood", actor=None)
    queues = {
        carol.pk: [f[0], f[1]],
        dave.pk: [f[0], f[1], f[2]],
        world.bob.pk: [f[3], f[4], f[5]],
        world.alice.pk: [f[5]],
    }
    for member_id, titles in queues.items():
        for t in titles:
            add_to_queue(member_id, t)
    QueueEntry.objects.exclude(member_id__in=queues).delete()
    for t in (f[0], f[1], f[2], f[3], f[4]):
        world.new_copy(t, world.sjc)
    world.new_copy(f[5], world.ewr)  # only in the closed DC
    return queues


def _records():
    shipped = sorted(
        Shipment.objects.filter(shipped_at__date=DAY).values_list(
            "member_id", "title_id", "dc_id", "bonus"
        )
    )
    bonus = dict(Member.objects.values_list("pk", "bonus_rentals"))
    return shipped, bonus


def _by_rows(queues):
    """The day shipped one disc at a time: each member's queue in order, from the DCs that
    reach them (nearest first), as a clerk at the desk would; a refusal moves on."""
    refused = []
    for member_id, titles in queues.items():
        member = Member.objects.get(pk=member_id)
        transit = Transit.objects.filter(region_id=member.region_id).order_by("days")
        for title in titles:
            for t in transit:
                copy = Copy.objects.filter(title=title, dc_id=t.dc_id, status="on_shelf").first()
                if copy is None:
                    continue
                try:
                    ship_copy(member, copy)
                    break
                except (DomainError, Conflict) as exc:
                    refused.append((member_id, title.pk, str(exc)))
    return refused


def test_row_and_bulk_paths_ship_the_same_records(world, scenario):
    with at(DAY), transaction.atomic():
        try:
            with transaction.atomic():
                run_dispatch(DAY, notify=False)
                bulk = _records()
                assert not [r.name for r in run_checks() if not r.ok and r.name == "disc_limit"]
                raise Rollback
        except Rollback:
            pass
        assert not Shipment.objects.filter(shipped_at__date=DAY).exists()
        refused = _by_rows(scenario)
        rows = _records()
    assert rows == bulk
    shipped, bonus = bulk
    f, bob = world.films, world.bob.pk
    assert {(m, t) for m, t, _, _ in shipped} == {
        (bob, f[3].pk),
        (bob, f[4].pk),  # the bonus slot
        (Member.objects.get(user__username="dave").pk, f[0].pk),
        (Member.objects.get(user__username="dave").pk, f[1].pk),
    }
    assert [b for m, _, _, b in shipped if m == bob].count(True) == 1 and bonus[bob] == 0
    reasons = " | ".join(r[2] for r in refused)
    assert "billing month" in reasons and "not shipping today" in reasons


def test_check_allows_the_extra_disc_only_for_a_bonus(world):
    f = world.films
    Member.objects.filter(pk=world.bob.pk).update(bonus_rentals=1)
    bob = Member.objects.get(pk=world.bob.pk)
    for t in f[:2]:
        add_to_queue(bob, t)
    first = ship_copy(bob, world.new_copy(f[0], world.sjc))
    second = ship_copy(Member.objects.get(pk=bob.pk), world.new_copy(f[1], world.sjc))
    assert (first.bonus, second.bonus) == (False, True)
    assert Member.objects.get(pk=bob.pk).bonus_rentals == 0

    def disc_limit_ok():
        return next(r for r in run_checks() if r.name == "disc_limit").ok

    assert disc_limit_ok()  # the bonus disc is out: two are allowed
    # The bonus disc comes back; a disc out beyond the plan now (written around the doors, as
    # the old rule let pass for anyone who once had a bonus) is caught.
    Shipment.objects.filter(pk=second.pk).update(status="returned", closed_at=timezone.now())
    Shipment.objects.create(
        member=bob,
        copy=world.new_copy(f[2], world.sjc),
        title=f[2],
        dc=world.sjc,
        shipped_at=timezone.now(),
    )
    assert not disc_limit_ok()


def test_a_dcs_own_run_reads_only_its_members(world):
    """Each DC's run serves the regions it is the nearest open DC to: Newark Manhattan (Alice),
    San Jose San Francisco (Bob), though San Jose reaches Manhattan too; while Newark has a
    shipping incident, San Jose's run takes Manhattan."""
    for t in world.films[:2]:
        add_to_queue(world.alice, t)
        add_to_queue(world.bob, t)
        world.new_copy(t, world.ewr)
        world.new_copy(t, world.sjc)

    def considered(run):
        return run.figures["members_considered"], set(
            Shipment.objects.filter(run=run).values_list("member_id", flat=True)
        )

    with at(DAY):
        assert considered(run_dispatch(DAY, world.ewr, notify=False)) == (1, {world.alice.pk})
        assert considered(run_dispatch(DAY, world.sjc, notify=False)) == (1, {world.bob.pk})
    later = DAY + dt.timedelta(days=1)
    with at(DAY):
        open_incident(world.ewr, later, later + dt.timedelta(days=1), reason="flood", actor=None)
        add_to_queue(world.alice, world.films[2])  # Alice has a slot left; Bob has none
        world.new_copy(world.films[2], world.sjc)
    with at(later):
        assert run_dispatch(later, world.ewr, notify=False).figures["members_considered"] == 0
        assert considered(run_dispatch(later, world.sjc, notify=False)) == (1, {world.alice.pk})
