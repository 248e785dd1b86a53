"""Signals, read in bulk into numpy columns (one statement per kind, COPY on PostgreSQL): what
a member rated, rented, streamed and queued, up to a cut-off; and one member's own signals,
for serving (a few indexed reads)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from redenvelope.core.bulk import db_timestamp, is_postgres, read_columns

# How much each kind of signal says a member likes a title (implicit weights, 0..1); a
# member's strongest signal for a title counts.
STAR_WEIGHT = {1: 0.2, 2: 0.4, 3: 0.7, 4: 1.0, 5: 1.0}
RENTED = 0.8
QUEUED = 0.5
STREAMED_FULL = 1.0  # watched at least half; less counts in proportion, at most 0.5


def stream_weight(share):
    """A stream's weight from the share watched (a number or a numpy array)."""
    share = np.clip(share, 0.0, 1.0)
    return np.where(share >= 0.5, STREAMED_FULL, 0.1 + share * 0.8)


def _epoch(column: str) -> str:
    if is_postgres():
        return f"CAST(EXTRACT(EPOCH FROM {column}) AS bigint)"
    return f"CAST(strftime('%s', {column}) AS integer)"


def _until(column: str, cutoff: dt.datetime) -> str:
    return f"{column} <= '{db_timestamp(cutoff)}'"  # code-made literal, never input


def ratings(cutoff: dt.datetime) -> dict:
    return read_columns(
        f"SELECT member_id, title_id, stars, {_epoch('rated_at')} FROM ratings_rating "  # noqa: S608
        f"WHERE {_until('rated_at', cutoff)} ORDER BY member_id, title_id",
        [("member_id", "int64"), ("title_id", "int64"), ("stars", "int8"), ("at", "int64")],
    )


def implicit(cutoff: dt.datetime, stars: dict | None = None) -> dict:
    """Every (member, title, weight) signal up to the cut-off: ratings, rentals, streams (by
    share watched) and queue entries. A member may have several rows for a title. `stars`:
    the ratings already read (`ratings(cutoff)`), not read again."""
    cols = [("member_id", "int64"), ("title_id", "int64"), ("w", "float32")]
    if stars is None:
        stars = ratings(cutoff)
    table = np.zeros(6, np.float32)
    for k, v in STAR_WEIGHT.items():
        table[k] = v
    parts = [
        {
            "member_id": stars["member_id"],
            "title_id": stars["title_id"],
            "w": table[stars["stars"].astype(np.int64)],
        }
    ]
    rented = read_columns(
        f"SELECT member_id, title_id, {RENTED} FROM fulfillment_shipment "  # noqa: S608
        f"WHERE {_until('shipped_at', cutoff)}",
        cols,
    )
    parts.append(rented)
    streamed = read_columns(
        "SELECT s.member_id, s.title_id, "  # noqa: S608
        "MAX(CASE WHEN e.duration_s > 0 THEN s.position_s / e.duration_s ELSE 0 END) "
        "FROM streaming_session s JOIN streaming_encode e ON e.id = s.encode_id "
        f"WHERE {_until('s.started_at', cutoff)} GROUP BY s.member_id, s.title_id",
        cols,
    )
    streamed["w"] = stream_weight(streamed["w"]).astype(np.float32)
    parts.append(streamed)
    parts.append(
        read_columns(
            f"SELECT member_id, title_id, {QUEUED} FROM queues_queueentry "  # noqa: S608
            f"WHERE {_until('added_at', cutoff)}",
            cols,
        )
    )
    return {c: np.concatenate([p[c] for p in parts]) for c, _ in cols}


def member_regions() -> dict:
    return read_columns(
        "SELECT id, region_id FROM membership_member",
        [("member_id", "int64"), ("region_id", "int64")],
    )


@dataclass
class MemberSignals:
    """One member's signals now, for serving (fresh: a rating made a minute ago counts)."""

    stars: dict[int, int] = field(default_factory=dict)
    rented: set[int] = field(default_factory=set)
    streamed: dict[int, float] = field(default_factory=dict)
    queued: set[int] = field(default_factory=set)
    saved: set[int] = field(default_factory=set)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def seen(self) -> set[int]:
        """Titles never to suggest: rented, rated, queued, saved, or watched through."""
        watched = {t for t, share in self.streamed.items() if share >= 0.5}
        return set(self.stars) | self.rented | self.queued | self.saved | watched

    def weights(self) -> dict[int, float]:
        out: dict[int, float] = {}
        for t, s in self.stars.items():
            out[t] = max(out.get(t, 0.0), STAR_WEIGHT.get(s, 0.5))
        for t in self.rented:
            out[t] = max(out.get(t, 0.0), RENTED)
        for t, share in self.streamed.items():
            out[t] = max(out.get(t, 0.0), float(stream_weight(share)))
        for t in self.queued:
            out[t] = max(out.get(t, 0.0), QUEUED)
        return out


def member_signals(member_id: int) -> MemberSignals:
    """One round trip: the member's ratings, rentals, streams (share watched), queue and saved
    list, with each title's name (for the reasons shown)."""
    from django.db import connection

    sql = (
        "SELECT 'r', r.title_id, r.stars, t.name FROM ratings_rating r "
        "JOIN catalog_title t ON t.id = r.title_id WHERE r.member_id = %s "
        "UNION ALL SELECT 'x', s.title_id, 0, t.name FROM fulfillment_shipment s "
        "JOIN catalog_title t ON t.id = s.title_id WHERE s.member_id = %s "
        "UNION ALL SELECT 'w', s.title_id, CASE WHEN e.duration_s > 0 "
        "THEN s.position_s / e.duration_s ELSE 0 END, t.name FROM streaming_session s "
        "JOIN streaming_encode e ON e.id = s.encode_id "
        "JOIN catalog_title t ON t.id = s.title_id WHERE s.member_id = %s "
        "UNION ALL SELECT 'q', q.title_id, 0, t.name FROM queues_queueentry q "
        "JOIN catalog_title t ON t.id = q.title_id WHERE q.member_id = %s "
        "UNION ALL SELECT 's', v.title_id, 0, '' FROM queues_savedentry v WHERE v.member_id = %s"
    )
    out = MemberSignals()
    with connection.cursor() as cur:
        cur.execute(sql, [member_id] * 5)
        rows = cur.fetchall()
    for kind, title_id, value, name in rows:
        if name:
            out.names[title_id] = name
        if kind == "r":
            out.stars[title_id] = int(value)
        elif kind == "x":
            out.rented.add(title_id)
        elif kind == "w":
            out.streamed[title_id] = max(out.streamed.get(title_id, 0.0), float(value))
        elif kind == "q":
            out.queued.add(title_id)
        else:
            out.saved.add(title_id)
    return out
