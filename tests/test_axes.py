"""Honest axes: closed-form circuit rows are labelled as checks of the estimator with the closed form beside them,
and hardening gains are given per gate, the fault-budget gain apart."""

import math

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
    assert system.closed_form(additive(8.0), "output") is None


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
