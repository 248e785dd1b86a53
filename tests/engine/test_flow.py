"""The repair by cost scaling (decision 0030): from the auction's allocation and prices to the
optimum of the candidate day, with prices that certify it."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redenvelope.engine import Params, certificate, flow, kernels, solve
from redenvelope.engine.exact import solve_exact
from redenvelope.engine.generate import SWEEP
from redenvelope.engine.problem import build_problem
from redenvelope.engine.solve import result_from
from redenvelope.engine.validate import validate

from .days import instance


def auctioned(inst):
    """Every queue entry and shelf a candidate (so the candidate day is the whole day), and the
    auction's allocation and prices on it, without the exact polish of small days."""
    prob = build_problem(inst, Params(), margin=-1, shelves=-1)
    ent, info = kernels.auction(prob, Params().epsilon, exact_polish_entries=0)
    return prob, ent, info["prices"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["base", *SWEEP]),
    members=st.integers(5, 400),
    seed=st.integers(0, 10_000),
)
def test_repair_reaches_the_optimum_and_its_prices_certify_it(kind, members, seed):
    inst = instance(kind, members, seed)
    prob, ent, (pi, mu) = auctioned(inst)
    before = result_from(prob, ent).objective
    out = flow.repair(prob, ent, pi, mu, delta=np.inf)
    assert out is not None
    ent_r, pi_r, mu_r, info = out
    res = result_from(prob, ent_r)
    check = validate(inst, res.member_id, res.title_id, res.dc_id)
    assert check.ok, check.violations
    best = solve_exact(inst).objective  # costs rounded to 1/10,000 of a value unit
    nodes = flow.nodes(prob)[-1]
    # eps_final-optimal: within nodes × eps of the optimum (in practice on it)
    assert res.objective >= best - flow.EPS_FINAL * nodes - 1e-6
    assert res.objective >= before - flow.EPS_FINAL * nodes - 1e-6
    assert res.objective <= best + 1e-4 * max(1, len(res.member_id))
    # its prices are a dual of the day: a valid bound, near the objective
    upper, _ = certificate.bound(prob, np.maximum(pi_r, 0.0), np.maximum(mu_r, 0.0))
    assert upper >= best - 1e-4 * max(1, len(res.member_id))
    assert upper <= best + flow.EPS_FINAL * nodes + 1e-6


@pytest.mark.parametrize("kind", ["tight capacity", "base", "many DCs, wide reach"])
def test_repair_is_exact_on_days_the_auction_leaves_short(kind):
    inst = instance(kind, 1_500, seed=6)
    prob, ent, (pi, mu) = auctioned(inst)
    ent_r, _, _, info = flow.repair(prob, ent, pi, mu, delta=np.inf)
    best = solve_exact(inst).objective
    assert result_from(prob, ent_r).objective == pytest.approx(best, rel=1e-6)
    assert info["refines"] >= 1 and info["work"] > 0


def test_repair_gives_up_when_its_work_runs_out_or_the_day_is_too_large_and_changes_nothing():
    inst = instance("tight capacity", 800, seed=2)
    prob, ent, (pi, mu) = auctioned(inst)
    kept = ent.copy()
    assert flow.repair(prob, ent, pi, mu, work_per_arc=1e-6) is None
    assert flow.repair(prob, ent, pi, mu, max_arcs=10) is None
    assert len(prob.arc_pool) > 10 * flow.CANDIDATES_PER_KEPT  # not even counted
    # counted, and found larger than allowed before anything is allocated
    p = flow.potentials(prob, ent, pi, mu)
    assert flow.network(prob, ent, p, flow.DELTA, max_arcs=0) is None
    assert flow.network(prob, ent, p, flow.DELTA) is not None
    assert flow.repair(prob, ent, pi, mu, max_arcs=len(prob.arc_pool)) is not None
    assert np.array_equal(ent, kept)
    assert flow.repair(prob, ent, pi, mu) is not None


def test_pruned_arcs_keep_the_held_ones():
    """With delta 0 only arcs at least as good as the member's threshold stay, and the held
    ones: the allocation given is still feasible on the network, so the repair never loses."""
    inst = instance("tight capacity", 1_000, seed=4)
    prob, ent, (pi, mu) = auctioned(inst)
    before = result_from(prob, ent).objective
    ent_r, _, _, info = flow.repair(prob, ent, pi, mu, delta=0.0)
    nodes = flow.nodes(prob)[-1]
    assert result_from(prob, ent_r).objective >= before - flow.EPS_FINAL * nodes
    assert info["arcs"] >= int((ent >= 0).sum())


def test_solve_repairs_a_day_still_short_of_its_bound():
    """A day past the exact threshold whose certificate asks for more: the repair runs, its
    allocation is kept only when better, and the day it certifies is valid."""
    inst = instance("tight capacity", 3_000, seed=6)
    common = dict(exact_below_entries=0, second_opinion_side_by_side=False)
    plain = solve(inst, Params(**common, repair=False, second_opinion_gap=0.0))
    fixed = solve(inst, Params(**common, second_opinion_gap=0.0))
    assert plain.stats["repaired"] == 0
    assert fixed.stats["repaired"] in (1, -1)
    assert fixed.stats["repair_work"] > 0
    assert fixed.timings["repair"] > 0
    check = validate(inst, fixed.member_id, fixed.title_id, fixed.dc_id)
    assert check.ok, check.violations
    best = solve_exact(inst).objective
    assert fixed.objective >= plain.objective - 1e-6 or fixed.stats["second_opinion"] == 1
    assert fixed.objective >= 0.999 * best
    assert fixed.stats["bound"] >= best - 1e-4 * len(fixed.member_id)
    # a day certified within the quality target is not repaired
    quick = solve(inst, Params(**common, second_opinion_gap=1.0))
    assert quick.stats["repaired"] == 0
