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


def test_population_hardening_gain_is_per_gate_paired_by_seed_not_by_gate_count():
    from testbed.stats import population_gap

    seeds, plain_p, tmr_p = [0, 1, 2], [1e-5, 2e-5, 4e-5], [7e-5, 1e-4, 3e-4]
    systems, pops = {}, []
    for name, ps, spec in (("tree", plain_p, "none"), ("tree_tmr", tmr_p, "tmr")):
        members = []
        for s, p in zip(seeds, ps, strict=True):
            systems[f"{name}[seed {s}]"] = {"gates": 2400 if spec == "tmr" else 800,  # every plain tree: 800 gates
                                            "hardening": {"spec": spec, "base_gates": 800}}
            members.append({"system": f"{name}[seed {s}]", "seed": s, "breakdown": {"level": p}})
        pops.append({"label": f"g/{name}@gate", "system": name, "site": "gate", "key": "seed", "members": members})
    gap = population_gap(np.log10(tmr_p), np.log10(plain_p), True).to_dict()
    summary = {"systems": systems, "sweeps": [{
        "name": "g", "per_bit": False, "units": [], "populations": pops,
        "population_gaps": [{"population": "g/tree@gate", "against": "g/tree_tmr@gate", "paired": True,
                             **{k: -gap[k] if k in ("value", "lo", "hi") else gap[k] for k in gap}}]}]}
    (row,) = hardening_rows(summary)
    ratios = np.array(tmr_p) / np.array(plain_p)  # each seed's hardened tree against its own plain tree
    assert row["per_gate"] == pytest.approx(np.exp(np.mean(np.log(ratios))))
    assert (row["per_gate_lo"], row["per_gate_hi"]) == pytest.approx((10 ** gap["lo"], 10 ** gap["hi"]))
    assert row["gate_ratio"] == 3.0 and row["budget"] == pytest.approx(3 * row["per_gate"])


def test_population_fault_budget_is_the_members_geometric_mean_with_a_t_interval():
    from testbed.kinds.population import PopulationSpec
    from testbed.pooling import population_entries

    levels, gates = [1e-5, 3e-5, 2e-5], [800, 790, 810]
    entries = [{"label": f"g/t[seed {s}]@gate", "system": f"t[seed {s}]", "site": "gate", "bit": None,
                "breakdown": {"level": p, "severity": math.log10(p), "se": 0.02, "error_snr_bits": 3.0},
                "fault_budget": {"gates": g, "level": p * g, "lo": p * g, "hi": p * g}}
               for s, p, g in zip(range(3), levels, gates, strict=True)]
    pop = PopulationSpec("t", "classifier", "seed", (0, 1, 2), tuple(e["system"] for e in entries))
    (entry,) = population_entries({"t": pop}, entries, bitflip(0.0), 0.95)
    fb = entry["fault_budget"]
    budgets = np.log10(np.array(levels) * gates)
    half = 4.302653 * budgets.std(ddof=1) / math.sqrt(3)  # Student t, 2 df, 95%
    assert fb["level"] == pytest.approx(10 ** budgets.mean())
    assert (fb["lo"], fb["hi"]) == pytest.approx((10 ** (budgets.mean() - half), 10 ** (budgets.mean() + half)))
    assert (fb["gates_min"], fb["gates_max"]) == (790, 810)
