"""A binarized MLP: sign weights and sign activations, trained with the straight-through estimator, and its
exact integer model, compiled to gates (`compile_binarized`): thermometer bits of the inputs, XNOR with the
sign weights (folded into wires and inverters), popcount adder trees, threshold comparators (batch norm folded
into integer thresholds), popcounts of the output layer and an argmax.

Inputs: each feature x in [0, 1] is quantized to q = round(x * (2^bits - 1)) and read as `levels` = 2^bits - 1
thermometer bits t_k = [q >= k], k = 1..levels (feature-major: feature f's bits at f*levels .. f*levels+levels-1),
used as +-1 values 2t - 1. A hidden layer computes s = sum_i w_i x_i with w_i = sign(latent weight) in {-1, +1},
then batch norm and sign. With bits b in {0, 1} (1 meaning +1), s = 2 * popcount(XNOR(x, w)) - n, so the unit
is on exactly when the popcount passes an integer threshold: popcount >= T (batch-norm scale > 0) or popcount <= T
(scale < 0). The output layer's score of class c is popcount(XNOR(h, w_c)); the label is the first argmax.
Training: latent weights clipped to [-1, 1], forward sign, backward the straight-through estimator
(gradient passed where |input| <= 1).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from circuits import blocks
from circuits.builder import Builder
from circuits.cache import read_verified, warn, write_verified
from networks.compilers.compiled import CompiledClassifier, feature_inputs, quantize
from networks.errors import NetworkError


class _Sign(torch.autograd.Function):
    """sign with sign(0) = +1; backward: the straight-through estimator clipped to |x| <= 1."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


def thermometer(q: np.ndarray, levels: int) -> np.ndarray:
    """Thermometer bits (n, features * levels) of quantized inputs q (n, features): bit f*levels + k-1 is q_f >= k."""
    q = np.asarray(q)
    return (q[:, :, None] >= np.arange(1, levels + 1)).reshape(len(q), -1)


class BinarizedMLP(nn.Module):
    """Sign-weight, sign-activation MLP on thermometer inputs (+-1); batch norm before each hidden sign; the
    logits are the output layer's +-1 sums times one learned scale."""

    def __init__(self, n_in: int, hidden: tuple[int, ...], n_classes: int):
        super().__init__()
        sizes = (n_in, *hidden)
        self.linears = nn.ModuleList(nn.Linear(a, c, bias=False) for a, c in zip(sizes, sizes[1:], strict=False))
        self.norms = nn.ModuleList(nn.BatchNorm1d(c) for c in hidden)
        self.out = nn.Linear(sizes[-1], n_classes, bias=False)
        self.scale = nn.Parameter(torch.tensor(1.0 / math.sqrt(sizes[-1])))

    def forward(self, x):
        for lin, norm in zip(self.linears, self.norms, strict=True):
            x = _Sign.apply(norm(x @ _Sign.apply(lin.weight).t()))
        return self.scale * (x @ _Sign.apply(self.out.weight).t())


@dataclass(frozen=True)
class BinaryLayer:
    """weights: bool (units, inputs), True for +1; unit u is on when popcount(XNOR(x, w_u)) >= thresholds[u]
    (up[u]) or <= thresholds[u] (not up[u])."""

    weights: np.ndarray
    thresholds: np.ndarray
    up: np.ndarray


@dataclass(frozen=True)
class BinarizedModel:
    """The integer model: input quantization, hidden layers with integer thresholds, output sign weights."""

    bits: int
    n_features: int
    hidden: tuple[BinaryLayer, ...]
    out_weights: np.ndarray  # bool (classes, last hidden units)

    @property
    def levels(self) -> int:
        return (1 << self.bits) - 1

    def predict(self, q: np.ndarray) -> np.ndarray:
        """Labels for quantized inputs q (n, features), exactly as the compiled netlist computes them."""
        h = thermometer(q, self.levels)
        for layer in self.hidden:
            count = (h[:, None, :] == layer.weights[None]).sum(axis=2)
            h = np.where(layer.up, count >= layer.thresholds, count <= layer.thresholds)
        scores = (h[:, None, :] == self.out_weights[None]).sum(axis=2)
        return np.argmax(scores, axis=1)


