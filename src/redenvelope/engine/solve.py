"""Solve an instance: build the problem, run the auction, explain who got less than they wanted."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import certificate, flow, groups, grow, kernels
from .instance import Instance, Params
from .problem import Problem, build_problem, with_candidates

REASONS = (
    "nothing_eligible",  # no queue entry may ship now
    "out_of_stock_reachable",  # queued titles are on no shelf that reaches the member
    "dc_capacity",  # a reachable shelf had the title but its DC had no capacity left
    "taken_by_higher_value",  # the copies within reach went to members who valued them more
)


@dataclass
class Result:
    member_id: np.ndarray
    title_id: np.ndarray
    dc_id: np.ndarray
    value: np.ndarray  # per shipment
    objective: float
    # Members who got fewer discs than open slots, or not their top queued title.
    reason_member_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reason: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)

    def to_parquet(self, path) -> None:
        pq.write_table(
            pa.table({"member_id": self.member_id, "title_id": self.title_id, "dc_id": self.dc_id}),
            path,
        )

    def reasons_to_parquet(self, path) -> None:
        pq.write_table(
            pa.table({"member_id": self.reason_member_id, "reason": self.reason.astype(str)}), path
        )


def shipments_from(prob: Problem, ent_pool: np.ndarray):
    """(member index, entry index, pool index, value) of every assigned entry."""
    entries = np.flatnonzero(ent_pool >= 0)
    member = np.repeat(np.arange(prob.n_members), np.diff(prob.entry_start))[entries]
    pool = ent_pool[entries]
    dc = prob.pool_dc[pool]
    days = prob.days[dc, prob.region[member]].astype(np.float64)
    value = prob.entry_a[entries] - prob.penalty * (days - 1)
    return member, entries, pool, value


# Value units below a member's threshold down to which a grown member's shelves are added
# (one day's penalty: with 0, prices that moved after growing left "tight capacity" at 99.58%).
GROW_SLACK = 20.0


# The kernels run on every core (numba prange), and numba's thread pool takes one caller at a
# time: solves in threads of one process (a Huey thread worker) queue here; DC runs side by side
# are processes of their own, each with its own pool.
_ONE_AT_A_TIME = threading.Lock()


# Days with fewer candidate entries than this allocate their second opinion after the first (it
# takes a fraction of a second); larger ones start it at once on another core (`_Aside`).
ASIDE_MIN_ENTRIES = 100_000


def fork_safe() -> bool:
    """Forking is unsafe once this process has started GNU OpenMP threads (numba's "omp"
    layer); its "workqueue" layer, or none started yet, forks fine."""
    try:
        return nb.threading_layer() != "omp"
    except ValueError:  # no parallel kernel has run in this process yet
        return True


class _Aside:
    """The second opinion (decision 0015), allocated in a forked process on another core while
    this one allocates the first way (decision 0025): it is needed only when the first day's
    certificate says so, and then it is ready or nearly so. Started only where a core is spare
    and forking is safe: more than one core, no other Python thread alive, not itself a worker
    of runs already side by side (DC runs, the planner's twins). The child runs only serial
    kernels (`auction_dc` calls no parallel one), so numba's threading layer, even GNU OpenMP
    (not fork-safe for parallel regions), does not matter to it."""

    def __init__(self, prob: Problem, eps: float):
        ctx = mp.get_context("fork")
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_aside_child, args=(prob, eps, send), daemon=True)
        self.proc.start()
        send.close()

    @staticmethod
    def wanted(prob: Problem, params: Params) -> bool:
        return (
            params.second_opinion_side_by_side
            and len(prob.entry_a) >= ASIDE_MIN_ENTRIES
            and (os.cpu_count() or 1) > 1
            and mp.parent_process() is None
            and _alone()
        )

    def pause(self) -> None:
        """Stopped while this process runs its kernels on every core (growing, the
        certificate), resumed when its answer is wanted."""
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc.is_alive():
            os.kill(self.proc.pid, signal.SIGCONT)

    def result(self):
        """(allocation, info) of the second opinion, or None if the process failed."""
        self.resume()
        try:
            answer = self.recv.recv()
        except EOFError:
            answer = None
        self.close()
        return answer if isinstance(answer, tuple) else None

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()  # SIGKILL: acts at once, paused or in a compiled kernel
        self.proc.join()
        self.recv.close()


def _alone() -> bool:
    """No other Python thread alive (a fork copies only this one, whatever locks others hold)."""
    return threading.active_count() == 1


def _aside_child(prob: Problem, eps: float, send) -> None:
    # a Ctrl-C reaches the whole process group: the parent stops this process itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        send.send(kernels.auction_dc(prob, eps))
    except Exception as exc:  # the parent allocates it again itself
        send.send(repr(exc))
    finally:
        send.close()


def solve(inst: Instance, params: Params | None = None, *, explain: bool = True) -> Result:
    with _ONE_AT_A_TIME:
        return _solve(inst, params or Params(), explain)


def _solve(inst: Instance, params: Params, explain: bool) -> Result:
    t0 = time.perf_counter()
    small = len(inst["queue"]["member_id"]) <= params.exact_below_entries
    prob = build_problem(inst, params, margin=-1 if small else None, shelves=-1 if small else None)
    kinds = None if small else _kinds(prob, params)
    wanted = not small and kinds is None and _Aside.wanted(prob, params)
    aside = _Aside(prob, params.epsilon) if wanted else None
    started = [] if aside is None else [aside]  # every second opinion side by side, to stop
    try:
        return _allocate(prob, params, small, explain, aside, t0, started, kinds)
    finally:
        for one in started:
            one.close()


def _kinds(prob: Problem, params: Params) -> groups.Kinds | None:
    """The day's kinds of members alike, where allocating by kinds pays (decision 0031)."""
    if not params.kinds:
        return None
    kinds = groups.find(prob)
    return kinds if groups.worth_it(prob, kinds) else None


def _by_kinds(prob: Problem, kinds: groups.Kinds, dc_known: tuple | None = None):
    """The day allocated by kinds, with an info like the auction's; None where the cost
    scaling ran out of work (the auction allocates it then)."""
    t = time.perf_counter()
    done = groups.allocate(prob, kinds)
    if done is None:
        return None
    ent_pool, pi, mu, info = done
    pi, mu = np.maximum(pi, 0.0), np.maximum(mu, 0.0)
    return ent_pool, {
        "bids": 0,
        "truncated": False,
        "spare_floors": 0,
        "price_war": False,
        "war_warm": 0,
        "price_rounds": 0,
        "dc_prices_refined": 0,
        "dc_known": dc_known or (mu.copy(), 0, False, 0, pi.copy()),
        "sample": 1.0,
        "exchange_gain": 0.0,
        "exchange_scans": 0,
        "dc_price_max": float(mu.max(initial=0)),
        "timing": {"prices": 0.0, "auction": time.perf_counter() - t, "exchange": 0.0},
        "prices": (pi, mu),
        "kinds": info.pop("kinds"),  # kinds of members allocated as one (absent: the auction's)
        **{f"kinds_{k}": v for k, v in info.items()},
    }


def _allocate(
    prob, params: Params, small: bool, explain: bool, aside, t0: float, started: list, kinds
) -> Result:
    t1 = time.perf_counter()
    done = None if kinds is None else _by_kinds(prob, kinds)
    ent_pool, info = done or kernels.auction(
        prob, params.epsilon, exact_polish_entries=params.exact_below_entries if small else 0
    )
    t2 = time.perf_counter()
    build_s, solve_s, grow_s = t1 - t0, t2 - t1, 0.0
    grown = 0
    limits = None
    everything = np.zeros(prob.n_members, dtype=bool)
    if aside is not None:
        aside.pause()
    for _ in range(0 if small else params.grow_rounds):
        t = time.perf_counter()
        pi, mu = info["prices"]
        u, (need, missing, count, mass) = _violations(prob, ent_pool, pi, mu, params.epsilon)
        grow_s += time.perf_counter() - t
        objective = float(shipments_from(prob, ent_pool)[3].sum())
        if count == 0 or mass <= params.grow_min_share * objective:
            break
        grown += 1
        if aside is not None:
            aside.close()  # allocating the ungrown candidates: of no use now
            aside = None
        base = prob.slots.astype(np.int64) + params.candidate_margin if limits is None else limits
        limits = np.maximum(base, need)
        everything |= missing
        t = time.perf_counter()
        # members missing a shelf get every shelf that comes near their threshold at these
        # prices (not every shelf of every entry: with wide reach that was 40 M arcs)
        x_u = np.where(everything, u - GROW_SLACK, np.inf)
        prob = with_candidates(prob, limits, params.shelves_per_entry, extra=(pi, mu, x_u))
        kinds = _kinds(prob, params)
        if kinds is None and _Aside.wanted(prob, params):
            # the grown day's second opinion, side by side again (allocated after the grown
            # day, it added 2 s to the bench generator's days that grow)
            aside = _Aside(prob, params.epsilon)
            started.append(aside)
        t1 = time.perf_counter()
        # the same day's DC prices: learning them again from a sample would cost as much
        done = None if kinds is None else _by_kinds(prob, kinds, info["dc_known"])
        ent_pool, info = done or kernels.auction(
            prob, params.epsilon, exact_polish_entries=0, dc_known=info["dc_known"]
        )
        if aside is not None:
            aside.pause()
        t2 = time.perf_counter()
        build_s += t1 - t
        solve_s += t2 - t1
    result = result_from(prob, ent_pool)
    t = time.perf_counter()
    pi, mu = info.pop("prices")
    info.pop("dc_known")
    upper, read = certificate.bound(prob, pi, mu)
    if "exact_prices" in info:  # small days: optimal prices from the exact polish
        upper_x, _ = certificate.bound(prob, *info.pop("exact_prices"))
        upper = min(upper, upper_x)
    tightened = 0
    raw = upper

    def goal(objective: float) -> float:
        # the bound at which the certificate meets second_opinion_gap: tightening stops there
        return objective / (1.0 - params.second_opinion_gap)

    dc_moves = 0
    repaired, repair_info, repair_s = 0, {}, 0.0
    if not small and certificate.gap(result.objective, upper) > params.second_opinion_gap:
        # the auction's shelf prices overpay where a title is on two shelves within reach
        upper, pi_t, tightened = certificate.tighten(
            prob, pi, mu, upper, params.tighten_rounds, goal=goal(result.objective)
        )
        if params.repair and certificate.gap(result.objective, upper) > params.second_opinion_gap:
            # still short: repair the allocation by cost scaling from these prices (decision
            # 0030); its prices certify the repaired day
            t_r = time.perf_counter()
            fixed = flow.repair(prob, ent_pool, pi_t, mu)
            if fixed is None:
                repaired = -2  # too large to repair, or its work allowance ran out
            else:
                ent_r, pi_r, mu_r, repair_info = fixed
                pi_r, mu_r = np.maximum(pi_r, 0.0), np.maximum(mu_r, 0.0)
                other = result_from(prob, ent_r)
                upper_r = certificate.bound(prob, pi_r, mu_r)[0]
                repaired = 1 if other.objective > result.objective else -1
                if repaired > 0:
                    ent_pool, result = ent_r, other
                if upper_r < upper:
                    upper, pi_t, mu = upper_r, pi_r, mu_r
                if certificate.gap(result.objective, upper) > params.second_opinion_gap:
                    upper, pi_t, more = certificate.tighten(
                        prob, pi_t, mu, upper, params.tighten_rounds, goal=goal(result.objective)
                    )
                    tightened += more
            repair_s = time.perf_counter() - t_r
        if certificate.gap(result.objective, upper) > params.second_opinion_gap:
            # the DC prices, learned on a sample, are off where several DCs bind
            upper, _, _, dc_moves = certificate.tighten_dc(
                prob, pi_t, mu, upper, params.tighten_rounds, goal=goal(result.objective)
            )
    cert_s = time.perf_counter() - t - repair_s
    second = 0
    aside_used = False
    wanted = not small and certificate.gap(result.objective, upper) > params.second_opinion_gap
    if aside is not None and not wanted:
        aside.close()  # free the other core for the rest of the day's work
    if wanted:
        # the certificate says this day may be far from its best: where DC capacity binds
        # unevenly the Lagrangian DC prices tie, so allocate again with DC capacity priced
        # inside the auction (decision 0015) and keep the better day and the lower bound
        t = time.perf_counter()
        ready = aside.result() if aside is not None else None
        ent_dc, info_dc = ready or kernels.auction_dc(prob, params.epsilon)
        aside_used = ready is not None
        other = result_from(prob, ent_dc)
        t1 = time.perf_counter()
        pi_dc, mu_dc = info_dc.pop("prices")
        upper_dc = certificate.bound(prob, pi_dc, mu_dc)[0]
        best = max(other.objective, result.objective)
        # its prices are tightened too where they start lower than the first allocation's did
        short = certificate.gap(best, min(upper, upper_dc)) > params.second_opinion_gap
        if short and upper_dc < raw:
            upper_dc, pi_dc, more = certificate.tighten(
                prob, pi_dc, mu_dc, upper_dc, params.tighten_rounds, goal=goal(best)
            )
            tightened += more
            if certificate.gap(best, min(upper, upper_dc)) > params.second_opinion_gap:
                upper_dc, _, _, more = certificate.tighten_dc(
                    prob, pi_dc, mu_dc, upper_dc, params.tighten_rounds, goal=goal(best)
                )
                dc_moves += more
        upper = min(upper, upper_dc)
        cert_s += time.perf_counter() - t1
        solve_s += t1 - t
        second = 1 if other.objective > result.objective else -1
        if second > 0:
            ent_pool, result = ent_dc, other
    shift_gain, shift_scans, shift_s = 0.0, 0, 0.0
    still_short = certificate.gap(result.objective, upper) > params.second_opinion_gap
    if not small and params.shift_scans > 0 and still_short:
        # still short of its bound: moves the exchange cannot see (decision 0028)
        t = time.perf_counter()
        ent_pool, shift_gain, shift_scans = kernels.shift_exchange(
            prob, ent_pool, params.shift_scans
        )
        if shift_gain > 0:
            result = result_from(prob, ent_pool)
        shift_s = time.perf_counter() - t
    upper = max(upper, result.objective)
    t = time.perf_counter()
    if explain:
        result.reason_member_id, result.reason = explain_shortfalls(prob, ent_pool)
    t3 = time.perf_counter()
    result.timings = {
        "build": build_s,
        "solve": solve_s,
        "grow": grow_s,
        "certify": cert_s,
        "shift": shift_s,
        "repair": repair_s,
        "explain": t3 - t,
    }
    result.stats = {
        "entries": float(len(prob.entry_title)),
        "arcs": float(len(prob.arc_pool)),
        "grow_rounds": grown,
        # 0: not needed; 1: the DC-priced auction's day was kept; -1: tried, the first kept
        "second_opinion": second,
        # 1: the second opinion had been allocated side by side (on another core)
        "second_opinion_aside": int(aside_used),
        "bound": upper,
        "gap": certificate.gap(result.objective, upper),
        "bound_entries_read": read,
        # rounds of tightening the shelf prices that lowered the bound (0: not needed)
        "bound_tightened": tightened,
        # moves of price between a DC and its shelves that lowered the bound (decision 0029)
        "bound_dc_moves": dc_moves,
        # the shifting exchange on the kept allocation (decision 0028): value gained, scans
        "shift_gain": shift_gain,
        "shift_scans": shift_scans,
        # the repair by cost scaling (decision 0030): 0 not needed, 1 its allocation kept,
        # -1 run but the allocation was already as good, -2 not repaired (more arcs than
        # flow.MAX_ARCS, or the work allowed ran out)
        "repaired": repaired,
        **{f"repair_{k}": v for k, v in repair_info.items()},
        **info,
    }
    return result


def _violations(prob: Problem, ent_pool: np.ndarray, pi: np.ndarray, mu: np.ndarray, tol: float):
    u = grow.thresholds(
        prob.entry_start,
        prob.entry_a,
        prob.slots,
        prob.region,
        prob.pool_dc,
        prob.days,
        prob.penalty,
        ent_pool,
        pi,
        mu,
    )
    return u, grow.violations(
        *certificate.queue_args(prob),
        np.maximum(pi, 0.0),
        np.maximum(mu, 0.0),
        u,
        prob.entry_start,
        prob.arc_start,
        prob.arc_pool,
        tol,
    )


def result_from(prob: Problem, ent_pool: np.ndarray) -> Result:
    member, entries, pool, value = shipments_from(prob, ent_pool)
    return Result(
        member_id=prob.member_id[member],
        title_id=prob.title_id[prob.entry_title[entries]],
        dc_id=prob.dc_id[prob.pool_dc[pool]],
        value=value,
        objective=float(value.sum()),
    )


def explain_shortfalls(prob: Problem, ent_pool: np.ndarray):
    """A reason for every member with open slots who got fewer discs, or not their top title."""
    n = prob.n_members
    got = np.zeros(n, dtype=np.int64)
    member, entries, pool, _ = shipments_from(prob, ent_pool)
    np.add.at(got, member, 1)
    got_top = np.zeros(n, dtype=bool)
    shipped_titles = prob.title_id[prob.entry_title[entries]]
    got_top[member[shipped_titles == prob.top_title[member]]] = True
    short = (prob.slots > 0) & ((got < prob.slots) | ~got_top)
    idx = np.flatnonzero(short)
    reason = np.empty(len(idx), dtype=object)
    candidates = np.diff(prob.entry_start)[idx]
    # Capacity left at each DC and shelf after the run.
    dc_used = np.bincount(prob.pool_dc[pool], minlength=len(prob.dc_cap))
    pool_used = np.bincount(pool, minlength=len(prob.pool_dc))
    reason[:] = "taken_by_higher_value"
    blocked_by_dc = _top_blocked_by_dc(
        idx,
        prob.entry_start,
        prob.arc_start,
        prob.arc_pool,
        prob.pool_dc,
        prob.pool_cap,
        pool_used,
        dc_used >= prob.dc_cap,
    )
    reason[blocked_by_dc] = "dc_capacity"
    reason[candidates == 0] = "out_of_stock_reachable"
    reason[prob.stocked[idx] == 0] = "out_of_stock_reachable"
    reason[prob.queued[idx] == 0] = "nothing_eligible"
    return prob.member_id[idx], reason


@nb.njit(cache=True)
def _top_blocked_by_dc(
    idx, entry_start, arc_start, arc_pool, pool_dc, pool_cap, pool_used, dc_full
):
    """Members (of idx) whose first candidate title still had a copy on a shelf within reach,
    at a DC that had no capacity left (otherwise its copies went to members valuing them more)."""
    out = np.zeros(len(idx), dtype=np.bool_)
    for k in range(len(idx)):
        m = idx[k]
        if entry_start[m] == entry_start[m + 1]:
            continue
        e = entry_start[m]
        for q in range(arc_start[e], arc_start[e + 1]):
            j = arc_pool[q]
            if pool_used[j] < pool_cap[j] and dc_full[pool_dc[j]]:
                out[k] = True
                break
    return out
