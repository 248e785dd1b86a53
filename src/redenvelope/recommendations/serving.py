"""What a member sees: top picks, "because you rated", "more like this", predicted stars. Pages,
the JSON API and (later) the newsletter call these functions.

The live version's arrays are loaded once per process and kept while it stays live. A live
version whose file is missing, damaged or of an older format is passed over for the version
live before it (and the result says so); with none that loads, picks are the most popular
titles. A member's own signals are read fresh on each call: a rating made a minute ago already
steers the picks and is never suggested back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Q

from redenvelope.catalog.models import Title
from redenvelope.core import clock
from redenvelope.membership.models import Member
from redenvelope.rights.queries import window_subquery

from . import store
from .engine import positions
from .models import LiveChange, ModelVersion
from .queries import MemberSignals, member_signals

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict = {"key": None, "bundle": None, "version": None, "note": ""}


@dataclass
class Pick:
    title: Title
    reason: str
    score: float = 0.0
    stars: float | None = None  # predicted, where the stars model knows the member


@dataclass
class Picks:
    items: list[Pick] = field(default_factory=list)
    version: int | None = None
    note: str = ""  # set when serving fell back from the live model
    cold_start: bool = False
    anchor: Title | None = None  # "because you rated" this title
    anchor_stars: int | None = None


def forget_cache() -> None:
    with _lock:
        _cache.update(key=None, bundle=None, version=None, note="")


def live_bundle() -> tuple[store.Bundle | None, int | None, str]:
    """(arrays, version id, note): the live version's, or the last earlier live one that loads."""
    live = ModelVersion.objects.filter(status="live").values("pk", "checksum").first()
    key = (live["pk"], live["checksum"]) if live else None
    with _lock:
        if _cache["key"] == key and key is not None:
            return _cache["bundle"], _cache["version"], _cache["note"]
    bundle, version, note = _load_live(live)
    with _lock:
        _cache.update(key=key, bundle=bundle, version=version, note=note)
    return bundle, version, note


def _load_live(live) -> tuple[store.Bundle | None, int | None, str]:
    if live is None:
        return None, None, "No model has been trained yet: these are the most popular titles."
    tried = []
    candidates = [live["pk"]] + list(
        LiveChange.objects.exclude(version_id=live["pk"])
        .order_by("-at", "-id")
        .values_list("version_id", flat=True)
    )
    seen: set[int] = set()
    for vid in candidates:
        if vid in seen:
            continue
        seen.add(vid)
        v = ModelVersion.objects.filter(pk=vid).exclude(status="purged").first()
        if v is None:
            continue
        try:
            bundle = store.load(v.file, v.checksum, v.format)
        except store.ModelFileError as exc:
            tried.append(f"v{v.pk}: {exc}")
            log.warning("recommendations: model v%s cannot be served: %s", v.pk, exc)
            continue
        note = ""
        if v.pk != live["pk"]:
            note = (
                f"The live model v{live['pk']} could not be loaded ({tried[0]}); these come "
                f"from v{v.pk}, live before it."
            )
        return bundle, v.pk, note
    return (
        None,
        None,
        "No trained model could be loaded (" + "; ".join(tried) + "): these are the most "
        "popular titles.",
    )


# ---------------------------------------------------------------- eligibility


def eligible(member: Member, title_ids) -> list[int]:
    """The titles the member's plan can have now, in the given order: released discs for a
    disc plan; titles in a streaming license window for a plan with screens; a series only
    from its first disc. One query."""
    from django.db import connection

    ids = [int(t) for t in title_ids]
    if not ids:
        return []
    plan = member.plan
    now = clock.now()
    conds, params = [], []
    if plan.discs_at_once > 0:
        conds.append("t.release_date <= %s")
        params.append(connection.ops.adapt_datefield_value(clock.today()))
    if plan.streaming_screens > 0:
        window, wparams = window_subquery("t.id", member.territory, now)
        conds.append(f"{window} IS NOT NULL")
        params += wparams
    if not conds:
        return []
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT t.id FROM catalog_title t WHERE t.id IN ({marks}) "  # noqa: S608
        "AND (t.series_id IS NULL OR (t.season = 1 AND t.disc_number = 1)) "
        f"AND ({' OR '.join(conds)})"
    )
    with connection.cursor() as cur:
        cur.execute(sql, ids + params)
        ok = {r[0] for r in cur.fetchall()}
    return [t for t in ids if t in ok]


