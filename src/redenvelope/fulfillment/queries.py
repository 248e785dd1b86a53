"""Fulfillment reads shared by pages, the API and actions."""

import datetime as dt

from .models import Shipment

# How the overdue sweep (`actions.mark_overdue_lost`) notes the discs it declares lost.
OVERDUE_NOTE = "out over "


def open_shipments(member_id: int):
    """The discs a member has at home (or in the mail to or from them)."""
    return Shipment.objects.filter(member_id=member_id, status=Shipment.Status.OPEN)


AVAILABILITY = ("Available now", "Short wait", "Long wait", "Very long wait")


def availability(title_ids) -> dict[int, str]:
    """Per title, a member-facing estimate from queue demand against copies: members who have
    it near the top of their queue (the first three) against copies on shelves and out."""
    from django.db.models import Count, Q

    from redenvelope.inventory.models import Copy, CopyStatus

    ids = list(title_ids)
    if not ids:
        return {}
    stored = _counted(ids)
    missing = [t for t in ids if t not in stored]
    if missing:
        live = [CopyStatus.ON_SHELF, CopyStatus.PICKED, CopyStatus.SHIPPED, CopyStatus.IN_TRANSFER]
        counts = {
            r["title_id"]: (r["n"], r["shelf"])
            for r in Copy.objects.filter(title_id__in=missing, status__in=live)
            .values("title_id")
            .annotate(n=Count("id"), shelf=Count("id", filter=Q(status=CopyStatus.ON_SHELF)))
        }
        demand = _count_demand(missing)
        for t in missing:
            n, on_shelf = counts.get(t, (0, 0))
            stored[t] = (n, on_shelf, demand.get(t, 0))
    out = {t: _estimate(*stored[t]) for t in ids}
    # A title outside its disc-rental window says so (and when it comes back), whatever stock.
    from redenvelope.rights.queries import disc_wordings

    for t, words in disc_wordings(ids).items():
        if words and not words.startswith("On disc ·"):
            out[t] = words
    return out


# A count of the whole catalog older than this is not used (the hourly job keeps it fresher);
# titles without a fresh count are counted at once.
DEMAND_MAX_AGE = dt.timedelta(hours=3)


def _counted(ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """The hourly counts (copies in circulation, on shelves, members with the title near the
    top of their queue) where they are fresh (TitleDemand)."""
    from redenvelope.core import clock

    from .models import TitleDemand

    return {
        r[0]: r[1:]
        for r in TitleDemand.objects.filter(
            title_id__in=ids, counted_at__gte=clock.now() - DEMAND_MAX_AGE
        ).values_list("title_id", "copies", "on_shelf", "near_top")
    }


def _demand(ids: list[int]) -> dict[int, int]:
    """Members with each title near the top of their queue: counted hourly, or now."""
    stored = _counted(ids)
    missing = [t for t in ids if t not in stored]
    return {**{t: c[2] for t, c in stored.items()}, **(_count_demand(missing) if missing else {})}


def _count_demand(ids: list[int]) -> dict[int, int]:
    """Members with each title in the top 3 of their queue (by rank: positions have gaps),
    each entry's count of entries above it stopping at 3 on the (member, position) index."""
    from django.db import connection

    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT q.title_id, COUNT(*) FROM queues_queueentry q "  # noqa: S608
            f"WHERE q.title_id IN ({marks}) AND (SELECT COUNT(*) FROM ("
            "SELECT 1 FROM queues_queueentry a WHERE a.member_id = q.member_id "
            "AND a.position < q.position LIMIT 3) above) < 3 GROUP BY q.title_id",
            ids,
        )
        return dict(cur.fetchall())


def overdue_lost_since(since) -> dict:
    """Discs the overdue sweep declared lost since `since` (not those a member reported): arrays
    member_id, copy_id and the sweep's note, in shipment order. Billing fines these."""
    from redenvelope.core.bulk import db_timestamp, read_columns

    return read_columns(
        "SELECT s.member_id, s.copy_id, e.note FROM fulfillment_shipment s "  # noqa: S608
        "JOIN inventory_copyevent e ON e.copy_id = s.copy_id AND e.kind = 'lost' "
        "AND e.ref = 'shipment:' || CAST(s.id AS varchar(20)) "
        f"WHERE s.status = 'lost' AND s.closed_at >= '{db_timestamp(since)}' "
        f"AND e.note LIKE '{OVERDUE_NOTE}%' ORDER BY s.id",
        [("member_id", "int64"), ("copy_id", "int64"), ("note", "object")],
    )


def _estimate(copies: int, shelf: int, demand: int) -> str:
    if copies == 0:
        return AVAILABILITY[3]
    if shelf > demand:
        return AVAILABILITY[0]
    if demand <= 2 * copies:
        return AVAILABILITY[1]
    if demand <= 6 * copies:
        return AVAILABILITY[2]
    return AVAILABILITY[3]


def availability_by_format(title_id: int) -> dict[str, str]:
    """A title's estimate per format it has discs in (DVD, Blu-ray): the same demand (members
    do not choose a format) against each format's copies."""
    from django.db.models import Count, Q

    from redenvelope.inventory.models import Copy, CopyStatus, Format

    live = [CopyStatus.ON_SHELF, CopyStatus.PICKED, CopyStatus.SHIPPED, CopyStatus.IN_TRANSFER]
    rows = (
        Copy.objects.filter(title_id=title_id, status__in=live)
        .values("format")
        .annotate(n=Count("id"), shelf=Count("id", filter=Q(status=CopyStatus.ON_SHELF)))
    )
    demand = _demand([title_id]).get(title_id, 0)
    labels = dict(Format.choices)
    out = {
        labels.get(r["format"], r["format"]): _estimate(r["n"], r["shelf"], demand) for r in rows
    }
    return out or {"Any format": AVAILABILITY[3]}


def rental_history(member_id: int):
    """Every disc a member had (shipped, back, lost), newest first, with title and DC."""
    return (
        Shipment.objects.filter(member_id=member_id)
        .select_related("title", "dc", "returned_to")
        .order_by("-shipped_at", "-id")
    )
