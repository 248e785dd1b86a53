"""Distance and first-class mail time between a DC and a region (by their coordinates): what the
demo uses to lay out its transit table and the planner uses to place a DC that does not exist
yet. Pure."""

from __future__ import annotations

import math


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def transit_days(km: float) -> int | None:
    """First-class mail by distance; beyond ~4,500 km a DC does not serve the region."""
    for limit, days in ((300, 1), (750, 2), (1400, 3), (2300, 4), (4500, 5)):
        if km <= limit:
            return days
    return None