def _titles(ids: list[int], genres: bool = False) -> dict[int, Title]:
    rows = Title.objects.filter(pk__in=ids)
    if genres:
        rows = rows.prefetch_related("genres")
    return {t.pk: t for t in rows}


# ---------------------------------------------------------------- scoring


def _regional(bundle: store.Bundle, region_id: int) -> dict[int, float]:
    """Title -> share of the region's (or the nation's) most-signalled count."""
    pos = positions(bundle.regions, [region_id])[0]
    if pos >= 0:
        a, b = bundle.region_indptr[pos], bundle.region_indptr[pos + 1]
        titles, counts = bundle.region_titles[a:b], bundle.region_counts[a:b]
    else:
        titles, counts = bundle.popular, bundle.popular_counts
    if counts.size == 0:
        return {}
    top = float(counts.max())
    out = {int(t): float(c) / top for t, c in zip(titles, counts, strict=True)}
    national_top = float(bundle.popular_counts.max()) if bundle.popular_counts.size else 1.0
    for t, c in zip(bundle.popular, bundle.popular_counts, strict=True):
        out.setdefault(int(t), 0.5 * float(c) / national_top)
    return out


def _reason(title_id: int, sig: MemberSignals, names: dict[int, str]) -> str:
    name = names.get(title_id, "a title you chose")
    if title_id in sig.stars:
        n = sig.stars[title_id]
        return f"Because you rated {name} {n} star{'s' if n != 1 else ''}"
    if title_id in sig.streamed:
        return f"Because you watched {name}"
    if title_id in sig.rented:
        return f"Because you rented {name}"
    return f"Because {name} is in your queue"


def _explain_weight(title_id: int, sig: MemberSignals) -> float:
    stars = sig.stars.get(title_id)
    if stars is not None:
        return 2.0 if stars >= 4 else (0.0 if stars <= 2 else 1.0)
    if title_id in sig.streamed or title_id in sig.rented:
        return 1.5
    return 1.0


def _popular_fallback(member: Member, n: int, seen: set[int], note: str) -> Picks:
    by_popularity = Title.objects.exclude(pk__in=seen).order_by("-popularity", "id")
    ids = list(by_popularity.values_list("pk", flat=True)[: n * 4])
    ok = eligible(member, ids)[:n]
    titles = _titles(ok)
    return Picks(
        items=[Pick(titles[t], "Popular with members") for t in ok if t in titles],
        note=note,
        cold_start=True,
    )


