import datetime as dt

import pytest
from django.utils import timezone

from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.queues import actions
from redenvelope.queues.models import QueueEntry, SavedEntry
from redenvelope.queues.queries import eligible_entries


def titles_in_order(member):
    return list(
        QueueEntry.objects.filter(member=member)
        .order_by("position")
        .values_list("title__name", flat=True)
    )


def test_add_top_bottom_and_position(world):
    a, b, c, d = world.films[:4]
    actions.add_to_queue(world.alice, a)
    actions.add_to_queue(world.alice, b)
    actions.add_to_queue(world.alice, c, "top")
    actions.add_to_queue(world.alice, d, 2)
    assert titles_in_order(world.alice) == ["Film 2", "Film 3", "Film 0", "Film 1"]


def test_move_remove_and_top(world):
    for film in world.films[:5]:
        actions.add_to_queue(world.alice, film)
    actions.move_in_queue(world.alice, world.films[0], 5)
    assert titles_in_order(world.alice) == ["Film 1", "Film 2", "Film 3", "Film 4", "Film 0"]
    actions.move_to_top(world.alice, world.films[3])
    assert titles_in_order(world.alice) == ["Film 3", "Film 1", "Film 2", "Film 4", "Film 0"]
    actions.remove_from_queue(world.alice, world.films[1])
    assert titles_in_order(world.alice) == ["Film 3", "Film 2", "Film 4", "Film 0"]
    assert list(
        QueueEntry.objects.filter(member=world.alice)
        .order_by("position")
        .values_list("position", flat=True)
    ) == [1, 2, 3, 4]


def test_bad_input_changes_nothing(world):
    actions.add_to_queue(world.alice, world.films[0])
    actions.add_to_queue(world.alice, world.films[1])
    before = titles_in_order(world.alice)
    with pytest.raises(NotFound, match="No title"):
        actions.add_to_queue(world.alice, 999999)
    with pytest.raises(Conflict, match="already in the queue"):
        actions.add_to_queue(world.alice, world.films[0])
    for position in (0, 3, -1, "x"):
        with pytest.raises(DomainError, match="Position"):
            actions.move_in_queue(world.alice, world.films[0], position)
    with pytest.raises(NotFound, match="not in the queue"):
        actions.remove_from_queue(world.alice, world.films[5])
    with pytest.raises(DomainError, match="save it instead"):
        actions.add_to_queue(world.alice, world.unreleased)
    with pytest.raises(NotFound, match="No member"):
        actions.add_to_queue(987654, world.films[2])
    assert titles_in_order(world.alice) == before


def test_members_queues_are_separate(world):
    actions.add_to_queue(world.alice, world.films[0])
    actions.add_to_queue(world.bob, world.films[0])
    actions.remove_from_queue(world.bob, world.films[0])
    assert titles_in_order(world.alice) == ["Film 0"]
    assert titles_in_order(world.bob) == []


def test_saved_list_moves_to_top_on_release_day(world):
    actions.add_to_queue(world.alice, world.films[0])
    actions.save_title(world.alice, world.unreleased)
    with pytest.raises(Conflict):
        actions.save_title(world.alice, world.unreleased)
    with pytest.raises(DomainError, match="already released"):
        actions.save_title(world.alice, world.films[1])
    assert actions.release_saved_titles(timezone.localdate()) == 0
    moved = actions.release_saved_titles(world.unreleased.release_date)
    assert moved == 1
    assert titles_in_order(world.alice) == ["Coming Soon", "Film 0"]
    assert not SavedEntry.objects.exists()
    assert actions.release_saved_titles(world.unreleased.release_date) == 0


def test_series_rule(world):
    s1d1, s1d2, s2d1, s2d2 = world.discs
    for t in (s2d1, s1d2, world.films[0], s1d1):
        actions.add_to_queue(world.alice, t)
    eligible = [e.title for e in eligible_entries(world.alice.pk)]
    assert eligible == [world.films[0], s1d1]
    actions.remove_from_queue(world.alice, s1d1)
    # Disc 1 is out with the member: disc 2 waits until it comes back.
    eligible = [e.title for e in eligible_entries(world.alice.pk, out_titles=[s1d1])]
    assert eligible == [world.films[0]]
    eligible = [e.title for e in eligible_entries(world.alice.pk)]
    assert eligible == [s1d2, world.films[0]]


def test_queue_length_limit(world, settings):
    settings.REDENVELOPE = {**settings.REDENVELOPE, "QUEUE_MAX_LENGTH": 2}
    actions.add_to_queue(world.alice, world.films[0])
    actions.add_to_queue(world.alice, world.films[1])
    with pytest.raises(DomainError, match="at most 2"):
        actions.add_to_queue(world.alice, world.films[2])


def test_unsave_unknown(world):
    with pytest.raises(NotFound):
        actions.unsave_title(world.alice, world.unreleased)
    assert world.unreleased.release_date > timezone.localdate() - dt.timedelta(days=1)
