"""Honest axes: closed-form circuit rows are labelled as checks of the estimator with the closed form beside them,
and hardening gains are given per gate, the fault-budget gain apart."""

import math

import numpy as np
import pytest

import circuits
from reports.build import hardening_rows
from testbed.compare import Sweep, run_sweep
from testbed.noise import additive, bitflip
from testbed.systems import CircuitSystem


def test_word_flips_have_a_closed_form_the_estimate_matches():
    system = CircuitSystem(circuits.multiplier(4))
    closed = system.closed_form(bitflip(0.0), "output")
    assert closed["formula"] == "1 - (1 - p)^8 = 0.01"
    assert (1 - closed["level"]) ** 8 == pytest.approx(0.99)
    sweep = run_sweep(Sweep(system, "output", bitflip(0.0), [1e-5, 1e-4, 1e-3, 1e-2, 1e-1], budget=200))
    b = sweep.breakdown()
    assert b.lo <= closed["level"] <= b.hi  # the estimator finds the closed form within its interval
    assert system.closed_form(bitflip(0.0), "gate") is None  # gate faults: no closed form
    assert system.closed_form(bitflip(0.0, bits=(3,)), "output") is None
    assert system.closed_form(additive(8.0), "gate") is None


@pytest.mark.parametrize("dist", ["gaussian", "uniform"])
def test_additive_noise_on_the_word_has_a_closed_form_sampling_and_the_estimator_match(dist):
    system = CircuitSystem(circuits.multiplier(4))  # products 0..225: 31 of 256 are 0, an edge of the range
    closed = system.closed_form(additive(8.0, dist), "output")
    assert closed["formula"].startswith(f"{2 - 31 / 256:.4g} ")
    noise, rng = additive(closed["level"], dist), np.random.default_rng(3)
    golden = np.tile(system.golden, 400)  # 102,400 words: the disagreement's standard error is 3.1e-4
    noisy = noise.words(golden[:, None], 8, False, rng)[:, 0]
    assert np.mean(noisy != golden) == pytest.approx(0.01, abs=1.2e-3)
    sweep = run_sweep(Sweep(system, "output", additive(8.0, dist), list(np.linspace(2.0, 12.0, 11)), budget=200))
    b = sweep.breakdown()
    assert b.lo <= closed["level"] <= b.hi  # the estimator finds the closed form within its interval


def test_hardening_gain_is_per_gate_and_the_budget_gain_counts_gates_again():
    def unit(name, level):
        return {"system": name, "site": "gate", "layer": None, "breakdown": {"level": level, "censored": ""}}
    summary = {"systems": {"tree": {"gates": 800, "hardening": {"spec": "none"}},
                           "tree_tmr": {"gates": 2400, "hardening": {"spec": "tmr", "base_gates": 800}}},
               "sweeps": [{"name": "g", "per_bit": False, "units": [unit("tree", 1e-5), unit("tree_tmr", 6.7e-5)]}]}
    (row,) = hardening_rows(summary)
    assert (row["plain"], row["gate_ratio"]) == ("tree", 3.0)
    assert row["per_gate"] == pytest.approx(6.7)
    assert row["budget"] == pytest.approx(20.1)
    assert math.isclose(row["budget"] / row["per_gate"], row["gate_ratio"])
