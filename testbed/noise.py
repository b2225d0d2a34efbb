"""Noise models: one spec (kind, level, fixed parameters) realised identically at any site.

- bitflip(p): each bit at the site flips independently with probability p, fresh at every evaluation;
- stuck_at(k): k permanent stuck-at faults at random locations and values, drawn once per trial (at a
  word site a location is one bit of one word position, the same for every sample; at a gate site one
  gate output);
- additive(snr_bits): q = f - alpha * r with r Gaussian or uniform of unit power and alpha set from the
  signal power at the site so that 0.5 * log2(E f^2 / alpha^2) = snr_bits; integer sites round back.

`bits` restricts bit flips to given bit positions (the per-bit view). Gate sites hold single bits:
additive noise cannot be realised there and is rejected.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from circuits.simulate import to_signed
from testbed.errors import NoiseError

KINDS = ("bitflip", "stuck_at", "additive")
DISTS = ("gaussian", "uniform")
CIRCUIT_SITES = ("gate", "output")
NETWORK_SITES = ("weight", "activation", "accumulator", "product", "mac-gate")
GATE_SITES = ("gate", "mac-gate")


@dataclass(frozen=True)
class NoiseModel:
    """A noise kind at one level. level: p in [0, 1] (bitflip), k >= 0 faults (stuck_at), SNR in bits
    (additive); dist: additive noise distribution; bits: bit positions bitflip may hit (None: all)."""

    kind: str
    level: float
    dist: str = "gaussian"
    bits: tuple | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise NoiseError(f"noise kind {self.kind!r} is unknown (allowed: {', '.join(KINDS)})")
        lvl = self.level
        if isinstance(lvl, bool) or not isinstance(lvl, (int, float)) or math.isnan(lvl):
            raise NoiseError(f"noise level must be a number, got {lvl!r}")
        if self.kind == "bitflip" and not 0.0 <= lvl <= 1.0:
            raise NoiseError(f"bitflip level p = {lvl} is outside [0, 1]")
        if self.kind == "stuck_at" and (lvl < 0 or lvl != int(lvl)):
            raise NoiseError(f"stuck_at level k = {lvl} must be a whole number >= 0")
        if self.kind == "additive" and not -64 <= lvl <= 64 and not math.isinf(lvl):
            raise NoiseError(f"additive level (SNR in bits) = {lvl} is outside [-64, 64] (or inf for no noise)")
        if self.dist not in DISTS:
            raise NoiseError(f"additive dist {self.dist!r} is unknown (allowed: {', '.join(DISTS)})")
        if self.bits is not None:
            object.__setattr__(self, "bits", tuple(int(b) for b in self.bits))
            if self.kind != "bitflip" or any(b < 0 for b in self.bits):
                raise NoiseError("bits (positions) apply to bitflip only and must be >= 0")

    def at(self, level: float) -> NoiseModel:
        return NoiseModel(self.kind, level, self.dist, self.bits)

    @property
    def is_clean(self) -> bool:
        return (self.kind == "additive" and math.isinf(self.level) and self.level > 0) or (
            self.kind != "additive" and self.level == 0)

    @property
    def more_noise_is_higher(self) -> bool:
        """True when a higher level means more noise (p, k); False for SNR."""
        return self.kind != "additive"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bits"] = list(self.bits) if self.bits is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NoiseModel:
        return cls(d["kind"], d["level"], d.get("dist", "gaussian"), tuple(d["bits"]) if d.get("bits") else None)

    def label(self) -> str:
        extra = f", {self.dist}" if self.kind == "additive" else ""
        extra += f", bits {list(self.bits)}" if self.bits is not None else ""
        return f"{self.kind}({self.level:g}{extra})"


def bitflip(p: float, bits=None) -> NoiseModel:
    return NoiseModel("bitflip", p, bits=bits)


def stuck_at(k: int) -> NoiseModel:
    return NoiseModel("stuck_at", k)


def additive(snr_bits: float, dist: str = "gaussian") -> NoiseModel:
    return NoiseModel("additive", snr_bits, dist)


def check_site(noise: NoiseModel, site: str, world: str) -> None:
    """Raise NoiseError unless `site` exists for the world ('circuit' or 'network') and can hold `noise`."""
    allowed = CIRCUIT_SITES if world == "circuit" else NETWORK_SITES
    if site not in allowed:
        raise NoiseError(f"site {site!r} does not exist for a {world} (allowed: {', '.join(allowed)})")
    if site in GATE_SITES and noise.kind == "additive":
        raise NoiseError(f"site {site!r} holds single bits and cannot take additive noise "
                         "(allowed there: bitflip, stuck_at)")
    if site in GATE_SITES and noise.bits is not None:
        raise NoiseError(f"site {site!r}: bit positions apply to word sites only")


def _to_unsigned(values: np.ndarray, width: int, signed: bool) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64)
    return (v & ((1 << width) - 1)).astype(np.uint64) if signed or width < 64 else v.astype(np.uint64)


def _from_unsigned(u: np.ndarray, width: int, signed: bool) -> np.ndarray:
    v = u.astype(np.int64)
    return to_signed(v, width) if signed else v


def flip_positions(n_bits_total: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Distinct positions in [0, n_bits_total), each included independently with probability p."""
    if p <= 0 or n_bits_total == 0:
        return np.zeros(0, np.int64)
    if p > 0.05:
        return np.flatnonzero(rng.random(n_bits_total) < p)
    count = int(rng.binomial(n_bits_total, p))
    pos = np.unique(rng.integers(0, n_bits_total, count))
    while len(pos) < count:  # distinct positions: draw the missing ones again
        pos = np.unique(np.concatenate([pos, rng.integers(0, n_bits_total, count - len(pos))]))
    return pos


