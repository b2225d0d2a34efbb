"""The comparator: sweeps, break-down levels with intervals, tolerance gaps, and the three framings.

A Sweep holds one (system, site, noise kind) over levels. It asks for trials (`pending()`), pools their rows
(`add()`), stops a point when its task-metric interval excludes the threshold or is narrower than
`margin` (the sample-size rule), refines the bracket of the first crossing by bisection (log scale for
probabilities), and locates the break-down level by interpolation, with an interval from the crossings
of the interval bounds. The same object drives `compare()` in-process and the campaign runner.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from testbed.errors import TestbedError
from testbed.noise import BITS, GapAxis, NoiseModel, bitflip
from testbed.rng import derive_seed


@dataclass
class Breakdown:
    """Level where the task metric crosses its threshold, within [lo, hi] (the crossings of the metric's
    interval bounds);
    censored: '' when bracketed, 'above' when the metric never fell (level = most severe tested),
    'below' when it failed already at the least severe level. error_snr_bits: the site's error SNR there."""

    system: str
    metric: str
    level: float
    lo: float
    hi: float
    error_snr_bits: float
    error_snr_lo: float
    error_snr_hi: float
    censored: str = ""

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


class Sweep:
    """One system at one site under one noise kind, over a grid of levels (see the module docstring)."""

    def __init__(self, system, site: str, noise: NoiseModel, levels, *, seed: int = 0, min_trials: int = 2,
                 max_trials: int = 8, margin: float = 0.01, refine: int = 3, threshold: float | None = None,
                 label: str | None = None, confidence: float = 0.95):
        system.site(noise, site)
        if len(levels) < 2:
            raise TestbedError("levels: a sweep needs at least two levels")
        for lv in levels:
            noise.at(lv)  # validates each level
        if not 1 <= min_trials <= max_trials:
            raise TestbedError(f"trials: need 1 <= min_trials <= max_trials, got {min_trials}, {max_trials}")
        self.system, self.site, self.noise = system, site, noise
        self.label = label or f"{system.name}@{site}"
        self.seed, self.min_trials, self.max_trials, self.margin = seed, min_trials, max_trials, margin
        self.refine_steps, self.confidence = refine, confidence
        self.grid = {float(v) for v in levels}
        self.rows: dict[float, dict[int, dict]] = {lv: {} for lv in sorted(self.grid, key=self.severity)}
        self._metrics: dict[float, dict] = {}
        self.metric = system.metric
        self.threshold = system.threshold if threshold is None else threshold

    def severity(self, level: float) -> float:
        """An axis on which larger means more noise (the noise model's)."""
        return self.noise.severity(level)

    def point_id(self, level: float) -> str:
        return f"{self.label}|{self.noise.at(level).label()}"

    def trial_seed(self, level: float, trial: int) -> int:
        return derive_seed(self.seed, self.point_id(level), trial)

    def run_trial(self, level: float, trial: int) -> dict:
        return self.system.trial(self.noise.at(level), self.site, self.trial_seed(level, trial))

    def add(self, level: float, trial: int, row: dict) -> None:
        self.rows.setdefault(float(level), {})[trial] = row
        self._metrics.pop(float(level), None)

    # -- pooled metrics -------------------------------------------------------------------------------
    def metrics(self, level: float) -> dict:
        """Pooled metrics of a level, computed once per set of trials (add() forgets them)."""
        if level not in self._metrics:
            rows = [self.rows[level][t] for t in sorted(self.rows[level])]
            self._metrics[level] = self.system.pool(rows, self.noise, self.confidence)
        return self._metrics[level]

    def _settled(self, level: float) -> bool:
        rows = self.rows.get(level, {})
        if len(rows) < self.min_trials:
            return False
        if len(rows) >= self.max_trials:
            return True
        value, lo, hi = self.metrics(level)[self.metric]
        return hi < self.threshold or lo >= self.threshold or (hi - lo) / 2 <= self.margin

    def pending(self) -> list[tuple[float, int]]:
        """The (level, trial) pairs to run next; empty when the sweep is complete.

        Depends only on the rows present (so a resumed run asks for exactly what an uninterrupted one
        would); it adds the refinement level it asks for to `rows`. First fill missing trials below the highest
        one present, then one more trial for every unsettled level, then one refinement level between the
        bracketing levels.
        """
        need = []
        for lv in sorted(self.rows, key=self.severity):
            have = self.rows[lv]
            holes = [t for t in range(max(have, default=-1) + 1) if t not in have]
            if holes:
                need += [(lv, t) for t in holes]
            elif not self._settled(lv):
                need += [(lv, t) for t in range(len(have), max(self.min_trials, len(have) + 1))]
        if need:
            return need
        if len(set(self.rows) - self.grid) < self.refine_steps:
            mid = self._bisect()
            if mid is not None:
                self.rows[mid] = {}
                return [(mid, t) for t in range(self.min_trials)]
        return []

    def _bisect(self) -> float | None:
        levels = sorted(self.rows, key=self.severity)
        values = [self.metrics(lv)[self.metric][0] for lv in levels]
        for i in range(1, len(levels)):
            if values[i] < self.threshold <= values[i - 1]:
                mid = self.noise.midpoint(levels[i - 1], levels[i])
                return mid if mid is not None and mid not in self.rows else None
        return None

    # -- results ---------------------------------------------------------------------------------------
    def curve(self) -> list[dict]:
        """Per level (least severe first): level, the metric (value, lo, hi) and every pooled measurement."""
        out = []
        for lv in sorted(self.rows, key=self.severity):
            if self.rows[lv]:
                out.append({"level": lv, **self.metrics(lv)})
        return out

    def breakdown(self, metric: str | None = None, threshold: float | None = None) -> Breakdown:
        metric = metric or self.metric
        threshold = self.threshold if threshold is None else threshold
        pts = self.curve()
        xs = np.array([self.severity(p["level"]) for p in pts])
        finite = np.isfinite(xs)
        pts, xs = [p for p, f in zip(pts, finite, strict=True) if f], xs[finite]
        val = np.array([p[metric][0] for p in pts])
        lo = np.array([p[metric][1] for p in pts])
        hi = np.array([p[metric][2] for p in pts])
        snr = np.array([p["error_snr_bits"] for p in pts], dtype=np.float64)
        x, censored = _crossing(xs, val, threshold)
        x_early, _ = _crossing(xs, lo, threshold)  # lower bound falls first: least severe end
        x_late, _ = _crossing(xs, hi, threshold)
        lo_level, hi_level = sorted((self._level(x_early), self._level(x_late)))
        snr_lo, snr_hi = sorted((_interp_snr(xs, snr, x_early), _interp_snr(xs, snr, x_late)))
        return Breakdown(self.label, metric, self._level(x), lo_level, hi_level, _interp_snr(xs, snr, x),
                         snr_lo, snr_hi, censored or "")

    def _level(self, x: float) -> float:
        return self.noise.level_at(x)


