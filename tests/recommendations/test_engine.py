"""The models alone (no database): they find planted structure, a seed gives the same model,
and the evaluation metrics match values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redenvelope.recommendations import engine


def planted(members=400, titles=120, per_member=40, seed=3):
    """Two-factor taste plus member and title biases; stars = round(affinity + noise)."""
    rng = np.random.default_rng(seed)
    mt = rng.normal(0, 1, (members, 2))
    tt = rng.normal(0, 1, (titles, 2))
    mb = rng.normal(0, 0.4, members)
    tb = rng.normal(0, 0.4, titles)
    m = np.repeat(np.arange(members), per_member)
    t = np.concatenate([rng.choice(titles, per_member, replace=False) for _ in range(members)])
    raw = (
        3.2 + mb[m] + tb[t] + 0.9 * np.einsum("ij,ij->i", mt[m], tt[t]) + rng.normal(0, 0.4, m.size)
    )
    stars = np.clip(np.round(raw), 1, 5)
    at = 1_600_000_000 + rng.integers(0, 200 * 86400, m.size)
    return m + 1000, t + 50, stars, at, mt, tt


def test_predicted_stars_beat_the_mean_and_the_biases_on_planted_taste():
    m, t, stars, at, _, _ = planted()
    test = np.random.default_rng(0).random(m.size) < 0.2
    model = engine.fit_stars(m[~test], t[~test], stars[~test], at[~test], seed=1)
    pred = model.predict_ids(m[test], t[test])
    mean = np.full(test.sum(), stars[~test].mean())
    u = engine.positions(model.members, m[test])
    i = engine.positions(model.titles, t[test])
    biases = np.clip(model.mu + model.bu[u] + model.bi[i], 1, 5)
    truth = stars[test]
    assert engine.rmse(pred, truth) < 0.8 * engine.rmse(mean, truth)
    assert engine.rmse(pred, truth) < 0.9 * engine.rmse(biases, truth)
    assert engine.mae(pred, truth) < engine.mae(mean, truth)
    assert pred.min() >= 1 and pred.max() <= 5


def test_unknown_members_and_titles_get_what_is_known():
    m, t, stars, at, _, _ = planted(members=50, titles=30, per_member=10)
    model = engine.fit_stars(m, t, stars, at)
    p = model.predict_ids([999_999, m[0], 999_999], [t[0], 999_999, 999_999])
    assert np.all(np.isfinite(p))
    assert p[2] == pytest.approx(min(max(model.mu, 1), 5))


def test_the_same_seed_gives_the_same_model():
    m, t, stars, at, _, _ = planted(members=80, titles=40, per_member=15)
    a = engine.fit_stars(m, t, stars, at, seed=7)
    b = engine.fit_stars(m, t, stars, at, seed=7)
    c = engine.fit_stars(m, t, stars, at, seed=8)
    assert np.array_equal(a.pz, b.pz) and np.array_equal(a.nbr, b.nbr)
    assert np.array_equal(a.nbr_sim, b.nbr_sim) and np.array_equal(a.resid, b.resid)
    assert not np.array_equal(a.pz, c.pz)
    r1 = engine.fit_ease(m, t)
    r2 = engine.fit_ease(m, t)
    assert np.array_equal(r1.b, r2.b)


def test_no_ratings_is_a_clear_error():
    with pytest.raises(ValueError, match="no ratings"):
        engine.fit_stars(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))


def test_ease_finds_planted_co_watching_better_than_popularity():
    """Two groups of members watch two disjoint sets of titles (the smaller set's titles more
    popular); holding out one title per member, EASE finds it for both groups (as often as
    picking at random from the right group could), popularity only for the popular group."""
    rng = np.random.default_rng(0)
    rows_m, rows_t, held = [], [], {}
    for member in range(300):
        group = member % 2
        pool = np.arange(0, 40) if group == 0 else np.arange(40, 60)
        seen = rng.choice(pool, 12, replace=False)
        held[member] = int(seen[0])
        rows_m += [member] * 11
        rows_t += seen[1:].tolist()
    model = engine.fit_ease(np.array(rows_m), np.array(rows_t), params=engine.RankParams(lam=10))
    col = {int(x): k for k, x in enumerate(model.titles)}
    pop = np.bincount(rows_t, minlength=60)
    hits_model = hits_pop = 0
    group0_model = group0_pop = 0
    for member, target in held.items():
        mine = [rows_t[k] for k in range(len(rows_m)) if rows_m[k] == member]
        s = model.scores(np.array([col[x] for x in mine]))
        ranked = [int(model.titles[k]) for k in np.argsort(-s) if int(model.titles[k]) not in mine]
        hit = target in ranked[:10]
        ranked_pop = [x for x in np.argsort(-pop, kind="stable") if x not in mine]
        hit_pop = target in ranked_pop[:10]
        hits_model += hit
        hits_pop += hit_pop
        if member % 2 == 0:
            group0_model += hit
            group0_pop += hit_pop
    # ideal: group 1 always (9 candidates), group 0 about 10 in 29
    assert hits_model > 1.3 * hits_pop and hits_model > 0.6 * len(held)
    assert group0_model > 0.25 * 150 and group0_pop == 0
    assert np.all(np.diag(model.b) == 0)


def test_metrics_match_hand_computed_values():
    assert engine.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert engine.mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    # one relevant item at rank 2: DCG 1/log2(3), ideal 1
    assert engine.ndcg_at_k(["a", "b", "c"], {"b"}, 10) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3))
    assert engine.ndcg_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(
        1.5 / (1 + 1 / math.log2(3))
    )
    assert engine.ndcg_at_k(["x", "y"], {"a"}, 10) == 0
    assert engine.recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}, 2) == pytest.approx(0.5)
    assert engine.recall_at_k(["a"], set(), 10) == 0


def test_time_split_holds_out_each_members_latest_fifth():
    members = np.array([1] * 10 + [2] * 1 + [3] * 5)
    at = np.array(list(range(10, 0, -1)) + [5] + [1, 2, 3, 4, 5])
    test = engine.time_split(members, at, 0.2)
    assert test[:10].tolist() == [True, True] + [False] * 8  # at 10 and 9: the latest two
    assert not test[10]  # a member with one row keeps it for training
    assert test[11:].tolist() == [False, False, False, False, True]


def test_top_neighbours_best_first_and_none_for_nothing_alike():
    sim = np.array([[0, 0.5, 0.9, -0.2], [0.5, 0, 0.1, 0], [0.9, 0.1, 0, 0], [-0.2, 0, 0, 0]])
    idx, s = engine.top_neighbours(sim.astype(np.float32), 2)
    assert idx[0].tolist() == [2, 1] and s[0].tolist() == pytest.approx([0.9, 0.5])
    assert idx[3].tolist() == [-1, -1]