def apply_words(noise: NoiseModel, values: np.ndarray, width: int, signed: bool, rng: np.random.Generator,
                batch_axis: bool = True) -> np.ndarray:
    """Realise `noise` on an array of `width`-bit integer words (two's complement when signed).

    batch_axis: the first axis indexes samples, so a stuck-at location (word position without the batch
    axis, bit) is the same for every sample; otherwise every word is a location.
    """
    values = np.asarray(values, dtype=np.int64)
    if noise.is_clean or values.size == 0:
        return values
    if noise.kind == "bitflip":
        u = _to_unsigned(values, width, signed).reshape(-1)
        lanes = [b for b in (noise.bits if noise.bits is not None else range(width)) if b < width]
        if not lanes:
            return values
        pos = flip_positions(u.size * len(lanes), float(noise.level), rng)
        if len(pos):  # positions are sorted, so the flips of one word are adjacent: OR them, then XOR once
            word, lane = np.divmod(pos, len(lanes))
            masks = np.left_shift(np.uint64(1), np.asarray(lanes, np.uint64)[lane])
            words, first = np.unique(word, return_index=True)
            u[words] ^= np.bitwise_or.reduceat(masks, first)
        return _from_unsigned(u, width, signed).reshape(values.shape)
    if noise.kind == "stuck_at":
        k = int(noise.level)
        shape = values.shape[1:] if batch_axis and values.ndim > 1 else values.shape
        n_loc = int(np.prod(shape)) * width
        loc = rng.choice(n_loc, size=min(k, n_loc), replace=False)
        stuck_to = rng.integers(0, 2, len(loc))
        u = _to_unsigned(values, width, signed).reshape((values.shape[0], -1) if batch_axis and values.ndim > 1
                                                        else (1, -1))
        word, bit = np.divmod(loc, width)
        for w, b, s in zip(word, bit, stuck_to, strict=True):
            m = np.uint64(1) << np.uint64(b)
            u[:, w] = (u[:, w] | m) if s else (u[:, w] & ~m)
        return _from_unsigned(u.reshape(-1), width, signed).reshape(values.shape)
    # additive
    power = float(np.mean(np.square(values, dtype=np.float64)))
    alpha = math.sqrt(power / 2.0 ** (2 * float(noise.level))) if power > 0 else 0.0
    r = rng.standard_normal(values.shape) if noise.dist == "gaussian" else rng.uniform(-math.sqrt(3), math.sqrt(3),
                                                                                       values.shape)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    return np.clip(np.round(values - alpha * r), lo, hi).astype(np.int64)


def engine_hook(noise: NoiseModel, site: str):
    """The function the integer engine calls at a word site: fn(values, bits, signed, rng)."""
    def hook(values, bits, signed, rng):
        return apply_words(noise, values, bits, signed, rng, batch_axis=site != "weight")
    return hook
