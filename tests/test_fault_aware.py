"""Fault-aware training (networks.fault_aware): the sampler inside training draws the error model's
distribution, and the suite key is parsed, validated, part of the cache key and changes the model."""

import dataclasses

import numpy as np
import pytest
import torch

import circuits
from hardware.error_model import ErrorModel, measure
from networks import NetworkError, fault_aware
from networks import train as train_module
from networks.fault_aware import Injector, TrainNoise
from networks.models import attach_quantizers
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


def _certain(value: int) -> ErrorModel:
    """A 4x4 multiplier's error model whose every product is wrong by `value`."""
    shape = (16, 16)
    return ErrorModel("m", "f", "bitflip", 1e-3, 10, 8, "pair", np.zeros(shape, np.int64), np.full(shape, 8),
                      np.zeros((*shape, 8)), np.full((*shape, 2), value, np.int32))


@pytest.mark.parametrize("make", [lambda: torch.nn.Linear(6, 5), lambda: torch.nn.Conv2d(2, 3, 3, padding=1),
                                  lambda: torch.nn.Conv1d(2, 3, 3, stride=2)])
def test_every_product_errs_when_the_rate_is_one(make):
    """Closed form: every product with a nonzero 8-bit weight wrong by 3 (sign-magnitude: sign(w) * 3) adds
    3 * sum_i sign(w_ji) units of s_in * step_j at every output position (padding included: the multiplier runs on
    a = 0); a weight that rounds to zero has no product."""
    torch.manual_seed(0)
    layer = make()
    attach_quantizers(layer)
    with torch.no_grad():
        layer.weight.mul_((torch.rand_like(layer.weight) > 0.3).float())
    inj = Injector(_certain(3), "fault-aware", TrainNoise(level=1e-3))
    x = torch.rand(4, *((6,) if isinstance(layer, torch.nn.Linear) else (2, 5, 5) if layer.weight.dim() == 4
                        else (2, 9))) * 0.05
    y = layer(x)
    term = inj.term(layer, x, y).detach()
    w = layer.weight.detach().reshape(len(layer.weight), -1)
    step = w.abs().amax(dim=1) / 127
    signs = torch.sign(torch.round(w / step[:, None]))  # the 8-bit weights' signs
    expect = 3 * signs.sum(dim=1) * step * x.max() / 15  # a: 4 bits; sign-magnitude products
    assert torch.allclose(term, expect.view(1, -1, *([1] * (y.dim() - 2))).expand_as(y), rtol=1e-5)


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
finetune_epochs = 2
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
    plain = dataclasses.replace(config, training="plain", train_noise=None)
    config = dataclasses.replace(config, train_noise=TrainNoise(level=3e-4))
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


def test_model_key_follows_the_multiplier_netlist(monkeypatch):
    config = ModelConfig(hidden=(8,), epochs=4, training="fault-aware", train_noise={"level": 3e-4})
    before = config.key()
    assert dataclasses.replace(config, train_noise=TrainNoise(level=3e-4, multiplier="wallace")).key() != before
    # the same form name built into other gates (a changed generator) is another model
    monkeypatch.setattr(TrainNoise, "netlist", lambda self: circuits.truncated_multiplier(8))
    assert config.key() != before
