"""Coverage of break-down intervals against known truths: binomial trials, over-dispersed trials (beta-binomial,
dispersion 2.6 and 10), net counts that go negative (inputs lost minus inputs gained), fixed inputs with
differing margins, and a population's mean over members.

How many repetitions. Each test passes when at least PASS of REPS intervals cover the truth (at least 93%).
REPS is the smallest number of repetitions at or above 200 for which a procedure that covers only 90% passes
with probability at most 0.1, P(Binomial(REPS, 0.9) >= PASS) <= 0.1 (`_plan`, checked by
`test_the_plan_fails_a_90_percent_procedure`): REPS = 200, PASS = 186, where a 90% procedure passes with
probability 0.093 and an exact 95% procedure fails with probability 0.078 (the seeds are fixed, so each outcome
is reproducible). 128 repetitions (PASS 120) would meet the same bound but fail an exact 95% procedure with
probability 0.19.

The fast tests run the whole break-down (Sweep.breakdown: window, quasi-likelihood fit, Fieller interval,
bracket) on a fixed grid without the sequential design; the slow ones run the sequential design too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from testbed.compare import Sweep, run_sweep
from testbed.noise import bitflip
from testbed.stats import cloglog_fit, crossing_fit, population_breakdown, population_gap
from testbed.systems import System

FAIL_AT = 0.01  # the failure rate at break-down


def _plan(minimum: int = 200, required: float = 0.93, bad: float = 0.90, power: float = 0.9) -> tuple[int, int]:
    """(repetitions, pass threshold): the smallest repetitions >= minimum and threshold ceil(required * reps)
    such that a procedure covering only `bad` passes with probability at most 1 - power."""
    reps = minimum
    while True:
        need = math.ceil(required * reps)
        passes = sum(math.comb(reps, j) * bad ** j * (1 - bad) ** (reps - j) for j in range(need, reps + 1))
        if passes <= 1 - power:
            return reps, need
        reps += 1


REPS, PASS = _plan()


def test_the_plan_fails_a_90_percent_procedure():
    from scipy.special import bdtrc  # the binomial's upper tail, an implementation apart from _plan's sum

    assert (REPS, PASS) == (200, 186)
    assert PASS / REPS >= 0.93 and bdtrc(PASS - 1, REPS, 0.90) <= 0.1  # a 90% procedure passes at most 10%
    assert _plan(100) == (128, 120) and bdtrc(119, 128, 0.90) <= 0.1 < bdtrc(118, 127, 0.90)  # the least of all


def _cloglog10(x, centre: float, slope: float):
    """1 - exp(-10^(slope (x - centre))): fails when any of many faults strikes, x = log10 p."""
    return -np.expm1(-(10.0 ** (slope * (np.asarray(x) - centre))))


def _logistic10(x, centre: float, slope: float):
    return 1 / (1 + np.exp(-slope * (np.asarray(x) - centre)))


class Simulated(System):
    """A system whose trials are drawn from a known failure process at x = log10 p: `draw(rng, x)` returns one
    trial's failure count of n samples (a net count may be negative). Its metric is an accuracy with noise-free
    value `reference`; break-down where the failure rate reaches FAIL_AT."""

    world, metric, is_reference = "circuit", "accuracy", True
    metric_counts = {"accuracy": "correct"}

    def __init__(self, draw, n: int, reference: float = 1.0):
        self.name, self.draw, self.n, self.reference = "simulated", draw, n, reference

    @property
    def threshold(self) -> float:
        return self.reference - FAIL_AT

    def metric_reference(self, metric):
        return self.reference

    def site(self, noise, site):
        return None

    def trial(self, noise, site, seed):
        k = self.draw(np.random.default_rng(seed), math.log10(noise.level))
        return {"n": self.n, "correct": self.reference * self.n - k}

    def pool(self, rows, noise, confidence):
        k = sum(self.reference * r["n"] - r["correct"] for r in rows)
        n = sum(r["n"] for r in rows)
        half = 2 * math.sqrt(max(k, 1) / n / n)  # only steers the grid's stopping rule, not the estimate
        value = self.reference - k / n
        return {"accuracy": (value, value - half, value + half), "error_snr_bits": math.nan, "trials": len(rows)}


def binomial(curve, n):
    return Simulated(lambda rng, x: int(rng.binomial(n, curve(x))), n)


def beta_binomial(curve, n, dispersion):
    """Trials whose rate varies as Beta around the curve: variance n P (1 - P) (1 + (n - 1) rho), rho chosen so
    that the factor is `dispersion`."""
    s = (n - 1) / (dispersion - 1) - 1  # a + b of the Beta, rho = 1 / (a + b + 1)

    def draw(rng, x):
        p = min(max(float(curve(x)), 1e-12), 1 - 1e-12)
        return int(rng.binomial(n, rng.beta(p * s, (1 - p) * s)))
    return Simulated(draw, n)


def net(curve, n, gain):
    """Inputs gained with probability q = gain P (1 - P)^2 and lost with probability P + q: the net count
    lost - gained has mean n P and goes negative where P is small (variance about (1 + 2 gain) n P there)."""

    def draw(rng, x):
        p = float(curve(x))
        q = gain * p * (1 - p) ** 2
        lost, gained, _ = rng.multinomial(n, [p + q, q, max(1 - p - 2 * q, 0.0)])
        return int(lost - gained)
    return Simulated(draw, n, reference=0.9)


def margins(centres, slope):
    """Fixed inputs, input i failing with its own curve (centre i): a test set whose inputs differ in margin.
    The target is the crossing of the mean curve over these inputs (conditional on the test set)."""

    def draw(rng, x):
        return int((rng.random(len(centres)) < _cloglog10(x, centres, slope)).sum())
    return Simulated(draw, len(centres))


def crossing(curve) -> float:
    return brentq(lambda x: float(curve(x)) - FAIL_AT, -12, 0)


GRID = np.logspace(-7, -2, 21)  # a quarter decade apart


def _coverage(system, truth: float, reps: int, sequential: bool = False) -> tuple[int, list]:
    """Intervals of `reps` seeded sweeps that hold `truth`, and their break-downs. Fast: four trials at each level
    of GRID; sequential: the design places trials until the interval is 0.1 decades wide or 200 trials ran."""
    options = dict(budget=200, refine=1) if sequential else dict(min_trials=4, max_trials=4, refine=0)
    hits, out = 0, []
    for seed in range(reps):
        b = run_sweep(Sweep(system, "gate", bitflip(0.0), GRID, seed=seed, **options)).breakdown()
        assert not b.censored and b.method in ("quasi-likelihood fit", "bracket"), b
        hits += b.lo <= 10 ** truth <= b.hi
        out.append(b)
    return hits, out


def _curve_cloglog(x):
    return _cloglog10(x, -3.0, 1.0)


def _curve_logistic(x):
    return _logistic10(x, -3.0, 2.5)


CASES = {
    "binomial": lambda: (binomial(_curve_logistic, 1000), crossing(_curve_logistic)),
    "dispersion 2.6": lambda: (beta_binomial(_curve_cloglog, 1000, 2.6), crossing(_curve_cloglog)),
    "dispersion 10": lambda: (beta_binomial(_curve_cloglog, 1000, 10.0), crossing(_curve_cloglog)),
    "negative counts": lambda: (net(_curve_cloglog, 540, 1.0), crossing(_curve_cloglog)),
    "differing margins": lambda: _margins_case(),
}


def _margins_case():
    centres = np.random.default_rng(11).uniform(-4.0, -1.5, 540)
    system = margins(centres, 1.5)
    return system, crossing(lambda x: _cloglog10(x, centres, 1.5).mean())


@pytest.mark.parametrize("case", list(CASES))
def test_break_down_intervals_cover_known_truths(case):
    system, truth = CASES[case]()
    hits, _ = _coverage(system, truth, REPS)
    assert hits >= PASS, (case, hits)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_break_down_intervals_cover_known_truths_with_the_sequential_design(case):
    system, truth = CASES[case]()
    hits, _ = _coverage(system, truth, REPS, sequential=True)
    assert hits >= PASS, (case, hits)


def test_a_net_count_with_lost_below_gained_gives_a_proper_fit():
    x = np.repeat([-3.5, -3.25, -3.0, -2.75, -2.5], 3)
    n = np.full(15, 540.0)
    k = np.array([-1, 1, -2, 2, 0, 1, 4, 3, 6, 12, 9, 15, 30, 35, 25], dtype=np.float64)  # 2 trials: lost < gained
    assert k[x == -3.5].sum() < 0  # even the level's pooled count
    fit = cloglog_fit(x, k, n)
    assert fit is not None and fit.coef[1] > 0
    # an independent oracle: the estimating equations sum n mu' / V (y - mu) (1, x) = 0 solved by scipy's root
    # finder on the plain cloglog formulas
    from scipy.optimize import fsolve

    def equations(beta):
        eta = beta[0] + beta[1] * x
        mu = 1 - np.exp(-np.exp(eta))
        dmu = np.exp(eta) * np.exp(-np.exp(eta))
        s = n * dmu / (mu * (1 - mu)) * (k / n - mu)
        return [s.sum(), (s * x).sum()]
    assert fsolve(equations, [0.0, 1.0], xtol=1e-12) == pytest.approx(fit.coef, rel=1e-6)
    c = crossing_fit(x, k, n, FAIL_AT)
    assert c is not None and c.points == len(x) and c.lo < c.x < c.hi and -3.0 < c.x < -2.75


def test_negative_counts_are_fitted_not_interpolated():
    system, truth = CASES["negative counts"]()
    _, out = _coverage(system, truth, 20)
    assert all(b.method == "quasi-likelihood fit" and b.width < 1.0 for b in out)


POPULATION_MEMBERS, POPULATION_SPREAD = 5, 0.3  # members per population; sd of their break-downs, decades


def _members(rng) -> np.ndarray:
    """Break-down estimates of POPULATION_MEMBERS members, each from its own binomial fit on a fixed design:
    member m's curve is centred at u_m, u_m ~ N(0, POPULATION_SPREAD^2)."""
    x = np.repeat(np.arange(-7.0, -2.99, 0.25), 4)
    out = []
    for c in rng.normal(0, POPULATION_SPREAD, POPULATION_MEMBERS):
        k = rng.binomial(1000, _cloglog10(x, c - 3.0, 1.0)).astype(np.float64)
        fit = crossing_fit(x, k, np.full(len(x), 1000.0), FAIL_AT)
        assert fit is not None
        out.append(fit.x)
    return np.array(out)


