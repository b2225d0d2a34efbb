"""Sparse exact fault sampling (circuits.sparse, the gate-level multiplier's sparse path): the flips the
simulator draws, listed; the touched vectors simulated alone; bit for bit the full flip simulation; and, with
independent draws, the same error distribution (a two-proportion test sized to see a 1% difference in error
rate, a chi-square test of the error's bit position) and the same network accuracy."""

import numpy as np
import pytest
import torch
from scipy import stats

import circuits as c
import circuits.sparse
from circuits.simulate import pack_operands, unpack_outputs
from hardware import gatemac, pe
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, from_torch, trained_model
from tests.reference import reference_simulate
from tests.test_resnet import SignedResidual

ALPHA, POWER, DELTA = 1e-3, 0.9, 0.01  # two-sided test level, power, and the error-rate difference to see


def sample_size(rate: float, delta: float = DELTA) -> int:
    """Samples per arm for a two-proportion z-test at level ALPHA to see `delta` with power POWER around `rate`."""
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return int(np.ceil(z * z * 2 * rate * (1 - rate) / delta ** 2))


def _full_and_sparse(net, a, b, faults):
    """The netlist's outputs on operands a, b with `faults` by simulate_planes, and by the sparse path."""
    planes, n = pack_operands(net, {"a": a, "b": b})
    full = unpack_outputs(net, c.simulate_planes(net, planes, faults=faults), n)["p"]
    clean_plan = c.GateFaults(0.0, faults.stuck)
    sparse = unpack_outputs(net, c.simulate_planes(net, planes, faults=clean_plan), n)["p"]
    vec, gates = c.flip_sites(net, planes.shape[1], faults)
    inside = vec < n
    vec, gates = vec[inside], gates[inside]
    touched, lane = np.unique(vec, return_inverse=True)
    if len(touched):
        sparse[touched] = c.simulate_touched(net, {"a": a[touched], "b": b[touched]}, lane, gates, faults)["p"]
    return full, sparse, vec, gates


@pytest.mark.parametrize("p, stuck", [(1e-5, ()), (1e-3, ()), (1e-3, ((3, 1), (200, 0))), (0.2, ())])
def test_sparse_simulation_is_the_full_flip_simulation_bit_for_bit(p, stuck):
    net = c.multiplier(8)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 256, 70_000), rng.integers(0, 256, 70_000)
    full, sparse, vec, gates = _full_and_sparse(net, a, b, c.GateFaults(p, stuck, seed=9))
    np.testing.assert_array_equal(sparse, full)
    assert 0.2 < len(vec) / (70_000 * net.n_gates * p) < 5  # about p flips per gate and vector were drawn


def test_touched_vectors_match_an_independent_reference_with_those_gates_inverted():
    net = c.multiplier(4)
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 16, 3000), rng.integers(0, 16, 3000)
    _, sparse, vec, gates = _full_and_sparse(net, a, b, c.GateFaults(0.01, seed=4))
    for v in np.unique(vec)[:40]:
        flipped = set(gates[vec == v].tolist())
        ref = reference_simulate(net, {"a": [a[v]], "b": [b[v]]}, inverted=flipped)["p"][0]
        assert sparse[v] == ref


@pytest.fixture(scope="module")
def mlp():
    ds = digits()
    model, _ = trained_model(ModelConfig(hidden=(32,), epochs=30), progress=False)
    return export(model, ds.x_train), ds


@pytest.mark.parametrize("net", [c.multiplier(8), c.truncated_multiplier(8)], ids=["exact", "truncated"])
def test_engine_sparse_path_equals_full_path(mlp, net, monkeypatch):
    imodel, ds = mlp
    assert Multiplier("gates", net)._sparse(c.GateFaults(1e-5))
    monkeypatch.setattr(circuits.sparse, "SPARSE_TOUCHED", 1.0)  # the sparse path wherever it is correct
    x = ds.x_test[:200]
    full = IntegerEngine(imodel, Multiplier("gates", net, sparse=False))
    sparse = IntegerEngine(imodel, Multiplier("gates", net))
    for faults in (c.GateFaults(1e-5, seed=1), c.GateFaults(1e-3, seed=2), c.GateFaults(1e-4, ((7, 1),), seed=3)):
        assert sparse.multiplier._sparse(faults)
        for kw in ({}, {"measure_error": True}, {"noise": {"product@" + full.layer_names[0]: lambda v, *_: v}}):
            a, b = full.run(x, faults=faults, **kw), sparse.run(x, faults=faults, **kw)
            np.testing.assert_array_equal(a.logits, b.logits)
            assert a.site_error == b.site_error
            if a.wrong_products is not None:
                np.testing.assert_array_equal(a.wrong_products, b.wrong_products)
    assert not sparse.multiplier._sparse(c.GateFaults(1e-2))  # frequent flips: the full path


