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
    mask = (1 << 32) - 1
    strong = imp["w"] >= 0.5
    key = np.unique(imp["member_id"][strong] * (1 << 32) + imp["title_id"][strong])
    m, t = key >> 32, key & mask  # one per member and title
    titles, counts = np.unique(t, return_counts=True)
    top = np.argsort(-counts, kind="stable")[:NATIONAL_TOP]
    order = np.argsort(regions["member_id"], kind="stable")
    ids, reg = regions["member_id"][order], regions["region_id"][order]
    r = np.full(m.size, -1, np.int64)
    if ids.size:
        pos = np.minimum(np.searchsorted(ids, m), ids.size - 1)
        r = np.where(ids[pos] == m, reg[pos], -1)
    known = r >= 0
    rk, rc = np.unique(r[known] * (1 << 32) + t[known], return_counts=True)
    rr, tt = rk >> 32, rk & mask
    order = np.lexsort((tt, -rc, rr))  # by region, most signalled first
    rr, tt, rc = rr[order], tt[order], rc[order]
    first = np.r_[True, rr[1:] != rr[:-1]] if rr.size else np.zeros(0, bool)
    starts = np.maximum.accumulate(np.where(first, np.arange(rr.size), 0))
    keep = np.arange(rr.size) - starts < REGION_TOP
    rr, tt, rc = rr[keep], tt[keep], rc[keep]
    regions_u = np.unique(rr)
    return {
        "regions": regions_u.astype(np.int64),
        "region_indptr": np.r_[np.searchsorted(rr, regions_u), rr.size].astype(np.int64),
        "region_titles": tt.astype(np.int64),
        "region_counts": rc.astype(np.int64),
        "popular": titles[top].astype(np.int64),
        "popular_counts": counts[top].astype(np.int64),
    }


def _rank_metrics(imp: dict, seed: int, members: int = 2000) -> tuple[dict, np.ndarray]:
    """Leave one signal out for a sample of members (those with 3 or more): which rows to
    train without, and the held-out (member, title) pairs."""
    rng = np.random.default_rng(seed)
    m = imp["member_id"]
    uniq, counts = np.unique(m, return_counts=True)
    eligible = uniq[counts >= 3]
    if eligible.size == 0:
        return {}, np.zeros(m.size, bool)
    chosen = np.sort(rng.choice(eligible, size=min(members, eligible.size), replace=False))
    rows = np.flatnonzero(np.isin(m, chosen))
    rows = rows[np.argsort(m[rows], kind="stable")]
    starts = np.searchsorted(m[rows], chosen)
    ends = np.searchsorted(m[rows], chosen, side="right")
    out = np.zeros(m.size, bool)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        out[rows[a + int(rng.integers(0, b - a))]] = True
    return {"members_held": int(chosen.size)}, out


def _evaluate_rank(rank: engine.RankModel, imp: dict, held: np.ndarray, pop: np.ndarray):
    """Hit rate and NDCG at 10 of the held-out signal, for the model and for most popular."""
    col = {int(t): k for k, t in enumerate(rank.titles.tolist())}
    train = ~held & np.isin(imp["member_id"], imp["member_id"][held])  # the sampled members'
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
    read_s = time.perf_counter() - started
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
        "read_s": round(read_s, 2),
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
    metrics["stars_s"] = round(time.perf_counter() - started - read_s, 2)
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
