"""Catalog search: one query function, two backends.

    search(q, genre="", limit=240) -> list of title ids, best first

The index is one row per title in `catalog_titlesearch` (name, series, and the rest: year and
genres), folded to lower case without accents ("Amélie" is "amelie"). On PostgreSQL a weighted
`tsvector` (GIN) answers words and prefixes and a trigram index (`pg_trgm`, GIN) on the folded
name answers typos ("godfathr"); on SQLite an FTS5 table (unicode61, prefix indexes) answers
words and prefixes and a second one (trigram tokenizer) answers typos. Each backend returns a
few hundred candidates; the same scoring here (`_score`) orders them, so both answer alike.

Catalog actions keep the index in step (`index_titles`), and the demo builder builds it in bulk
(`rebuild`). Nothing here reads a request: pages and the API call `search`.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata

from django.db import connection, transaction

from redenvelope.core.bulk import is_postgres

CANDIDATES = 200
FEW = 50  # fewer word matches than this: look for misspellings too
PG_CANDIDATE = 0.45  # trigram word similarity for a PostgreSQL misspelling candidate (scored after)
FUZZY = 0.45  # how alike (trigram word similarity) a misspelt query and a name must be
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces: what the index holds and queries use."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("ß", "ss").replace("æ", "ae").replace("ø", "o").replace("œ", "oe")
    return " ".join(_WORD.findall(text.lower()))


@functools.lru_cache(maxsize=65536)
def _word_grams(word: str) -> frozenset[str]:
    padded = f"  {word} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams of a folded text: each word padded with two spaces before, one after."""
    out: set[str] = set()
    for word in text.split():
        out |= _word_grams(word)
    return out


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def word_similarity(q: str, text: str) -> float:
    """How well the query matches the best run of words in the text (like pg_trgm's
    word_similarity, computed per word window): typos in one word of a long title still score."""
    qt = trigrams(q)
    if not qt:
        return 0.0
    grams = [_word_grams(w) for w in text.split()]
    n = max(1, len(q.split()))
    best = 0.0
    for i in range(len(grams)):
        for width in (n - 1, n, n + 1):
            if width < 1 or i + width > len(grams):
                continue
            wt = grams[i].union(*grams[i + 1 : i + width])
            score = len(qt & wt) / len(qt | wt)
            if score > best:
                best = score
    return best


def edit_distance(a: str, b: str, cap: int = 3) -> int:
    """Optimal string alignment distance (a swap of two letters counts one), capped at `cap`."""
    if abs(len(a) - len(b)) >= cap:
        return cap
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) >= cap:
            return cap
        prev2, prev = prev, cur
    return min(prev[-1], cap)


def _typo_of(word: str, candidates: list[str], last: bool) -> bool:
    """A misspelling of one of the words: one edit for 4-7 letters, two from 8; the word being
    typed (the last) may also be a misspelt prefix."""
    if len(word) < 4 or word.isdigit():
        return False
    return any(_misspelt(word, c, last) for c in candidates)


@functools.lru_cache(maxsize=262144)
def _misspelt(word: str, candidate: str, last: bool) -> bool:
    allowed = 1 if len(word) <= 7 else 2
    if abs(len(word) - len(candidate)) <= allowed and (
        edit_distance(word, candidate, allowed + 1) <= allowed
    ):
        return True
    return (
        last and len(candidate) > len(word) and edit_distance(word, candidate[: len(word)], 2) <= 1
    )


def _score(q: str, words: list[str], name: str, series: str, rest: str, pop: float):
    """One ranking for both backends: every query word found (whole, as a prefix, or misspelt)
    in the name counts most, then in the series or the rest (year, genres); trigram similarity
    to the name adds; an exact name wins; popularity breaks near-ties. Returns None for a
    candidate that neither has every word nor looks like a misspelling of the query."""
    name_words = name.split()
    other_words = (series + " " + rest).split()
    score = 0.0
    found = 0
    numbers_found = True  # a number (a year, a part, a season) is never a typo of another
    for i, w in enumerate(words):
        last = i == len(words) - 1
        if w in name_words:
            score += 2.0
        elif last and any(nw.startswith(w) for nw in name_words):
            score += 1.5
        elif w in other_words or (last and any(ow.startswith(w) for ow in other_words)):
            score += 1.0
        elif _typo_of(w, name_words, last):
            score += 1.2
        elif _typo_of(w, other_words, last):
            score += 0.6
        else:
            numbers_found = numbers_found and not w.isdigit()
            continue
        found += 1
    close = word_similarity(q, name)
    if words and found == len(words):
        score += 2.0
    elif close < FUZZY or not numbers_found:
        return None
    score += 3.0 * close
    if name == q:
        score += 4.0
    elif name.startswith(q):
        score += 1.0
    return score + 0.25 * math.log1p(max(pop, 0.0))


