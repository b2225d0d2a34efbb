"""Fault-aware training (networks.fault_aware): the sampler inside training draws the error model's
distribution, and the suite key is parsed, validated, part of the cache key and changes the model."""

import dataclasses

import numpy as np
import pytest
import torch

import circuits
from hardware.error_model import measure
from networks import NetworkError, fault_aware
from networks import train as train_module
from networks.fault_aware import Injector, TrainNoise
from networks.train import ModelConfig, trained_model
from testbed.errors import SuiteError
from testbed.suite import load_suite

Z = 4.0


def test_sampled_product_errors_follow_the_model():
    """Every product of a (N, in) x (out, in) layer is drawn wrong at its pair's rate, with a value uniform over the
    pair's K errors, signed by its weight; zero weights never err."""
    model = measure(circuits.multiplier(4), "bitflip", 5e-3, trials=1024, k=4, seed=2)
    inj = Injector(model, "fault-aware", TrainNoise(level=5e-3), seed=1)
    rng = np.random.default_rng(0)
    n, k, out = 2000, 16, 16
    a = torch.as_tensor(rng.integers(0, 16, (n, k, 1)))
    w = torch.as_tensor(rng.integers(-15, 16, (out, k)))
    w[0] = 0
    pos, err = inj.sample_products(a, w.abs(), torch.sign(w))
    i, j, row = pos % k, (pos // k) % out, pos // (k * out)
    assert (j != 0).all()
    pa, pb = a[row, i, 0].numpy(), w[j, i].abs().numpy()
    # counts per pair against the expected count sum of rates over that pair's products
    all_a = np.broadcast_to(a[:, None, :, 0].numpy(), (n, out, k))
    all_b = np.broadcast_to(w.abs().numpy()[None], (n, out, k))
    nonzero = np.broadcast_to(w.numpy()[None] != 0, (n, out, k))
    expect = np.zeros((16, 16))
    np.add.at(expect, (all_a[nonzero], all_b[nonzero]), model.rate[all_a[nonzero], all_b[nonzero]])
    got = np.zeros((16, 16))
    np.add.at(got, (pa, pb), 1)
    assert got.sum() > 1000
    busy = expect > 50
    assert np.all(np.abs(got - expect)[busy] < Z * np.sqrt(expect[busy]))
    # values: the signed errors are among the pair's K errors, each about equally often
    mag = (err * torch.sign(w[j, i]).float()).numpy().astype(np.int64)
    assert np.all((model.errors[pa, pb] == mag[:, None]).any(axis=1))
    first = np.mean(model.errors[pa, pb, 0] == mag)  # share of draws equal to the first of the K values
    share = np.mean((model.errors[pa, pb] == model.errors[pa, pb, :1]).mean(axis=1))
    assert abs(first - share) < Z * np.sqrt(share / len(mag))


def test_train_noise_is_validated():
    with pytest.raises(NetworkError, match=r"train_noise.level = 0.5 is invalid"):
        ModelConfig(training="fault-aware", train_noise={"level": 0.5})
    with pytest.raises(NetworkError, match=r"train_noise.levle is not a field"):
        ModelConfig(training="fault-aware", train_noise={"levle": 1e-4})
    with pytest.raises(NetworkError, match="train_noise needs training"):
        ModelConfig(train_noise={"level": 1e-4})
    with pytest.raises(NetworkError, match="training = 'faulty'"):
        ModelConfig(training="faulty")


SUITE = """
[suite]
name = "fa"
[systems.mul8]
kind = "circuit"
circuit = "multiplier"
width = 8
form = "wallace"
[systems.net]
kind = "network"
dataset = "digits"
hidden = [8]
epochs = 4
multiplier = "mul8"
training = "{training}"
train_noise = {{ level = 3e-4 }}
[[sweeps]]
noise = "bitflip"
levels = [1e-5, 1e-4]
sites = {{ net = "mac-gate" }}
"""


def _load(tmp_path, text):
    (tmp_path / "s.toml").write_text(text)
    return load_suite(tmp_path / "s.toml")


def test_suite_key_parses_caches_and_changes_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "models_dir", lambda: tmp_path)
    suite = _load(tmp_path, SUITE.format(training="fault-aware"))
    config = suite.systems["net"].config
    assert config.train_noise == TrainNoise(level=3e-4, multiplier="wallace")  # the network's multiplier's form
    # a small error model of the array multiplier (whose kernels the shared cache holds) keeps this test fast
    monkeypatch.setattr(fault_aware, "error_model", lambda net, kind, level: measure(net, kind, level, trials=64))
    plain = dataclasses.replace(config, training="plain", train_noise=None, finetune_epochs=2)
    config = dataclasses.replace(config, finetune_epochs=2, train_noise=TrainNoise(level=3e-4))
    assert len({plain.key(), config.key(), dataclasses.replace(config, training="gaussian").key()}) == 3
    assert plain.key() == ModelConfig(hidden=(8,), epochs=4, finetune_epochs=2).key()  # plain keys as before
    base, _ = trained_model(plain, progress=False)
    model, info = trained_model(config, progress=False)
    assert "fault_aware" in info
    assert not torch.equal(model.layers[0].weight, base.layers[0].weight)
    monkeypatch.setattr(train_module, "_train", lambda *a: pytest.fail("retrained a cached model"))
    again, _ = trained_model(config, progress=False)
    assert torch.equal(again.layers[0].weight, model.layers[0].weight)
    with pytest.raises(SuiteError, match=r"systems.net.*train_noise.multiplier = 'booth' is invalid"):
        _load(tmp_path, SUITE.format(training="fault-aware").replace("level = 3e-4", "multiplier = 'booth'"))
