"""The series-order rule, as pure code that pages, the API and dispatch share.

A later disc of a series is not eligible to ship while an earlier disc of the same series is in
the queue, out with the member, or not yet returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    title_id: int
    series_id: int | None
    order: tuple[int, int] | None  # (season, disc_number) for series discs


def eligible_title_ids(queued: Iterable[Item], out: Iterable[Item] = ()) -> set[int]:
    """Titles in `queued` that may ship now under the series rule (out titles never are)."""
    queued = list(queued)
    earliest: dict[int, tuple[int, int]] = {}
    for item in [*queued, *out]:
        if item.series_id is not None:
            cur = earliest.get(item.series_id)
            if cur is None or item.order < cur:
                earliest[item.series_id] = item.order
    out_ids = {i.title_id for i in out}
    result = set()
    for item in queued:
        if item.title_id in out_ids:
            continue
        if item.series_id is None or item.order <= earliest[item.series_id]:
            result.add(item.title_id)
    return result