def test_population_interval_covers_the_mean_over_members():
    """The target is the mean break-down of members drawn by the recipe (not of the five drawn): the t interval
    over members covers it although each member's own interval is far narrower than their spread."""
    truth = crossing(_curve_cloglog)  # the members' break-downs are truth + u_m, mean truth
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(REPS):
        p = population_breakdown(_members(rng), confidence=0.95)
        hits += p.lo <= truth <= p.hi
    assert hits >= PASS, hits
    assert "between-member" in p.covers and p.members == POPULATION_MEMBERS


def test_population_gap_covers_the_true_gap_paired_and_unpaired():
    """Members of a and b that share a training seed share most of their deviation from the recipe's mean
    (u_m, spread 0.3 decades); each estimate adds its own error (0.07 decades, as the fits above). The true gap
    is 0.2 decades."""
    rng = np.random.default_rng(6)
    hits, verdicts = {True: 0, False: 0}, []
    for _ in range(REPS):
        shared = rng.normal(0, POPULATION_SPREAD, POPULATION_MEMBERS)
        a = shared + rng.normal(0, 0.07, POPULATION_MEMBERS)
        b = shared - 0.2 + rng.normal(0, 0.07, POPULATION_MEMBERS)
        for paired in (True, False):
            g = population_gap(a, b, paired=paired)
            hits[paired] += g.lo <= 0.2 <= g.hi
        verdicts.append((population_gap(a, b, paired=True).verdict, population_gap(a, b, paired=False).verdict))
    assert hits[True] >= PASS and hits[False] >= PASS, hits
    paired_decided = sum(p == "decided (>0)" for p, _ in verdicts)
    unpaired_decided = sum(u == "decided (>0)" for _, u in verdicts)
    assert paired_decided > REPS / 2 > unpaired_decided  # pairing decides a gap that the member spread hides