def top_picks(member: Member, n: int = 20) -> Picks:
    """The member's top picks with the reason for each: never what they rented, rated, queued,
    saved or watched through; only what their plan can have now."""
    sig = member_signals(member.pk)
    seen = sig.seen
    bundle, version, note = live_bundle()
    if bundle is None:
        return _popular_fallback(member, n, seen, note)
    weights = sig.weights()
    rank = bundle.rank
    sig_ids = list(weights)
    cols = positions(rank.titles, sig_ids)
    have = cols >= 0
    regional = _regional(bundle, member.region_id)
    scores: dict[int, float] = {}
    because: dict[int, int] = {}
    n_signals = int(have.sum())
    if n_signals:
        w = np.array([weights[t] for t in sig_ids], np.float32)[have]
        rows = rank.b[cols[have]] * w[:, None]
        s = rows.sum(axis=0)
        top = float(s.max()) if s.size else 0.0
        if top > 0:
            best = np.argsort(-s, kind="stable")[: n * 8 + len(seen)]
            mine = np.array(sig_ids)[have]
            # explain by what says most about taste: a high rating, then a watch or a rental,
            # then the queue; never by a low rating
            boost = np.array([_explain_weight(int(t), sig) for t in mine], np.float32)
            contrib = (rows[:, best] * boost[:, None]).argmax(axis=0)
            for k, c in zip(best.tolist(), contrib.tolist(), strict=True):
                if s[k] <= 0:
                    break
                t = int(rank.titles[k])
                scores[t] = float(s[k]) / top
                because[t] = int(mine[c])
    blend = 3.0 / (3.0 + n_signals)  # popularity matters less the more a member has shown
    favourite = [g for g in member.favourite_genres.split(",") if g]
    liked_ids: set[int] = set()
    if favourite and n_signals < 5:
        liked = Title.objects.filter(genres__slug__in=favourite).order_by("-popularity", "id")
        liked_ids = {int(t) for t in liked.values_list("pk", flat=True)[: n * 5]}
    for t in liked_ids:
        regional.setdefault(t, 0.2)
    for t, p in regional.items():
        scores[t] = scores.get(t, 0.0) + blend * (p + (0.5 if t in liked_ids else 0.0))
    ranked = [t for t in sorted(scores, key=lambda t: (-scores[t], t)) if t not in seen]
    ok: list[int] = []
    step = n * 2
    for start in range(0, min(len(ranked), n * 12), step):  # most members fill from the first
        ok += eligible(member, ranked[start : start + step])
        if len(ok) >= n:
            break
    ok = ok[:n]
    names = sig.names
    fav_set = set(favourite)
    titles = _titles(ok, genres=bool(fav_set))
    items = []
    for t in ok:
        if t not in titles:
            continue
        if t in because and t not in liked_ids:
            reason = _reason(because[t], sig, names)
        else:
            genres = {g.slug: g.name for g in titles[t].genres.all()} if fav_set else {}
            liked = [genres[g] for g in genres if g in fav_set]
            reason = f"Popular in {liked[0]}, which you like" if liked else "Popular near you"
        items.append(Pick(titles[t], reason, scores[t]))
    _add_stars(bundle, member, items)
    return Picks(items=items, version=version, note=note, cold_start=n_signals == 0)


def _add_stars(bundle: store.Bundle, member: Member, items: list[Pick]) -> None:
    if bundle.stars is None or not items:
        return
    u = positions(bundle.stars.members, [member.pk])[0]
    if u < 0:
        return
    ids = [p.title.pk for p in items]
    pred = bundle.stars.predict(np.full(len(ids), u, np.int64), positions(bundle.stars.titles, ids))
    for p, s in zip(items, pred.tolist(), strict=True):
        p.stars = round(float(s), 1)


def predicted_stars(member: Member, title_ids) -> dict[int, float]:
    """Stars the model expects the member to give, for members it has seen rate."""
    bundle, _, _ = live_bundle()
    ids = [int(t) for t in title_ids]
    if bundle is None or bundle.stars is None or not ids:
        return {}
    u = positions(bundle.stars.members, [member.pk])[0]
    if u < 0:
        return {}
    pred = bundle.stars.predict(np.full(len(ids), u, np.int64), positions(bundle.stars.titles, ids))
    return {t: round(float(s), 1) for t, s in zip(ids, pred.tolist(), strict=True)}


def _similar_ids(bundle: store.Bundle, title_id: int, n: int) -> list[int]:
    """Titles most like this one: the top-picks model's weights from it (who has one, has the
    other), then the stars model's neighbours (rated alike)."""
    out: list[int] = []
    col = positions(bundle.rank.titles, [title_id])[0]
    if col >= 0:
        row = bundle.rank.b[col]
        for k in np.argsort(-row, kind="stable")[:n]:
            if row[k] <= 0:
                break
            out.append(int(bundle.rank.titles[k]))
    if bundle.stars is not None and len(out) < n:
        pos = positions(bundle.stars.titles, [title_id])[0]
        if pos >= 0:
            for j in bundle.stars.nbr[pos]:
                if j < 0:
                    break
                t = int(bundle.stars.titles[j])
                if t not in out:
                    out.append(t)
    return out


