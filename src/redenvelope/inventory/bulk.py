"""Set-wise copy history: the one place bulk paths append copy events (the per-row door is
`inventory.actions.record_event`)."""

from __future__ import annotations

from collections.abc import Iterable

from redenvelope.core.bulk import copy_rows

EVENT_COLUMNS = [
    "copy_id",
    "kind",
    "from_status",
    "to_status",
    "dc_id",
    "at",
    "actor_id",
    "ref",
    "note",
]


def append_copy_events(rows: Iterable[tuple]) -> int:
    """Append events given as tuples in EVENT_COLUMNS order, numbered by the database in that
    order (a copy's events in the order they happened)."""
    return copy_rows("inventory_copyevent", list(EVENT_COLUMNS), rows)


def append_copy_event_arrays(**columns) -> int:
    """The same as `append_copy_events`, with columns as arrays or one value for all rows
    (numbered by the database in row order)."""
    from redenvelope.core.bulk import copy_arrays

    return copy_arrays("inventory_copyevent", {c: columns[c] for c in EVENT_COLUMNS})
