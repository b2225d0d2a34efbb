"""Known answers the comparator must reproduce, determinism, and bad input."""

import math

import numpy as np
import pytest

import circuits as c
from circuits.bitplanes import from_planes
from circuits.builder import Builder
from circuits.campaign import stuck_at_campaign
from circuits.layout import WORDS
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model
from testbed import NoiseError, TestbedError
from testbed.compare import Sweep, compare, per_bit_breakdowns, run_sweep
from testbed.noise import additive, apply_words, bitflip, stuck_at
from testbed.stats import leveugle_sample_size, mutual_information, wilson
from testbed.systems import CircuitSystem, NetworkSystem


def _majority_tree(depth):
    b = Builder(f"maj{depth}")
    leaves = b.input("x", 3 ** depth)
    level = leaves
    while len(level) > 1:
        level = [b.gate("MAJ", *level[i:i + 3]) for i in range(0, len(level), 3)]
    b.output("y", level)
    return b.build()


def _tree_error_rate(net, eps, n, seed):
    """Error rate of the tree's output with every leaf 0 (so the golden output is 0)."""
    planes = np.zeros((net.n_input_bits, -(-n // (64 * WORDS)) * WORDS), np.uint64)
    out = c.simulate_planes(net, planes, flip_p=eps, seed=seed)
    return float(np.mean(from_planes(out, 0, 1, n) != 0))


@pytest.mark.parametrize("eps", [0.02, 0.05, 0.12, 0.25])
def test_majority_tree_follows_von_neumann_recurrence(eps):
    depth, n = 4, 200_000
    rate = _tree_error_rate(_majority_tree(depth), eps, n, seed=3)
    eta = 0.0
    for _ in range(depth):
        eta = eps + (1 - 2 * eps) * (3 * eta ** 2 - 2 * eta ** 3)
    assert abs(rate - eta) < 4 * math.sqrt(eta * (1 - eta) / n)


def test_von_neumann_threshold_at_one_sixth():
    def iterate(eps, depth):
        eta = 0.0
        for _ in range(depth):
            eta = eps + (1 - 2 * eps) * (3 * eta ** 2 - 2 * eta ** 3)
        return eta
    assert iterate(1 / 6 - 0.01, 2000) < 0.4 and abs(iterate(1 / 6 + 0.01, 2000) - 0.5) < 1e-3
    # a deep simulated tree stays bounded below the threshold and drifts towards 1/2 above it
    net = _majority_tree(5)
    below = _tree_error_rate(net, 1 / 6 - 0.06, 50_000, seed=1)
    above = _tree_error_rate(net, 1 / 6 + 0.08, 50_000, seed=1)
    assert abs(below - iterate(1 / 6 - 0.06, 5)) < 0.01 and abs(above - iterate(1 / 6 + 0.08, 5)) < 0.01
    assert below < 0.25 < 0.4 < above


def test_xor_chain_through_circuit_system():
    n, p = 12, 0.01
    b = Builder("xor12")
    xs = b.input("x", n + 1)
    acc = xs[0]
    for i in range(n):
        acc = b.gate("XOR", acc, xs[i + 1])
    b.output("y", [acc])
    system = CircuitSystem(b.build())
    rows = [system.trial(bitflip(p), "gate", seed) for seed in range(4)]
    rate = 1 - sum(r["correct"] for r in rows) / sum(r["n"] for r in rows)
    expected = (1 - (1 - 2 * p) ** n) / 2
    assert abs(rate - expected) < 4 * math.sqrt(expected * (1 - expected) / (4 * system.n))


def test_campaign_and_noise_engine_agree_on_small_p():
    net = c.multiplier(5)
    s = stuck_at_campaign(net).sensitivity
    system = CircuitSystem(net)
    p = 1e-4
    rows = [system.trial(bitflip(p), "gate", seed) for seed in range(30)]
    rate = 1 - sum(r["correct"] for r in rows) / sum(r["n"] for r in rows)
    expected = 1 - math.exp(-p * s)
    assert abs(rate - expected) < 0.1 * expected


def test_zero_noise_equals_golden_everywhere(digits_system):
    circuit = CircuitSystem(c.multiplier(6))
    for noise in (bitflip(0), stuck_at(0), additive(math.inf)):
        site = "output" if noise.kind == "additive" else "gate"
        row = circuit.trial(noise, site, 1)
        assert row["correct"] == row["n"] and row["error_power"] == 0
    for site in ("weight", "activation", "accumulator", "product"):
        row = digits_system.trial(bitflip(0), site, 1)
        assert row["agree"] == row["n"] and row["error_power"] == 0


def test_flipping_the_same_bit_twice_restores_the_value():
    rng = np.random.default_rng(0)
    values = rng.integers(-128, 128, (50, 7))
    once = apply_words(bitflip(0.3), values, 8, True, np.random.default_rng(5))
    twice = apply_words(bitflip(0.3), once, 8, True, np.random.default_rng(5))
    assert not np.array_equal(once, values)
    np.testing.assert_array_equal(twice, values)


def test_additive_noise_realises_its_snr():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 1 << 16, 200_000)
    for dist in ("gaussian", "uniform"):
        noisy = apply_words(additive(6.0, dist), values, 17, False, rng)
        snr = 0.5 * math.log2(np.mean(values.astype(float) ** 2) / np.mean((noisy - values) ** 2.0))
        assert abs(snr - 6.0) < 0.05


@pytest.fixture(scope="module")
def digits_system():
    ds = digits()
    model, _ = trained_model(ModelConfig(), progress=False)
    engine = IntegerEngine(export(model, ds.x_train), Multiplier("gates", c.multiplier(8)))
    return NetworkSystem(engine, ds, "mlp")


def test_breakdown_is_stable_across_seeds_and_gap_is_reported(digits_system):
    circuit = CircuitSystem(c.multiplier(8))
    levels = np.logspace(-6, -2, 9)
    a = compare([circuit, digits_system], bitflip(0), levels, seed=1)
    b = compare([circuit, digits_system], bitflip(0), levels, seed=2)
    for label in a.breakdown:
        ba, bb = a.breakdown[label], b.breakdown[label]
        if ba.censored or bb.censored:
            continue
        # the two estimates' intervals overlap (the level does not move by more than its interval)
        assert ba.lo <= bb.hi and bb.lo <= ba.hi, label
    g = a.gap("mlp@mac-gate", f"{circuit.name}@gate")
    assert g.unit == "decades" and g.lo <= g.value <= g.hi
    assert a.breakdown["mlp@mac-gate (exact digital)"].level < a.breakdown["mlp@mac-gate"].level


def test_network_tolerates_more_error_power_than_the_circuit(digits_system):
    circuit = CircuitSystem(c.multiplier(8))
    cmp = compare([(circuit, "output"), (digits_system, "product")], additive(0), np.arange(0.0, 25.0, 3.0),
                  budget=0)
    g = cmp.gap("mlp@product", f"{circuit.name}@output")
    assert g.unit == "bits" and g.value > 8  # the network breaks at a far lower SNR
    rows = cmp.to_rows()
    assert {r["system"] for r in rows} == {"mlp@product", f"{circuit.name}@output"}
    assert '"breakdown"' in cmp.to_json()


def test_per_bit_view_low_bits_are_harmless(digits_system):
    views = per_bit_breakdowns(digits_system, [1e-3, 1e-2, 1e-1, 1.0], max_trials=2, budget=0)  # the grid alone
    assert len(views) == 16
    assert views[0].censored == "above"  # flipping product bit 0 even always does not break it
    top = views[15]
    assert top.censored != "above" and top.level < 0.5


def test_stats_helpers():
    lo, hi = wilson(0, 100)
    assert lo == 0 and 0.03 < hi < 0.04
    assert leveugle_sample_size(10_000, 0.01) == 4900
    labels = np.repeat(np.arange(10), 50)
    plug, corrected = mutual_information(labels, labels, 10)
    assert abs(plug - math.log2(10)) < 1e-9 and corrected == pytest.approx(plug + 9 / (2 * 500 * math.log(2)))


@pytest.mark.parametrize("make,fragment", [
    (lambda: bitflip(1.5), "outside [0, 1]"),
    (lambda: stuck_at(-1), "whole number >= 0"),
    (lambda: additive(3, dist="laplace"), "allowed: gaussian, uniform"),
])
def test_bad_noise_levels(make, fragment):
    with pytest.raises(NoiseError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_bad_sites_name_field_and_allowed_values(digits_system):
    circuit = CircuitSystem(c.multiplier(3))
    with pytest.raises(NoiseError, match="site 'product' does not exist for a circuit .allowed: gate, output"):
        circuit.trial(bitflip(0.1), "product", 0)
    with pytest.raises(NoiseError, match="cannot take additive noise"):
        circuit.trial(additive(3), "gate", 0)
    with pytest.raises(NoiseError, match="site 'gate' does not exist for a network"):
        Sweep(digits_system, "gate", bitflip(0), [0.1, 0.2])
    with pytest.raises(TestbedError, match="at least two levels"):
        Sweep(circuit, "gate", bitflip(0), [0.1])


def test_sweep_stops_early_far_from_threshold():
    circuit = CircuitSystem(c.multiplier(4))
    sweep = run_sweep(Sweep(circuit, "gate", bitflip(0), [1e-6, 0.3], max_trials=10, refine=0, budget=0))
    assert all(len(r) == 2 for r in sweep.rows.values())


def test_network_on_exact_multiplier_takes_word_noise(digits_system):
    exact = NetworkSystem(IntegerEngine(digits_system.engine.model), digits_system.dataset, "exact")
    clean = exact.trial(bitflip(0), "product", 1)
    noisy = exact.trial(bitflip(1e-3), "product", 1)
    assert clean["agree"] == clean["n"] and clean["error_power"] == 0
    assert noisy["error_power"] > 0 and noisy["all_products_exact"] == 0
    with pytest.raises(Exception, match="need a netlist multiplier"):
        exact.trial(bitflip(1e-3), "mac-gate", 1)


def test_readme_python_api_example_runs():
    from tests.conftest import run_readme_example

    printed = run_readme_example("Python API")
    assert "Breakdown(system='mlp@mac-gate'" in printed and "Gap(network='mlp@mac-gate'" in printed
