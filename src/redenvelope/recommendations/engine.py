"""The recommendation models, pure numpy/numba (no Django): what `recs train`, the nightly job
and `bench recs` run on arrays read in bulk.

Predicted stars (`fit_stars`): a biased matrix factorisation of the SVD++ class with the two
time effects of Koren's timeSVD++ that matter on rating data — a member's bias on the day they
rated, and a per-member and per-day scale on the title's bias — trained by SGD; then an
item-neighbourhood correction: the member's residuals on the titles most like this one
(Pearson on baseline residuals, shrunk by support, top `neighbours` kept per title).

Top picks (`fit_ease`): EASE (Steck, 2019), a closed-form item-item model on implicit signals
(ratings, rentals, streams, queue adds), on the `max_items` titles with most signals.

Everything is deterministic for a seed (one thread in the SGD; fixed chunks in the parallel
pair sums, summed in a fixed order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba as nb
import numpy as np

FORMAT = 1  # bump when the saved arrays change; serving refuses other formats


# ---------------------------------------------------------------- indexing


def index_of(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ids and each row's position among them."""
    uniq, inv = np.unique(np.asarray(ids, dtype=np.int64), return_inverse=True)
    return uniq, inv.astype(np.int64)


def csr_by_row(rows: np.ndarray, n_rows: int, *cols: np.ndarray):
    """Sort by (row, first col) and return indptr plus the columns in that order."""
    order = np.lexsort((cols[0], rows)) if cols else np.argsort(rows, kind="stable")
    indptr = np.searchsorted(rows[order], np.arange(n_rows + 1)).astype(np.int64)
    return (indptr, *[c[order] for c in cols])


# ---------------------------------------------------------------- predicted stars