def test_engine_sparse_path_on_convolutions_equals_full_path(monkeypatch):
    """Convolutions by the sparse path (exact sums from the convolution kernel, the touched vectors' operands read
    from the layer input in place) give the full path's logits bit for bit in both arithmetics; the exact and
    lookup-table engines on the direct sums with accumulator noise give the gate-level engine's."""
    monkeypatch.setattr(circuits.sparse, "SPARSE_TOUCHED", 1.0)
    torch.manual_seed(0)
    x = np.random.default_rng(1).random((6, 3, 8, 8), dtype=np.float32)
    imodel = from_torch(SignedResidual().eval(), x)
    assert [lay.signed_input for lay in imodel.layers] == [False, False, True, False]
    for net, kw in ((c.multiplier(8), {}), (c.multiplier(9, 8, signed=True), {"arithmetic": "twos-complement"})):
        engines = [IntegerEngine(imodel, Multiplier("gates", net, sparse=sparse, **kw)) for sparse in (False, True)]
        clean = engines[0].run(x).logits
        for faults in (c.GateFaults(2e-3, seed=1), c.GateFaults(5e-3, seed=2)):
            full, sparse = (e.run(x, faults=faults).logits for e in engines)
            np.testing.assert_array_equal(sparse, full)
            assert np.any(full != clean)

    def noise(values, bits, signed, rng):
        return values ^ rng.integers(0, 2, values.shape)
    want = IntegerEngine(imodel, Multiplier("gates", c.multiplier(8))).run(x, noise={"accumulator": noise},
                                                                           rng=np.random.default_rng(3)).logits
    for mul in (None, Multiplier("lut", c.multiplier(8))):
        got = IntegerEngine(imodel, mul).run(x, noise={"accumulator": noise}, rng=np.random.default_rng(3)).logits
        np.testing.assert_array_equal(got, want)


