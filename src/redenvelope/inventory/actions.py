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
    if Copy.objects.filter(barcode=code).exists():
        raise Conflict(f"A copy with barcode {code} already exists.", code="duplicate_barcode")
    now = clock.now()
    try:
        with transaction.atomic():
            copy = Copy.objects.create(
                barcode=code,
                title=title,
                format=format,
                condition=condition,
                status=CopyStatus.ON_SHELF,
                dc=dc,
                acquired_on=on or clock.today(),
            )
    except IntegrityError:
        raise Conflict(
            f"A copy with barcode {code} already exists.", code="duplicate_barcode"
        ) from None
    CopyEvent.objects.create(
        copy=copy,
        kind=EventKind.RECEIVED,
        from_status="",
        to_status=CopyStatus.ON_SHELF,
        dc=dc,
        at=now,
        actor=actor,
        ref=ref[:64],
    )
    return copy


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
