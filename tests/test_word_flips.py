"""Word-site bit flips: the position draw and the engine's fused accumulator path equal their plain numpy
references (the same positions from the same generator state, the same outputs bit for bit)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from circuits.faults import DENSE_P, flip_positions
from networks import IntegerEngine, IntegerModel, from_torch
from networks.kernels import quantize_inputs
from networks.models import resnet20
from testbed.noise import bitflip


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny convolutions: torch's thread pool only waits on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _reference_positions(n_bits, p, rng):
    """flip_positions as first written: numpy's unique over the drawn positions, redrawing the missing ones."""
    if p <= 0 or n_bits == 0:
        return np.zeros(0, np.int64)
    if p > DENSE_P:
        return np.flatnonzero(rng.random(n_bits) < p)
    count = int(rng.binomial(n_bits, p))
    pos = np.unique(rng.integers(0, n_bits, count))
    while len(pos) < count:
        pos = np.unique(np.concatenate([pos, rng.integers(0, n_bits, count - len(pos))]))
    return pos


@pytest.mark.parametrize(("n_bits", "p"), [(n, p) for n in (0, 1, 7, 64, 1000, 123_457) for p in (0.0, 1e-3, 0.04, 0.3)]
                         + [(2 ** 40, 1e-8), (2 ** 62, 1e-15)])
def test_flip_positions_draw_what_numpy_unique_draws(n_bits, p):
    for seed in range(5):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        got = flip_positions(n_bits, p, ours)
        assert np.array_equal(got, _reference_positions(n_bits, p, ref)) and got.dtype == np.int64
        assert ours.integers(0, 2 ** 62) == ref.integers(0, 2 ** 62)  # the generators stand at the same state


def test_flip_positions_redraw_collisions_as_numpy_does():
    """Few bits and many flips: nearly every draw collides and is redrawn (the merge path)."""
    for seed in range(50):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        for n_bits in (20, 50, 300):
            assert np.array_equal(flip_positions(n_bits, DENSE_P, ours), _reference_positions(n_bits, DENSE_P, ref))