def test_population_verdicts_and_degenerate_populations():
    assert population_gap([1.0, 1.1, 1.2], [0.0, 0.1, 0.05], paired=True).verdict == "decided (>0)"
    assert population_gap([0.0, 0.1, 0.05], [1.0, 1.1, 1.2], paired=False).verdict == "decided (<0)"
    assert population_gap([0.0, 1.0, -1.0], [0.1, -0.9, 1.1], paired=True).verdict == "undecided"
    one = population_breakdown([-3.0], [0.1])
    assert one.mean == -3.0 and math.isnan(one.lo) and "one member" in one.covers
    assert one.to_dict()["lo"] is None and one.to_dict()["mean"] == -3.0 and one.to_dict()["members"] == 1  # JSON
    assert population_gap([0.0, 1.0], [0.5, 0.5], paired=False).to_dict()["paired"] is False
    censored = population_breakdown([-3.0, math.nan, -2.5])
    assert math.isnan(censored.mean) and "1" in censored.covers
    p = population_breakdown([-3.0, -2.0, -2.5], [0.1, 0.1, 0.1])
    assert p.mean == pytest.approx(-2.5) and p.sd == pytest.approx(0.5) and p.within_se == pytest.approx(0.1)
    assert p.hi - p.mean == pytest.approx(4.302653 * 0.5 / math.sqrt(3), rel=1e-5)  # t(0.975, 2 df)
    with pytest.raises(ValueError):
        population_gap([1.0, 2.0], [1.0], paired=True)
