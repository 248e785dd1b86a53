"""Every change to DCs, regions and copies. A copy moves only through `record_event`."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from redenvelope.catalog.models import Format, Title
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound

from .barcodes import parse_barcode
from .models import (
    DC_CODE_RE,
    TRANSITIONS,
    ZIP3_RE,
    Condition,
    Copy,
    CopyEvent,
    CopyStatus,
    DistributionCenter,
    EventKind,
    Region,
    Transit,
)


@transaction.atomic
def add_distribution_center(
    *,
    code: str,
    name: str,
    city: str,
    state: str,
    latitude: float,
    longitude: float,
    daily_capacity: int,
) -> DistributionCenter:
    code = (code or "").strip().upper()
    if not DC_CODE_RE.match(code):
        raise DomainError(
            f"DC code {code!r} must be three capital letters (and an optional digit)."
        )
    if daily_capacity < 0:
        raise DomainError("Daily capacity cannot be negative.")
    if DistributionCenter.objects.filter(code=code).exists():
        raise Conflict(f"A distribution center {code} already exists.")
    return DistributionCenter.objects.create(
        code=code,
        name=name,
        city=city,
        state=state.upper(),
        latitude=latitude,
        longitude=longitude,
        daily_capacity=daily_capacity,
    )


@transaction.atomic
def set_dc_status(dc: DistributionCenter, status: str) -> DistributionCenter:
    if status not in DistributionCenter.Status.values:
        raise DomainError(f"Unknown DC status {status!r}.")
    DistributionCenter.objects.filter(pk=dc.pk).update(status=status)
    dc.refresh_from_db()
    return dc


@transaction.atomic
def set_daily_capacity(dc: DistributionCenter, capacity: int) -> DistributionCenter:
    """The discs a DC can ship a day when no published rota decides it."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
        raise DomainError("Daily capacity is a whole number, zero or more.")
    DistributionCenter.objects.filter(pk=dc.pk).update(daily_capacity=capacity)
    dc.refresh_from_db()
    return dc


@transaction.atomic
def add_region(
    *, zip3: str, name: str, state: str, latitude: float, longitude: float, population: int = 0
) -> Region:
    if not ZIP3_RE.match(zip3 or ""):
        raise DomainError(f"Region {zip3!r} must be a 3-digit ZIP prefix.")
    if Region.objects.filter(zip3=zip3).exists():
        raise Conflict(f"Region {zip3} already exists.")
    return Region.objects.create(
        zip3=zip3,
        name=name,
        state=state.upper(),
        latitude=latitude,
        longitude=longitude,
        population=population,
    )


@transaction.atomic
def set_transit(dc: DistributionCenter, region: Region, days: int | None) -> None:
    """Set the days from dc to region; None removes the pair (that DC no longer reaches it)."""
    if days is None:
        Transit.objects.filter(dc=dc, region=region).delete()
        return
    if days < 1:
        raise DomainError("Transit takes at least one day.")
    Transit.objects.update_or_create(dc=dc, region=region, defaults={"days": days})


@transaction.atomic
def receive_copy(
    *,
    title: Title,
    dc: DistributionCenter,
    barcode: str,
    format: str = Format.DVD,
    condition: str = Condition.NEW,
    actor=None,
    on: dt.date | None = None,
    ref: str = "received",
) -> Copy:
    """A new disc arrives at a DC and goes on its shelf (its received event's `ref` may name
    what brought it: a purchase order's receipt)."""
    code = parse_barcode(barcode)
    if format not in Format.values:
        raise DomainError(f"Unknown format {format!r}.")
    if format == Format.DVD and not title.on_dvd or format == Format.BLURAY and not title.on_bluray:
        raise DomainError(f"{title} is not released on {Format(format).label}.")
    (copy,) = receive_copies(
        title_id=title.pk,
        dc=dc,
        barcodes=[code],
        format=format,
        condition=condition,
        actor=actor,
        on=on,
        ref=ref,
    )
    return copy


