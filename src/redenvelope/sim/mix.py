"""Reproducible randomness for the simulator: a number per id, from the seed and a salt."""

from __future__ import annotations

import numpy as np


def uniform(ids: np.ndarray, salt: int, seed: int) -> np.ndarray:
    """A reproducible number in [0, 1) per id (splitmix-style mixing)."""
    x = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(
        salt * 0xBF58476D + seed * 0x94D049BB
    )
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)
