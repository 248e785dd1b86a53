"""The availability estimates read the hourly count of the whole catalog when it is fresh, and
count a title at once when it is not (a new title, a stale count)."""

import datetime as dt

from redenvelope.core import clock
from redenvelope.fulfillment.actions import count_title_demand
from redenvelope.fulfillment.models import TitleDemand
from redenvelope.fulfillment.queries import availability
from redenvelope.queues import actions as queues


def test_hourly_count_matches_the_live_one_and_is_used_while_fresh(world):
    w = world
    w.new_copy(w.films[0])
    w.new_copy(w.films[1])
    for member in (w.alice, w.bob):
        queues.add_to_queue(member, w.films[1])
        queues.add_to_queue(member, w.films[2])
    ids = [t.pk for t in w.films[:4]]
    live = availability(ids)
    assert count_title_demand() == len(w.films) + len(w.discs) + 1
    row = TitleDemand.objects.get(title=w.films[1])
    assert (row.copies, row.on_shelf, row.near_top) == (1, 1, 2)
    assert availability(ids) == live
    # Film 1 leaves the top of both queues; the fresh count is what the pages say until the
    # next count...
    for t in w.films[3:7]:
        queues.add_to_queue(w.alice, t, "top")
        queues.add_to_queue(w.bob, t, "top")
    assert availability([w.films[1].pk]) == {w.films[1].pk: "Short wait"}
    # ...and a stale one is not used: the title is counted at once.
    TitleDemand.objects.update(counted_at=clock.now() - dt.timedelta(hours=4))
    assert availability([w.films[1].pk]) == {w.films[1].pk: "Available now"}