def _error_samples(p: float, n: int, sparse: bool, seed: int) -> np.ndarray:
    """Product errors of the 8x8 array multiplier on n random operand pairs, flips p, full or sparse path."""
    net = c.multiplier(8)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (n // 64, 64))
    mag = rng.integers(0, 256, (1, 64))
    faults = c.GateFaults(p, seed=seed)
    if sparse:
        table_t = np.ascontiguousarray(Multiplier("lut", net).table().T)
        prod = gatemac.sparse_products(net, table_t, a, mag, faults)
    else:
        prod = gatemac.products(net, a, mag, faults, {})
    return (prod - a[:, None, :] * mag[None, :, :]).ravel()


def _assert_same_distribution(e1: np.ndarray, e2: np.ndarray) -> None:
    """Error rates equal (two-proportion z-test) and the error's top bit equally distributed (chi-square)."""
    r1, r2 = np.mean(e1 != 0), np.mean(e2 != 0)
    pooled = (r1 + r2) / 2
    z = (r1 - r2) / np.sqrt(2 * pooled * (1 - pooled) / len(e1))
    assert abs(z) < stats.norm.ppf(1 - ALPHA / 2), (r1, r2)
    top1 = np.floor(np.log2(np.abs(e1[e1 != 0]))).astype(int)
    top2 = np.floor(np.log2(np.abs(e2[e2 != 0]))).astype(int)
    bins = np.arange(18)
    h = np.array([np.histogram(top1, bins)[0], np.histogram(top2, bins)[0]])
    h = h[:, h.sum(axis=0) >= 10]
    assert stats.chi2_contingency(h)[1] > ALPHA


@pytest.mark.parametrize("p", [1e-3, pytest.param(1e-4, marks=pytest.mark.slow),
                               pytest.param(1e-2, marks=pytest.mark.slow)])
def test_sparse_and_full_paths_draw_the_same_product_error_distribution(p):
    """Independent draws (different seeds) on each path: the error rate and the error's bit position agree.
    Sample size: enough for power POWER to see an error-rate difference of DELTA (absolute) at level ALPHA."""
    rate = 1 - (1 - p) ** c.multiplier(8).n_gates  # at most the chance that a product sees a flip
    n = -(-sample_size(min(0.5, rate)) // 64) * 64
    _assert_same_distribution(_error_samples(p, n, True, 11), _error_samples(p, n, False, 12))


def test_sample_size_has_the_stated_power():
    """The z-test with sample_size(r) samples sees a DELTA difference in POWER of simulated experiments."""
    rng = np.random.default_rng(0)
    n = sample_size(0.3)
    r1 = rng.binomial(n, 0.3, 4000) / n
    r2 = rng.binomial(n, 0.3 + DELTA, 4000) / n
    pooled = (r1 + r2) / 2
    z = np.abs(r1 - r2) / np.sqrt(2 * pooled * (1 - pooled) / n)
    assert abs(np.mean(z > stats.norm.ppf(1 - ALPHA / 2)) - POWER) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("p", [3e-4, 1e-3])
def test_network_accuracy_agrees_between_paths(mlp, p, monkeypatch):
    """Accuracy over independent trials of each path (the sparse one forced), enough evaluations to see a 1%
    accuracy difference."""
    imodel, ds = mlp
    monkeypatch.setattr(circuits.sparse, "SPARSE_TOUCHED", 1.0)
    net = c.multiplier(8)
    engines = [IntegerEngine(imodel, Multiplier("gates", net, sparse=s)) for s in (True, False)]
    n = sample_size(0.5)
    trials = -(-n // len(ds.x_test))
    correct = [sum(int(np.sum(eng.run(ds.x_test, faults=c.GateFaults(p, seed=1000 * k + t)).predictions == ds.y_test))
                   for t in range(trials)) for k, eng in enumerate(engines)]
    total = trials * len(ds.x_test)
    r1, r2 = correct[0] / total, correct[1] / total
    pooled = (r1 + r2) / 2
    assert abs(r1 - r2) / np.sqrt(2 * pooled * (1 - pooled) / total) < stats.norm.ppf(1 - ALPHA / 2)


@pytest.mark.parametrize("net", [c.multiplier(8), c.multiplier(8, signed=True), c.ripple_carry_adder(64)],
                         ids=["unsigned", "signed", "wide"])
def test_simulate_with_rare_flips_is_a_clean_pass_plus_touched_vectors_bit_for_bit(net):
    rng = np.random.default_rng(5)
    n = 50_000
    ops = {bus: rng.integers(-(1 << (w - 1)) if net.signed else 0, 1 << (w - 1 if net.signed else min(w, 62)), n)
           for bus, w in net.inputs.items()}
    for faults in (c.GateFaults(1e-5, seed=2), c.GateFaults(2e-5, ((3, 1),), seed=4)):
        assert c.sparse_pays_off(net, faults)
        sparse, full = c.simulate(net, ops, faults=faults), c.simulate(net, ops, faults=faults, engine="interpreter")
        clean = c.simulate(net, ops, faults=c.GateFaults(0.0, faults.stuck))
        for bus in full:
            np.testing.assert_array_equal(sparse[bus], full[bus])
        assert any(np.any(full[bus] != clean[bus]) for bus in full)


def test_processing_element_sparse_path_equals_full_path(mlp, monkeypatch):
    """Every part of the element (multiplier, adder, both, with the requantizer), with error measurement, sign-
    magnitude and two's complement: the same accumulators, logits, errors and wrong counts as the full path."""
    imodel, ds = mlp
    monkeypatch.setattr(pe, "SPARSE_TOUCHED", 1.0)
    x = ds.x_test[:60]
    for net, kw in ((c.multiplier(8), {}), (c.multiplier(9, 8, signed=True), {"arithmetic": "twos-complement"})):
        engines = [IntegerEngine(imodel, Multiplier("pe", net, imodel.act_bits, 8, acc_bits=imodel.acc_bits,
                                                    sparse=sparse, **kw)) for sparse in (False, True)]
        assert engines[1].multiplier._sparse_element(c.GateFaults(1e-3))
        for part in ("mul", "add", "all", "whole"):
            faults = c.GateFaults(1e-3, seed=7)
            full, sparse = (eng.run(x, faults=faults, fault_part=part, measure_error=True) for eng in engines)
            np.testing.assert_array_equal(sparse.logits, full.logits)
            np.testing.assert_array_equal(sparse.wrong_products, full.wrong_products)
            assert sparse.site_error == full.site_error
    assert not engines[1].multiplier._sparse_element(c.GateFaults(1e-3, ((3, 1),)))  # stuck-at: the full path


def test_touched_pairs_read_only_the_bus_bits_of_their_operands():
    net = c.multiplier(4)
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 16, 200), rng.integers(0, 16, 200)
    lane, gates = np.arange(0, 200, 7), rng.integers(0, net.n_gates, len(range(0, 200, 7)))
    plain = c.simulate_touched_pairs(net, a, b, np.searchsorted(np.arange(200), lane), gates, c.GateFaults(1e-3))
    high = c.simulate_touched_pairs(net, a + (rng.integers(1, 99, 200) << 4), b + (1 << 20),
                                    np.searchsorted(np.arange(200), lane), gates, c.GateFaults(1e-3))
    np.testing.assert_array_equal(high, plain)
    assert np.array_equal(plain[[1, 2]], (a * b)[[1, 2]])  # untouched vectors: the exact products
