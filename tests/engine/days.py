"""Small days of the engine's tests: the bench's generator or one shape of the sweep's family."""

from redenvelope.engine.generate import SWEEP, generate, generate_shape


def instance(kind, members, seed):
    if kind == "base":
        return generate(members, seed=seed, titles=max(8, members // 3), dcs=4, regions=8)
    return generate_shape(members, seed=seed, **SWEEP[kind])