def _crossing(xs: np.ndarray, values: np.ndarray, threshold: float) -> tuple[float, str | None]:
    """First x where values fall below threshold, interpolated linearly between the bracketing points."""
    if len(xs) == 0:
        return math.nan, "above"
    if values[0] < threshold:
        return float(xs[0]), "below"
    for i in range(1, len(xs)):
        if values[i] < threshold:
            v0, v1 = values[i - 1], values[i]
            t = (v0 - threshold) / (v0 - v1) if v0 != v1 else 0.5
            return float(xs[i - 1] + t * (xs[i] - xs[i - 1])), None
    return float(xs[-1]), "above"


def _interp_snr(xs, snr, x) -> float:
    """Error SNR at severity x, interpolated between the finite measurements (an error-free point has
    infinite SNR and is left out, so next to one the nearest finite value is returned)."""
    finite = np.isfinite(snr)
    if not finite.any() or not math.isfinite(x):
        return math.inf if len(snr) and not finite.any() and math.isfinite(x) else math.nan
    return float(np.interp(x, xs[finite], snr[finite]))


def run_sweep(sweep: Sweep) -> Sweep:
    """Run a sweep in this process until it asks for nothing more."""
    while True:
        todo = sweep.pending()
        if not todo:
            return sweep
        for level, trial in todo:
            sweep.add(level, trial, sweep.run_trial(level, trial))


