"""Restoring a queue to the exact order of a past day (every change is kept)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.fulfillment.actions import ship_copy
from redenvelope.ledger.actions import ensure_chart
from redenvelope.queues import actions as queues
from redenvelope.queues.models import QueueEntry
from redenvelope.support import actions as support
from redenvelope.support.models import Action, Case


def at(day, hour=12):
    return clock.frozen(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))))


def order(member):
    return list(
        QueueEntry.objects.filter(member_id=member.pk)
        .order_by("position")
        .values_list("title_id", flat=True)
    )


@pytest.fixture
def history(world):
    ensure_chart()
    w, f = world, world.films
    today = clock.today()
    w.d10, w.d9, w.d5 = (today - dt.timedelta(days=n) for n in (10, 9, 5))
    with at(w.d10):
        for t in f[:4]:
            queues.add_to_queue(w.alice, t)
        queues.move_to_top(w.alice, f[3])
    with at(w.d9):
        ship_copy(w.alice, w.new_copy(f[0]))
    with at(w.d5):
        queues.remove_from_queue(w.alice, f[2])
        queues.add_to_queue(w.alice, f[4], "top")
        queues.move_to_top(w.alice, f[1])
    assert order(w.alice) == [f[1].pk, f[4].pk, f[3].pk]
    return w


def test_restore_brings_back_the_exact_order_of_a_past_day(history):
    w, f = history, history.films
    case = support.restore_my_queue(w.alice, w.d10, actor=w.alice.user)
    assert order(w.alice) == [f[3].pk, f[0].pk, f[1].pk, f[2].pk]
    assert case.status == Case.Status.RESOLVED
    support.restore_my_queue(w.alice, w.d9)  # f0 shipped that day: it had left the queue
    assert order(w.alice) == [f[3].pk, f[1].pk, f[2].pk]
    support.restore_my_queue(w.alice, w.d5)
    assert order(w.alice) == [f[1].pk, f[4].pk, f[3].pk]


def test_bad_days_change_nothing(history):
    w = history
    before = order(w.alice)
    for day in (clock.today(), clock.today() - dt.timedelta(days=30)):
        with pytest.raises(DomainError):
            support.restore_my_queue(w.alice, day)
    with pytest.raises(DomainError):
        support.restore_my_queue(w.alice, "yesterday-ish")
    assert order(w.alice) == before and not Case.objects.exists()


def test_agent_restores_from_a_case_and_the_member_from_the_site(history, client):
    w, f = history, history.films
    agent = w.staff["support_agent"]
    case = support.open_case(w.alice, channel="phone", subject="Lost my queue", actor=agent)
    support.compensate(
        case, "restore_queue", target=f"day:{w.d9.isoformat()}", reason="asked", actor=agent
    )
    assert order(w.alice) == [f[3].pk, f[1].pk, f[2].pk]
    assert Action.objects.get(kind="restore_queue").value == 0
    client.force_login(w.alice.user)
    resp = client.post(reverse("restore_queue"), {"day": w.d5.isoformat()})
    assert resp["Location"] == reverse("queue")
    assert order(w.alice) == [f[1].pk, f[4].pk, f[3].pk]
