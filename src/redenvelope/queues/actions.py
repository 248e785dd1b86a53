"""Every change to a member's queue and Saved list.

Each action locks the member's row first, so two clicks on the same queue run one after the other,
then rewrites the queue's order in two set-based statements, keeping positions 1..n.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, IntegerField, Min, Value, When
from django.utils import timezone

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.membership.models import Member, MemberStatus

from .models import QueueEntry, QueueSnapshot, SavedEntry

_PARK = 1_000_000  # positions are parked above this while an order is rewritten


def _lock_member(member: Member | int) -> Member:
    member_id = member if isinstance(member, int) else member.pk
    try:
        return Member.objects.select_for_update().get(pk=member_id)
    except Member.DoesNotExist:
        raise NotFound(f"No member {member_id}.", code="unknown_member") from None


def _title(title: Title | int) -> Title:
    if isinstance(title, Title):
        return title
    try:
        return Title.objects.get(pk=int(title))
    except (Title.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No title {title}.", code="unknown_title") from None


def _order(member_id: int) -> list[int]:
    return list(
        QueueEntry.objects.filter(member_id=member_id)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def _write_order(member_id: int, entry_ids: list[int]) -> None:
    """Give the entries positions 1..n in the order given (two UPDATE statements), and keep
    the new order in the queue's history."""
    if entry_ids:
        rows = QueueEntry.objects.filter(member_id=member_id)
        rows.update(position=F("position") + _PARK)
        rows.filter(pk__in=entry_ids).update(
            position=Case(
                *[When(pk=pk, then=Value(i)) for i, pk in enumerate(entry_ids, start=1)],
                output_field=IntegerField(),
            )
        )
    _snapshot([member_id])


def _snapshot(member_ids) -> None:
    """Record the current order of these members' queues (one read, one insert)."""
    orders: dict[int, list[int]] = {int(m): [] for m in member_ids}
    for m, t in (
        QueueEntry.objects.filter(member_id__in=list(orders))
        .order_by("member_id", "position")
        .values_list("member_id", "title_id")
    ):
        orders[m].append(t)
    now = clock.now()
    QueueSnapshot.objects.bulk_create(
        [QueueSnapshot(member_id=m, at=now, titles=t) for m, t in orders.items()],
        batch_size=2000,
    )


def queue_on(member_id: int, moment: dt.datetime) -> list[int]:
    """The title ids in the member's queue at `moment`, top first: the last order recorded
    before it, less the titles shipped to the member between that order and the moment."""
    from redenvelope.fulfillment.models import Shipment

    snap = (
        QueueSnapshot.objects.filter(member_id=member_id, at__lte=moment)
        .order_by("-at", "-pk")
        .first()
    )
    if snap is None:
        raise DomainError("The queue's history does not go back that far.", code="no_queue_history")
    shipped = set(
        Shipment.objects.filter(
            member_id=member_id, shipped_at__gt=snap.at, shipped_at__lte=moment
        ).values_list("title_id", flat=True)
    )
    return [t for t in snap.titles if t not in shipped]


@transaction.atomic
def restore_queue(member: Member | int, day: dt.date) -> list[int]:
    """Make the member's queue exactly what it was at the end of `day`: titles added since are
    taken out, titles removed since come back, in that day's order. Returns the title ids."""
    member = _lock_member(member)
    _check_member_may_edit(member)
    if day >= clock.today():
        raise DomainError("Restore to a day before today.")
    end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    titles = queue_on(member.pk, end)
    known = set(Title.objects.filter(pk__in=titles).values_list("pk", flat=True))
    titles = [t for t in titles if t in known]
    QueueEntry.objects.filter(member_id=member.pk).exclude(title_id__in=titles).delete()
    have = set(QueueEntry.objects.filter(member_id=member.pk).values_list("title_id", flat=True))
    now = clock.now()
    QueueEntry.objects.bulk_create(
        [
            QueueEntry(member_id=member.pk, title_id=t, position=_PARK * 2 + i, added_at=now)
            for i, t in enumerate(titles)
            if t not in have
        ]
    )
    by_title = dict(QueueEntry.objects.filter(member_id=member.pk).values_list("title_id", "pk"))
    _write_order(member.pk, [by_title[t] for t in titles])
    return titles


def _entry(member_id: int, title: Title) -> QueueEntry:
    try:
        return QueueEntry.objects.get(member_id=member_id, title=title)
    except QueueEntry.DoesNotExist:
        raise NotFound(f"{title} is not in the queue.", code="not_in_queue") from None


def _check_member_may_edit(member: Member) -> None:
    if member.status == MemberStatus.CANCELLED:
        raise DomainError(
            "A cancelled membership's queue is kept but cannot be changed; rejoin first."
        )


@transaction.atomic
def add_to_queue(
    member: Member | int, title: Title | int, where: str | int = "bottom"
) -> QueueEntry:
    """Add a released title at the top, the bottom, or a given position (1 = top)."""
    member = _lock_member(member)
    _check_member_may_edit(member)
    title = _title(title)
    if not title.is_released():
        raise DomainError(
            f"{title} is not released until {title.release_date:%B %-d, %Y}; save it instead.",
            code="unreleased",
        )
    if QueueEntry.objects.filter(member_id=member.pk, title=title).exists():
        raise Conflict(f"{title} is already in the queue.", code="already_queued")
    order = _order(member.pk)
    if len(order) >= settings.REDENVELOPE["QUEUE_MAX_LENGTH"]:
        raise DomainError(
            f"A queue holds at most {settings.REDENVELOPE['QUEUE_MAX_LENGTH']} titles."
        )
    if where == "bottom":
        index = len(order)
    elif where == "top":
        index = 0
    else:
        index = _position_index(where, len(order) + 1)
    entry = QueueEntry.objects.create(member_id=member.pk, title=title, position=_PARK * 2)
    order.insert(index, entry.pk)
    _write_order(member.pk, order)
    entry.refresh_from_db()
    return entry


