"""Gate faults as a plan the simulator executes, and the two random draws every fault site uses.

`GateFaultPlan` is what the simulator (and every engine that runs a netlist) takes, whatever noise kind drew it:
per-gate masks applied to every vector, out = (gate & keep) ^ force (stuck at 0: keep 0, force 0; stuck at 1:
keep 0, force all ones; an inverted gate: keep all ones, force all ones), and transient flips (each gate output
flips independently with probability `flip_p` for every vector, from the kernels' stream of `seed`). A noise kind
realises itself on a netlist as one plan: `GateFaults` (flips `flip_p` and permanent stuck-at faults `stuck`
((gate index or name, 0 or 1), ...)), `GateMasks` (explicit masks), a subclass of its own that implements
`masks`, or one that runs the evaluation itself (`execute`: circuits.timing_faults.TimingPlan, timing errors).
`draw_stuck` picks k distinct fault locations with random stuck values; `flip_positions` draws the
positions of independent bit flips (every bit drawn above DENSE_P, else a binomial count of distinct positions)
in NumPy, for word sites and stuck-at sets. The gate-level transient flips inside the simulator are drawn by the
kernels' own stream (circuits.rng), which follows the same DENSE_P rule.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from circuits.errors import NetlistError

DENSE_P = 0.05  # above this flip probability every bit is drawn; below, a binomial count of distinct positions
ALL_ONES = ~np.uint64(0)


class GateFaultPlan:
    """Gate faults of one evaluation (see the module docstring). Subclasses are frozen dataclasses with fields
    `flip_p` and `seed` (or properties of those names); they override `masks` and `permanent` when they hold
    permanent faults."""

    flip_p: float = 0.0
    seed: int = 0

    @property
    def permanent(self) -> bool:
        """True when `masks` changes some gate."""
        return False

    def masks(self, n_gates: int, gate_index: Callable) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-gate (keep, force) uint64 masks of a netlist of `n_gates` gates (gate_index: a gate index or name
        -> its index, NetlistError when unknown), applied as (gate & keep) ^ force; None when nothing is masked."""
        return None

    def execute(self, netlist, planes: np.ndarray, n: int, out: np.ndarray):
        """Run the evaluation itself: a plan that is not masks and flips (circuits.timing_faults.TimingPlan runs
        the timed simulator) writes the output planes of the first n vectors of `planes` into `out` and returns
        what it measured; None (the default): the simulator's kernels apply `masks` and the flips."""
        return None

    @property
    def none(self) -> bool:
        """True when nothing is faulty."""
        return self.flip_p == 0.0 and not self.permanent

    def with_seed(self, seed: int) -> GateFaultPlan:
        """The same plan drawing its flips from `seed`."""
        return dataclasses.replace(self, seed=int(seed))


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise NetlistError(f"seed must be an integer, got {seed!r}")


@dataclass(frozen=True)
class GateFaults(GateFaultPlan):
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
        _check_seed(self.seed)

    @property
    def permanent(self) -> bool:
        return bool(self.stuck)

    def masks(self, n_gates, gate_index):
        if not self.stuck:
            return None
        keep = np.full(n_gates, ALL_ONES, dtype=np.uint64)
        force = np.zeros(n_gates, dtype=np.uint64)
        for item in self.stuck:
            try:
                gate, value = item
            except (TypeError, ValueError):
                raise NetlistError(f"stuck-at fault must be (gate, 0 or 1), got {item!r}") from None
            if value not in (0, 1):
                raise NetlistError(f"stuck-at value of gate {gate!r} must be 0 or 1, got {value!r}")
            g = gate_index(gate)
            keep[g] = 0
            force[g] = ALL_ONES if value else np.uint64(0)
        return keep, force


@dataclass(frozen=True, eq=False)
class GateMasks(GateFaultPlan):
    """A plan given as explicit per-gate masks: keep and force (uint64, one per gate of the netlist it runs on,
    applied as (gate & keep) ^ force), flips flip_p from seed."""

    keep: np.ndarray
    force: np.ndarray
    flip_p: float = 0.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "flip_p", check_probability(self.flip_p))
        keep, force = np.asarray(self.keep, np.uint64), np.asarray(self.force, np.uint64)
        if keep.ndim != 1 or keep.shape != force.shape:
            raise NetlistError(f"gate masks must be two 1-D arrays of one length, got {keep.shape} and {force.shape}")
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "force", force)
        _check_seed(self.seed)

    @property
    def permanent(self) -> bool:
        return bool((self.keep != ALL_ONES).any() or self.force.any())

    def masks(self, n_gates, gate_index):
        if len(self.keep) != n_gates:
            raise NetlistError(f"gate masks cover {len(self.keep)} gates; the netlist has {n_gates}")
        return (self.keep, self.force) if self.permanent else None


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
    pos = _sorted_distinct(rng.integers(0, n_bits, count))
    while len(pos) < count:  # distinct positions: draw the missing ones again
        pos = _union(pos, _sorted_distinct(rng.integers(0, n_bits, count - len(pos))))
    return pos


@njit(cache=True, nogil=True)
def _sorted_distinct(x: np.ndarray) -> np.ndarray:
    """np.unique(x) of non-negative int64 positions, by a counting sort on their high bits (as many buckets as
    positions, so a bucket of uniform positions holds one or two), each bucket sorted in place, duplicates dropped:
    O(len(x)), where numpy's sort was half the cost of a word site's flips (and its hash-based unique ~20x more)."""
    n = x.shape[0]
    if n == 0:
        return x.copy()
    shift, top = 0, x.max()
    while (top >> shift) >= n:
        shift += 1
    starts = np.zeros(n + 1, np.int64)  # bucket b (= v >> shift < n) holds out[starts[b]:starts[b + 1]]
    for v in x:
        starts[(v >> shift) + 1] += 1
    for b in range(n):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    out = np.empty(n, np.int64)
    for v in x:
        out[fill[v >> shift]] = v
        fill[v >> shift] += 1
    for b in range(n):
        lo, hi = starts[b], starts[b + 1]
        if hi - lo > 16:
            out[lo:hi] = np.sort(out[lo:hi])
        else:
            for i in range(lo + 1, hi):
                v, j = out[i], i - 1
                while j >= lo and out[j] > v:
                    out[j + 1] = out[j]
                    j -= 1
                out[j + 1] = v
    k = 1
    for i in range(1, n):
        if out[i] != out[k - 1]:
            out[k] = out[i]
            k += 1
    return out[:k]


@njit(cache=True, nogil=True)
def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a and b, each sorted distinct int64, by a merge."""
    out = np.empty(len(a) + len(b), np.int64)
    i = j = k = 0
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and a[i] < b[j]):
            out[k], i = a[i], i + 1
        else:
            out[k], i, j = b[j], i + (i < len(a) and a[i] == b[j]), j + 1
        k += 1
    return out[:k]


def check_probability(p, what: str = "flip_p") -> float:
    """p as a float in [0, 1], else NetlistError naming `what`."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or math.isnan(p) \
            or not 0.0 <= p <= 1.0:
        raise NetlistError(f"{what} must be a probability in [0, 1], got {p!r}")
    return float(p)