def search(q: str, genre: str = "", *, limit: int = 240, include_unreleased: bool = True):
    """The ids of the titles that best match `q` (and, when given, are in the genre with that
    slug), best first, at most `limit`."""
    folded = fold(q)[:100]
    if not folded:
        return []
    words = folded.split()[:8]
    folded = " ".join(words)
    backend = _pg_candidates if is_postgres() else _sqlite_candidates
    rows = backend(folded, words, genre, include_unreleased)
    scored = []
    for r in rows:
        score = _score(folded, words, r[1], r[2], r[3], r[4])
        if score is not None:
            scored.append((score, -r[4], r[0]))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [tid for _, _, tid in scored[:limit]]


def _near_spellings(words: list[str]) -> list[str]:
    """The longest words with two letters swapped or one left out ("flim" -> "film"): short
    words so misspelt share no trigram with the right one, so the trigram read misses them."""
    out: set[str] = set()
    for w in sorted(words, key=len, reverse=True)[:2]:
        if len(w) < 4 or w.isdigit():
            continue
        out.update(w[:i] + w[i + 1] + w[i] + w[i + 2 :] for i in range(len(w) - 1))
        out.update(w[:i] + w[i + 1 :] for i in range(len(w)))
    return sorted(v for v in out - set(words) if len(v) >= 3)


_ROW = "SELECT s.title_id, s.name, s.series, s.rest, s.popularity "
_IN_GENRE = (
    " AND s.title_id IN (SELECT tg.title_id FROM catalog_title_genres tg "
    "JOIN catalog_genre g ON g.id = tg.genre_id WHERE g.slug = %s)"
)


def _filters(genre: str, include_unreleased: bool) -> tuple[str, list]:
    """SQL fragments (made here, never from input: values go as parameters) for the genre and
    the release day."""
    sql, params = "", []
    if genre:
        sql += _IN_GENRE
        params.append(genre)
    if not include_unreleased:
        from redenvelope.core import clock

        sql += " AND s.release_date <= %s"
        params.append(clock.today())
    return sql, params


def _pg_candidates(folded: str, words: list[str], genre: str, include_unreleased: bool):
    """Three index-driven reads, each with its own limit (none ranks every match): titles with
    every word (the last as a prefix), the most popular first; names that start with the query
    (an exact or nearly whole name, however unpopular); and, only when those found few, names
    alike by trigrams (misspellings)."""
    tsquery = " & ".join(f"{w}:*" for w in words)
    extra, params = _filters(genre, include_unreleased)
    words_sql = (
        _ROW + "FROM catalog_titlesearch s WHERE s.doc @@ to_tsquery('simple', %s)" + extra + " "
        "ORDER BY s.popularity DESC LIMIT %s"
    )
    prefix_sql = (
        _ROW + "FROM catalog_titlesearch s WHERE s.name LIKE %s" + extra + " "
        "ORDER BY s.popularity DESC LIMIT %s"
    )
    grams_sql = (
        _ROW + "FROM catalog_titlesearch s WHERE %s <%% s.name" + extra + " "
        "ORDER BY word_similarity(%s, s.name) DESC, s.popularity DESC LIMIT %s"
    )
    found: dict[int, tuple] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(words_sql, [tsquery, *params, CANDIDATES])
        for row in cursor.fetchall():
            found[row[0]] = row
        if len(folded) >= 3:
            like = folded.replace("\\", "").replace("%", "").replace("_", "") + "%"
            cursor.execute(prefix_sql, [like, *params, FEW])
            for row in cursor.fetchall():
                found.setdefault(row[0], row)
        if len(found) < FEW:
            cursor.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {PG_CANDIDATE}")
            cursor.execute(grams_sql, [folded, *params, folded, CANDIDATES])
            for row in cursor.fetchall():
                found.setdefault(row[0], row)
        near = _near_spellings(words)
        if near and len(found) < FEW:
            cursor.execute(words_sql, [" | ".join(near), *params, CANDIDATES])
            for row in cursor.fetchall():
                found.setdefault(row[0], row)
    return list(found.values())


def _sqlite_candidates(folded: str, words: list[str], genre: str, include_unreleased: bool):
    extra, params = _filters(genre, include_unreleased)
    # Words (the last one as a prefix) on the word index; then the name's inner trigrams, any
    # of them, on the trigram index, for misspellings.
    match = " ".join(f'"{w}"' + ("*" if i == len(words) - 1 else "") for i, w in enumerate(words))
    # Misspellings are looked for by the inner trigrams of the query's longest words (short
    # words like "the" or "of" match half the catalog and tell nothing).
    longest = sorted(words, key=len, reverse=True)[:2]
    grams = sorted(g for g in trigrams(" ".join(longest)) if " " not in g)
    words_sql = (
        _ROW + "FROM catalog_titlesearch_fts f JOIN catalog_titlesearch s "
        "ON s.title_id = f.rowid WHERE catalog_titlesearch_fts MATCH %s" + extra + " "
        "ORDER BY bm25(catalog_titlesearch_fts, 10.0, 5.0, 1.0), s.popularity DESC LIMIT %s"
    )
    grams_sql = (
        _ROW + "FROM catalog_titlesearch_trigram f JOIN catalog_titlesearch s "
        "ON s.title_id = f.rowid WHERE catalog_titlesearch_trigram MATCH %s" + extra + " "
        "ORDER BY bm25(catalog_titlesearch_trigram), s.popularity DESC LIMIT %s"
    )
    found: dict[int, tuple] = {}
    with connection.cursor() as cursor:
        cursor.execute(words_sql, [match, *params, CANDIDATES])
        for row in cursor.fetchall():
            found[row[0]] = row
        if grams and len(found) < FEW:
            cursor.execute(grams_sql, [" OR ".join(f'"{g}"' for g in grams), *params, CANDIDATES])
            for row in cursor.fetchall():
                found.setdefault(row[0], row)
        near = _near_spellings(words)
        if near and len(found) < FEW:
            cursor.execute(words_sql, [" OR ".join(f'"{v}"' for v in near), *params, CANDIDATES])
            for row in cursor.fetchall():
                found.setdefault(row[0], row)
    return list(found.values())


