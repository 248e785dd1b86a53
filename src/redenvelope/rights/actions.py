"""Every change to license windows: add one, end one early. Each records who did it."""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.core.errors import Conflict, DomainError, NotFound

from .models import Ceiling, LicenseWindow, WindowKind

_CODE = re.compile(r"^[A-Z]{2}$")


def territory_codes(value) -> str:
    """'us, ca' / ['US', 'CA'] -> 'CA,US'; refuses anything but two-letter codes."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    codes = sorted({str(c).strip().upper() for c in items if str(c).strip()})
    if not codes:
        raise DomainError("A window needs at least one territory (e.g. US).", code="territory")
    bad = [c for c in codes if not _CODE.match(c)]
    if bad:
        raise DomainError(
            f"Territories are two-letter country codes (ISO 3166-1), not {', '.join(bad)}.",
            code="territory",
        )
    return ",".join(codes)


def _moment(value, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise DomainError(f"{name} {value!r} is not a date or a time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.now().tzinfo)
    return moment


@transaction.atomic
def add_window(
    title,
    *,
    territories: str | list,
    starts_at,
    ends_at=None,
    kind: str = WindowKind.SVOD,
    ceiling: str = Ceiling.HD,
    actor=None,
    note: str = "",
) -> LicenseWindow:
    """A new window for a title. Two windows of the same kind for the same title may not
    overlap in a territory they share (which one would apply?): refused with the other."""
    title_id = title.pk if isinstance(title, Title) else title
    if not Title.objects.filter(pk=title_id).exists():
        raise NotFound(f"No title {title_id}.", code="unknown_title")
    if kind not in WindowKind.values:
        raise DomainError(f"Unknown window kind {kind!r} (svod, avod or tvod).")
    if ceiling not in Ceiling.values:
        raise DomainError(f"Unknown format ceiling {ceiling!r} (sd, hd or uhd).")
    codes = territory_codes(territories)
    start = _moment(starts_at, "Start")
    if start is None:
        raise DomainError("A window needs a start.")
    end = _moment(ends_at, "End")
    if end is not None and end <= start:
        raise DomainError("A window must end after it starts.")
    Title.objects.select_for_update().filter(pk=title_id).first()  # one writer per title
    for other in LicenseWindow.objects.filter(title_id=title_id, kind=kind):
        shared = set(codes.split(",")) & set(other.territory_list)
        overlaps = (other.ends_at is None or other.ends_at > start) and (
            end is None or end > other.starts_at
        )
        if shared and overlaps:
            raise Conflict(
                f"It overlaps window {other.pk} ({other}) in {', '.join(sorted(shared))}.",
                code="window_overlap",
            )
    return LicenseWindow.objects.create(
        title_id=title_id,
        kind=kind,
        territories=codes,
        starts_at=start,
        ends_at=end,
        ceiling=ceiling,
        created_at=clock.now(),
        created_by=actor,
        note=note[:300],
    )


@transaction.atomic
def end_window(
    window: LicenseWindow | int, *, ends_at, actor=None, note: str = ""
) -> LicenseWindow:
    """End a window early (or move its end earlier). A window can only be shortened."""
    pk = window.pk if isinstance(window, LicenseWindow) else window
    row = LicenseWindow.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No license window {pk}.")
    end = _moment(ends_at, "End")
    if end is None or end <= row.starts_at:
        raise DomainError("The new end must come after the window's start.")
    if row.ends_at is not None and end >= row.ends_at:
        raise Conflict(f"Window {pk} already ends on {row.ends_at:%Y-%m-%d}; it can only shorten.")
    row.ends_at = end
    row.note = (f"{row.note} · " if row.note else "") + f"ended by {actor or 'system'}: {note}"
    row.note = row.note[:300]
    row.save(update_fields=["ends_at", "note"])
    return row
