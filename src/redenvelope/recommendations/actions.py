"""Every change of the recommendations domain: train a version, make one live, roll back,
remove old files. The live model changes only here, each time recorded (LiveChange: who, why).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import numpy as np
from django.conf import settings
from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.errors import DomainError, NotFound

from . import engine, queries, store
from .models import LiveChange, ModelVersion

log = logging.getLogger(__name__)

MIN_RATINGS = 20  # fewer: no predicted stars in this version (top picks still train)
REGION_TOP = 200
NATIONAL_TOP = 500
HOLDOUT = 0.02  # ratings held out of the stars model to measure it


def _note(progress, text: str) -> None:
    if progress is not None:
        progress(text)


def _popularity(imp: dict, regions: dict) -> dict:
    """The titles with most members signalling them (weight at least 0.5), per region and
    nationally: cold start and the blend for members with few signals."""
    strong = imp["w"] >= 0.5
    m, t = imp["member_id"][strong], imp["title_id"][strong]
    key = np.unique(m * (1 << 32) + t)  # one per member and title
    m, t = key >> 32, key & ((1 << 32) - 1)
    ids, reg = regions["member_id"], regions["region_id"]
    order = np.argsort(ids)
    ids, reg = ids[order], reg[order]
    pos = np.minimum(np.searchsorted(ids, m), max(ids.size - 1, 0))
    known = (ids.size > 0) & (ids[pos] == m) if ids.size else np.zeros(m.size, bool)
    r = np.where(known, reg[pos] if ids.size else 0, -1)
    titles, counts = np.unique(t, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:NATIONAL_TOP]
    rt, rc = np.unique(r[r >= 0] * (1 << 32) + t[r >= 0], return_counts=True)
    rr, tt = rt >> 32, rt & ((1 << 32) - 1)
    order = np.lexsort((tt, -rc, rr))
    rr, tt, rc = rr[order], tt[order], rc[order]
    regions_u, starts = np.unique(rr, return_index=True)
    ends = np.r_[starts[1:], rr.size]
    keep = np.concatenate(
        [np.arange(a, min(b, a + REGION_TOP)) for a, b in zip(starts, ends, strict=True)]
        or [np.zeros(0, np.int64)]
    ).astype(np.int64)
    kept_regions = rr[keep]
    indptr = np.searchsorted(kept_regions, regions_u, side="left")
    indptr = np.r_[indptr, keep.size].astype(np.int64)
    return {
        "regions": regions_u.astype(np.int64),
        "region_indptr": indptr,
        "region_titles": tt[keep].astype(np.int64),
        "region_counts": rc[keep].astype(np.int64),
        "popular": titles[top].astype(np.int64),
        "popular_counts": counts[top].astype(np.int64),
    }


def _rank_metrics(imp: dict, seed: int, members: int = 2000) -> tuple[dict, np.ndarray]:
    """Leave one signal out for a sample of members (those with 3 or more): which rows to
    train without, and the held-out (member, title) pairs."""
    rng = np.random.default_rng(seed)
    m = imp["member_id"]
    uniq, first, counts = np.unique(m, return_index=True, return_counts=True)
    eligible = uniq[counts >= 3]
    if eligible.size == 0:
        return {}, np.zeros(m.size, bool)
    chosen = rng.choice(eligible, size=min(members, eligible.size), replace=False)
    order = np.argsort(m, kind="stable")
    start = dict(zip(uniq.tolist(), np.searchsorted(m[order], uniq).tolist(), strict=True))
    cnt = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
    out = np.zeros(m.size, bool)
    for c in chosen.tolist():
        rows = order[start[c] : start[c] + cnt[c]]
        out[rng.choice(rows)] = True
    return {"members": int(chosen.size)}, out


def _evaluate_rank(rank: engine.RankModel, imp: dict, held: np.ndarray, pop: np.ndarray):
    """Hit rate and NDCG at 10 of the held-out signal, for the model and for most popular."""
    col = {int(t): k for k, t in enumerate(rank.titles.tolist())}
    train = ~held
    by_member: dict[int, list[tuple[int, float]]] = {}
    for mm, tt, ww in zip(
        imp["member_id"][train], imp["title_id"][train], imp["w"][train], strict=True
    ):
        by_member.setdefault(int(mm), []).append((int(tt), float(ww)))
    hits = {"model": [], "popular": []}
    ndcg = {"model": [], "popular": []}
    for mm, tt in zip(imp["member_id"][held], imp["title_id"][held], strict=True):
        mine = by_member.get(int(mm), [])
        seen = {t for t, _ in mine}
        rows = [(col[t], w) for t, w in mine if t in col]
        if rows:
            s = rank.scores(np.array([r for r, _ in rows]), np.array([w for _, w in rows]))
            order = [int(rank.titles[k]) for k in np.argsort(-s, kind="stable")[:60]]
        else:
            order = []
        ranked = {
            "model": [t for t in order if t not in seen][:10],
            "popular": [int(t) for t in pop if int(t) not in seen][:10],
        }
        for name, lst in ranked.items():
            hits[name].append(1.0 if int(tt) in lst else 0.0)
            ndcg[name].append(engine.ndcg_at_k(lst, {int(tt)}, 10))
    return {
        "hit_rate_at_10": float(np.mean(hits["model"])) if hits["model"] else None,
        "ndcg_at_10": float(np.mean(ndcg["model"])) if ndcg["model"] else None,
        "popular_hit_rate_at_10": float(np.mean(hits["popular"])) if hits["popular"] else None,
        "popular_ndcg_at_10": float(np.mean(ndcg["popular"])) if ndcg["popular"] else None,
    }


def train(
    *,
    seed: int = 0,
    cutoff: dt.datetime | None = None,
    actor: str = "",
    make_live: bool = True,
    progress=None,
    stars_params: engine.StarsParams | None = None,
    rank_params: engine.RankParams | None = None,
) -> ModelVersion:
    """Train both models on every signal up to `cutoff` (now), store the version with its
    metrics and, by default, make it live. The same data and seed give the same model."""
    started = time.perf_counter()
    cutoff = cutoff or clock.now()
    _note(progress, "reading signals")
    rat = queries.ratings(cutoff)
    imp = queries.implicit(cutoff, rat)
    regions = queries.member_regions()
    if imp["member_id"].size == 0:
        raise DomainError(
            "Nothing to train on yet: no member has rated, rented, streamed or queued a title.",
            code="no_signals",
        )
    metrics: dict = {
        "ratings": int(rat["stars"].size),
        "signals": int(imp["w"].size),
        "members": int(np.unique(imp["member_id"]).size),
        "titles": int(np.unique(imp["title_id"]).size),
    }
    stars = None
    if rat["stars"].size >= MIN_RATINGS:
        _note(progress, f"predicted stars on {rat['stars'].size:,} ratings")
        held = np.random.default_rng(seed).random(rat["stars"].size) < HOLDOUT
        tr = ~held
        stars = engine.fit_stars(
            rat["member_id"][tr], rat["title_id"][tr], rat["stars"][tr], rat["at"][tr],
            stars_params, seed=seed,
        )  # fmt: skip
        if held.any():
            p = stars.predict_ids(rat["member_id"][held], rat["title_id"][held], rat["at"][held])
            truth = rat["stars"][held].astype(np.float64)
            metrics.update(
                rmse=engine.rmse(p, truth), mae=engine.mae(p, truth), held_out=int(held.sum())
            )
    else:
        metrics["stars"] = f"not trained: fewer than {MIN_RATINGS} ratings"
    _note(progress, f"top picks on {imp['w'].size:,} signals")
    pop = _popularity(imp, regions)
    info, held = _rank_metrics(imp, seed)
    keep = ~held
    rank = engine.fit_ease(
        imp["member_id"][keep], imp["title_id"][keep], imp["w"][keep], rank_params
    )
    if held.any():
        metrics.update(info)
        metrics.update(_evaluate_rank(rank, imp, held, pop["popular"]))
    metrics["rank_titles"] = int(rank.titles.size)
    bundle = store.Bundle(stars=stars, rank=rank, **pop)
    name = f"recs-{cutoff:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    file, checksum = store.save(bundle, name)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                created_at=clock.now(),
                seconds=metrics["seconds"],
                data_cutoff=cutoff,
                seed=seed,
                file=file,
                checksum=checksum,
                format=engine.FORMAT,
                metrics=metrics,
                trained_by=actor,
            )
            if make_live:
                _set_live(version, actor or "recs train", "trained and promoted")
    except Exception:
        store.remove(file)
        raise
    transaction.on_commit(purge_old)
    return version


def _set_live(version: ModelVersion, by: str, why: str) -> ModelVersion:
    current = ModelVersion.objects.select_for_update().filter(status="live").first()
    if current is not None and current.pk == version.pk:
        return version
    if current is not None:
        ModelVersion.objects.filter(pk=current.pk).update(status=ModelVersion.Status.RETIRED)
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.LIVE)
    LiveChange.objects.create(at=clock.now(), version=version, previous=current, by=by, why=why)
    version.refresh_from_db()
    return version


@transaction.atomic
def make_live(version_id: int, *, actor: str, why: str) -> ModelVersion:
    """Serve this version from now on. Its file must load (a broken one is refused)."""
    if not why.strip():
        raise DomainError("Say why the live model changes.", code="no_reason")
    version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise NotFound(f"No model version {version_id}.")
    try:
        store.load(version.file, version.checksum, version.format)
    except store.ModelFileError as exc:
        raise DomainError(
            f"Version {version_id} cannot be served: {exc}.", code="bad_model"
        ) from None
    return _set_live(version, actor, why.strip())


@transaction.atomic
def rollback(*, actor: str, why: str = "rolled back") -> ModelVersion:
    """Serve again the version that was live before the current one."""
    last = LiveChange.objects.select_for_update().order_by("-at", "-id").first()
    if last is None or last.previous_id is None:
        raise DomainError("There is no earlier live model to go back to.", code="no_previous")
    return make_live(last.previous_id, actor=actor, why=why or "rolled back")


def purge_old(keep: int | None = None) -> list[int]:
    """Remove the files of versions beyond the newest `keep` that are not live."""
    keep = settings.REDENVELOPE["RECS_KEEP_VERSIONS"] if keep is None else keep
    with transaction.atomic():
        old = list(
            ModelVersion.objects.select_for_update()
            .exclude(status__in=["live", "purged"])
            .order_by("-id")[keep:]
        )
        ids = [v.pk for v in old]
        ModelVersion.objects.filter(pk__in=ids).update(status=ModelVersion.Status.PURGED)
        files = [v.file for v in old]
        transaction.on_commit(lambda: [store.remove(f) for f in files])
    return ids