def integer_model(net: BinarizedMLP, bits: int, n_features: int) -> BinarizedModel:
    """Fold each batch norm into integer popcount thresholds (eval-mode statistics)."""
    layers = []
    for lin, norm in zip(net.linears, net.norms, strict=True):
        w = (lin.weight.detach().double() >= 0).numpy()
        n = w.shape[1]
        g, beta = norm.weight.detach().double().numpy(), norm.bias.detach().double().numpy()
        mu, sd = norm.running_mean.double().numpy(), np.sqrt(norm.running_var.double().numpy() + norm.eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_edge = mu - beta * sd / g  # BN(s) >= 0  <=>  s >= s_edge (g > 0) or s <= s_edge (g < 0)
        edge = (n + s_edge) / 2  # in popcount units: s = 2 * count - n
        up = g >= 0
        t = np.where(up, np.ceil(edge), np.floor(edge))
        t = np.where(g == 0, np.where(beta >= 0, 0, n + 1), t)  # a constant unit
        layers.append(BinaryLayer(w, np.clip(t, -1, n + 1).astype(np.int64), up))
    return BinarizedModel(bits, n_features, tuple(layers), (net.out.weight.detach() >= 0).numpy())


def train_binarized(x: np.ndarray, y: np.ndarray, hidden: tuple[int, ...] = (128,), bits: int = 2,
                    epochs: int = 60, seed: int = 0) -> tuple[BinarizedMLP, BinarizedModel]:
    """Train on inputs x in [0, 1] (n, features) and labels y; returns the torch model (eval mode) and its integer
    model. Deterministic for a given seed (Adam, batches of 64, cross-entropy, cosine learning rate)."""
    if not 1 <= bits <= 4:
        raise NetworkError(f"binarized MLP: input bits must be in 1..4, got {bits}")
    torch.manual_seed(seed)
    q = quantize(x, bits)
    t = torch.as_tensor(thermometer(q, (1 << bits) - 1), dtype=torch.float32) * 2 - 1
    labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    net = BinarizedMLP(t.shape[1], tuple(hidden), int(labels.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    steps = epochs * math.ceil(len(t) / 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(t), generator=gen).split(64):
            loss = nn.functional.cross_entropy(net(t[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for lin in [*net.linears, net.out]:
                    lin.weight.clamp_(-1, 1)
    net.eval()
    return net, integer_model(net, bits, q.shape[1])


BNN_VERSION = 1  # bump when training changes: cached integer models of older versions are not used


def trained_binarized(ds, hidden: tuple[int, ...] = (128,), bits: int = 2, epochs: int = 60,
                      seed: int = 0) -> BinarizedModel:
    """The integer model of train_binarized on data set `ds` (its training inputs and labels), from the model
    cache (networks.train.models_dir()) when it was trained before: an .npz of plain arrays loaded without pickle,
    used only when it matches the SHA-256 stored beside it (else retrained, with a one-line warning). Every
    process that builds a population of binarized MLPs trains each member once per cache, not once per process."""
    from networks.train import models_dir

    key = hashlib.sha256(json.dumps([BNN_VERSION, ds.name, list(hidden), bits, epochs, seed]).encode()).hexdigest()
    path = models_dir() / f"bnn_{key[:20]}.npz"
    model = _load_binarized(path, key, bits, tuple(hidden))
    if model is None:
        model = train_binarized(ds.x_train, ds.y_train, hidden, bits, epochs, seed)[1]
        arrays = {"key": np.array(key), "n_features": np.array(model.n_features), "out_weights": model.out_weights}
        for i, layer in enumerate(model.hidden):
            arrays |= {f"w{i}": layer.weights, f"t{i}": layer.thresholds, f"up{i}": layer.up}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_verified(path, buf.getvalue())
    return model


def _load_binarized(path, key: str, bits: int, hidden: tuple) -> BinarizedModel | None:
    """The cached integer model at `path` when it exists, verifies against its SHA-256 and is the model of `key`
    with `hidden` units; None (a one-line warning when the file exists) otherwise."""
    data = read_verified(path, "binarized MLP", "retraining it")
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            layers = tuple(BinaryLayer(z[f"w{i}"].astype(bool), z[f"t{i}"].astype(np.int64),
                                       z[f"up{i}"].astype(bool)) for i in range(len(hidden)))
            model = BinarizedModel(bits, int(z["n_features"]), layers, z["out_weights"].astype(bool))
            stored = str(z["key"])
        if stored == key and tuple(layer.weights.shape[0] for layer in layers) == hidden:
            return model
        why = "holds another model"
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
        why = f"is unreadable ({type(exc).__name__})"
    warn(f"cached binarized MLP {path} {why}; retraining it")
    return None


def compile_binarized(model: BinarizedModel, name: str = "bnn") -> CompiledClassifier:
    """A binarized MLP (BinarizedModel) as a netlist: thermometer comparators, XNOR with
    constant weights (wires or shared inverters), popcounts, threshold comparators, output popcounts, argmax."""
    b = Builder(name)
    xs = feature_inputs(b, model.n_features, model.bits)
    bits = [blocks.ge_const(b, x, k) for x in xs for k in range(1, model.levels + 1)]
    for layer in model.hidden:
        inverted: dict[int, int] = {}

        def literal(net: int, weight: bool, inverted=inverted) -> int:  # XNOR(net, weight) with weight constant
            if weight:
                return net
            if net not in inverted:
                inverted[net] = b.gate("NOT", net)
            return inverted[net]

        nxt = []
        for w, t, up in zip(layer.weights, layer.thresholds, layer.up, strict=True):
            count = blocks.popcount(b, [literal(n, bool(wi)) for n, wi in zip(bits, w, strict=True)])
            nxt.append(blocks.ge_const(b, count, int(t)) if up else blocks.le_const(b, count, int(t)))
        bits = nxt
    scores = [blocks.popcount(b, [n if wi else b.gate("NOT", n) for n, wi in zip(bits, w, strict=True)])
              for w in model.out_weights]
    b.output("class", blocks.argmax(b, scores))
    return CompiledClassifier(b.build(), model.bits, model.n_features, model.predict)
