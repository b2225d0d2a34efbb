"""The comparator: sweeps, break-down levels with intervals, tolerance gaps, and the three framings.

A Sweep holds one (system, site, noise kind) over levels. It asks for trials (`pending()`), pools their rows
(`add()`), stops a grid point when its task-metric interval excludes the threshold or is narrower than `margin`,
and refines the bracket of the crossing by bisection. The break-down level is a dose-response estimate from every
trial near the threshold: the failure rate of each trial (circuits: wrong outputs; networks: inputs lost minus
inputs gained against the noise-free prediction, so the threshold is the accuracy drop, a net count that may be
negative) is fitted by quasi-likelihood estimating equations (binomial variance times a dispersion, complementary
log-log link) in the severity axis (log10 p for bit flips, -SNR for additive noise), and the interval is Fieller's
interval of the crossing with the dispersion max(1, Pearson, replicate) (testbed.stats.crossing_fit). Where no fit
determines the crossing, the levels on either side of the step that a dispersion-aware test of their pooled rates
decides (stats.rate_side, with the trials' replicate dispersion) bound it ('bracket'); an end no level decides is
left open (NaN). A narrower bracket never replaces a fit's interval (choosing the narrower of two intervals would
lose coverage). A sequential design then places trials at the current estimate and half an interval on either side
until the interval is narrower than `target_width` (severity units: decades, bits) or the sweep has used `budget`
trials. A network's interval is conditional on its test set. The same object drives `compare()` in-process and the
campaign runner.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from testbed.errors import NoiseError, TestbedError
from testbed.noise import BITS, GapAxis, NoiseModel, bitflip
from testbed.rng import derive_seed
from testbed.settings import SETTINGS
from testbed.stats import crossing_fit, rate_side, replicate_dispersion, z_value

DESIGN_TRIALS = 1 << 20  # trial numbers of the sequential design start here, apart from grid and refinement trials


@dataclass
class Breakdown:
    """Level where the task metric crosses its threshold, within the interval [lo, hi];
    censored: '' when bracketed, 'above' when the metric never fell (level = the most severe level tested, a
    bound: the break-down lies beyond it), 'below' when it failed already at the least severe level (level =
    that level, again a bound); of a censored break-down, the end of [lo, hi] the bound leaves open is NaN.
    error_snr_bits: the site's error SNR there. se and width: standard error and interval width on the
    severity axis (decades, bits); method: 'quasi-likelihood fit', 'bracket' (no fit determines it: the
    levels decidedly under and over the threshold either side of the step bound it, by tests that use the
    trials' dispersion; an end none decides is NaN) or 'censored';
    trials: trials in the sweep; budget_reached: the interval is wider than the target and the trial budget
    is spent."""

    system: str
    metric: str
    level: float
    lo: float
    hi: float
    error_snr_bits: float
    error_snr_lo: float
    error_snr_hi: float
    censored: str = ""
    se: float = math.nan
    width: float = math.nan
    method: str = ""
    trials: int = 0
    budget_reached: bool = False
    severity: float = math.nan

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


class Sweep:
    """One system at one site under one noise kind, over a grid of levels (see the module docstring)."""

    def __init__(self, system, site: str, noise: NoiseModel, levels, *, seed: int = 0,
                 min_trials: int = SETTINGS.min_trials, max_trials: int = SETTINGS.max_trials,
                 margin: float = SETTINGS.margin, refine: int = SETTINGS.refine, threshold: float | None = None,
                 label: str | None = None, confidence: float = SETTINGS.confidence,
                 target_width: float | None = SETTINGS.target_width, budget: int = SETTINGS.budget, batch: int = 4):
        locations = system.fault_locations(system.site(noise, site))
        if len(levels) < 2:
            raise TestbedError("levels: a sweep needs at least two levels")
        for lv in levels:
            at = noise.at(lv)  # validates each level
            if locations is not None:
                try:
                    at.check_locations(locations)
                except NoiseError as exc:
                    raise NoiseError(f"{label or system.name + '@' + site}: {exc}") from None
        if not 1 <= min_trials <= max_trials:
            raise TestbedError(f"trials: need 1 <= min_trials <= max_trials, got {min_trials}, {max_trials}")
        self.system, self.site, self.noise = system, site, noise
        self.label = label or f"{system.name}@{site}"
        self.seed, self.min_trials, self.max_trials, self.margin = seed, min_trials, max_trials, margin
        self.refine_steps, self.confidence = refine, confidence
        self.target_width = noise.default_target_width if target_width is None else float(target_width)
        self.budget, self.batch = int(budget), int(batch)  # budget 0: no sequential design
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
        one present, and complete every started batch of the sequential design (its trials are numbered from
        DESIGN_TRIALS, batch by batch), then one more trial for every unsettled level, then one refinement level
        between the bracketing levels, then the sequential design.
        """
        need = []
        for lv in sorted(self.rows, key=self.severity):
            have = self.rows[lv]
            plain = [t for t in have if t < DESIGN_TRIALS]
            design = [t - DESIGN_TRIALS for t in have if t >= DESIGN_TRIALS]
            batches = (max(design) // self.batch + 1) * self.batch if design else 0
            holes = [t for t in range(max(plain, default=-1) + 1) if t not in have]
            holes += [DESIGN_TRIALS + t for t in range(batches) if DESIGN_TRIALS + t not in have]
            if holes:
                need += [(lv, t) for t in holes]
            elif (plain or not design) and not self._settled(lv):  # grid and refinement levels
                need += [(lv, t) for t in range(len(plain), max(self.min_trials, len(plain) + 1))]
        if need:
            return need
        if len(set(self.rows) - self.grid) < self.refine_steps:
            mid = self._bisect()
            if mid is not None:
                self.rows[mid] = {}
                return [(mid, t) for t in range(self.min_trials)]
        return self._sequential()

    def trials(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def _sequential(self) -> list[tuple[float, int]]:
        """`batch` more trials at one design point: in turn the current estimate minus half an interval, the
        estimate, and plus half an interval (snapped to a grid of target_width/4 on the severity axis, so design
        points repeat), of the task metric and of each baseline whose break-down interval is wider than the
        target, while the budget allows; a bracket (a step between two levels) gets its midpoint instead. One
        point per round, so that a run stopped in the middle of a round resumes to the same design."""
        targets = [(self.metric, self.threshold), *self.system.baselines.values()]
        if self.trials() + self.batch > self.budget:
            return []
        step = self.target_width / 4
        points: list = []
        for metric, threshold in targets:
            b = self.breakdown(metric, threshold)
            if b.width <= self.target_width or b.method == "censored":  # an open bracket (NaN width) goes on
                continue
            if b.method == "bracket":
                mid = (self.severity(b.lo) + self.severity(b.hi)) / 2
                points.append(mid if math.isfinite(mid) else b.severity)
                continue
            half = max(b.width / 2, step)
            points += [round((b.severity + d) / step) * step for d in (-half, 0.0, half)]
        done = sum(t >= DESIGN_TRIALS for rows in self.rows.values() for t in rows) // self.batch
        for k in range(len(points)):  # the next point in turn that is a valid level
            try:
                level = self.noise.at(self.noise.design_level(points[(done + k) % len(points)])).level
            except TestbedError:
                continue
            have = self.rows.setdefault(level, {})
            start = DESIGN_TRIALS + sum(t >= DESIGN_TRIALS for t in have)
            return [(level, t) for t in range(start, start + self.batch)]
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

    def failures(self, metric: str, reference: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per trial at a finite severity: (severity, failures, samples), failures = reference * n minus the
        trial's count of the metric (wrong outputs; or inputs lost minus gained against noise-free), ordered
        by level and trial."""
        key = self.system.metric_counts[metric]
        x, k, n = [], [], []
        for lv in sorted(self.rows):  # a fixed order: results must not depend on the order trials finished in
            sev = self.severity(lv)
            if not math.isfinite(sev):
                continue
            for _, row in sorted(self.rows[lv].items()):
                x.append(sev)
                n.append(row["n"])
                k.append(reference * row["n"] - row[key])
        return np.array(x), np.array(k, dtype=np.float64), np.array(n, dtype=np.float64)

    def breakdown(self, metric: str | None = None, threshold: float | None = None) -> Breakdown:
        """The break-down level of `metric` at `threshold` (default: the system's), see the module docstring."""
        metric = metric or self.metric
        threshold = self.threshold if threshold is None else threshold
        reference = self.system.metric_reference(metric)
        x, k, n = self.failures(metric, reference)
        fail_at = reference - threshold
        pts = [p for p in self.curve() if math.isfinite(self.severity(p["level"]))]
        xs = np.array([self.severity(p["level"]) for p in pts])
        snr = np.array([p["error_snr_bits"] for p in pts], dtype=np.float64)
        totals = np.array([n[x == v].sum() for v in xs]) if len(xs) else np.zeros(0)
        rate = np.array([k[x == v].sum() for v in xs]) / np.maximum(totals, 1) if len(xs) else np.zeros(0)
        trials = self.trials()
        if len(xs) == 0 or not (rate >= fail_at).any() or rate[0] >= fail_at:
            # censored: a bound, the break-down lies beyond the most severe level ('above') or before the least
            censored = "below" if len(xs) and rate[0] >= fail_at else "above"
            edge_point = (pts[0] if censored == "below" else pts[-1]) if pts else None
            edge = self.severity(edge_point["level"]) if edge_point else math.nan
            bound = edge_point["level"] if edge_point else math.nan
            beyond = (censored == "above") == self.noise.more_noise_is_higher  # bound is a lower bound
            lo, hi = (bound, math.nan) if beyond else (math.nan, bound)
            return Breakdown(self.label, metric, bound, lo, hi, _interp_snr(xs, snr, edge), math.nan, math.nan,
                             censored, method="censored", trials=trials, severity=edge)
        fit = crossing_fit(x, k, n, fail_at, self.confidence)
        if fit is not None and xs[0] <= fit.x <= xs[-1]:
            xc, x_lo, x_hi, se, method = fit.x, fit.lo, fit.hi, fit.se, "quasi-likelihood fit"
        else:  # no fit determines the crossing: the decided levels either side of the step bound it
            x_lo, x_hi = _decided_step(xs, x, k, n, fail_at, self.confidence)
            xc = _crossing(xs, -rate, -fail_at)[0]
            xc = min(max(xc, x_lo), x_hi) if math.isfinite(x_lo) and math.isfinite(x_hi) else xc
            se, method = (x_hi - x_lo) / (2 * z_value(self.confidence)), "bracket"
        ends = (self._level(x_lo), self._level(x_hi))  # an open end stays NaN at its own side
        lo_level, hi_level = ends if self.noise.more_noise_is_higher else ends[::-1]
        snr_ends = (_interp_snr(xs, snr, x_hi), _interp_snr(xs, snr, x_lo))  # error SNR falls with severity
        snr_lo, snr_hi = sorted(snr_ends) if all(map(math.isfinite, snr_ends)) else snr_ends
        width = x_hi - x_lo
        return Breakdown(self.label, metric, float(self._level(xc)), float(lo_level), float(hi_level),
                         _interp_snr(xs, snr, xc), snr_lo, snr_hi, "", float(se), float(width), method, trials,
                         bool(self.budget and width > self.target_width and trials + self.batch > self.budget),
                         float(xc))

    def _level(self, x: float) -> float:
        return self.noise.level_at(x) if math.isfinite(x) else math.nan


def _decided_step(xs, x, k, n, fail_at: float, confidence: float) -> tuple[float, float]:
    """(the last level decidedly under fail_at before the first decidedly over it, that first level) on the
    severity axis, by stats.rate_side with the trials' replicate dispersion (at least 1); NaN for a side that no
    level decides."""
    dispersion, df = replicate_dispersion(x, k, n)
    dispersion, df = (dispersion, df) if dispersion > 1 else (1.0, math.inf)
    side = [rate_side(k[x == v].sum(), n[x == v].sum(), fail_at, dispersion, confidence, df) for v in xs]
    over = [i for i, s in enumerate(side) if s == 1]
    under = [i for i, s in enumerate(side) if s == -1 and (not over or i < over[0])]
    return (xs[under[-1]] if under else math.nan), (xs[over[0]] if over else math.nan)


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
    """network: its break-down over circuit's, on the noise's gap axis (decades or bits); [lo, hi] the
    interval combined from the two break-downs' intervals, treated as independent, by MOVER (each end adds the
    squared distances to the matching ends of the two intervals, so a Fieller interval's asymmetry carries over;
    the per-task framing shares its draws, so there the interval is an approximation); excludes_zero: whether
    the interval lies on one side of zero (None when a break-down is censored: the gap is then only a bound)."""

    network: str
    circuit: str
    value: float
    lo: float
    hi: float
    unit: str  # "decades" (network level / circuit level) or "bits" (circuit SNR - network SNR)
    censored: str = ""
    excludes_zero: bool | None = None

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


def baseline_label(label: str, name: str) -> str:
    """The label of a unit's baseline break-down (System.baselines): 'UNIT (NAME)'."""
    return f"{label} ({name})"


def gap(network: Breakdown, circuit: Breakdown, noise: NoiseModel, axis: str = "level") -> Gap:
    """Tolerance gap on the noise's own gap axis (decades between probabilities, bits between SNRs), or
    with axis='error_snr' in bits between the error SNRs at break-down; positive when the network tolerates
    more. censored: the gap is only a bound because a break-down level lies outside the levels swept. The
    interval (MOVER, Zou and Donner 2008) has the confidence of the two break-downs' intervals."""
    censored = "; ".join(f"{b.system} {b.censored}" for b in (network, circuit) if b.censored)
    if axis == "error_snr":
        n = (network.error_snr_bits, network.error_snr_lo, network.error_snr_hi)
        c = (circuit.error_snr_bits, circuit.error_snr_lo, circuit.error_snr_hi)
        ends = (BITS.gap(n[1], c[2]), BITS.gap(n[2], c[1]))
        lo, hi = (min(ends), max(ends)) if all(math.isfinite(e) for e in ends) else (math.nan, math.nan)
        return Gap(network.system, circuit.system, BITS.gap(n[0], c[0]), lo, hi, BITS.unit, censored)
    scale: GapAxis = noise.gap_axis
    value = scale.gap(network.level, circuit.level)
    if censored:
        return Gap(network.system, circuit.system, value, math.nan, math.nan, scale.unit, censored)

    def at(xn, xc):
        return scale.gap(noise.level_at(xn), noise.level_at(xc))
    h = 1e-6
    dn = (at(network.severity + h, circuit.severity) - at(network.severity - h, circuit.severity)) / (2 * h)
    dc = (at(network.severity, circuit.severity + h) - at(network.severity, circuit.severity - h)) / (2 * h)
    # each break-down's interval as a change of the gap, below and above its estimate
    moves = [sorted(d * (noise.severity(end) - b.severity) for end in (b.lo, b.hi))
             for b, d in ((network, dn), (circuit, dc))]
    lo = value - math.hypot(moves[0][0], moves[1][0])
    hi = value + math.hypot(moves[0][1], moves[1][1])
    if not (math.isfinite(lo) and math.isfinite(hi)):  # an open bracket: no interval
        return Gap(network.system, circuit.system, value, math.nan, math.nan, scale.unit, "")
    return Gap(network.system, circuit.system, value, lo, hi, scale.unit, "", bool(lo > 0 or hi < 0))


class Comparison:
    """The result of compare(): sweeps by label, with break-down levels, gaps and tabular/JSON access."""

    def __init__(self, sweeps: list[Sweep], noise: NoiseModel):
        self.sweeps = {s.label: s for s in sweeps}
        self.noise = noise
        self.confidence = sweeps[0].confidence if sweeps else SETTINGS.confidence  # compare() gives all the same
        self.breakdown = {label: s.breakdown() for label, s in self.sweeps.items()}
        for label, s in self.sweeps.items():
            for name, (metric, threshold) in s.system.baselines.items():
                self.breakdown[baseline_label(label, name)] = s.breakdown(metric, threshold)

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


def per_bit_sweeps(system, levels, seed: int = 0, prefix: str = "", **sweep_options) -> list[Sweep]:
    """The per-bit view: one bitflip Sweep per bit k of the system's result word (its word_site), where only bit k
    of each word can flip (bit 0 first), labelled 'PREFIX NAME@SITE[bit K]' (no space after the prefix)."""
    site = system.word_site
    return [Sweep(system, site, bitflip(0.0, bits=(k,)), levels, seed=seed,
                  label=f"{prefix}{system.name}@{site}[bit {k}]", **sweep_options) for k in range(system.word_width)]


def per_bit_breakdowns(system, levels, seed: int = 0, **sweep_options) -> list[Breakdown]:
    """The break-down level of each bit's sweep of the per-bit view (per_bit_sweeps): which bits carry the
    tolerance."""
    return [run_sweep(sweep).breakdown() for sweep in per_bit_sweeps(system, levels, seed, **sweep_options)]