def more_like_this(title: Title, member: Member | None = None, n: int = 8) -> list[Pick]:
    """Titles like this one; for a member, without what they have seen or queued and only what
    their plan can have. Without a model (or signals for it), the same genres' most popular."""
    bundle, _, _ = live_bundle()
    ids = _similar_ids(bundle, title.pk, n * 4) if bundle is not None else []
    reason = f"Members who liked {title.name} liked this"
    if len(ids) < n:
        genres = list(title.genres.values_list("pk", flat=True))
        more = (
            Title.objects.filter(genres__in=genres)
            .exclude(pk=title.pk)
            .order_by("-popularity", "id")
            .values_list("pk", flat=True)
            .distinct()[: n * 4]
        )
        ids += [t for t in more if t not in ids]
    ids = [t for t in ids if t != title.pk]
    if member is not None:
        seen = member_signals(member.pk).seen
        ids = eligible(member, [t for t in ids if t not in seen])
    else:  # a visitor: released titles, a series from its first disc
        ok = set(
            Title.objects.filter(pk__in=ids, release_date__lte=clock.today())
            .filter(Q(series__isnull=True) | Q(season=1, disc_number=1))
            .values_list("pk", flat=True)
        )
        ids = [t for t in ids if t in ok]
    ids = ids[:n]
    titles = _titles(ids)
    items = [Pick(titles[t], reason) for t in ids if t in titles]
    if member is not None and bundle is not None:
        _add_stars(bundle, member, items)
    return items


def because_you_rated(member: Member, n: int = 8) -> Picks:
    """More like the title the member rated highest most recently (4 or 5 stars)."""
    from redenvelope.ratings.models import Rating

    best = (
        Rating.objects.filter(member=member, stars__gte=4)
        .select_related("title")
        .order_by("-stars", "-rated_at", "-id")
        .first()
    )
    if best is None:
        return Picks()
    items = more_like_this(best.title, member, n)
    for p in items:
        p.reason = f"Because you rated {best.title.name} {best.stars} stars"
    return Picks(items=items, anchor=best.title, anchor_stars=best.stars)


# ---------------------------------------------------------------- many members at once