@transaction.atomic
def receive_copies(
    *,
    title_id: int,
    dc: DistributionCenter,
    barcodes: list[str],
    format: str = Format.DVD,
    condition: str = Condition.NEW,
    actor=None,
    on: dt.date | None = None,
    ref: str = "received",
) -> list[Copy]:
    """Many new discs of one title on a DC's shelf at once (a pallet of a new release is
    thousands), set-wise: the copies and received events `receive_copy` makes one by one. The
    caller has checked the title is released on `format` (a purchase order line has)."""
    codes = [parse_barcode(b) for b in barcodes]
    if len(set(codes)) != len(codes):
        raise DomainError("The same barcode was given twice.", code="duplicate_barcode")
    taken = list(Copy.objects.filter(barcode__in=codes).values_list("barcode", flat=True)[:1])
    if taken:
        raise Conflict(f"A copy with barcode {taken[0]} already exists.", code="duplicate_barcode")
    now, day = clock.now(), on or clock.today()
    try:
        with transaction.atomic():  # another desk may take a barcode between check and write
            copies = Copy.objects.bulk_create(
                [
                    Copy(
                        barcode=c,
                        title_id=title_id,
                        format=format,
                        condition=condition,
                        status=CopyStatus.ON_SHELF,
                        dc=dc,
                        acquired_on=day,
                    )
                    for c in codes
                ],  # fmt: skip
                batch_size=2000,
            )
    except IntegrityError:
        raise Conflict(
            "A copy with one of these barcodes already exists.", code="duplicate_barcode"
        ) from None
    CopyEvent.objects.bulk_create(
        [
            CopyEvent(
                copy_id=c.pk,
                kind=EventKind.RECEIVED,
                from_status="",
                to_status=CopyStatus.ON_SHELF,
                dc=dc,
                at=now,
                actor=actor,
                ref=ref[:64],
            )
            for c in copies
        ],  # fmt: skip
        batch_size=2000,
    )
    return copies


def get_copy_for_update(barcode: str) -> Copy:
    code = parse_barcode(barcode)
    try:
        return Copy.objects.select_for_update().select_related("title", "dc").get(barcode=code)
    except Copy.DoesNotExist:
        raise NotFound(f"No copy has barcode {code}.", code="unknown_barcode") from None