def positions(sorted_ids: np.ndarray, ids) -> np.ndarray:
    """Positions of ids in a sorted id array, -1 where absent."""
    ids = np.asarray(ids, dtype=np.int64)
    if sorted_ids.size == 0:
        return np.full(ids.size, -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


@dataclass
class StarsParams:
    factors: int = 50
    epochs: int = 40
    lr: float = 0.005
    lr_bias: float = 0.005
    reg: float = 0.1
    reg_bias: float = 0.01
    reg_implicit: float = 0.1
    reg_day: float = 0.05
    reg_scale: float = 0.05
    decay: float = 0.96
    min_day_ratings: int = 3  # a member's day needs this many ratings for day effects
    neighbours: int = 100  # kept per title
    k: int = 30  # used per prediction
    min_support: int = 5  # ratings a title needs to have neighbours
    shrink: float = 50.0
    knn_items: int = 6000  # titles with neighbours, by number of ratings
    low: float = 1.0
    high: float = 5.0


@dataclass
class StarsModel:
    """Arrays indexed by member position (`members`, sorted ids) and title position (`titles`)."""

    mu: float
    members: np.ndarray
    titles: np.ndarray
    bu: np.ndarray
    cu: np.ndarray
    bi: np.ndarray
    pz: np.ndarray  # p_u + |N(u)|^-1/2 sum y_j, float32
    q: np.ndarray  # float32
    # the member's training ratings (CSR by member) and the model's residual on each
    indptr: np.ndarray
    rated: np.ndarray
    resid: np.ndarray
    # each title's nearest titles (-1 = none) and similarity, float32
    nbr: np.ndarray
    nbr_sim: np.ndarray
    # a member's bias and scale on a day it rated (keys: member position * 1e6 + day - day0)
    day0: int = 0
    day_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    low: float = 1.0
    high: float = 5.0
    k: int = 30

    def predict_ids(self, member_ids, title_ids, at=None) -> np.ndarray:
        """Stars for (member id, title id) pairs; `at` (seconds since the epoch, per pair) adds
        the member's effects of that day where the model saw the member rate on it."""
        return self.predict(
            positions(self.members, member_ids), positions(self.titles, title_ids), at
        )

    def predict(self, u: np.ndarray, i: np.ndarray, at=None) -> np.ndarray:
        """Stars for member positions u and title positions i (-1 = unknown: the biases that
        are known stand in)."""
        u = np.asarray(u, dtype=np.int64)
        i = np.asarray(i, dtype=np.int64)
        ku, ki = u >= 0, i >= 0
        uu, ii = np.where(ku, u, 0), np.where(ki, i, 0)
        bd = np.zeros(u.size)
        cd = np.zeros(u.size)
        if at is not None and self.day_keys.size:
            key = uu * 1_000_000 + (np.asarray(at, dtype=np.int64) // 86400 - self.day0)
            pos = np.minimum(np.searchsorted(self.day_keys, key), self.day_keys.size - 1)
            seen = ku & (self.day_keys[pos] == key)
            bd = np.where(seen, self.bd[pos], 0.0)
            cd = np.where(seen, self.cd[pos], 0.0)
        scale = np.where(ku, self.cu[uu] + cd, 1.0)
        p = self.mu + np.where(ku, self.bu[uu] + bd, 0.0) + np.where(ki, self.bi[ii] * scale, 0)
        both = ku & ki
        dot = np.einsum("ij,ij->i", self.q[ii], self.pz[uu]).astype(np.float64)
        p = p + np.where(both, dot, 0.0)
        corr = _knn_correct(
            self.indptr, self.rated, self.resid, self.nbr, self.nbr_sim, uu, ii, both, self.k
        )
        return np.clip(p + corr, self.low, self.high)


@nb.njit(cache=True, fastmath=True)
def _sgd(indptr, items, days, r, n_items, n_days, k, epochs, lr, lr_b, reg, reg_b, reg_y,
         reg_d, reg_c, decay, mu, seed):  # fmt: skip
    """SGD member by member (members in a seeded random order, a member's ratings shuffled):
    the implicit part z_u is summed once per member and its gradient applied after the
    member's ratings (the usual fast SVD++ schedule)."""
    np.random.seed(seed)
    n_users = indptr.size - 1
    P = (np.random.standard_normal((n_users, k)) * 0.05).astype(np.float32)
    Q = (np.random.standard_normal((n_items, k)) * 0.05).astype(np.float32)
    Y = np.zeros((n_items, k), np.float32)
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    bd = np.zeros(n_days)
    cu = np.ones(n_users)
    cd = np.zeros(n_days)
    order = np.arange(n_users)
    longest = 0
    for u in range(n_users):
        longest = max(longest, indptr[u + 1] - indptr[u])
    perm = np.arange(longest)
    z = np.zeros(k, np.float32)
    acc = np.zeros(k, np.float32)
    pz = np.zeros(k, np.float32)
    null_day = n_days - 1
    for _ in range(epochs):
        np.random.shuffle(order)
        for uu in range(n_users):
            u = order[uu]
            a, b = indptr[u], indptr[u + 1]
            n = b - a
            if n == 0:
                continue
            s = np.float32(1.0 / math.sqrt(n))
            for f in range(k):
                z[f] = 0.0
                acc[f] = 0.0
            for t in range(a, b):
                j = items[t]
                for f in range(k):
                    z[f] += Y[j, f]
            for f in range(k):
                z[f] *= s
            for x in range(n):
                perm[x] = x
            np.random.shuffle(perm[:n])
            for pp in range(n):
                t = a + perm[pp]
                i = items[t]
                d = days[t]
                dot = 0.0
                for f in range(k):
                    pz[f] = P[u, f] + z[f]
                    dot += Q[i, f] * pz[f]
                c = cu[u] + cd[d]
                e = r[t] - (mu + bu[u] + bd[d] + bi[i] * c + dot)
                bu[u] += lr_b * (e - reg_b * bu[u])
                g = e * bi[i]
                cu[u] += lr_b * (g - reg_c * (cu[u] - 1.0))
                if d != null_day:  # the last day slot: days with too few ratings, kept at 0
                    bd[d] += lr_b * (e - reg_d * bd[d])
                    cd[d] += lr_b * (g - reg_c * cd[d])
                bi[i] += lr_b * (e * c - reg_b * bi[i])
                ef = np.float32(e)
                lrf = np.float32(lr)
                regf = np.float32(reg)
                for f in range(k):
                    pf = P[u, f]
                    qf = Q[i, f]
                    P[u, f] = pf + lrf * (ef * qf - regf * pf)
                    Q[i, f] = qf + lrf * (ef * pz[f] - regf * qf)
                    acc[f] += ef * qf
            gy = np.float32(lr * s / n)
            dy = np.float32(lr * reg_y)
            for t in range(a, b):
                j = items[t]
                for f in range(k):
                    Y[j, f] += gy * acc[f] - dy * Y[j, f]
        lr *= decay
        lr_b *= decay
    Z = np.zeros((n_users, k), np.float32)
    for u in range(n_users):
        a, b = indptr[u], indptr[u + 1]
        if b > a:
            for t in range(a, b):
                for f in range(k):
                    Z[u, f] += Y[items[t], f]
            sc = np.float32(1.0 / math.sqrt(b - a))
            for f in range(k):
                Z[u, f] *= sc
    return P + Z, Q, bu, bi, bd, cu, cd


@nb.njit(cache=True)
def _shrunk_mean(key, n, residual, reg):
    """Per key, the sum of its residuals over (reg + its count): a mean shrunk towards 0."""
    s = np.zeros(n)
    c = np.zeros(n)
    for t in range(residual.size):
        s[key[t]] += residual[t]
        c[key[t]] += 1
    return s / (reg + c)


def _baseline(u, i, d, r, n_u, n_i, n_d, mu, reg_u, reg_i, reg_d, iters):
    """Alternating least squares for mu + b_u + b_i + b_{u,day}; returns the residuals (what
    title similarities are measured on)."""
    bu, bi, bd = np.zeros(n_u), np.zeros(n_i), np.zeros(n_d)
    for _ in range(iters):
        bi = _shrunk_mean(i, n_i, r - mu - bu[u] - bd[d], reg_i)
        bu = _shrunk_mean(u, n_u, r - mu - bi[i] - bd[d], reg_u)
        bd = _shrunk_mean(d, n_d, r - mu - bi[i] - bu[u], reg_d)
    return r - (mu + bu[u] + bi[i] + bd[d])


@nb.njit(cache=True, parallel=True)
def _pair_sums(indptr, cols, vals, n, parts, gram_only):
    """For every pair of columns (i, j) over rows that have both: how many rows, the sum of
    vals_i * vals_j, and the sum of vals_i ** 2. One n x n slab per part (rows split into
    `parts` fixed ranges, summed in order after), so the result does not depend on threads."""
    n_rows = indptr.size - 1
    side = 1 if gram_only else n
    cnt = np.zeros((parts, side, side), np.float32)
    num = np.zeros((parts, n, n), np.float32)
    sq = np.zeros((parts, side, side), np.float32)
    step = (n_rows + parts - 1) // parts
    for p in nb.prange(parts):
        for row in range(p * step, min(n_rows, (p + 1) * step)):
            a, b = indptr[row], indptr[row + 1]
            for x in range(a, b):
                ci = cols[x]
                if ci < 0:
                    continue
                vi = vals[x]
                for y in range(a, b):
                    cj = cols[y]
                    if cj < 0:
                        continue
                    num[p, ci, cj] += vi * vals[y]
                    if not gram_only:
                        cnt[p, ci, cj] += 1.0
                        sq[p, ci, cj] += vi * vi
    out_c = cnt[0].copy()
    out_n = num[0].copy()
    out_s = sq[0].copy()
    for p in range(1, parts):
        out_c += cnt[p]
        out_n += num[p]
        out_s += sq[p]
    return out_c, out_n, out_s


def pair_sums(indptr, cols, vals, n, gram_only: bool = False):
    """(counts, sums of products, sums of squares) per pair of columns; with `gram_only`, the
    sums of products alone (X'X)."""
    parts = max(1, min(nb.get_num_threads(), 4))
    c, g, q = _pair_sums(indptr, cols, vals.astype(np.float32), n, parts, gram_only)
    return (None, g, None) if gram_only else (c, g, q)


def top_neighbours(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k most similar columns with positive similarity (-1 beyond), best first."""
    n = sim.shape[0]
    k = min(k, max(n - 1, 1))
    if n <= 1:
        return np.full((n, k), -1, np.int32), np.zeros((n, k), np.float32)
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    s = np.take_along_axis(sim, idx, axis=1)
    o = np.argsort(-s, axis=1, kind="stable")
    idx = np.take_along_axis(idx, o, axis=1).astype(np.int32)
    s = np.take_along_axis(s, o, axis=1).astype(np.float32)
    idx[s <= 0] = -1
    s[s <= 0] = 0
    return idx, s


@nb.njit(cache=True)
def _knn_correct(indptr, rated, resid, nbr, nbr_sim, u, i, ok, k):
    """The similarity-weighted mean of the member's residuals on the k titles most like i that
    the member rated, damped where the similarities are small."""
    out = np.zeros(u.size)
    n_titles = nbr.shape[0]
    mark = np.full(n_titles, -1, np.int64)
    for t in range(u.size):
        if not ok[t]:
            continue
        m = u[t]
        a, b = indptr[m], indptr[m + 1]
        for x in range(a, b):
            mark[rated[x]] = x
        num = 0.0
        den = 0.0
        used = 0
        for c in range(nbr.shape[1]):
            j = nbr[i[t], c]
            if j < 0 or used >= k:
                break
            x = mark[j]
            if x >= 0:
                num += nbr_sim[i[t], c] * resid[x]
                den += nbr_sim[i[t], c]
                used += 1
        if den > 0:
            out[t] = num / den * (den / (den + 1.0))
        for x in range(a, b):
            mark[rated[x]] = -1
    return out


def fit_stars(
    member_ids: np.ndarray,
    title_ids: np.ndarray,
    stars: np.ndarray,
    rated_at: np.ndarray,
    params: StarsParams | None = None,
    seed: int = 0,
) -> StarsModel:
    """Fit predicted stars on ratings (any ids; rated_at in seconds since the epoch)."""
    p = params or StarsParams()
    if len(stars) == 0:
        raise ValueError("no ratings to train on")
    members, u = index_of(member_ids)
    titles, i = index_of(title_ids)
    day = np.asarray(rated_at, dtype=np.int64) // 86400
    day0 = int(day.min())
    # a member's day has effects of its own only with enough ratings on it (a session); the
    # rest share one slot that stays at zero (a lone rating's day would soak up its residual)
    day_keys, d, per_day = np.unique(
        u * 1_000_000 + (day - day0), return_inverse=True, return_counts=True
    )
    session = per_day >= p.min_day_ratings
    day_keys = day_keys[session]
    slot = np.full(per_day.size, day_keys.size, np.int64)
    slot[session] = np.arange(day_keys.size)
    d = slot[d.astype(np.int64)]
    r = np.asarray(stars, dtype=np.float64)
    n_u, n_i, n_d = members.size, titles.size, day_keys.size + 1
    indptr, i_s, u_s, d_s, r_s = csr_by_row(u, n_u, i, u, d, r)
    mu = float(r.mean())
    pz, q, bu, bi, bd, cu, cd = _sgd(
        indptr, i_s, d_s, r_s, n_i, n_d, p.factors, p.epochs, p.lr, p.lr_bias, p.reg,
        p.reg_bias, p.reg_implicit, p.reg_day, p.reg_scale, p.decay, mu, seed,
    )  # fmt: skip
    # residuals of the fitted model on its own ratings (the neighbourhood's input)
    fitted = (
        mu + bu[u_s] + bd[d_s] + bi[i_s] * (cu[u_s] + cd[d_s])
        + np.einsum("ij,ij->i", q[i_s], pz[u_s])
    )  # fmt: skip
    resid = (r_s - fitted).astype(np.float32)
    # title similarities on baseline residuals, for the titles with enough ratings
    e = _baseline(u_s, i_s, d_s, r_s, n_u, n_i, n_d, mu, 15.0, 10.0, 5.0, 15)
    counts = np.bincount(i_s, minlength=n_i)
    keep = np.flatnonzero(counts >= p.min_support)
    if keep.size > p.knn_items:
        keep = keep[np.argsort(-counts[keep], kind="stable")[: p.knn_items]]
        keep.sort()
    col = np.full(n_i, -1, np.int64)
    col[keep] = np.arange(keep.size)
    nbr = np.full((n_i, min(p.neighbours, max(keep.size - 1, 1))), -1, np.int32)
    nbr_sim = np.zeros(nbr.shape, np.float32)
    if keep.size > 1:
        cnt, num, sq = pair_sums(indptr, col[i_s], e, keep.size)
        den = np.sqrt(np.maximum(sq * sq.T, 1e-12))
        sim = num / den * (cnt / (cnt + p.shrink))
        np.fill_diagonal(sim, 0.0)
        idx, s = top_neighbours(sim, nbr.shape[1])
        nbr[keep] = np.where(idx >= 0, keep[np.maximum(idx, 0)], -1)
        nbr_sim[keep] = s
    return StarsModel(
        mu=mu, members=members, titles=titles, bu=bu, cu=cu, bi=bi,
        pz=pz.astype(np.float32), q=q.astype(np.float32), indptr=indptr,
        rated=i_s, resid=resid, nbr=nbr, nbr_sim=nbr_sim, day0=day0, day_keys=day_keys,
        bd=bd[:-1], cd=cd[:-1], low=p.low, high=p.high, k=p.k,
    )  # fmt: skip


# ---------------------------------------------------------------- top picks (implicit)


@dataclass
class RankParams:
    lam: float = 500.0
    max_items: int = 5000
    min_count: int = 2


@dataclass
class RankModel:
    titles: np.ndarray  # title ids with a column in B
    b: np.ndarray  # float32, item-item weights (zero diagonal)
    popularity: np.ndarray  # signal count per column
    extra: dict = field(default_factory=dict)

    def scores(self, title_positions: np.ndarray, weights: np.ndarray | None = None):
        """A member's score for every column, from the columns of their signals."""
        if len(title_positions) == 0:
            return np.zeros(self.titles.size, np.float32)
        rows = self.b[np.asarray(title_positions, dtype=np.int64)]
        if weights is None:
            return rows.sum(axis=0)
        return (rows * np.asarray(weights, np.float32)[:, None]).sum(axis=0)


def _spd_inverse(g: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky (half the work of a
    general inverse)."""
    from scipy.linalg import lapack

    c, info = lapack.dpotrf(g, lower=True)
    if info != 0:
        return np.linalg.inv(g)
    inv, info = lapack.dpotri(c, lower=True)
    if info != 0:
        return np.linalg.inv(g)
    return np.tril(inv) + np.tril(inv, -1).T


def fit_ease(member_ids, title_ids, weights=None, params: RankParams | None = None) -> RankModel:
    """EASE on implicit signals: B = I - P / diag(P), P = (X'X + lam I)^-1, diag(B) = 0, on the
    titles with most signals (X: members x titles, weights or 1)."""
    p = params or RankParams()
    titles, i = index_of(title_ids)
    members, u = index_of(member_ids)
    w = np.ones(len(i), np.float32) if weights is None else np.asarray(weights, np.float32)
    # one entry per (member, title): the largest weight
    key = u * titles.size + i
    order = np.lexsort((-w, key))
    first = np.ones(order.size, bool)
    first[1:] = key[order][1:] != key[order][:-1]
    sel = order[first]
    u, i, w = u[sel], i[sel], w[sel]
    counts = np.bincount(i, minlength=titles.size)
    keep = np.flatnonzero(counts >= p.min_count)
    if keep.size > p.max_items:
        keep = keep[np.argsort(-counts[keep], kind="stable")[: p.max_items]]
        keep.sort()
    col = np.full(titles.size, -1, np.int64)
    col[keep] = np.arange(keep.size)
    indptr, c_s, w_s = csr_by_row(u, members.size, col[i], w)
    if keep.size == 0:
        return RankModel(titles=titles[keep], b=np.zeros((0, 0), np.float32), popularity=counts)
    _, g, _ = pair_sums(indptr, c_s, w_s, keep.size, gram_only=True)  # X'X
    g = g.astype(np.float64)
    g[np.diag_indices_from(g)] += p.lam
    pinv = _spd_inverse(g)
    b = -pinv / np.diag(pinv)
    np.fill_diagonal(b, 0.0)
    return RankModel(titles=titles[keep], b=b.astype(np.float32), popularity=counts[keep])


# ---------------------------------------------------------------- evaluation


def rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def mae(pred, truth) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(truth))))


def ndcg_at_k(ranked: list, relevant: set, k: int = 10) -> float:
    """Binary relevance: DCG of the hits in the first k over the best DCG possible."""
    if not relevant:
        return 0.0
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = sum(disc[n] for n, x in enumerate(list(ranked)[:k]) if x in relevant)
    ideal = disc[: min(len(relevant), k)].sum()
    return float(dcg / ideal)


def recall_at_k(ranked: list, relevant: set, k: int = 10) -> float:
    """Hits in the first k over min(k, relevant) (so a perfect list scores 1)."""
    if not relevant:
        return 0.0
    hits = sum(1 for x in list(ranked)[:k] if x in relevant)
    return hits / min(len(relevant), k)


def k_folds(n: int, folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), folds)


def time_split(member_ids, at, share: float = 0.2) -> np.ndarray:
    """Per member, the latest `share` of their rows (at least one; members with one row keep
    it for training): True = test."""
    member_ids = np.asarray(member_ids)
    order = np.lexsort((np.arange(member_ids.size), np.asarray(at), member_ids))
    m = member_ids[order]
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])
    ends = np.r_[starts[1:], m.size]
    test = np.zeros(m.size, bool)
    for a, b in zip(starts, ends, strict=True):
        n = b - a
        if n < 2:
            continue
        k = max(1, int(round(share * n)))
        test[b - k : b] = True
    out = np.zeros(member_ids.size, bool)
    out[order] = test
    return out
