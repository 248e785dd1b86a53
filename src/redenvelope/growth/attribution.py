"""Which click earns a signup: pure numpy, no Django, so the per-signup path and the bulk import
share one rule and both can be tested exhaustively.

A signup is credited to one of its visitor's clicks no older than the window: the latest
("last", the default) or the earliest within the window ("first"). Clicks that are part of a
flood are never credited. A visitor whose clicks are all older than the window gets the reason
EXPIRED; one with no click, NONE."""

from __future__ import annotations

import numpy as np

CREDITED, NONE, EXPIRED = 0, 1, 2
_SHIFT = np.int64(1) << np.int64(34)  # seconds since 1970 fit in 34 bits until the year 2514


def attribute(
    click_visitor: np.ndarray,
    click_at: np.ndarray,
    signup_visitor: np.ndarray,
    signup_at: np.ndarray,
    *,
    window_s: int,
    mode: str = "last",
    click_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(index of the credited click or -1, reason) per signup. Visitors are integer codes
    (`codes` turns strings into them); times are seconds. Boundaries: a click exactly
    `window_s` before the signup still counts; a click after the signup never does; at equal
    times the later-listed click is the later one."""
    if mode not in ("last", "first"):
        raise ValueError("mode is 'last' or 'first'")
    cv = np.asarray(click_visitor, np.int64)
    ca = np.asarray(click_at, np.int64)
    sv = np.asarray(signup_visitor, np.int64)
    sa = np.asarray(signup_at, np.int64)
    index = np.arange(cv.size, dtype=np.int64)
    if click_ok is not None:
        ok = np.asarray(click_ok, bool)
        cv, ca, index = cv[ok], ca[ok], index[ok]
    order = np.lexsort((index, ca, cv))
    cv, ca, index = cv[order], ca[order], index[order]
    key = cv * _SHIFT + ca
    out = np.full(sv.size, -1, np.int64)
    why = np.full(sv.size, NONE, np.int8)
    if cv.size == 0 or sv.size == 0:
        return out, why
    latest = np.searchsorted(key, sv * _SHIFT + sa, side="right") - 1
    has_any = (latest >= 0) & (cv[np.maximum(latest, 0)] == sv)
    if mode == "last":
        pos = latest
        good = has_any & (sa - ca[np.maximum(pos, 0)] <= window_s)
    else:
        pos = np.searchsorted(key, sv * _SHIFT + (sa - window_s), side="left")
        inside = pos < cv.size
        p = np.minimum(pos, cv.size - 1)
        good = inside & (cv[p] == sv) & (ca[p] <= sa) & (ca[p] >= sa - window_s)
        pos = p
    out[good] = index[pos[good]]
    why[good] = CREDITED
    why[has_any & ~good] = EXPIRED
    return out, why


def codes(*columns) -> list[np.ndarray]:
    """The same integer code for the same value across columns (visitor ids as text)."""
    joined = np.concatenate([np.asarray(c, dtype=object) for c in columns])
    _, inverse = np.unique(joined.astype(str), return_inverse=True)
    out, at = [], 0
    for c in columns:
        out.append(inverse[at : at + len(c)].astype(np.int64))
        at += len(c)
    return out


def floods(ip: np.ndarray, at: np.ndarray, limit: int, span_s: int = 60) -> np.ndarray:
    """Which clicks are part of a flood: more than `limit` clicks from one address within
    `span_s` seconds (each click past the limit in a sliding span is marked, and the ones
    before it in that span too)."""
    ip = np.asarray(ip, np.int64)
    at = np.asarray(at, np.int64)
    n = ip.size
    flagged = np.zeros(n, bool)
    if n == 0:
        return flagged
    order = np.lexsort((at, ip))
    key = ip[order] * _SHIFT + at[order]
    first = np.searchsorted(key, key - span_s, side="left")  # first click in the span ending here
    count = np.arange(n) - first + 1
    over = count > limit
    if over.any():
        # mark the whole span of each click that tipped it over
        diff = np.zeros(n + 1, np.int64)
        starts, ends = first[over], np.nonzero(over)[0] + 1
        np.add.at(diff, starts, 1)
        np.add.at(diff, ends, -1)
        flagged[order] = np.cumsum(diff)[:n] > 0
    return flagged
