"""Queue reads shared by pages, the API and (in bulk) dispatch."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from .models import QueueEntry, SavedEntry
from .series import Item, eligible_title_ids


def queue_of(member_id: int) -> list[QueueEntry]:
    """The member's queue in order, each entry with `rank` (1 = top) as the member sees it."""
    entries = list(
        QueueEntry.objects.filter(member_id=member_id)
        .select_related("title", "title__series")
        .order_by("position")
    )
    for rank, entry in enumerate(entries, start=1):
        entry.rank = rank
    return entries


def saved_of(member_id: int) -> QuerySet:
    return (
        SavedEntry.objects.filter(member_id=member_id)
        .select_related("title")
        .order_by("title__release_date", "added_at")
    )


def _item(title) -> Item:
    return Item(title.id, title.series_id, title.series_order)


def eligible_entries(member_id: int, out_titles: Iterable = ()) -> list[QueueEntry]:
    """The member's queue entries that may ship now, in queue order.

    `out_titles` are Title objects the member has out (fulfillment passes them in: queues sits
    left of fulfillment and does not read shipments itself).
    """
    entries = list(queue_of(member_id))
    ok = eligible_title_ids([_item(e.title) for e in entries], [_item(t) for t in out_titles])
    return [e for e in entries if e.title_id in ok]


def queued_and_saved(member_id: int, title_ids) -> dict[str, set[int]]:
    """Which of these titles the member has in their queue and on their Saved list."""
    ids = list(title_ids)
    return {
        "queued": set(
            QueueEntry.objects.filter(member_id=member_id, title_id__in=ids).values_list(
                "title_id", flat=True
            )
        ),
        "saved": set(
            SavedEntry.objects.filter(member_id=member_id, title_id__in=ids).values_list(
                "title_id", flat=True
            )
        ),
    }