# --- keeping the index in step ---------------------------------------------------------------

_SOURCE = (
    "SELECT t.id, t.name, t.year, COALESCE(sr.name, ''), t.popularity, t.release_date "
    "FROM catalog_title t LEFT JOIN catalog_series sr ON sr.id = t.series_id"
)


def _documents(title_ids=None) -> list[tuple]:
    where, params = "", []
    with connection.cursor() as cursor:
        if title_ids is not None:
            ids = [int(i) for i in title_ids]
            if not ids:
                return []
            where = " WHERE t.id IN (" + ",".join(str(i) for i in ids) + ")"
        cursor.execute(_SOURCE + where, params)
        titles = cursor.fetchall()
        cursor.execute(
            "SELECT tg.title_id, g.name FROM catalog_title_genres tg "  # noqa: S608
            "JOIN catalog_genre g ON g.id = tg.genre_id"
            + (where.replace("t.id", "tg.title_id") if where else "")
        )
        genres: dict[int, list[str]] = {}
        for tid, name in cursor.fetchall():
            genres.setdefault(tid, []).append(name)
    docs = []
    for tid, name, year, series, pop, release in titles:
        rest = fold(f"{year} " + " ".join(sorted(genres.get(tid, []))))
        docs.append((tid, fold(name), fold(series), rest, float(pop or 0.0), release))
    return docs


def _write(docs: list[tuple], *, replace_ids=None) -> None:
    """Replace the index rows of these titles (all when `replace_ids` is None), in sets: the
    rows by COPY (or one executemany on SQLite), then the backend's structures from them in one
    statement each."""
    import datetime as dt

    import numpy as np

    from redenvelope.core.bulk import copy_arrays

    if replace_ids is None:
        where = ""
    else:
        where = (
            " WHERE title_id IN (" + (",".join(str(int(i)) for i in replace_ids) or "NULL") + ")"
        )
    pg = is_postgres()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_titlesearch" + where)  # noqa: S608
        if not pg:
            rows = where.replace("title_id", "rowid")
            cursor.execute("DELETE FROM catalog_titlesearch_fts" + rows)  # noqa: S608
            cursor.execute("DELETE FROM catalog_titlesearch_trigram" + rows)  # noqa: S608
        if not docs:
            return
        cols = list(zip(*docs, strict=True))
        copy_arrays(
            "catalog_titlesearch",
            {
                "title_id": np.array(cols[0], np.int64),
                "name": list(cols[1]),
                "series": list(cols[2]),
                "rest": list(cols[3]),
                "popularity": np.array(cols[4], np.float64),
                "release_date": [
                    d.isoformat() if isinstance(d, dt.date) else str(d) for d in cols[5]
                ],
            },
        )
        if pg:
            cursor.execute(
                "UPDATE catalog_titlesearch SET doc = "  # noqa: S608
                "setweight(to_tsvector('simple', name), 'A') || "
                "setweight(to_tsvector('simple', series), 'B') || "
                "setweight(to_tsvector('simple', rest), 'C')" + where
            )
        else:
            cursor.execute(
                "INSERT INTO catalog_titlesearch_fts (rowid, name, series, rest) "  # noqa: S608
                "SELECT title_id, name, series, rest FROM catalog_titlesearch" + where
            )
            cursor.execute(
                "INSERT INTO catalog_titlesearch_trigram (rowid, name) "  # noqa: S608
                "SELECT title_id, name FROM catalog_titlesearch" + where
            )


def index_titles(title_ids) -> None:
    """Bring these titles' index rows in step with the catalog (called by catalog actions in
    their transaction)."""
    ids = sorted({int(i) for i in title_ids})
    if ids:
        _write(_documents(ids), replace_ids=ids)


def rebuild() -> int:
    """The whole index from the catalog, in bulk (the demo builder, `redenvelope catalog
    reindex`). Returns how many titles it holds."""
    docs = _documents()
    _write(docs)
    return len(docs)
