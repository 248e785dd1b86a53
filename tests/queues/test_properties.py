"""Any sequence of queue operations keeps the queue a permutation with positions 1..n, matches a
plain-list model of it, and the series rule holds on what is eligible."""

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redenvelope.core.errors import DomainError
from redenvelope.queues import actions
from redenvelope.queues.models import QueueEntry
from redenvelope.queues.queries import eligible_entries

OPS = st.lists(
    st.tuples(
        st.sampled_from(["add_top", "add_bottom", "add_at", "remove", "move", "top"]),
        st.integers(0, 11),  # which title
        st.integers(-1, 14),  # a position, sometimes out of range
    ),
    max_size=25,
)


class Rollback(Exception):
    pass


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_any_sequence_keeps_queue_valid(world, ops):
    titles = world.films + world.discs  # 12 titles, 4 of them one series
    member = world.alice
    try:
        with transaction.atomic():
            model: list[int] = []
            for op, i, pos in ops:
                t = titles[i]
                expected = list(model)
                try:
                    if op == "add_top":
                        actions.add_to_queue(member, t, "top")
                        expected.insert(0, t.pk)
                    elif op == "add_bottom":
                        actions.add_to_queue(member, t, "bottom")
                        expected.append(t.pk)
                    elif op == "add_at":
                        actions.add_to_queue(member, t, pos)
                        expected.insert(pos - 1, t.pk)
                    elif op == "remove":
                        actions.remove_from_queue(member, t)
                        expected.remove(t.pk)
                    elif op == "move":
                        actions.move_in_queue(member, t, pos)
                        expected.remove(t.pk)
                        expected.insert(pos - 1, t.pk)
                    else:
                        actions.move_to_top(member, t)
                        expected.remove(t.pk)
                        expected.insert(0, t.pk)
                    model = expected
                except DomainError:
                    pass  # refused: the queue must be exactly as before
                rows = list(
                    QueueEntry.objects.filter(member=member)
                    .order_by("position")
                    .values_list("position", "title_id")
                )
                assert [p for p, _ in rows] == list(range(1, len(rows) + 1))
                assert [t for _, t in rows] == model
                _assert_series_rule(member, titles)
            raise Rollback
    except Rollback:
        pass


def _assert_series_rule(member, titles):
    queued = {
        e.title_id: e.title
        for e in QueueEntry.objects.filter(member=member).select_related("title")
    }
    for entry in eligible_entries(member.pk):
        t = entry.title
        if t.series_id is None:
            continue
        for other in queued.values():
            if other.series_id == t.series_id:
                assert (other.season, other.disc_number) >= (t.season, t.disc_number)
