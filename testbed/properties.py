"""Robustness properties in one line each, raising AssertionError with a readable counterexample.

Use them inside Hypothesis tests with the strategies of testbed.strategies, so failures shrink:

    assert_unaffected(netlist, faults, operands)       outputs equal the fault-free ones
    assert_prediction_stable(model, x, noise, site)     predictions unchanged under noise (integer engine)
    assert_error_rate_nondecreasing(trial, levels)      statistical check with a stated confidence
"""

from __future__ import annotations

import math

import numpy as np

import circuits
from testbed.stats import z_value


def _describe(faults) -> str:
    return ", ".join(f"gate {g} stuck-at-{v}" for g, v in faults) or "no fault"


def assert_unaffected(netlist, faults, operands: dict) -> None:
    """Every output equals the fault-free output under `faults` on every vector of `operands`."""
    golden = circuits.simulate(netlist, **operands)
    faulty = circuits.simulate(netlist, stuck=list(faults), **operands)
    for bus in golden:
        bad = np.flatnonzero(golden[bus] != faulty[bus])
        if len(bad):
            v = int(bad[0])
            ins = ", ".join(f"{k}={operands[k][v]}" for k in operands)
            raise AssertionError(f"{_describe(faults)} changes {bus} for {ins}: {golden[bus][v]} -> {faulty[bus][v]}")


def assert_prediction_stable(engine, x, noise=None, site: str = "weight", seed: int = 0) -> None:
    """The integer engine predicts the same classes on x under `noise` at `site` as without it (gate sites:
    the noise's gate faults of the engine's multiplier netlist)."""
    clean = engine.run(x).predictions
    rng = np.random.default_rng(seed)
    kwargs: dict = {"rng": rng}
    if noise is not None:
        plan = noise.plan(site)
        if plan.site.gate_level:
            kwargs["faults"] = plan.gates(engine.multiplier.netlist.n_gates, rng).with_seed(seed)
        else:
            kwargs["noise"] = {site: plan}
    noisy = engine.run(x, **kwargs).predictions
    changed = np.flatnonzero(noisy != clean)
    if len(changed):
        raise AssertionError(f"{noise.label() if noise else 'no noise'} at {site} changes the prediction of input "
                             f"{int(changed[0])}: {clean[changed[0]]} -> {noisy[changed[0]]}")


def assert_error_rate_nondecreasing(trial, levels, confidence: float = 0.99) -> None:
    """trial(level) -> (errors, n). Fails when a higher level has a significantly lower error rate than the
    level before it (one-sided two-proportion z-test at `confidence`, per adjacent pair)."""
    rates = [trial(lv) for lv in levels]
    z = z_value(2 * confidence - 1)
    for (lo, (e0, n0)), (hi, (e1, n1)) in zip(zip(levels, rates, strict=True), zip(levels[1:], rates[1:],
                                                                                    strict=True), strict=False):
        p0, p1 = e0 / n0, e1 / n1
        pooled = (e0 + e1) / (n0 + n1)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-300) * (1 / n0 + 1 / n1))
        if p0 - p1 > z * se and p0 > p1:
            raise AssertionError(f"error rate falls from {p0:.4g} at level {lo:g} to {p1:.4g} at level {hi:g} "
                                 f"(beyond {confidence:.0%} confidence)")
