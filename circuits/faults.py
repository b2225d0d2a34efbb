"""Faults of one evaluation, as one value, and the two random draws every fault site uses.

`GateFaults` is what the simulator (and every engine that runs a netlist) takes: transient flips (each gate
output flips independently with probability `flip_p` for every vector, drawn from `seed`) and permanent
stuck-at faults `stuck` ((gate index or name, 0 or 1), ...). `draw_stuck` picks k distinct fault locations with
random stuck values; `flip_positions` draws the positions of independent bit flips (every bit drawn above
DENSE_P, else a binomial count of distinct positions) in NumPy, for word sites and stuck-at sets. The
gate-level transient flips inside the simulator are drawn by the kernels' own stream (circuits.rng), which
follows the same DENSE_P rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from circuits.errors import NetlistError

DENSE_P = 0.05  # above this flip probability every bit is drawn; below, a binomial count of distinct positions


@dataclass(frozen=True)
class GateFaults:
    """Gate faults of one evaluation: flip_p (probability per gate output and vector), stuck ((gate, value),
    ...), seed (the flip stream)."""

    flip_p: float = 0.0
    stuck: tuple = ()
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "flip_p", check_probability(self.flip_p))
        try:
            object.__setattr__(self, "stuck", tuple(tuple(f) for f in self.stuck or ()))
        except TypeError:
            raise NetlistError(f"stuck must be a list of (gate, 0 or 1), got {self.stuck!r}") from None
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise NetlistError(f"seed must be an integer, got {self.seed!r}")

    @property
    def none(self) -> bool:
        """True when nothing is faulty."""
        return self.flip_p == 0.0 and not self.stuck

    def with_seed(self, seed: int) -> GateFaults:
        return GateFaults(self.flip_p, self.stuck, int(seed))


def draw_stuck(n_locations: int, k: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """k distinct locations in [0, n_locations) (all of them when k exceeds that), each stuck at a random 0/1."""
    loc = rng.choice(n_locations, size=min(int(k), n_locations), replace=False)
    return [(int(g), int(v)) for g, v in zip(loc, rng.integers(0, 2, len(loc)), strict=True)]


def flip_positions(n_bits: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted distinct positions in [0, n_bits), each included independently with probability p."""
    if p <= 0 or n_bits == 0:
        return np.zeros(0, np.int64)
    if p > DENSE_P:
        return np.flatnonzero(rng.random(n_bits) < p)
    count = int(rng.binomial(n_bits, p))
    pos = np.unique(rng.integers(0, n_bits, count))
    while len(pos) < count:  # distinct positions: draw the missing ones again
        pos = np.unique(np.concatenate([pos, rng.integers(0, n_bits, count - len(pos))]))
    return pos


def check_probability(p, what: str = "flip_p") -> float:
    """p as a float in [0, 1], else NetlistError naming `what`."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or math.isnan(p) \
            or not 0.0 <= p <= 1.0:
        raise NetlistError(f"{what} must be a probability in [0, 1], got {p!r}")
    return float(p)
