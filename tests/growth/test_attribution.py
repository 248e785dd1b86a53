"""The attribution rule alone (pure numpy): windows and last or first click at their
boundaries, floods never credited, and the vectorised rule equal to a plain loop on many
random event logs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from redenvelope.growth.attribution import CREDITED, EXPIRED, NONE, attribute, codes, floods

DAY = 86400
W = 30 * DAY


def one(clicks, signup_at, mode="last", ok=None):
    at = np.array(clicks, np.int64)
    idx, why = attribute(
        np.zeros(at.size, np.int64), at, np.zeros(1, np.int64), np.array([signup_at]),
        window_s=W, mode=mode, click_ok=None if ok is None else np.array(ok),
    )  # fmt: skip
    return int(idx[0]), int(why[0])


def test_window_boundaries():
    t = 1_700_000_000
    assert one([t], t + W) == (0, CREDITED)  # exactly the window: still credited
    assert one([t], t + W + 1) == (-1, EXPIRED)  # one second past
    assert one([t + 10], t) == (-1, NONE)  # a click after the signup never counts
    assert one([t], t) == (0, CREDITED)  # the same second
    assert one([], t) == (-1, NONE)


def test_last_and_first_click():
    t = 1_700_000_000
    clicks = [t - 40 * DAY, t - 20 * DAY, t - 5 * DAY, t - DAY]
    assert one(clicks, t, "last") == (3, CREDITED)
    assert one(clicks, t, "first") == (1, CREDITED)  # the earliest within the window
    assert one([t - 3, t - 3], t, "last") == (1, CREDITED)  # a tie: the later-listed


def test_flood_clicks_never_credited():
    t = 1_700_000_000
    assert one([t - 100, t - 10], t, ok=[True, False]) == (0, CREDITED)
    assert one([t - 10], t, ok=[False]) == (-1, NONE)


def test_floods_marks_bursts_per_address():
    at = np.array([0, 1, 2, 3, 100, 200], np.int64)
    ip = np.array([1, 1, 1, 1, 1, 2], np.int64)
    got = floods(ip, at, limit=3)
    assert got.tolist() == [True, True, True, True, False, False]
    assert not floods(ip, at, limit=4).any()


def test_codes_are_shared_across_columns():
    a, b = codes(["x", "y", "x"], ["y", "z"])
    assert a[0] == a[2] and a[1] == b[0] and b[1] not in a


def brute(cv, ca, sv, sa, window, mode):
    out = []
    for v, s in zip(sv, sa, strict=True):
        mine = [(a, i) for i, (c, a) in enumerate(zip(cv, ca, strict=True)) if c == v and a <= s]
        inside = [(a, i) for a, i in mine if s - a <= window]
        if inside:
            pick = max(inside) if mode == "last" else min(inside, key=lambda x: (x[0], x[1]))
            out.append((pick[1], CREDITED))
        else:
            out.append((-1, EXPIRED if mine else NONE))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 100)), max_size=30),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 120)), min_size=1, max_size=10),
    st.integers(0, 50),
    st.sampled_from(["last", "first"]),
)
def test_vectorised_rule_equals_a_loop(clicks, signups, window, mode):
    cv = np.array([c for c, _ in clicks], np.int64)
    ca = np.array([a for _, a in clicks], np.int64)
    sv = np.array([v for v, _ in signups], np.int64)
    sa = np.array([a for _, a in signups], np.int64)
    idx, why = attribute(cv, ca, sv, sa, window_s=window, mode=mode)
    assert list(zip(idx.tolist(), why.tolist(), strict=True)) == brute(
        cv.tolist(), ca.tolist(), sv.tolist(), sa.tolist(), window, mode
    )