@dataclass
class Gap:
    network: str
    circuit: str
    value: float
    lo: float
    hi: float
    unit: str  # "decades" (network level / circuit level) or "bits" (circuit SNR - network SNR)
    censored: str = ""

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


def gap(network: Breakdown, circuit: Breakdown, noise: NoiseModel, axis: str = "level") -> Gap:
    """Tolerance gap on the noise's own gap axis (decades between probabilities, bits between SNRs), or
    with axis='error_snr' in bits between the error SNRs at break-down; positive when the network tolerates
    more. censored: the gap is only a bound because a break-down level lies outside the levels swept."""
    censored = "; ".join(f"{b.system} {b.censored}" for b in (network, circuit) if b.censored)
    if axis == "error_snr":
        scale: GapAxis = BITS
        n = (network.error_snr_bits, network.error_snr_lo, network.error_snr_hi)
        c = (circuit.error_snr_bits, circuit.error_snr_lo, circuit.error_snr_hi)
    else:
        scale = noise.gap_axis
        n, c = (network.level, network.lo, network.hi), (circuit.level, circuit.lo, circuit.hi)
    ends = (scale.gap(n[1], c[2]), scale.gap(n[2], c[1]))
    return Gap(network.system, circuit.system, scale.gap(n[0], c[0]), min(ends), max(ends), scale.unit, censored)


class Comparison:
    """The result of compare(): sweeps by label, with break-down levels, gaps and tabular/JSON access."""

    def __init__(self, sweeps: list[Sweep], noise: NoiseModel):
        self.sweeps = {s.label: s for s in sweeps}
        self.noise = noise
        self.breakdown = {label: s.breakdown() for label, s in self.sweeps.items()}
        for label, s in self.sweeps.items():
            for suffix, (metric, threshold) in s.system.baselines.items():
                self.breakdown[label + suffix] = s.breakdown(metric, threshold)

    def gap(self, network: str, circuit: str, axis: str = "level") -> Gap:
        for name in (network, circuit):
            if name not in self.breakdown:
                raise TestbedError(f"no sweep named {name!r} (have: {', '.join(self.breakdown)})")
        return gap(self.breakdown[network], self.breakdown[circuit], self.noise, axis)

    def to_rows(self) -> list[dict]:
        rows = []
        for label, s in self.sweeps.items():
            for p in s.curve():
                metric = p[s.metric]
                rows.append({"system": label, "site": s.site, "noise": s.noise.kind, "level": p["level"],
                             "metric": s.metric, "value": metric[0], "lo": metric[1], "hi": metric[2],
                             "error_snr_bits": p["error_snr_bits"], "trials": p["trials"]})
        return rows

    def to_json(self) -> str:
        return json.dumps({"noise": self.noise.to_dict(), "rows": self.to_rows(),
                           "breakdown": {k: b.to_dict() for k, b in self.breakdown.items()}},
                          default=lambda v: None)


def compare(systems, noise: NoiseModel, levels, sites=None, seed: int = 0, **sweep_options) -> Comparison:
    """Sweep every system under `noise` over `levels` and locate their break-down levels.

    systems: a list of systems (circuit site 'gate', network site 'mac-gate' by default) or of
    (system, site) pairs. Returns a Comparison: .breakdown[label], .gap(network, circuit), .to_rows().
    """
    sweeps = []
    for item in systems:
        system, site = item if isinstance(item, tuple) else (item, None)
        site = site or (sites or {}).get(system.name) or system.default_site
        sweeps.append(run_sweep(Sweep(system, site, noise, levels, seed=seed, **sweep_options)))
    return Comparison(sweeps, noise)


def per_bit_breakdowns(system, levels, seed: int = 0, **sweep_options) -> list[Breakdown]:
    """The per-bit view: break-down level of bitflip when only bit k of each result word (the system's
    word_site) can flip, for every k (bit 0 first); shows which bits carry the tolerance."""
    out = []
    site = system.word_site
    for k in range(system.word_width):
        sweep = Sweep(system, site, bitflip(0.0, bits=(k,)), levels, seed=seed,
                      label=f"{system.name}@{site}[bit {k}]", **sweep_options)
        out.append(run_sweep(sweep).breakdown())
    return out