def _sequential():
    """A small conv-conv-linear integer model (two's-complement accumulators of 12 bits, so flips and wraps bite;
    the linear layer takes signed inputs) and inputs."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 2), nn.Flatten(),
                        nn.Linear(5 * 3 * 3, 3))
    x = np.random.default_rng(4).random((6, 3, 8, 8), dtype=np.float32)
    return from_torch(net, x, acc_bits=12), x


def _reference_run(model, x, p, rng):
    """The model's logits with every accumulator word's bits flipped independently with probability p, by hand:
    exact integer sums (float64 torch on integer operands, exact here), the bias, a wrap to acc_bits, the bits of
    flip_positions(words * acc_bits) XORed in (word w = pos // acc_bits in (sample, position) rows by output
    columns, bit pos % acc_bits), a wrap again, then (acc * mult + 2^(shift-1)) >> shift and the clamp."""
    a, bits = quantize_inputs(x, model.act_bits), model.acc_bits
    top = 1 << (bits - 1)
    for layer in model.layers:
        n = a.shape[0]
        inp = torch.from_numpy(a.reshape(n, -1) if layer.kind == "linear" else a).double()
        w = torch.from_numpy(layer.weight).double()
        if layer.kind == "linear":
            y = (inp @ w.T).numpy()[:, :, None]
        else:
            y = F.conv2d(inp, w.reshape(layer.n_out, -1, *layer.kernel), None, layer.stride, layer.padding).numpy()
        shape = y.shape
        acc = y.reshape(n, layer.n_out, -1).transpose(0, 2, 1).reshape(-1, layer.n_out).astype(np.int64) + layer.bias
        acc = ((acc + top) & ((1 << bits) - 1)) - top
        flat = acc.reshape(-1)
        for pos in flip_positions(flat.size * bits, p, rng):
            flat[pos // bits] ^= 1 << (pos % bits)
        acc = ((acc + top) & ((1 << bits) - 1)) - top
        out = (acc * layer.mult + (1 << (layer.shift - 1))) >> layer.shift
        if layer.clamp is not None:
            out = np.clip(out, *layer.clamp)
        a = out.reshape(n, -1, layer.n_out).transpose(0, 2, 1).reshape(shape)
    return a.reshape(a.shape[0], -1)


@pytest.mark.parametrize("p", [1e-3, 0.02, 0.2])
def test_accumulator_flips_in_the_fused_pass_equal_a_numpy_reference(p):
    model, x = _sequential()
    engine = IntegerEngine(model)
    for seed in range(3):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        got = engine.run(x, noise={"accumulator": bitflip(p).plan("accumulator")}, rng=ours).logits
        np.testing.assert_array_equal(got, _reference_run(model, x, p, ref))
        assert ours.integers(0, 2 ** 62) == ref.integers(0, 2 ** 62)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    x = np.random.default_rng(1).random((3, 3, 8, 8), dtype=np.float32)
    return IntegerEngine(from_torch(resnet20((3, 8, 8), (2, 3, 4), 5).eval(), x, acc_bits=12)), x


def _plain(plan):
    """The same plan as a plain hook (no `xor`), which the engine runs on the words themselves."""
    return lambda values, bits, signed, rng: plan(values, bits, signed, rng)


def _assert_same_as_plain(engine, x, plans):
    ours, ref = np.random.default_rng(9), np.random.default_rng(9)
    plain = {key: _plain(plan) for key, plan in plans.items()}
    for _ in range(2):
        np.testing.assert_array_equal(engine.run(x, noise=plans, rng=ours).logits,
                                      engine.run(x, noise=plain, rng=ref).logits)
    assert ours.integers(0, 2 ** 62) == ref.integers(0, 2 ** 62)


ALL = ("weight", "activation", "accumulator")


@pytest.mark.parametrize(("keys", "p", "bits"), [
    (("weight",), 0.05, None), (("activation",), 0.05, None), (("accumulator",), 0.05, None), (ALL, 1e-3, None),
    (ALL, 0.3, (0, 3, 11)), (("accumulator", "accumulator@stages.3.body.0"), 0.05, None),
    (("activation@stages.4.body.0", "accumulator@stages.4.body.0"), 0.3, None)])
def test_fused_flips_equal_the_hooks_applied_to_the_words(resnet, keys, p, bits):
    """A ResNet (12-bit accumulators) under bit flips at word sites: the plans (which the engine applies inside
    its fused passes) give what the same plans give as plain hooks on the words, bit for bit, and leave the
    generator in the same state."""
    _assert_same_as_plain(*resnet, {key: bitflip(p, bits).plan(key.partition("@")[0]) for key in keys})


@pytest.mark.parametrize("p", [0.01, 0.3])
def test_fused_flips_on_signed_inputs_equal_the_hooks_applied_to_the_words(p):
    """The same on a layer with signed inputs (two's complement act_bits + 1, clipped to +-(2^act_bits - 1))."""
    model, x = _sequential()
    _assert_same_as_plain(IntegerEngine(model), x, {key: bitflip(p).plan(key) for key in ALL})


def test_fused_flips_on_words_outside_their_range_equal_the_hooks_applied_to_the_words():
    """Words beyond their site's range, set by hand: layer inputs (outputs scaled up 64x, clamps widened: inputs up
    to 280 of the second layer's 8-bit words, -410..406 of the last one's 9-bit signed words) and weights (the
    last layer's declared 6 bits, its weights up to 127): the hooks wrap every word (and clip signed inputs) before
    flipping; the engine then leaves the flips to them, with the same result."""
    model, x = _sequential()
    first, second, last = model.layers
    wide = IntegerModel([dataclasses.replace(first, mult=first.mult * 64, clamp=(0, 700)),
                         dataclasses.replace(second, mult=second.mult * 64, clamp=(-700, 700)),
                         dataclasses.replace(last, weight_bits=6)], model.input_shape, model.act_bits, model.acc_bits)
    for key in ("activation@2", "activation@4", "weight@4"):
        _assert_same_as_plain(IntegerEngine(wide), x, {key: bitflip(0.01).plan(key.partition("@")[0])})
