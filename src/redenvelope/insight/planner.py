"""The planner: questions answered as what-ifs on the simulation twin.

Each answer runs the twin as it is (the baseline) and with a change, over the same simulated
days and the same seeds, and reports the difference per seed, its mean and a band of
mean ± 2 standard errors over the seeds (about 95% where the seeds' differences are near
normal; with few seeds read it as a range). Runs go side by side in worker processes, one per
core. Pure numpy on a loaded twin: no Django import here (`twin_state.load_twin` reads it).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from redenvelope.engine.instance import Params
from redenvelope.engine.solve import fork_safe
from redenvelope.inventory.geo import km_between, transit_days

from . import twin as tw
from .twin import NO_ROUTE, Outcome, Twin

_JOBS: dict[str, Twin] = {}
_PARAMS: Params | None = None


def _work(job: tuple[str, int, int]) -> Outcome:
    key, days, seed = job
    return tw.run(_JOBS[key], days, seed=seed, params=_PARAMS)


def run_many(
    twins: dict[str, Twin], days: int, seeds: list[int], params: Params | None = None,
    workers: int | None = None,
) -> dict[str, list[Outcome]]:  # fmt: skip
    """Every twin for every seed, side by side (forked workers share the twins)."""
    global _PARAMS
    jobs = [(k, days, s) for k in twins for s in seeds]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    _JOBS.clear()
    _JOBS.update(twins)
    _PARAMS = params
    if workers <= 1 or len(jobs) == 1 or not fork_safe():
        results = [_work(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            results = list(pool.map(_work, jobs))
    _JOBS.clear()
    out: dict[str, list[Outcome]] = {k: [] for k in twins}
    for (k, _, _), r in zip(jobs, results, strict=True):
        out[k].append(r)
    return out


def band(values: list[float]) -> tuple[float, float, float]:
    """(mean, low, high): mean ± 2 standard errors."""
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2:
        return mean, mean, mean
    se = float(v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - 2 * se, mean + 2 * se


@dataclass
class Answer:
    question: str
    days: int
    seeds: list[int]
    lines: list[str] = field(default_factory=list)  # what to do, in words
    table: list[dict] = field(default_factory=list)  # one row per option measured
    recommended: dict = field(default_factory=dict)  # what `apply` would do

    def text(self) -> str:
        head = f"{self.question} ({self.days} simulated days, seeds {self.seeds})"
        return "\n".join([head, *self.lines])


def _shares(outs: list[Outcome]) -> dict:
    nd = band([o.next_day_share for o in outs])
    t3 = band([o.top3_share for o in outs])
    return {"next_day": nd, "top3": t3, "shipped": float(np.mean([o.shipped.sum() for o in outs]))}


def _diff(base: list[Outcome], changed: list[Outcome]) -> dict:
    return {
        "next_day": band(
            [c.next_day_share - b.next_day_share for b, c in zip(base, changed, strict=True)]
        ),
        "top3": band([c.top3_share - b.top3_share for b, c in zip(base, changed, strict=True)]),
    }


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pp(b: tuple[float, float, float]) -> str:
    mean, lo, hi = b
    return f"{100 * mean:+.1f} pts [{100 * lo:+.1f}, {100 * hi:+.1f}]"


# --- where one more DC (or one fewer) changes the next-day share most ----------------------------


def site_transit(twin: Twin, lat: float, lon: float) -> np.ndarray:
    row = np.full(len(twin.region_lat), NO_ROUTE, twin.transit.dtype)
    for j, (a, b) in enumerate(zip(twin.region_lat, twin.region_lon, strict=True)):
        d = transit_days(km_between(lat, lon, float(a), float(b)))
        if d is not None:
            row[j] = d
    return row


def _slots_by_region(twin: Twin) -> np.ndarray:
    return np.bincount(twin.region, weights=twin.slots, minlength=len(twin.region_lat))


def _next_day_cover(twin: Twin, transit: np.ndarray, dc_open: np.ndarray) -> np.ndarray:
    return (np.where(dc_open[:, None], transit, NO_ROUTE) == 1).any(axis=0)


def sites_for_reach(twin: Twin, reach: float, most: int = 60) -> int:
    """How many DCs (picked one after another) bring next-day reach to `reach` of the discs
    members hold; 0 when it is there already."""
    weight = _slots_by_region(twin)
    total = float(weight.sum()) or 1.0
    if float(weight[_next_day_cover(twin, twin.transit, twin.dc_open)].sum()) / total >= reach:
        return 0
    picks = site_candidates(twin, most)
    covered = _next_day_cover(twin, twin.transit, twin.dc_open)
    for k, p in enumerate(picks, start=1):
        covered |= p["transit"] == 1
        if float(weight[covered].sum()) / total >= reach:
            return k
    return len(picks)


def site_candidates(twin: Twin, add: int) -> list[dict]:
    """Up to `add` new DCs, one at a time at the region centre that brings next-day reach to
    the most discs members hold (each pick counted after the ones before)."""
    weight = _slots_by_region(twin)
    transit, dc_open = twin.transit.copy(), twin.dc_open.copy()
    picks = []
    for _ in range(add):
        covered = _next_day_cover(twin, transit, dc_open)
        best, gain, row_best = -1, 0.0, None
        for j in range(len(twin.region_lat)):
            row = site_transit(twin, float(twin.region_lat[j]), float(twin.region_lon[j]))
            g = float(weight[(row == 1) & ~covered].sum())
            if g > gain:
                best, gain, row_best = j, g, row
        if best < 0:
            break
        transit = np.vstack([transit, row_best[None, :]])
        dc_open = np.append(dc_open, True)
        # a DC sized for its members: a quarter of the discs they hold, daily (cycle ~6 days)
        near = np.argmin(np.where(dc_open[:, None], transit, NO_ROUTE), axis=0)
        capacity = int(math.ceil(weight[near == len(dc_open) - 1].sum() / 4)) + 10
        picks.append(
            {
                "region": best,
                "name": twin.region_names[best],
                "lat": float(twin.region_lat[best]),
                "lon": float(twin.region_lon[best]),
                "gain_slots": gain,
                "capacity": capacity,
                "transit": row_best,
            }
        )
    return picks


def _with_sites(twin: Twin, picks: list[dict]) -> Twin:
    t = twin.copy()
    for k, p in enumerate(picks):
        tw.add_dc(t, f"N{k + 1:02d}", p["transit"], p["capacity"])
    return t


def _closable(twin: Twin) -> int | None:
    """The open DC whose closing loses next-day reach to the fewest discs members hold."""
    weight = _slots_by_region(twin)
    base = _next_day_cover(twin, twin.transit, twin.dc_open)
    best, loss = None, None
    for d in np.flatnonzero(twin.dc_open):
        dc_open = twin.dc_open.copy()
        dc_open[d] = False
        if not dc_open.any():
            continue
        lost = float(weight[base & ~_next_day_cover(twin, twin.transit, dc_open)].sum())
        if loss is None or lost < loss:
            best, loss = int(d), lost
    return best


def sites(
    twin: Twin, *, add: int = 1, days: int = 30, seeds=(1, 2, 3), params=None, each: int = 3
) -> Answer:
    """Where one more DC (or `add` more) raises the next-day share most, and what one fewer
    costs. The best `each` single sites are simulated one by one, then all `add` together, and
    closing the DC whose loss of next-day reach is smallest."""
    seeds = list(seeds)
    picks = site_candidates(twin, max(add, each))
    runs = {"base": twin}
    for k, p in enumerate(picks[:each]):
        runs[f"one:{k}"] = _with_sites(twin, [p])
    if add > 1:
        runs["all"] = _with_sites(twin, picks[:add])
    shut = _closable(twin)
    if shut is not None:
        runs["close"] = tw.close_dc(twin.copy(), shut)
    outs = run_many(runs, days, seeds, params)
    base = outs["base"]
    ans = Answer("Where one more DC (or one fewer) changes the next-day share most", days, seeds)
    b = _shares(base)
    ans.lines.append(
        f"Today: next day {pct(b['next_day'][0])}, top 3 {pct(b['top3'][0])} "
        f"({b['shipped']:,.0f} discs shipped)."
    )
    for k, p in enumerate(picks[:each]):
        d = _diff(base, outs[f"one:{k}"])
        ans.table.append({"option": f"open a DC at {p['name']}", "capacity": p["capacity"], **d})
        ans.lines.append(
            f"  open a DC at {p['name']} ({p['capacity']}/day): next day {pp(d['next_day'])}, "
            f"top 3 {pp(d['top3'])}"
        )
    if "all" in outs:
        d = _diff(base, outs["all"])
        names = ", ".join(p["name"] for p in picks[:add])
        ans.table.append({"option": f"open {add} DCs: {names}", **d})
        ans.lines.append(
            f"  all {add} together: next day {pp(d['next_day'])}, top 3 {pp(d['top3'])}"
        )
        after = _shares(outs["all"])
        ans.lines.append(
            f"  → with them: next day {pct(after['next_day'][0])}, top 3 {pct(after['top3'][0])}"
        )
    if "close" in outs:
        d = _diff(base, outs["close"])
        ans.table.append({"option": f"close {twin.dc_codes[shut]}", **d})
        ans.lines.append(
            f"  one fewer — close {twin.dc_codes[shut]}: next day {pp(d['next_day'])}, "
            f"top 3 {pp(d['top3'])}"
        )
    chosen = picks[: max(add, 1)]
    ans.recommended = {"open": [{k: v for k, v in p.items() if k != "transit"} for p in chosen]}
    return ans


# --- copies between DCs for next week's demand --------------------------------------------------


def rebalance_moves(twin: Twin, top: int = 3) -> list[tuple[int, int, int, int]]:
    """Shelved copies of each title shared out in proportion to next week's demand for it (the
    first `top` queue entries of members, at their nearest DC): (from, to, title, copies)."""
    demand = twin.demand(top).astype(float)
    shelf = twin.shelf
    open_ = twin.dc_open
    moves = []
    want_t = np.flatnonzero(demand.sum(axis=0) > 0)
    for t in want_t:
        total = int(shelf[:, t].sum())
        if total == 0:
            continue
        dem = np.where(open_, demand[:, t], 0.0)
        target = np.floor(total * dem / dem.sum()).astype(int)
        # the remainder to the DCs with the largest unmet fraction
        left = total - int(target.sum())
        if left > 0:
            order = np.argsort(-(total * dem / dem.sum() - target))
            target[order[:left]] += 1
        give = shelf[:, t] - target
        donors = [(int(d), int(g)) for d, g in enumerate(give) if g > 0]
        takers = [(int(d), int(-g)) for d, g in enumerate(give) if g < 0]
        for b, need in takers:
            while need > 0 and donors:
                a, spare = donors[0]
                n = min(need, spare)
                moves.append((a, b, int(t), n))
                need -= n
                spare -= n
                donors[0] = (a, spare)
                if spare == 0:
                    donors.pop(0)
    return moves


def rebalance(twin: Twin, *, days: int = 30, seeds=(1, 2, 3), params=None) -> Answer:
    seeds = list(seeds)
    moves = rebalance_moves(twin)
    moved = tw.move_copies(twin.copy(), moves)
    outs = run_many({"base": twin, "moved": moved}, days, seeds, params)
    ans = Answer("Copies between DCs for next week's demand", days, seeds)
    d = _diff(outs["base"], outs["moved"])
    b, a = _shares(outs["base"]), _shares(outs["moved"])
    n = sum(m[3] for m in moves)
    ans.lines += [
        f"Move {n:,} shelved copies ({len(moves):,} transfers) so each DC holds each title in "
        "proportion to its members' top-3 demand.",
        f"  next day {pct(b['next_day'][0])} → {pct(a['next_day'][0])}: {pp(d['next_day'])}",
        f"  top 3 {pct(b['top3'][0])} → {pct(a['top3'][0])}: {pp(d['top3'])}",
    ]
    ans.table.append({"option": f"move {n} copies", **d})
    ans.recommended = {
        "moves": [(twin.dc_codes[a], twin.dc_codes[b], int(twin.title_ids[t]), k)
                  for a, b, t, k in moves]
    }  # fmt: skip
    return ans


# --- copies to buy so members' next choices are at their nearest DC ----------------------------


def stock_buys(twin: Twin, depth: int) -> np.ndarray:
    """(D, T) copies to buy so each DC holds, for the first `depth` queue entries of the members
    it serves, one copy per member — counting what is on its shelf and what is out with its
    members (it comes back there)."""
    demand = twin.demand(depth)
    near = twin.nearest()
    have = twin.shelf.astype(np.int64).copy()
    if len(twin.r_member):
        back = near[twin.region[twin.r_member]]
        ok = back >= 0
        np.add.at(have, (back[ok], twin.r_title[ok]), 1)
    buy = np.maximum(demand - have, 0)
    buy[~twin.dc_open] = 0
    released = twin.release <= 0
    return np.where(released[None, :], buy, 0)


def stock(
    twin: Twin, *, depths=(3, 6, 10, 15), days: int = 30, seeds=(1, 2, 3), params=None,
    next_day: float = 0.95, top3: float = 0.90,
) -> Answer:  # fmt: skip
    """How deep each DC's shelves must reach into its members' queues (copies bought) for the
    targets: each depth simulated; the shallowest whose lower band meets both is recommended."""
    seeds = list(seeds)
    runs = {"base": twin}
    buys = {}
    for k in depths:
        buys[k] = stock_buys(twin, k)
        t = twin.copy()
        t.shelf = t.shelf + buys[k].astype(t.shelf.dtype)
        t.changes.append(f"bought {int(buys[k].sum())} copies (queue depth {k})")
        runs[f"k:{k}"] = t
    outs = run_many(runs, days, seeds, params)
    b = _shares(outs["base"])
    ans = Answer(f"Copies for {pct(next_day)} next day and {pct(top3)} from the top 3", days, seeds)
    ans.lines.append(f"Today: next day {pct(b['next_day'][0])}, top 3 {pct(b['top3'][0])}.")
    pick = None
    for k in depths:
        a = _shares(outs[f"k:{k}"])
        n = int(buys[k].sum())
        ans.table.append({"option": f"depth {k}: buy {n}", **a})
        ans.lines.append(
            f"  shelves {k} deep into each member's queue: buy {n:,} copies "
            f"({n / max(twin.n_members, 1):.1f} a member) → next day {pct(a['next_day'][0])} "
            f"[{pct(a['next_day'][1])}, {pct(a['next_day'][2])}], top 3 {pct(a['top3'][0])} "
            f"[{pct(a['top3'][1])}, {pct(a['top3'][2])}]"
        )
        if pick is None and a["next_day"][1] >= next_day and a["top3"][1] >= top3:
            pick = k
    if pick is None:
        ans.lines.append(
            "  no depth tried reaches both targets: add DCs (plan sites) or go deeper."
        )
    else:
        buy = buys[pick]
        ans.lines.append(f"  → buy {int(buy.sum()):,} copies (depth {pick}).")
        d_idx, t_idx = np.nonzero(buy)
        ans.recommended = {
            "depth": pick,
            "buy": [(twin.dc_codes[d], int(twin.title_ids[t]), int(buy[d, t]))
                    for d, t in zip(d_idx, t_idx, strict=True)],
        }  # fmt: skip
    return ans


# --- a new release: how many copies, and where --------------------------------------------------


def release(
    twin: Twin, title_id: int, *, target_wait: float = 1.0, days: int = 30, seeds=(1, 2, 3),
    params=None, options: list[int] | None = None,
) -> Answer:  # fmt: skip
    """Copies of a title to buy (spread over DCs by where its queues are) for members to wait
    at most `target_wait` days on average after it comes out (or after queueing it), with nine
    in ten of those who queue it served within the horizon. A member's wait includes the time
    the title takes to reach the top of their queue."""
    seeds = list(seeds)
    where = np.flatnonzero(twin.title_ids == title_id)
    if not len(where):
        raise ValueError(f"No title {title_id}.")
    t = int(where[0])
    near = twin.nearest()[twin.region]
    owners = np.repeat(np.arange(twin.n_members), np.diff(twin.q_ptr))[twin.q_title == t]
    want = np.bincount(near[owners][near[owners] >= 0], minlength=len(twin.dc_codes))
    wanted = int(want.sum())
    held = int(twin.shelf[:, t].sum())
    if options is None:
        options = sorted({max(1, round(wanted * f)) for f in (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1)})
    runs = {"base": twin}
    share = want / max(wanted, 1)

    def spread(n: int) -> np.ndarray:  # n copies by share, the remainder to the largest parts
        per = np.floor(share * n).astype(int)
        per[np.argsort(-(share * n - per))[: n - int(per.sum())]] += 1
        return per

    for n in options:
        per = spread(n)
        runs[f"n:{n}"] = tw.add_copies(
            twin.copy(), t, {int(d): int(k) for d, k in enumerate(per) if k}
        )
    outs = run_many(runs, days, seeds, params)
    ans = Answer(
        f"Copies of title #{title_id} for an average wait of {target_wait:g} days", days, seeds
    )
    out_now = int((twin.r_title == t).sum())
    ans.lines.append(
        f"{wanted:,} members queue it; {held:,} copies on shelves now, {out_now:,} out with "
        "members."
    )
    pick = None
    for n in options:
        waits = [o.title_wait(t) for o in outs[f"n:{n}"]]
        served = [int((o.wait_title == t).sum()) for o in outs[f"n:{n}"]]
        w = band([x if x is not None else float(days) for x in waits])
        ans.table.append({"option": f"buy {n}", "wait": w, "served": float(np.mean(served))})
        ans.lines.append(
            f"  buy {n:,}: average wait {w[0]:.1f} days [{w[1]:.1f}, {w[2]:.1f}], "
            f"{np.mean(served):,.0f} of {wanted:,} served in {days} days"
        )
        # the target met, for nearly everyone who queued it (not only the first few served)
        if pick is None and w[2] <= target_wait and np.mean(served) >= 0.9 * wanted:
            pick = n
    if pick is None:
        ans.lines.append("  none of these reach the target; buy more or accept a longer wait.")
    else:
        per = {twin.dc_codes[d]: int(k) for d, k in enumerate(spread(pick)) if k}
        ans.lines.append(f"  → buy {pick:,}: " + ", ".join(f"{k} {v}" for k, v in per.items() if v))
        ans.recommended = {"title": title_id, "copies": pick, "per_dc": per}
    return ans


# --- people each DC needs for the forecast -------------------------------------------------------


def staffing(
    twin: Twin, *, days: int = 14, seeds=(1, 2, 3), params=None, rate: float = 325.0,
    shift_hours: float = 8.0,
) -> Answer:  # fmt: skip
    """Discs each DC will ship per day (forecast by the twin, uncapped: what members will ask
    for) and the people that needs at `rate` discs per labour hour."""
    seeds = list(seeds)
    free = twin.copy()
    free.dc_capacity = np.maximum(free.dc_capacity * 10, 10_000)  # what demand asks, not capacity
    outs = run_many({"base": twin, "free": free}, days, seeds, params)
    ships = np.stack([o.by_dc for o in outs["free"]])  # (seeds, days, D)
    capped = np.stack([o.by_dc for o in outs["base"]])
    ans = Answer("People each DC needs for the forecast", days, seeds)
    for d, code in enumerate(twin.dc_codes):
        if not twin.dc_open[d]:
            continue
        per_day = ships[:, :, d].mean(axis=0)
        p90 = float(np.percentile(per_day, 90)) if len(per_day) else 0.0
        hours = p90 / rate
        people = math.ceil(hours / shift_hours) if hours else 0
        # discs left waiting by this DC's capacity: on the days it shipped all it could
        full = capped[:, :, d] >= twin.dc_capacity[d]
        short = float(((ships[:, :, d] - capped[:, :, d]).clip(0) * full).mean())
        ans.table.append(
            {"dc": code, "mean": float(per_day.mean()), "p90": p90, "hours": hours,
             "people": people, "capacity": int(twin.dc_capacity[d]), "short": short}
        )  # fmt: skip
        ans.lines.append(
            f"  {code}: {per_day.mean():,.0f} discs a day (busy day {p90:,.0f}) → "
            f"{hours:,.1f} h = {people} {'person' if people == 1 else 'people'} on "
            f"{shift_hours:g}-hour shifts; capacity on a staffed day "
            f"{int(twin.dc_capacity[d]):,}"
            + (f", {short:,.0f} a day left waiting by it" if short >= 1 else "")
        )
    ans.recommended = {"capacity": {r["dc"]: int(math.ceil(r["p90"] * 1.1)) for r in ans.table}}
    return ans


def baseline(twin: Twin, *, days: int = 30, seeds=(1, 2, 3), params=None) -> Answer:
    seeds = list(seeds)
    outs = run_many({"base": twin}, days, seeds, params)["base"]
    s = _shares(outs)
    ans = Answer("The business as it is", days, seeds)
    ans.lines.append(
        f"  next day {pct(s['next_day'][0])} [{pct(s['next_day'][1])}, {pct(s['next_day'][2])}], "
        f"top 3 {pct(s['top3'][0])} [{pct(s['top3'][1])}, {pct(s['top3'][2])}], "
        f"{s['shipped']:,.0f} discs shipped"
    )
    ans.table.append({"option": "as it is", **s})
    return ans
