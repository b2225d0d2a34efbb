"""Noise models: one spec (kind, level, fixed parameters) realised identically at any site.

Each kind is one class with one contract: level validation, realisation on integer words (`words`), realisation
as gate faults of a netlist (`gate_faults`), the severity axis (`severity`, `level_at`, `midpoint`), the unit of a
gap (`gap_axis`), label and serialisation. Subclassing NoiseModel with a new `kind` registers it; nothing outside
this module compares kind names.

- bitflip(p): each bit at the site flips independently with probability p, fresh at every evaluation;
- stuck_at(k): k permanent stuck-at faults at random locations and values, drawn once per trial (at a
  word site a location is one bit of one word position, the same for every sample; at a gate site one
  gate output);
- additive(snr_bits): q = f - alpha * r with r Gaussian or uniform of unit power and alpha set from the
  signal power at the site so that 0.5 * log2(E f^2 / alpha^2) = snr_bits; integer sites round back.

- clock(T): timing errors of an overclocked netlist, T the clock period in units of its critical path delay D;
- voltage(V): timing errors of an undervolted netlist (alpha-power-law gate delays, the clock at D plus a
  guard band), with the energy per operation scaling as V^2.

`bits` restricts bit flips to given bit positions (the per-bit view). Gate sites hold single bits:
additive noise cannot be realised there and is rejected; the timing kinds act on whole netlists and are realised
at gate sites with a timing model only (a circuit's gates; a network's multipliers, accumulator adders or whole
processing elements: mac-gate, pe-add, pe-gate).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import ClassVar

import numpy as np
from numba import njit

from circuits.faults import GateFaultPlan, GateFaults, draw_stuck, flip_positions
from circuits.simulate import to_signed
from circuits.timed import CLOCKINGS
from circuits.timing import TABLES as TIMING_TABLES
from circuits.timing_faults import DATAFLOWS, TimingPlan
from testbed.errors import NoiseError
from testbed.sites import SITES, Site, site_named

KINDS: dict[str, type[NoiseModel]] = {}


@dataclass(frozen=True)
class GapAxis:
    """How two break-down levels compare: unit and gap(network level, circuit level), positive when the
    network tolerates more."""

    unit: str
    gap: Callable[[float, float], float]


def _decades(network: float, circuit: float) -> float:
    return math.log10(network / circuit) if network > 0 and circuit > 0 else math.nan


DECADES = GapAxis("decades", _decades)
BITS = GapAxis("bits", lambda network, circuit: circuit - network)  # SNR: lower SNR tolerated = more tolerant


@dataclass(frozen=True)
class NoiseModel:
    """A noise kind at one level; subclasses set `kind` and implement the realisations."""

    level: float
    kind: ClassVar[str] = ""
    level_name: ClassVar[str] = "level"  # what the level is, with its unit, for axis labels
    log_axis: ClassVar[bool] = False  # levels are best shown on a log scale
    clean_level: ClassVar[float] = 0.0  # the level that injects nothing
    default_target_width: ClassVar[float] = 1.0  # break-down interval width sought, severity units
    level_unit: ClassVar[str] = ""  # the level's unit in tables
    per_element_probability: ClassVar[bool] = False  # the level is a probability per bit or gate (fault budgets)
    summary: ClassVar[str] = ""
    gap_axis: ClassVar[GapAxis] = DECADES
    transient: ClassVar[bool] = True  # False: faults are shared by every sample of a trial
    gate_level: ClassVar[bool] = True  # can be realised as faults of single gate outputs
    word_level: ClassVar[bool] = True  # can be realised on integer words
    xor_flips: ClassVar[bool] = False  # words() XORs flips drawn independently of the values (`flips` draws them)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            KINDS[cls.kind] = cls

    def __post_init__(self):
        lvl = self.level
        if isinstance(lvl, bool) or not isinstance(lvl, (int, float, np.integer, np.floating)) or math.isnan(lvl):
            raise NoiseError(f"noise level must be a number, got {lvl!r}")
        object.__setattr__(self, "level", float(lvl))
        self.check_level(self.level)

    # -- contract -------------------------------------------------------------------------------------
    def check_level(self, level: float) -> None:
        """Raise NoiseError when `level` is outside the kind's domain."""

    def check_locations(self, n: int) -> None:
        """Raise NoiseError when this level asks for more than the `n` fault locations a site holds."""

    @property
    def is_clean(self) -> bool:
        """True when this level injects nothing."""
        return self.level == self.clean_level

    def clean(self) -> NoiseModel:
        """The same model at the level that injects nothing."""
        return self.at(self.clean_level)

    def severity(self, level: float) -> float:
        """An axis on which larger means more noise."""
        return float(level)

    def level_at(self, severity: float) -> float:
        """The inverse of severity()."""
        return float(severity)

    def midpoint(self, a: float, b: float) -> float | None:
        """The level halfway between a and b on the severity axis (None when there is none)."""
        return (a + b) / 2

    def design_level(self, severity: float) -> float:
        """A valid level nearest to `severity`, where a sequential design can place trials."""
        return self.level_at(severity)

    def words(self, values: np.ndarray, width: int, signed: bool, rng: np.random.Generator,
              batch_axis: bool = True) -> np.ndarray:
        """Realise the noise on `width`-bit integer words (two's complement when signed). batch_axis: the
        first axis indexes samples (a permanent fault location is the same for every sample)."""
        raise NotImplementedError

    def flips(self, n_words: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Kinds with `xor_flips`: the flips of n_words `width`-bit words, drawn from `rng` exactly as `words` draws
        them, as (sorted distinct word indices (int64), their XOR masks (uint64, bit 0 the least significant));
        `words` returns the values wrapped to `width` bits (two's complement when signed) with those words XORed."""
        raise NotImplementedError

    def gate_faults(self, n_gates: int, rng: np.random.Generator) -> GateFaultPlan:
        """Realise the noise as faults of a netlist's `n_gates` gate outputs (seed left 0 for the caller)."""
        raise NoiseError(f"{self.kind} noise cannot be realised as gate faults")

    def word_closed_form(self, width: int, golden: np.ndarray, signed: bool, d: float) -> dict | None:
        """Where this noise alone sets the break-down of `width`-bit result words whatever computed them (golden:
        the noise-free words; d: the disagreement criterion): {"formula", "level"}, a check of the estimator;
        None where no closed form is known."""
        return None

    # -- derived --------------------------------------------------------------------------------------
    def at(self, level: float) -> NoiseModel:
        return dataclasses.replace(self, level=level)

    @property
    def params(self) -> dict:
        """The fixed parameters (every field but the level)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "level"}

    @property
    def more_noise_is_higher(self) -> bool:
        return self.severity(2.0) > self.severity(1.0)

    def plan(self, site: str | Site) -> FaultPlan:
        """What this noise does at `site`, drawn per trial from the trial's generator."""
        site = site_named(site) if isinstance(site, str) else site
        if site.gate_level:
            self.check_gate_site(site)
        elif not self.word_level:
            raise NoiseError(f"site {site.name!r} holds words and cannot take {self.kind} noise (realised only at "
                             f"gate sites: {', '.join(s.name for s in SITES.values() if s.gate_level)})")
        return FaultPlan(self, site)

    def check_gate_site(self, site: Site) -> None:
        """NoiseError unless this model can be realised as faults of the single gate outputs of `site`."""
        if not self.gate_level:
            raise NoiseError(f"site {site.name!r} holds single bits and cannot take {self.kind} noise "
                             f"(allowed there: {', '.join(k for k, c in KINDS.items() if c.gate_level)})")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "level": self.level, **{k: (list(v) if isinstance(v, tuple) else v)
                                                           for k, v in self.params.items()}}

    def _extra_label(self) -> str:
        return ""

    def label(self) -> str:
        """kind(level, parameters); the level written exactly (%g when that round-trips, else repr), so
        distinct levels never share a label, a point id or a seed."""
        short = f"{self.level:g}"
        level = short if float(short) == self.level else repr(self.level)
        return f"{self.kind}({level}{self._extra_label()})"


@dataclass(frozen=True)
class FaultPlan:
    """A noise model at one site: `plan(values, width, signed, rng)` realises it on words (the integer engine's
    hook contract), `plan.gates(n_gates, rng)` as gate faults."""

    noise: NoiseModel
    site: Site

    def __call__(self, values, width: int, signed: bool, rng: np.random.Generator) -> np.ndarray:
        return apply_words(self.noise, values, width, signed, rng, self.site.batch_axis)

    def gates(self, n_gates: int, rng: np.random.Generator) -> GateFaultPlan:
        return GateFaults() if self.noise.is_clean else self.noise.gate_faults(n_gates, rng)

    @property
    def xor(self) -> bool:
        """True when the realisation on words is an XOR of flips drawn independently of the values (`flips`)."""
        return self.noise.xor_flips

    def flips(self, n_words: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """What calling this plan on n_words `width`-bit words draws, as (word indices, XOR masks) (see
        NoiseModel.flips; nothing drawn at the clean level or without words, as apply_words); only where `xor`."""
        if self.noise.is_clean or n_words == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.uint64)
        return self.noise.flips(n_words, width, rng)


def _to_unsigned(values: np.ndarray, width: int, signed: bool) -> np.ndarray:
    v = np.asarray(values, dtype=np.int64)
    return (v & ((1 << width) - 1)).astype(np.uint64) if signed or width < 64 else v.astype(np.uint64)


def _from_unsigned(u: np.ndarray, width: int, signed: bool) -> np.ndarray:
    v = u.astype(np.int64)
    return to_signed(v, width) if signed else v


@functools.lru_cache(maxsize=256)
def _lanes(bits: tuple | None, width: int) -> np.ndarray:
    """The bit positions of a `width`-bit word that may flip (bits: BitFlip.bits), int64, read-only."""
    lanes = np.array([b for b in (bits if bits is not None else range(width)) if b < width], np.int64)
    lanes.flags.writeable = False
    return lanes


@njit(cache=True, nogil=True)
def _by_word(pos: np.ndarray, lanes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct flip positions (word * len(lanes) + lane) -> (the flipped words, ascending, their masks:
    uint64 with bit lanes[lane] set for every flip of the word)."""
    words, masks = np.empty(len(pos), np.int64), np.zeros(len(pos), np.uint64)
    k, nl = -1, len(lanes)
    for t in range(len(pos)):
        word = pos[t] // nl
        if k < 0 or words[k] != word:
            k += 1
            words[k] = word
        masks[k] |= np.uint64(1) << np.uint64(lanes[pos[t] - word * nl])
    return words[:k + 1], masks[:k + 1]


def _wrapped(values: np.ndarray, width: int, signed: bool) -> np.ndarray:
    """A fresh int64 copy of `values`, each wrapped into the `width`-bit word's range (two's complement when
    signed); the wrap costs a pass only when some value lies outside it."""
    v = np.array(values, dtype=np.int64)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if width < 64 and v.size and (v.min() < lo or v.max() > hi):
        v = _from_unsigned(_to_unsigned(v, width, signed), width, signed).reshape(v.shape)
    return v


@dataclass(frozen=True)
class BitFlip(NoiseModel):
    """Each bit at the site flips independently with probability p (level), fresh at every evaluation;
    bits: the bit positions that may flip (None: all)."""

    bits: tuple | None = None
    kind: ClassVar[str] = "bitflip"
    level_name: ClassVar[str] = "bit-flip probability p per bit"
    log_axis: ClassVar[bool] = True
    level_unit: ClassVar[str] = "p"
    per_element_probability: ClassVar[bool] = True
    default_target_width: ClassVar[float] = 0.1  # decades
    xor_flips: ClassVar[bool] = True
    summary: ClassVar[str] = "each bit at the site flips independently with probability p (level: p in [0, 1])"

    def check_level(self, level):
        if not 0.0 <= level <= 1.0:
            raise NoiseError(f"bitflip level p = {level} is outside [0, 1]")
        if self.bits is not None:
            object.__setattr__(self, "bits", tuple(int(b) for b in self.bits))
            if any(b < 0 for b in self.bits):
                raise NoiseError("bits (positions) must be >= 0")

    def severity(self, level):
        return math.log10(level) if level > 0 else -math.inf

    def level_at(self, severity):
        return 10 ** severity

    def midpoint(self, a, b):
        return math.sqrt(a * b) if a > 0 and b > 0 else (a + b) / 2

    def words(self, values, width, signed, rng, batch_axis=True):
        if not len(_lanes(self.bits, width)):
            return values
        out = _wrapped(values, width, signed)
        words, masks = self.flips(out.size, width, rng)
        if len(words):
            flat = out.reshape(-1)
            u = _to_unsigned(flat[words], width, signed) ^ masks
            flat[words] = _from_unsigned(u, width, signed)  # only the flipped words leave the int64 array
        return out

    def flips(self, n_words, width, rng):
        lanes = _lanes(self.bits, width)
        return _by_word(flip_positions(n_words * len(lanes), self.level, rng) if len(lanes) else lanes, lanes)

    def check_gate_site(self, site):
        if self.bits is not None:
            raise NoiseError(f"site {site.name!r}: bit positions apply to word sites only")

    def gate_faults(self, n_gates, rng):
        return GateFaults(flip_p=self.level)

    def word_closed_form(self, width, golden, signed, d):
        """Every bit of the word flips independently with probability p: the word is exact with probability
        (1 - p)^W, so p = 1 - (1 - d)^(1/W) (all bits only: a per-bit view has no word closed form here)."""
        if self.bits is not None:
            return None
        return {"formula": f"1 - (1 - p)^{width} = {d:g}", "level": 1 - (1 - d) ** (1 / width)}

    def _extra_label(self):
        return f", bits {list(self.bits)}" if self.bits is not None else ""


MAX_STUCK = 2 ** 31 - 1  # stuck-at faults per trial, whatever the site


@dataclass(frozen=True)
class StuckAt(NoiseModel):
    """k (level) permanent stuck-at faults at random locations and values, drawn once per trial."""

    kind: ClassVar[str] = "stuck_at"
    level_name: ClassVar[str] = "stuck-at faults k (count)"
    level_unit: ClassVar[str] = "faults"
    summary: ClassVar[str] = "k random permanent stuck-at faults drawn once per trial (level: k >= 0)"
    transient: ClassVar[bool] = False
    log_axis: ClassVar[bool] = True  # fails when any of k faults is critical: 1 - exp(-c k), linear in log k
    default_target_width: ClassVar[float] = 0.1  # decades of k

    def check_level(self, level):
        if level < 0 or level != int(level) or level > MAX_STUCK:
            raise NoiseError(f"stuck_at level k = {level:g} must be a whole number >= 0 and at most {MAX_STUCK}")

    def check_locations(self, n):
        if self.level > n:
            raise NoiseError(f"stuck_at level k = {self.level:g} exceeds the {n} gates it can fall on")

    def severity(self, level):
        return math.log10(level) if level > 0 else -math.inf

    def level_at(self, severity):
        return 10 ** severity

    def design_level(self, severity):
        return float(max(1, round(10 ** severity)))

    def midpoint(self, a, b):
        mid = float(round(math.sqrt(a * b)) if a > 0 and b > 0 else (int(a) + int(b)) // 2)
        return None if mid in (a, b) else mid

    def words(self, values, width, signed, rng, batch_axis=True):
        per_sample = batch_axis and values.ndim > 1
        shape = values.shape[1:] if per_sample else values.shape
        faults = draw_stuck(int(np.prod(shape)) * width, int(self.level), rng)
        u = _to_unsigned(values, width, signed).reshape((values.shape[0], -1) if per_sample else (1, -1))
        for loc, s in faults:
            w, b = divmod(loc, width)
            m = np.uint64(1) << np.uint64(b)
            u[:, w] = (u[:, w] | m) if s else (u[:, w] & ~m)
        return _from_unsigned(u.reshape(-1), width, signed).reshape(values.shape)

    def gate_faults(self, n_gates, rng):
        return GateFaults(stuck=tuple(draw_stuck(n_gates, int(self.level), rng)))


@dataclass(frozen=True)
class Additive(NoiseModel):
    """q = f - alpha*r, r Gaussian or uniform with E r^2 = 1, alpha from the signal power at the site so that
    the SNR is `level` bits (inf: no noise); integer sites round back and clip to their range."""

    dist: str = "gaussian"
    kind: ClassVar[str] = "additive"
    level_name: ClassVar[str] = "SNR of the injected noise (bits)"
    level_unit: ClassVar[str] = "bits SNR"
    summary: ClassVar[str] = "q = f - alpha*r, E|r|^2 = 1, r gaussian|uniform (level: SNR in bits)"
    gap_axis: ClassVar[GapAxis] = BITS
    gate_level: ClassVar[bool] = False
    clean_level: ClassVar[float] = math.inf
    default_target_width: ClassVar[float] = 0.25  # bits
    DISTS: ClassVar[tuple] = ("gaussian", "uniform")

    def check_level(self, level):
        if not -64 <= level <= 64 and level != math.inf:
            raise NoiseError(f"additive level (SNR in bits) = {level} is outside [-64, 64] (or inf for no noise)")
        if self.dist not in self.DISTS:
            raise NoiseError(f"additive dist {self.dist!r} is unknown (allowed: {', '.join(self.DISTS)})")

    def severity(self, level):
        return -float(level)

    def level_at(self, severity):
        return -severity

    def word_closed_form(self, width, golden, signed, d):
        """alpha r is rounded and clipped to the word's range: a word changes when |alpha r| >= 1/2 (half an LSB),
        and a word on the edge of the range (0 unsigned) only towards the inside; with s the mean number of open
        sides per word (2 minus the fraction on an edge), d = s q where q = P(alpha r >= 1/2) = Q(1 / (2 alpha))
        (Gaussian) or 1/2 - 1/(4 sqrt(3) alpha) (uniform), so SNR = log2(sqrt(P) / alpha) with alpha =
        1 / (2 Q^-1(d / s)) or 1 / (4 sqrt(3) (1/2 - d / s)), P the mean square of the golden words."""
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
        g = np.asarray(golden, np.float64)
        rms = math.sqrt(float(np.mean(np.square(g))))
        sides = float(np.mean((g > lo).astype(np.float64) + (g < hi)))
        if rms == 0:
            return None
        q = d / sides
        if self.dist == "gaussian":
            alpha, law = 1 / (2 * NormalDist().inv_cdf(1 - q)), "Q(1/(2 alpha))"
        else:
            alpha, law = 1 / (4 * math.sqrt(3) * (0.5 - q)), "(1/2 - 1/(4 sqrt(3) alpha))"
        return {"formula": f"{sides:.4g} {law} = {d:g}, SNR = log2({rms:.6g} / alpha)",
                "level": math.log2(rms / alpha)}

    def words(self, values, width, signed, rng, batch_axis=True):
        power = float(np.mean(np.square(values, dtype=np.float64)))
        alpha = math.sqrt(power / 2.0 ** (2 * self.level)) if power > 0 else 0.0
        r = rng.standard_normal(values.shape) if self.dist == "gaussian" else \
            rng.uniform(-math.sqrt(3), math.sqrt(3), values.shape)
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
        return np.clip(np.round(values - alpha * r), lo, hi).astype(np.int64)

    def _extra_label(self):
        return f", {self.dist}"


def _decades_shorter(network: float, circuit: float) -> float:
    return math.log10(circuit / network) if network > 0 and circuit > 0 else math.nan


PERIOD_DECADES = GapAxis("decades", _decades_shorter)  # a shorter period tolerated = more tolerant
VOLTS = GapAxis("V", lambda network, circuit: circuit - network)  # a lower supply tolerated = more tolerant


@dataclass(frozen=True)
class _Timing(NoiseModel):
    """What the timing kinds share: the gate delays ("unit" or "cells", circuits.timing.TABLES), process
    variation sigma (log-normal per gate; one chip per trial, drawn from the trial's seed), the clocking model
    ("continuous" or "settled"), the operand order ("random": a new order per trial, of the vectors of a circuit
    or of the test inputs of a network; "given") and, at a network's multipliers and processing elements, the
    dataflow ("output-stationary": the inputs of one dot product in sequence, the accumulator held in the element;
    "weight-stationary": one weight held while the test inputs stream, partial sums passed on). Realised only at
    gate sites with a timing model (Site.timed), as a circuits.TimingPlan that the simulator runs through the
    timed simulator (the processing element: hardware.pe.timed_accumulate, the period relative to the element's
    critical path); the level that injects nothing is inf (an unbounded period or supply)."""

    delays: str = "unit"
    sigma: float = 0.05
    clocking: str = "continuous"
    order: str = "random"
    dataflow: str = "output-stationary"
    transient: ClassVar[bool] = False  # one chip per trial: the samples of a trial share it
    word_level: ClassVar[bool] = False
    clean_level: ClassVar[float] = math.inf
    ORDERS: ClassVar[tuple] = ("random", "given")

    def check_level(self, level):
        if self.delays not in TIMING_TABLES:
            raise NoiseError(f"{self.kind} delays {self.delays!r} is unknown (allowed: {', '.join(TIMING_TABLES)})")
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) or not 0 <= self.sigma <= 0.5:
            raise NoiseError(f"{self.kind} sigma (process variation) must be a number in [0, 0.5], "
                             f"got {self.sigma!r}")
        if self.clocking not in CLOCKINGS:
            raise NoiseError(f"{self.kind} clocking {self.clocking!r} is unknown (allowed: {', '.join(CLOCKINGS)})")
        if self.order not in self.ORDERS:
            raise NoiseError(f"{self.kind} order {self.order!r} is unknown (allowed: {', '.join(self.ORDERS)})")
        if self.dataflow not in DATAFLOWS:
            raise NoiseError(f"{self.kind} dataflow {self.dataflow!r} is unknown (allowed: {', '.join(DATAFLOWS)})")

    def check_gate_site(self, site):
        if not site.timed:
            raise NoiseError(f"site {site.name!r}: {self.kind} noise is realised at a circuit's gate site and at "
                             "the multipliers and accumulator adders of a network (mac-gate, pe-add, pe-gate) only")

    def words(self, values, width, signed, rng, batch_axis=True):
        raise NoiseError(f"{self.kind} noise acts on gates only")

    def severity(self, level):
        return -math.log10(level) if level > 0 else math.inf

    def level_at(self, severity):
        return 10 ** -severity

    def midpoint(self, a, b):
        return math.sqrt(a * b) if 0 < a < math.inf and 0 < b < math.inf else None

    def _plan(self, period: float, relative: bool, delay_scale: float = 1.0, energy_scale: float = 1.0):
        return TimingPlan(period, relative, self.delays, float(self.sigma), delay_scale, energy_scale,
                          self.clocking, self.order == "random", self.dataflow)

    def _extra_label(self):
        return f", {self.delays}, sigma {self.sigma:g}, {self.clocking}, {self.order} order, {self.dataflow}"


@dataclass(frozen=True)
class Clock(_Timing):
    """Clock overscaling: the period T (level) in units of the netlist's nominal critical path delay D (1.0:
    nominal), or in delay units when `absolute`; more noise is a shorter period (severity -log10 T)."""

    absolute: bool = False
    kind: ClassVar[str] = "clock"
    level_name: ClassVar[str] = "clock period T (units of D)"
    level_unit: ClassVar[str] = "T/D"
    default_target_width: ClassVar[float] = 0.01  # decades of T: 2.3%
    gap_axis: ClassVar[GapAxis] = PERIOD_DECADES
    summary: ClassVar[str] = ("timing errors of a clock period T (level: T/D, or delay units with absolute = "
                              "true); delays unit|cells, sigma (process variation), clocking, order, dataflow")

    def check_level(self, level):
        super().check_level(level)
        if not level > 0:
            raise NoiseError(f"clock level (period T) = {level} must be > 0 (inf: no timing errors)")
        if not isinstance(self.absolute, bool):
            raise NoiseError(f"clock absolute must be true or false, got {self.absolute!r}")

    def gate_faults(self, n_gates, rng):
        return self._plan(self.level, not self.absolute)

    def _extra_label(self):
        return (" delay units" if self.absolute else "") + super()._extra_label()


@dataclass(frozen=True)
class Voltage(_Timing):
    """Supply voltage scaling: the supply V (level, volts) slows every gate by the alpha-power law (Sakurai and
    Newton 1990), d(V) proportional to V / (V - vt)^alpha, relative to d(v_nominal), while the clock stays at the
    nominal critical path delay plus a guard band, T = (1 + guard) D; the energy per transition scales with
    (V / v_nominal)^2. Defaults: vt = 0.3 V, alpha = 1.3, v_nominal = 1.0 V, guard = 0.05. More noise is a lower
    supply (severity -log10 V)."""

    vt: float = 0.3
    alpha: float = 1.3
    v_nominal: float = 1.0
    guard: float = 0.05
    kind: ClassVar[str] = "voltage"
    level_name: ClassVar[str] = "supply voltage V (volts)"
    level_unit: ClassVar[str] = "V"
    default_target_width: ClassVar[float] = 0.005  # decades of V: 1.2%
    gap_axis: ClassVar[GapAxis] = VOLTS
    summary: ClassVar[str] = ("timing errors of a supply V (level: volts; alpha-power law delays vt, alpha, "
                              "v_nominal; clock (1 + guard) D); delays, sigma, clocking, order, dataflow")

    def check_level(self, level):
        super().check_level(level)
        for name in ("vt", "alpha", "v_nominal", "guard"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise NoiseError(f"voltage {name} must be a finite number, got {v!r}")
        if not 0 < self.vt < self.v_nominal:
            raise NoiseError(f"voltage vt = {self.vt} must be in (0, v_nominal = {self.v_nominal})")
        if not 1 <= self.alpha <= 2:
            raise NoiseError(f"voltage alpha = {self.alpha} must be in [1, 2] (the alpha-power law)")
        if not 0 <= self.guard <= 1:
            raise NoiseError(f"voltage guard = {self.guard} must be in [0, 1] (a fraction of D)")
        if not level > self.vt:
            raise NoiseError(f"voltage level V = {level} must be above the threshold vt = {self.vt} "
                             "(inf: no timing errors)")

    def delay_factor(self, volts: float) -> float:
        """Gate delay at `volts` over the delay at v_nominal (alpha-power law)."""
        def d(v):
            return v / (v - self.vt) ** self.alpha
        return d(volts) / d(self.v_nominal)

    def gate_faults(self, n_gates, rng):
        return self._plan(1 + self.guard, True, self.delay_factor(self.level), (self.level / self.v_nominal) ** 2)

    def _extra_label(self):
        return (f", vt {self.vt:g}, alpha {self.alpha:g}, v_nominal {self.v_nominal:g}, guard {self.guard:g}"
                + super()._extra_label())


def make_noise(kind: str, level: float, **params) -> NoiseModel:
    """The noise model of a registered kind; NoiseError for an unknown kind or parameter."""
    cls = KINDS.get(kind)
    if cls is None:
        raise NoiseError(f"noise kind {kind!r} is unknown (allowed: {', '.join(KINDS)})")
    allowed = {f.name for f in dataclasses.fields(cls)} - {"level"}
    unknown = set(params) - allowed
    if unknown:
        raise NoiseError(f"{kind} noise takes no parameter(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(sorted(allowed)) or 'none'})")
    return cls(level, **params)


def bitflip(p: float, bits=None) -> BitFlip:
    return BitFlip(p, bits)


def stuck_at(k: int) -> StuckAt:
    return StuckAt(k)


def additive(snr_bits: float, dist: str = "gaussian") -> Additive:
    return Additive(snr_bits, dist)


def apply_words(noise: NoiseModel, values: np.ndarray, width: int, signed: bool, rng: np.random.Generator,
                batch_axis: bool = True) -> np.ndarray:
    """Realise `noise` on an array of `width`-bit integer words (see NoiseModel.words)."""
    values = np.asarray(values, dtype=np.int64)
    if noise.is_clean or values.size == 0:
        return values
    return noise.words(values, width, signed, rng, batch_axis)
