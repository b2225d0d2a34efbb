"""Break-down estimates against known answers: the closed form of a noisy XOR chain, the multiplier's
1 - exp(-p S), gaps, brackets, and the mutual-information estimator (coverage with known truths: test_coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import circuits
from circuits.builder import Builder
from circuits.campaign import stuck_at_campaign
from testbed.compare import Sweep, gap, run_sweep
from testbed.metrics import circuit_metrics
from testbed.noise import bitflip
from testbed.stats import cloglog_fit, crossing_fit, mutual_information_from_confusion
from testbed.systems import CircuitSystem, System
from tests.test_coverage import PASS, REPS


class KnownCurve(System):
    """A system whose failure probability at bit-flip level p is a known logistic curve in log10 p:
    each trial fails each of n samples independently with that probability."""

    world, metric, is_reference = "circuit", "exact_rate", True
    metric_counts = {"exact_rate": "correct"}
    threshold = 0.99

    def __init__(self, centre: float, slope: float, n: int = 2000):
        self.name, self.centre, self.slope, self.n, self.width = "curve", centre, slope, n, 1

    def failure(self, p: float) -> float:
        return 1 / (1 + math.exp(-self.slope * (math.log10(p) - self.centre))) if p > 0 else 0.0

    def truth(self) -> float:
        """The level where the failure probability is 1%."""
        return 10 ** (self.centre + math.log(0.01 / 0.99) / self.slope)

    def site(self, noise, site):
        return None

    def trial(self, noise, site, seed):
        bad = int(np.random.default_rng(seed).binomial(self.n, self.failure(noise.level)))
        return {"n": self.n, "correct": self.n - bad, "bit_errors": [bad], "rel_error_sum": 0.0,
                "signal_power": 1.0, "error_power": 0.0}

    def pool(self, rows, noise, confidence):
        return circuit_metrics(rows, 1, False, confidence)


def _covered(system, truth: float, reps: int, **options) -> tuple[int, list[float]]:
    hits, widths = 0, []
    for seed in range(reps):
        sweep = run_sweep(Sweep(system, "gate", bitflip(0.0), np.logspace(-6, -1, 11), seed=seed, **options))
        b = sweep.breakdown()
        assert b.method in ("quasi-likelihood fit", "bracket") and not b.censored
        hits += b.lo <= truth <= b.hi
        widths.append(b.width)
    return hits, widths


def test_the_sequential_design_reaches_its_target_width():
    curve = KnownCurve(centre=-3.0, slope=2.5)
    hits, widths = _covered(curve, curve.truth(), 20, budget=200)
    assert hits >= 17, hits
    assert np.median(widths) <= 0.1 + 1e-9


def _xor_chain(n: int):
    """y = x0 ^ x1 ^ ... ^ xn through a chain of n XOR gates: every flip reaches y, so y is wrong with
    probability (1 - (1 - 2p)^n) / 2 (each gate flips its output with probability p; the parity of
    the flips is odd with that probability)."""
    b = Builder(f"xor_chain{n}")
    x = b.input("x", n + 1)
    net = x[0]
    for k in range(1, n + 1):
        net = b.gate("XOR", net, x[k])
    b.output("y", [net])
    return b.build()


def _xor_truth(n: int) -> float:
    return (1 - 0.98 ** (1 / n)) / 2  # (1 - (1 - 2p)^n) / 2 = 0.01


def test_interval_covers_the_xor_chain_closed_form():
    system = CircuitSystem(_xor_chain(40), "random", 4096, seed=1)
    hits, _ = _covered(system, _xor_truth(40), 20, budget=120)
    assert hits >= 17, hits


@pytest.mark.slow
def test_interval_covers_the_xor_chain_closed_form_over_the_coverage_plan():
    system = CircuitSystem(_xor_chain(40), "random", 4096, seed=1)
    hits, _ = _covered(system, _xor_truth(40), REPS, budget=120)
    assert hits >= PASS, hits  # the repetitions that fail a 90% procedure with probability 0.9 (test_coverage)


def test_multiplier_breaks_down_where_first_order_theory_says():
    mul = circuits.multiplier(4)
    s = stuck_at_campaign(mul, vectors="exhaustive").sensitivity
    b = run_sweep(Sweep(CircuitSystem(mul), "gate", bitflip(0.0), np.logspace(-5, -1, 9), budget=200)).breakdown()
    expected = -math.log(0.99) / s
    assert b.lo <= expected * 1.05 and b.hi >= expected / 1.05, (b, expected)


def test_censored_breakdowns_are_bounds_and_gaps_of_bounds_have_no_interval():
    mul = circuits.multiplier(3)
    never = run_sweep(Sweep(CircuitSystem(mul), "gate", bitflip(0.0), [1e-9, 1e-8])).breakdown()
    assert never.censored == "above" and never.lo == 1e-8 and math.isnan(never.hi)
    always = run_sweep(Sweep(CircuitSystem(mul), "gate", bitflip(0.0), [0.3, 0.5])).breakdown()
    assert always.censored == "below" and math.isnan(always.lo) and always.hi == 0.3
    g = gap(never, always, bitflip(0.0))
    assert g.censored and math.isnan(g.lo) and g.excludes_zero is None


def test_gap_interval_and_sign():
    a = KnownCurve(centre=-3.0, slope=2.5)
    b = KnownCurve(centre=-4.0, slope=2.5)
    ba = run_sweep(Sweep(a, "gate", bitflip(0.0), np.logspace(-6, -1, 11), budget=200)).breakdown()
    bb = run_sweep(Sweep(b, "gate", bitflip(0.0), np.logspace(-6, -1, 11), budget=200)).breakdown()
    g = gap(ba, bb, bitflip(0.0))
    assert g.unit == "decades" and g.lo < 1.0 < g.hi and g.excludes_zero  # the true gap is one decade
    assert g.hi - g.lo < 0.2


def test_crossing_fit_needs_a_rising_curve():
    x = np.array([-3.0, -2.0, -1.0])
    assert crossing_fit(x, np.array([50.0, 10.0, 1.0]), np.full(3, 100.0), 0.05) is None
    c = crossing_fit(x, np.array([1.0, 10.0, 60.0]), np.full(3, 100.0), 0.05)
    assert c is not None and -3 < c.x < -1 and c.lo < c.x < c.hi


def test_fieller_interval_is_the_set_where_the_fitted_line_is_within_t_standard_errors():
    x = np.repeat([-3.0, -2.5, -2.0, -1.5], 3)
    k = np.array([1, 0, 2, 3, 6, 2, 9, 4, 12, 25, 14, 31], dtype=np.float64)  # over-dispersed at -1.5
    n = np.full(12, 400.0)
    c = crossing_fit(x, k, n, 0.02)
    fit = cloglog_fit(x, k, n)
    assert c.dispersion == fit.dispersion > 1 and math.isfinite(c.df)
    from scipy.stats import t

    q = t.ppf(0.975, c.df)
    target = math.log(-math.log(0.98))

    def excess(v):  # |a + b v - c| - q sd(a + b v): zero at the interval's ends, negative inside
        g = np.array([1.0, v])
        return abs(fit.coef @ g - target) - q * math.sqrt(g @ fit.cov @ g)
    assert excess(c.lo) == pytest.approx(0, abs=1e-9) and excess(c.hi) == pytest.approx(0, abs=1e-9)
    assert excess(c.x) < 0 and excess(c.lo - 0.01) > 0 and excess(c.hi + 0.01) > 0


def test_a_step_with_no_fit_is_bounded_by_decided_levels():
    class Step(KnownCurve):  # fails with probability 0 below 1e-3 and 0.5 from there: no curve determines it
        def failure(self, p):
            return 0.5 if p >= 1e-3 else 0.0

    b = run_sweep(Sweep(Step(0.0, 1.0), "gate", bitflip(0.0), np.logspace(-6, -1, 11), refine=0,
                            budget=0)).breakdown()
    assert b.method == "bracket" and b.lo < 1e-3 <= b.hi
    assert b.lo == pytest.approx(10 ** -3.5) and b.hi == pytest.approx(1e-3)


def test_mutual_information_miller_madow_on_known_cases():
    n = 540
    diagonal = np.diag([54] * 10)
    plug, mm = mutual_information_from_confusion(diagonal)
    assert plug == pytest.approx(math.log2(10))
    assert mm == pytest.approx(math.log2(10) + (10 + 10 - 10 - 1) / (2 * n * math.log(2)))  # adds 0.012 bits
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200_000)  # a binary symmetric-like channel on 4 symbols with known MI
    noisy = np.where(rng.random(labels.size) < 0.2, rng.integers(0, 4, labels.size), labels)
    cm = np.bincount(labels * 4 + noisy, minlength=16).reshape(4, 4)
    stay = 0.8 + 0.2 / 4
    truth = 2 + stay * math.log2(stay) + 3 * (0.05 * math.log2(0.05))
    assert mutual_information_from_confusion(cm)[1] == pytest.approx(truth, abs=2e-3)


def test_stuck_at_break_downs_on_the_log_fault_count_axis():
    from testbed.noise import stuck_at

    noise = stuck_at(0)
    assert noise.severity(100) == 2 and noise.level_at(2) == 100 and noise.severity(0) == -math.inf
    assert noise.design_level(math.log10(3.4)) == 3 and noise.design_level(-1) == 1  # whole faults, at least one
    assert noise.midpoint(4, 16) == 8 and noise.midpoint(1, 2) is None
    plain = run_sweep(Sweep(CircuitSystem(circuits.multiplier(3)), "gate", stuck_at(0), [0, 1, 2, 4])).breakdown()
    assert plain.censored == "below" and plain.hi == 1  # the first fault already breaks an unprotected multiplier


def test_a_sweep_resumed_from_any_half_stored_round_ends_as_an_uninterrupted_one():
    def sweep():
        return Sweep(KnownCurve(-3.0, 2.5), "gate", bitflip(0.0), np.logspace(-6, -1, 11), seed=4, budget=200)
    full = run_sweep(sweep())
    expected = sorted((lv, t) for lv, rows in full.rows.items() for t in rows)
    rounds = 0
    while True:  # stop after storing half of round r, resume from the stored rows alone, for every r
        rounds += 1
        part = sweep()
        for r in range(rounds):  # whole rounds, then half of the last one
            todo = part.pending()
            if not todo:
                break
            for lv, t in todo if r < rounds - 1 else todo[: len(todo) // 2]:
                part.add(lv, t, part.run_trial(lv, t))
        if not todo:
            break
        resumed = sweep()
        for lv, rows in part.rows.items():
            for t, row in rows.items():
                resumed.add(lv, t, row)
        run_sweep(resumed)
        assert sorted((lv, t) for lv, rows in resumed.rows.items() for t in rows) == expected, rounds
        assert resumed.breakdown() == full.breakdown()
    assert rounds > 4  # the grid, top-ups and sequential batches were all interrupted once


def test_gap_interval_keeps_each_break_down_interval_asymmetry():
    from testbed.compare import Breakdown
    from testbed.noise import additive

    def at(level, lo, hi, severity):
        return Breakdown("b", "m", level, lo, hi, 0.0, 0.0, 0.0, se=0.1, severity=severity)
    net = at(1e-3, 10 ** -3.1, 10 ** -2.6, -3.0)  # -0.1 and +0.4 decades
    circ = at(1e-4, 10 ** -4.2, 10 ** -3.95, -4.0)  # -0.2 and +0.05 decades
    g = gap(net, circ, bitflip(0.0))
    assert g.value == pytest.approx(1.0)
    assert g.lo == pytest.approx(1.0 - math.hypot(0.1, 0.05)) and g.hi == pytest.approx(1.0 + math.hypot(0.4, 0.2))
    # additive: severity -SNR; the gap in bits is the circuit's SNR minus the network's
    g = gap(at(3.5, 3.3, 4.0, -3.5), at(8.5, 8.4, 8.9, -8.5), additive(0.0))
    assert g.value == pytest.approx(5.0) and g.excludes_zero
    assert g.lo == pytest.approx(5.0 - math.hypot(0.5, 0.1)) and g.hi == pytest.approx(5.0 + math.hypot(0.2, 0.4))
