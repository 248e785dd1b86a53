"""Set-wise copy history: the one place bulk paths append copy events (the per-row door is
`inventory.actions.record_event`)."""

from __future__ import annotations

from collections.abc import Iterable

from redenvelope.core.bulk import copy_rows, next_id, reset_sequence

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
    """Append events given as tuples in EVENT_COLUMNS order; ids follow the table's last."""
    first = next_id("inventory_copyevent")
    n = copy_rows(
        "inventory_copyevent",
        ["id", *EVENT_COLUMNS],
        ((first + i, *row) for i, row in enumerate(rows)),
    )
    reset_sequence("inventory_copyevent")
    return n


def append_copy_event_arrays(**columns) -> int:
    """The same as `append_copy_events`, with columns as arrays or one value for all rows."""
    import numpy as np

    from redenvelope.core.bulk import copy_arrays

    n = max(len(v) for v in columns.values() if isinstance(v, (list, np.ndarray)))
    first = next_id("inventory_copyevent")
    written = copy_arrays(
        "inventory_copyevent",
        {
            "id": np.arange(first, first + n, dtype=np.int64),
            **{c: columns[c] for c in EVENT_COLUMNS},
        },
    )
    reset_sequence("inventory_copyevent")
    return written
