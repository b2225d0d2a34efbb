"""Error models of a multiplier's product (hardware.error_model): fidelity against gate-level simulation, the
conditioning that fails it, the per-bit sampler, and the verified cache."""

import numpy as np
import pytest

import circuits
from circuits.cache import CacheWarning
from hardware import HardwareError
from hardware.error_model import ErrorModel, coarsen, error_model, fidelity, measure

Z = 4.0  # |gate - model| / combined standard error: about 99.99% per statistic, 18 statistics per check


@pytest.fixture(scope="module")
def mul4():
    net = circuits.multiplier(4)
    return net, measure(net, "bitflip", 2e-3, trials=4096, k=64, seed=3)


def _skewed(shape):
    """A network-like stream: half the activations zero, small magnitudes more common than large ones."""
    a, b = np.arange(shape[0])[:, None], np.arange(shape[1])[None, :]
    hist = np.exp(-0.4 * a - 0.3 * b)
    hist[0] += hist.sum() / shape[1]
    return hist


def test_pair_model_reproduces_gate_level_errors(mul4):
    net, model = mul4
    assert 0 < model.rate.mean() < 0.2
    for hist in (np.ones(model.wrong.shape), _skewed(model.wrong.shape)):
        stats = fidelity(model, net, hist, n=1 << 19, seed=11)
        assert [s.name for s in stats[:3]] == ["error power", "wrong rate", "bit 0"] and len(stats) == 2 + 8
        assert max(s.z for s in stats) < Z, [(s.name, s.gate, s.model, s.z) for s in stats]


def test_unconditioned_model_fails_on_a_skewed_stream(mul4):
    """Pooled over all pairs, the per-bit rates miss the stream's own: the test can fail."""
    net, model = mul4
    stats = fidelity(coarsen(model, "none"), net, _skewed(model.wrong.shape), n=1 << 19, seed=11)
    assert max(s.z for s in stats) > 2 * Z


def test_samples_follow_the_model(mul4):
    """model.sample on a stream: its error power and wrong rate match the model's expectation."""
    _, model = mul4
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 16, 1 << 20), rng.integers(0, 16, 1 << 20)
    e = model.sample(a, b, rng).astype(np.float64)
    rate, power = model.rate[a, b], model.power()[a, b]
    assert abs(np.mean(e != 0) - rate.mean()) < Z * np.sqrt(rate.mean() / len(a))
    assert abs(np.mean(e ** 2) - power.mean()) < Z * np.std(e ** 2) / np.sqrt(len(a))


def test_independent_bits_keep_bit_rates_not_the_wrong_rate(mul4):
    """Per-bit independent flips reproduce every bit's rate but not how often the product is wrong (flips of one
    gate move several bits together)."""
    _, model = mul4
    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 16, 1 << 20), rng.integers(0, 16, 1 << 20)
    e = model.sample_bits(a, b, rng)
    clean = model.table[a, b]
    flipped = ((clean + e) ^ clean)[:, None] >> np.arange(8) & 1
    expect = (model.bit_counts[a, b] / model.trials).mean(axis=0)
    assert np.all(np.abs(flipped.mean(axis=0) - expect) < Z * np.sqrt(expect / len(a)) + 1e-12)
    assert np.mean(e != 0) > 1.2 * model.rate[a, b].mean()


def test_rate_at_is_first_order_in_the_level(mul4):
    net, model = mul4
    lower = measure(net, "bitflip", 5e-4, trials=4096, k=8, seed=4)
    predicted = model.rate_at(5e-4).mean()
    assert abs(lower.rate.mean() - predicted) < 0.05 * predicted
    assert np.array_equal(model.rate_at(), model.rate)


def test_cache_round_trip_and_tampering(tmp_path, monkeypatch):
    monkeypatch.setattr("hardware.error_model.cache_root", lambda: tmp_path)  # (kernels stay in the shared cache)
    net = circuits.multiplier(3)
    first = error_model(net, "bitflip", 1e-2, trials=64, k=4)
    files = list((tmp_path / "error_models").glob("*.npz"))
    assert len(files) == 1 and files[0].with_name(files[0].name + ".sha256").is_file()
    again = error_model(net, "bitflip", 1e-2, trials=64, k=4)
    assert isinstance(again, ErrorModel) and np.array_equal(again.errors, first.errors) and again.level == 1e-2
    files[0].write_bytes(files[0].read_bytes()[:-8] + b"tampered")
    with pytest.warns(CacheWarning, match="fails verification"):
        rebuilt = error_model(net, "bitflip", 1e-2, trials=64, k=4)
    assert np.array_equal(rebuilt.wrong, first.wrong)


def test_bad_input_names_the_problem():
    with pytest.raises(HardwareError, match="noise kind"):
        measure(circuits.multiplier(3), "stuck", 1e-3)
    with pytest.raises(HardwareError, match="unsigned multiplier"):
        measure(circuits.multiplier(3, signed=True), "bitflip", 1e-3)