def picks_among(
    member_ids,
    region_ids,
    candidates: dict[str, list[int]],
    plan_kinds: np.ndarray,
    n: int = 4,
    progress=None,
) -> np.ndarray:
    """For each member, the `n` titles of a short list they are likeliest to want (the
    newsletter's "picked for you" among the week's arrivals): the live model's top-picks scores
    for every member at once, blended with regional popularity as `top_picks` does (less the
    more a member has shown), never a title the member rented, rated, queued, saved or watched
    through. `candidates` maps "disc" and "stream" to title ids; `plan_kinds` per member: 1 a
    disc plan, 2 streaming only, 3 both (only titles the plan can have). Returns a members x n
    array of title ids, -1 where there are fewer."""
    import scipy.sparse as sp

    from .queries import implicit

    member_ids = np.asarray(member_ids, np.int64)
    m = member_ids.size
    disc = [int(t) for t in candidates.get("disc", [])]
    stream = [int(t) for t in candidates.get("stream", [])]
    cand = np.array(sorted(set(disc) | set(stream)), np.int64)
    out = np.full((m, n), -1, np.int64)
    if m == 0 or cand.size == 0:
        return out
    order = np.argsort(member_ids, kind="stable")
    sorted_members = member_ids[order]
    bundle, _, _ = live_bundle()
    if progress:
        progress("reading signals")
    sig = implicit(clock.now())
    mpos = positions(sorted_members, sig["member_id"])
    keep = mpos >= 0
    rows_all = order[mpos[keep]]
    t_all, w_all = sig["title_id"][keep], sig["w"][keep]
    from django.db import connection

    marks = ", ".join(str(int(t)) for t in cand)  # ids the code read, never input
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT member_id, title_id FROM ratings_rating WHERE title_id IN ({marks}) "  # noqa: S608
            f"UNION ALL SELECT member_id, title_id FROM fulfillment_shipment "
            f"WHERE title_id IN ({marks}) "
            f"UNION ALL SELECT member_id, title_id FROM queues_queueentry "
            f"WHERE title_id IN ({marks}) "
            f"UNION ALL SELECT member_id, title_id FROM queues_savedentry "
            f"WHERE title_id IN ({marks}) "
            "UNION ALL SELECT s.member_id, s.title_id FROM streaming_session s "
            "JOIN streaming_encode e ON e.id = s.encode_id "
            f"WHERE s.title_id IN ({marks}) AND e.duration_s > 0 "
            "AND s.position_s * 2 >= e.duration_s"
        )
        seen = np.array(cur.fetchall(), np.int64).reshape(-1, 2)
    if progress:
        progress("scoring")
    scores = np.zeros((m, cand.size), np.float32)
    n_signals = np.zeros(m, np.int64)
    if bundle is not None:
        rank = bundle.rank
        cols = positions(rank.titles, t_all)
        have = cols >= 0
        r, c, w = rows_all[have], cols[have], w_all[have]
        # a member's strongest signal for a title counts
        key = r * np.int64(rank.titles.size) + c
        srt = np.argsort(key, kind="stable")
        key, w = key[srt], w[srt]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        wmax = np.maximum.reduceat(w, starts) if key.size else w
        ukey = key[starts]
        rr, cc = ukey // rank.titles.size, ukey % rank.titles.size
        n_signals = np.bincount(rr, minlength=m).astype(np.int64)
        sig_m = sp.csr_matrix((wmax, (rr, cc)), shape=(m, rank.titles.size), dtype=np.float32)
        ccols = positions(rank.titles, cand)
        inside = ccols >= 0
        if inside.any():
            part = np.asarray(sig_m @ rank.b[:, ccols[inside]], np.float32)
            scores[:, inside] = part
        top = scores.max(axis=1, keepdims=True)
        np.divide(scores, top, out=scores, where=top > 0)
        np.maximum(scores, 0, out=scores)
        # regional popularity of each candidate (national where the region has none)
        regions = np.asarray(region_ids, np.int64)
        ureg, rinv = np.unique(regions, return_inverse=True)
        pop = np.zeros((ureg.size, cand.size), np.float32)
        for k, reg in enumerate(ureg.tolist()):
            shares = _regional(bundle, reg)
            pop[k] = [shares.get(int(t), 0.0) for t in cand]
        blend = (3.0 / (3.0 + n_signals)).astype(np.float32)
        scores += blend[:, None] * pop[rinv]
    else:  # no model: the titles by popularity
        pops = dict(Title.objects.filter(pk__in=cand.tolist()).values_list("pk", "popularity"))
        top = max([float(v or 0) for v in pops.values()] + [1.0])
        scores[:] = np.array([float(pops.get(int(t)) or 0) / top for t in cand], np.float32)
    # what the plan cannot have, and what the member has seen, never shows
    in_disc = np.isin(cand, np.array(disc, np.int64))
    in_stream = np.isin(cand, np.array(stream, np.int64))
    kinds = np.asarray(plan_kinds, np.int64)
    allowed = ((kinds[:, None] & 1) > 0) & in_disc[None, :]
    allowed |= ((kinds[:, None] & 2) > 0) & in_stream[None, :]
    scores[~allowed] = -np.inf
    if seen.size:
        s_rows = positions(sorted_members, seen[:, 0])
        ok = s_rows >= 0
        scores[order[s_rows[ok]], positions(cand, seen[ok, 1])] = -np.inf
    k = min(n, cand.size)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    picked = cand[best]
    valid = np.isfinite(np.take_along_axis(scores, best, axis=1))
    out[:, :k] = np.where(valid, picked, -1)
    return out
