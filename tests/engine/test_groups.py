"""Members alike allocated as one kind (decision 0031): the kinds are exactly the members
alike, the dealt allocation is valid and as good as the exact optimum, and its prices certify
the day."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redenvelope.engine import Instance, Params, certificate, groups, solve
from redenvelope.engine.exact import solve_exact
from redenvelope.engine.generate import SWEEP, generate_shape
from redenvelope.engine.problem import build_problem
from redenvelope.engine.solve import result_from
from redenvelope.engine.validate import validate

from .days import instance


def whole(inst):
    """Every queue entry and shelf a candidate: the candidate day is the whole day."""
    return build_problem(inst, Params(), margin=-1, shelves=-1)


def alike(prob, a, b):
    return groups._alike(
        a, b, prob.entry_start, prob.entry_title, prob.entry_a, prob.slots, prob.region,
        prob.arc_start, prob.arc_pool,
    )  # fmt: skip


def crowd(members: int, slots: int, copies: tuple[int, int], seed: int = 0) -> Instance:
    """Members in two regions queueing the same three titles, few copies in two DCs: kinds of
    many members each, whose shipments must be dealt out."""
    rng = np.random.default_rng(seed)
    ids = np.arange(members, dtype=np.int64) + 100
    region = (rng.random(members) < 0.4).astype(np.int32) + 1
    q_member = np.repeat(ids, 3)
    q_title = np.tile(np.array([7, 8, 9], np.int64), members)
    q_pos = np.tile(np.array([1, 2, 3], np.int32), members)
    return Instance.from_arrays(
        members={
            "member_id": ids,
            "region_id": region,
            "open_slots": np.full(members, slots, np.int16),
            "priority": np.ones(members),
        },
        queue={"member_id": q_member, "position": q_pos, "title_id": q_title},
        stock={
            "dc_id": np.array([1, 1, 1, 2, 2], np.int32),
            "title_id": np.array([7, 8, 9, 7, 9], np.int64),
            "available": np.array([copies[0], copies[1], 2, copies[1], 1], np.int32),
        },
        dcs={"dc_id": np.array([1, 2], np.int32), "capacity": np.array([members, 3], np.int32)},
        transit={
            "dc_id": np.array([1, 1, 2, 2], np.int32),
            "region_id": np.array([1, 2, 1, 2], np.int32),
            "days": np.array([1, 3, 2, 1], np.int16),
        },
    )


def check_exact(inst, prob):
    kinds = groups.find(prob)
    out = groups.allocate(prob, kinds)
    assert out is not None
    ent, pi, mu, info = out
    res = result_from(prob, ent)
    check = validate(inst, res.member_id, res.title_id, res.dc_id)
    assert check.ok, check.violations
    best = solve_exact(inst).objective
    n = 2 + len(kinds.rep) + kinds.entries + len(prob.pool_dc) + len(prob.dc_cap)
    # eps-optimal: within nodes x eps of the optimum; its prices within eps an arc of a path
    # (6 arcs) for each shipment and each member of a dual of the day (a member left without
    # a title may see it worth up to that much at these prices)
    units = n + 6 * (len(res.member_id) + prob.n_members)
    slack = groups.EPS_FINAL * units + 1e-4 * max(1, len(res.member_id))
    assert best - slack <= res.objective <= best + 1e-4 * max(1, len(res.member_id))
    upper, _ = certificate.bound(prob, np.maximum(pi, 0.0), np.maximum(mu, 0.0))
    assert best - 1e-4 * max(1, len(res.member_id)) <= upper <= best + slack
    assert info["kinds"] == len(kinds.rep)
    return kinds, res


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["ties everywhere", "base", *SWEEP]),
    members=st.integers(5, 300),
    seed=st.integers(0, 10_000),
)
def test_kinds_reach_the_optimum_and_their_prices_certify_it(kind, members, seed):
    inst = instance(kind, members, seed)
    check_exact(inst, whole(inst))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.integers(1, 120),
    slots=st.integers(1, 3),
    copies=st.tuples(st.integers(0, 60), st.integers(0, 8)),
    seed=st.integers(0, 1_000),
)
def test_shipments_are_dealt_so_no_member_gets_a_title_twice(members, slots, copies, seed):
    inst = crowd(members, slots, copies, seed=seed)
    prob = whole(inst)
    kinds, res = check_exact(inst, prob)
    assert len(kinds.rep) <= 2  # one kind a region
    pairs = set(zip(res.member_id.tolist(), res.title_id.tolist(), strict=True))
    assert len(pairs) == len(res.member_id)
    assert np.bincount(res.member_id - 100, minlength=members).max() <= slots


@pytest.mark.parametrize("kind", ["ties everywhere", "tight capacity", "base"])
def test_kinds_are_the_members_alike_even_when_their_hashes_collide(kind):
    inst = instance(kind, 300, seed=3)
    prob = build_problem(inst, Params())
    kinds = groups.find(prob)
    n = prob.n_members
    for m in range(n):
        assert alike(prob, m, kinds.rep[kinds.of[m]])
    reps = kinds.rep
    for a in range(len(reps)):
        for b in range(a + 1, len(reps)):
            assert not alike(prob, reps[a], reps[b])
    assert kinds.count.sum() == n
    # every key the same (all collide): the same kinds, told apart by comparing members
    of, k = groups._kinds(
        np.zeros(n, np.uint64), np.arange(n), prob.entry_start, prob.entry_title, prob.entry_a,
        prob.slots, prob.region, prob.arc_start, prob.arc_pool,
    )  # fmt: skip
    assert k >= 1
    for m in range(n):
        assert of[m] == of[reps[kinds.of[m]]]
    same = of[:, None] == of[None, :]
    assert np.array_equal(same, kinds.of[:, None] == kinds.of[None, :])


def test_solve_allocates_a_day_of_members_alike_by_kinds_and_others_by_the_auction():
    # ties with one queue length and slot count: 4 shared queues in 30 regions, 120 kinds
    inst = generate_shape(3_000, seed=5, ties=True, queue=(20, 20), slots=(2, 2), dcs=6)
    params = dict(exact_below_entries=0, second_opinion_side_by_side=False)
    by_kinds = solve(inst, Params(**params))
    assert by_kinds.stats["kinds"] > 0 and by_kinds.stats["bids"] == 0
    check = validate(inst, by_kinds.member_id, by_kinds.title_id, by_kinds.dc_id)
    assert check.ok, check.violations
    assert by_kinds.stats["gap"] <= 0.002
    auctioned = solve(inst, Params(**params, kinds=False))
    assert "kinds" not in auctioned.stats and auctioned.stats["bids"] > 0
    assert by_kinds.objective >= auctioned.objective - 1e-6 * auctioned.objective
    other = solve(instance("loose capacity", 3_000, seed=5), Params(**params))
    assert "kinds" not in other.stats  # few members alike: the auction's day


def test_a_grown_day_of_members_alike_is_allocated_by_kinds_again():
    """One candidate entry beyond the slots: the prices show entries left out that would do
    better, the candidates grow, and the grown day is grouped and allocated by kinds again."""
    inst = crowd(300, 1, (2, 2), seed=3)  # the first title nearly gone: the rest are wanted
    params = Params(
        exact_below_entries=0, second_opinion_side_by_side=False, candidate_margin=0,
        grow_min_share=0.0,
    )  # fmt: skip
    res = solve(inst, params)
    assert res.stats["grow_rounds"] >= 1 and res.stats["kinds"] > 0
    check = validate(inst, res.member_id, res.title_id, res.dc_id)
    assert check.ok, check.violations
    assert res.objective == pytest.approx(solve_exact(inst).objective, rel=1e-5)
    assert res.stats["gap"] <= 0.002