@transaction.atomic
def record_event(
    copy: Copy,
    kind: str,
    *,
    dc: DistributionCenter | None = None,
    actor=None,
    ref: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> CopyEvent:
    """Move one copy one step along its lifecycle, append the event, and return it.

    The copy row is locked and re-read, so two scans of the same disc serialise and the second
    sees the first one's result.
    """
    locked = Copy.objects.select_for_update().get(pk=copy.pk)
    allowed_from, to_status = TRANSITIONS[kind]
    if locked.status not in allowed_from:
        raise Conflict(
            f"Copy {locked.barcode} is {locked.get_status_display().lower()}; "
            f"it cannot be {EventKind(kind).label.lower()} now.",
            code="bad_transition",
        )
    target_dc = dc or locked.dc
    event = CopyEvent.objects.create(
        copy=locked,
        kind=kind,
        from_status=locked.status,
        to_status=to_status,
        dc=target_dc,
        at=at or clock.now(),
        actor=actor,
        ref=ref,
        note=note[:300],
    )
    fields = {"status": to_status, "dc": target_dc}
    if kind == EventKind.DAMAGED:
        fields["condition"] = Condition.DAMAGED
    Copy.objects.filter(pk=locked.pk).update(**fields)
    for k, v in fields.items():
        setattr(copy, k, v)
    return event


def mark_damaged(copy: Copy, *, actor=None, note: str = "", ref: str = "") -> CopyEvent:
    return record_event(copy, EventKind.DAMAGED, actor=actor, note=note, ref=ref)


def mark_lost(copy: Copy, *, actor=None, note: str = "", ref: str = "") -> CopyEvent:
    return record_event(copy, EventKind.LOST, actor=actor, note=note, ref=ref)


def mark_found(copy: Copy, dc: DistributionCenter, *, actor=None, note: str = "") -> CopyEvent:
    return record_event(copy, EventKind.FOUND, dc=dc, actor=actor, note=note)


def retire_copy(copy: Copy, *, actor=None, note: str = "") -> CopyEvent:
    return record_event(copy, EventKind.RETIRED, actor=actor, note=note)


@transaction.atomic
def transfer_copy(copy: Copy, to_dc: DistributionCenter, *, actor=None) -> CopyEvent:
    """Send a shelved copy to another DC; `receive_transfer` shelves it there."""
    if to_dc.pk == copy.dc_id:
        raise DomainError("A copy cannot be transferred to the DC that holds it.")
    return record_event(
        copy,
        EventKind.TRANSFER_OUT,
        dc=to_dc,
        actor=actor,
        ref=f"transfer:{copy.dc_id}->{to_dc.pk}",
    )


def receive_transfer(copy: Copy, *, actor=None) -> CopyEvent:
    return record_event(copy, EventKind.TRANSFER_IN, actor=actor)


@transaction.atomic
def transfer_shelf_copies(
    moves: list[tuple[int, int, int, int]], *, actor=None, note: str = "", received: bool = True
) -> int:
    """Move shelved copies between DCs, set-wise: each move is (from DC id, to DC id, title id,
    copies). The lowest-numbered copies on the shelf go; each gets its "transfer sent" event and,
    with `received` (an overnight truck booked as arrived), its "transfer received" one. A move
    asking for more copies than are on the shelf moves what is there. Returns copies moved."""
    import numpy as np

    from redenvelope.core.bulk import execute, is_postgres, read_columns, temp_table

    from .bulk import append_copy_event_arrays

    wanted = [(int(a), int(b), int(t), int(n)) for a, b, t, n in moves if n > 0]
    for a, b, _, _ in wanted:
        if a == b:
            raise DomainError("A copy cannot be transferred to the DC that holds it.")
    known = set(DistributionCenter.objects.values_list("pk", flat=True))
    missing = {d for a, b, _, _ in wanted for d in (a, b)} - known
    if missing:
        raise NotFound(f"No distribution center with id {sorted(missing)[0]}.")
    if not wanted:
        return 0
    temp_table("re_moves", "from_dc bigint, to_dc bigint, title_id bigint, n integer", wanted)
    chosen = read_columns(
        "SELECT id, dc_id, to_dc FROM (SELECT c.id, c.dc_id, m.to_dc, m.n, ROW_NUMBER() OVER "
        "(PARTITION BY c.dc_id, c.title_id, m.to_dc ORDER BY c.id) AS rn "
        "FROM inventory_copy c JOIN re_moves m ON m.from_dc = c.dc_id "
        "AND m.title_id = c.title_id WHERE c.status = 'on_shelf') x WHERE rn <= n",
        [("id", "int64"), ("dc_id", "int64"), ("to_dc", "int64")],
    )
    # a copy wanted by two moves of the same shelf goes to the first only
    ids, first = np.unique(chosen["id"], return_index=True)
    if not len(ids):
        return 0
    from_dc, to = chosen["dc_id"][first], chosen["to_dc"][first]
    temp_table("re_moved", "copy_id bigint, to_dc bigint", {"copy_id": ids, "to_dc": to})
    status = "on_shelf" if received else "in_transfer"
    updated = execute(
        f"UPDATE inventory_copy AS c SET status = '{status}', dc_id = r.to_dc FROM re_moved r "  # noqa: S608
        "WHERE c.id = r.copy_id AND c.status = 'on_shelf'"
        if is_postgres()
        else f"UPDATE inventory_copy SET status = '{status}', dc_id = (SELECT to_dc FROM "  # noqa: S608
        "re_moved WHERE copy_id = inventory_copy.id) WHERE status = 'on_shelf' AND id IN "
        "(SELECT copy_id FROM re_moved)"
    )
    if updated != len(ids):
        raise Conflict("Copies changed while they were being moved; nothing was moved.")
    now = clock.now()
    actor_id = actor.pk if actor else None
    refs = np.array([f"transfer:{a}->{b}" for a, b in zip(from_dc, to, strict=True)], dtype=object)
    append_copy_event_arrays(
        copy_id=ids, kind="transfer_out", from_status="on_shelf", to_status="in_transfer",
        dc_id=to, at=now, actor_id=actor_id, ref=refs, note=note[:300],
    )  # fmt: skip
    if received:
        append_copy_event_arrays(
            copy_id=ids, kind="transfer_in", from_status="in_transfer", to_status="on_shelf",
            dc_id=to, at=now, actor_id=actor_id, ref=refs, note=note[:300],
        )  # fmt: skip
    return len(ids)
