import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from redenvelope.core.errors import Conflict, DomainError
from redenvelope.membership import actions
from redenvelope.membership.models import Member, MemberStatus
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry


def test_join_places_member_in_region_of_zip(world):
    assert world.alice.region == world.nyc
    assert world.alice.user.groups.filter(name="member").exists()
    assert list(world.alice.events.values_list("kind", flat=True)) == ["joined"]


@pytest.mark.parametrize("zip_code", ["ABCDE", "1234", "99999"])
def test_join_refuses_bad_or_unserved_zip(world, zip_code):
    before = Member.objects.count()
    with pytest.raises(DomainError):
        actions.join(
            username="carol",
            email="carol@example.com",
            password="x-long-password",
            plan=world.plan1,
            street="1 St",
            city="C",
            state="NY",
            zip_code=zip_code,
        )
    assert Member.objects.count() == before


def test_join_refuses_duplicates(world):
    with pytest.raises(Conflict):
        actions.join(
            username="alice",
            email="new@example.com",
            password="pw-long-enough",
            plan=world.plan1,
            street="1",
            city="c",
            state="NY",
            zip_code="10001",
        )
    with pytest.raises(Conflict):
        actions.join(
            username="alice2",
            email="ALICE@example.com",
            password="pw-long-enough",
            plan=world.plan1,
            street="1",
            city="c",
            state="NY",
            zip_code="10001",
        )


def test_plan_validation(world):
    for discs, screens in ((0, 0), (9, 1), (-1, 1), (1, 9), (1, -1)):
        with pytest.raises(DomainError):
            actions.create_plan(
                code=f"p{discs}{screens}",
                name="x",
                discs_at_once=discs,
                streaming_screens=screens,
                monthly_price="1.00",
            )
    streaming_only = actions.create_plan(
        code="s", name="Stream", discs_at_once=0, streaming_screens=2, monthly_price="7.99"
    )
    discs_only = actions.create_plan(
        code="d", name="Discs", discs_at_once=2, streaming_screens=0, monthly_price="9.99"
    )
    assert (streaming_only.kind, discs_only.kind) == ("streaming", "dvd")
    with pytest.raises(DomainError):
        actions.create_plan(code="neg", name="x", discs_at_once=1, monthly_price="-1")
    with pytest.raises(DomainError):
        actions.create_plan(code="frac", name="x", discs_at_once=1, monthly_price="1.005")


def test_holds(world):
    today = timezone.localdate()
    hold = actions.place_hold(world.alice, today, today + dt.timedelta(days=14))
    assert actions.on_hold(world.alice, today)
    assert not actions.on_hold(world.alice, today + dt.timedelta(days=14))
    with pytest.raises(Conflict):
        actions.place_hold(world.alice, today + dt.timedelta(days=3), today + dt.timedelta(days=20))
    with pytest.raises(DomainError):
        actions.place_hold(world.alice, today, today)
    actions.cancel_hold(hold)
    assert not actions.on_hold(world.alice, today)


def test_plan_change_and_cancel_rules(world):
    actions.change_plan(world.bob, world.plan3)
    assert Member.objects.get(pk=world.bob.pk).plan == world.plan3
    with pytest.raises(DomainError):
        actions.change_plan(world.bob, world.plan3)
    actions.cancel(world.bob)
    with pytest.raises(DomainError):
        actions.change_plan(world.bob, world.plan1)
    with pytest.raises(DomainError):
        actions.cancel(world.bob)


def test_cancelled_member_keeps_queue_and_gets_it_back(world):
    for film in world.films[:3]:
        queues.add_to_queue(world.alice, film)
    actions.cancel(world.alice)
    assert QueueEntry.objects.filter(member=world.alice).count() == 3
    with pytest.raises(DomainError, match="rejoin"):
        queues.add_to_queue(world.alice, world.films[4])
    # Still within 24 months: the purge leaves it.
    assert queues.purge_cancelled_queues(timezone.localdate() + dt.timedelta(days=700)) == 0
    member = actions.rejoin(world.alice)
    assert member.status == MemberStatus.ACTIVE
    assert [e.title for e in member.queue_entries.order_by("position")] == world.films[:3]


@override_settings(REDENVELOPE={"QUEUE_RETENTION_DAYS": 730, "QUEUE_MAX_LENGTH": 500})
def test_queue_purged_24_months_after_cancellation(world):
    queues.add_to_queue(world.alice, world.films[0])
    queues.add_to_queue(world.bob, world.films[0])
    actions.cancel(world.alice)
    assert queues.purge_cancelled_queues(timezone.localdate() + dt.timedelta(days=731)) == 1
    assert not QueueEntry.objects.filter(member=world.alice).exists()
    assert QueueEntry.objects.filter(member=world.bob).exists()