def _position_index(position, size: int) -> int:
    try:
        position = int(position)
    except (TypeError, ValueError):
        raise DomainError(f"Position {position!r} is not a number.", code="bad_position") from None
    if not 1 <= position <= size:
        raise DomainError(
            f"Position {position} is out of range: choose 1 to {size}.", code="bad_position"
        )
    return position - 1


@transaction.atomic
def remove_from_queue(member: Member | int, title: Title | int) -> None:
    member = _lock_member(member)
    _check_member_may_edit(member)
    entry = _entry(member.pk, _title(title))
    entry.delete()
    _write_order(member.pk, _order(member.pk))


@transaction.atomic
def move_in_queue(member: Member | int, title: Title | int, position: int) -> QueueEntry:
    """Move a queued title to `position` (1 = top); the others keep their relative order."""
    member = _lock_member(member)
    _check_member_may_edit(member)
    entry = _entry(member.pk, _title(title))
    order = _order(member.pk)
    index = _position_index(position, len(order))
    order.remove(entry.pk)
    order.insert(index, entry.pk)
    _write_order(member.pk, order)
    entry.refresh_from_db()
    return entry


def move_to_top(member: Member | int, title: Title | int) -> QueueEntry:
    return move_in_queue(member, title, 1)


@transaction.atomic
def move_by(member: Member | int, title: Title | int, step: int) -> QueueEntry:
    """Move a queued title up (-1) or down (+1) one place; at the top or bottom it stays."""
    member = _lock_member(member)
    _check_member_may_edit(member)
    entry = _entry(member.pk, _title(title))
    order = _order(member.pk)
    index = order.index(entry.pk)
    target = min(max(index + int(step), 0), len(order) - 1)
    if target != index:
        order.remove(entry.pk)
        order.insert(target, entry.pk)
        _write_order(member.pk, order)
        entry.refresh_from_db()
    return entry


@transaction.atomic
def save_title(member: Member | int, title: Title | int) -> SavedEntry:
    """Keep an unreleased title on the Saved list until its release day."""
    member = _lock_member(member)
    _check_member_may_edit(member)
    title = _title(title)
    if title.is_released():
        raise DomainError(f"{title} is already released; add it to the queue.", code="released")
    if SavedEntry.objects.filter(member_id=member.pk, title=title).exists():
        raise Conflict(f"{title} is already saved.", code="already_saved")
    return SavedEntry.objects.create(member_id=member.pk, title=title)


@transaction.atomic
def unsave_title(member: Member | int, title: Title | int) -> None:
    member = _lock_member(member)
    deleted, _ = SavedEntry.objects.filter(member_id=member.pk, title=_title(title)).delete()
    if not deleted:
        raise NotFound("That title is not on the Saved list.", code="not_saved")


@transaction.atomic
def release_saved_titles(on: dt.date | None = None) -> int:
    """On release day, move every saved title now released to the top of its member's queue.

    Set-based: one pass over the saved entries due, one shift of the affected queues, one insert.
    Titles saved by a member in the order they were saved end up at the top in that order.
    Returns the number of titles moved.
    """
    on = on or clock.today()
    due = list(
        SavedEntry.objects.filter(title__release_date__lte=on)
        .order_by("member_id", "added_at", "id")
        .values_list("id", "member_id", "title_id")
    )
    if not due:
        return 0
    queued = set(
        QueueEntry.objects.filter(member_id__in={m for _, m, _ in due}).values_list(
            "member_id", "title_id"
        )
    )
    per_member: dict[int, list[int]] = {}
    for _, member_id, title_id in due:
        if (member_id, title_id) not in queued:
            per_member.setdefault(member_id, []).append(title_id)
    # Newcomers go just above each queue's top (nothing else moves).
    tops = dict(
        QueueEntry.objects.filter(member_id__in=list(per_member))
        .values("member_id")
        .annotate(top=Min("position"))
        .values_list("member_id", "top")
    )
    now = clock.now()
    QueueEntry.objects.bulk_create(
        [
            QueueEntry(
                member_id=m,
                title_id=t,
                position=tops.get(m, len(titles) + 1) - len(titles) + i,
                added_at=now,
            )
            for m, titles in per_member.items()
            for i, t in enumerate(titles)
        ],
        batch_size=5000,
    )
    SavedEntry.objects.filter(id__in=[i for i, _, _ in due]).delete()
    _snapshot(list(per_member))
    return sum(len(v) for v in per_member.values())


@transaction.atomic
def purge_cancelled_queues(on: dt.date | None = None) -> int:
    """Delete the queues and Saved lists of members cancelled longer ago than the retention."""
    on = on or clock.today()
    cutoff = timezone.make_aware(
        dt.datetime.combine(
            on - dt.timedelta(days=settings.REDENVELOPE["QUEUE_RETENTION_DAYS"]), dt.time.min
        )
    )
    gone = Member.objects.filter(status=MemberStatus.CANCELLED, cancelled_at__lt=cutoff)
    n, _ = QueueEntry.objects.filter(member__in=gone).delete()
    SavedEntry.objects.filter(member__in=gone).delete()
    QueueSnapshot.objects.filter(member__in=gone).delete()
    return n
