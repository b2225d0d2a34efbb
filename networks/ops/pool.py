"""Pools: the integer maximum over windows, and average pools (fixed, adaptive, a mean over spatial dimensions)
as integer window sums times a per-position multiply-and-shift by 1 / window size (the scale is kept)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from networks.graph import Node, requantizer
from networks.ops.base import Op, Operation, unsupported

aten = torch.ops.aten

_MAXPOOL = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
_AVGPOOL = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
_MEAN = ("input", "dim", "keepdim")


class MaxPool(Operation):
    """Maximum over windows, 1-D (input (N, C, L)) or 2-D (input (N, C, H, W))."""

    name = "maxpool"
    summary = "MaxPool1d/2d"
    modules = (nn.MaxPool1d, nn.MaxPool2d)
    functions = {F.max_pool1d: _MAXPOOL, F.max_pool2d: _MAXPOOL, aten.max_pool1d.default: _MAXPOOL,
                 aten.max_pool2d.default: _MAXPOOL}

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"kwargs": {
            "kernel_size": mod.kernel_size, "stride": mod.stride, "padding": mod.padding,
            "dilation": mod.dilation, "ceil_mode": mod.ceil_mode}})

    def from_call(self, a, node) -> Op:
        return Op(self.name, [a["input"]], {"kwargs": {k: a[k] for k in _MAXPOOL[1:]
                                                       if a.get(k) not in (None, [], ())}})

    def lower(self, b, op, nd) -> None:
        src = b.value(op.inputs[0])
        b.add(Node(nd.name, self.name, (src.node,), params=op.params, scale=src.scale, signed=src.signed), nd)

    def evaluate(self, engine, node, ins, p):
        """Integer maximum over windows (torch's pooling on float32 values, exact below 2^24)."""
        fn = F.max_pool1d if ins[0].ndim == 3 else F.max_pool2d
        return fn(torch.from_numpy(ins[0]).float(), **node.params["kwargs"]).numpy().astype(np.int64)


class AvgPool(Operation):
    """The integer average-pool node: window sums by a 0/1 pooling matrix, a multiply-and-shift per position."""

    name = "avgpool"

    def evaluate(self, engine, node, ins, p):
        """Integer window sums (0/1 pooling matrix, exact float64) times mult[j] >> shift (mult[j] / 2^shift =
        1 / divisor of output position j); the scale is kept."""
        v = ins[0]
        c = v.shape[1]
        sums = (v.reshape(p.n * c, -1).astype(np.float64) @ node.params["matrix"]).astype(np.int64)
        shift = node.params["shift"]
        out = (sums * node.params["mult"] + (1 << (shift - 1))) >> shift
        return out.reshape(p.n, c, *node.params["out_shape"])


class Averaging(Operation):
    """Family base: a torch operation that averages over windows of the spatial dimensions (Op param 'fn': the
    float operation), lowered to an avgpool node read off the float operation on a one-hot basis."""

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"fn": mod})

    def from_call(self, a, node) -> Op:
        fn, rest = node.target, {k: v for k, v in a.items() if k != "input"}
        return Op(self.name, [a["input"]], {"fn": lambda v: fn(v, **rest)})

    def lower(self, b, op, nd) -> None:
        """0/1 pooling matrix and divisors read off the float pooling of a one-hot basis."""
        src = b.value(op.inputs[0])
        shape = tuple(b.values[op.inputs[0].name].shape[2:])
        size = int(np.prod(shape))
        basis = torch.eye(size, dtype=torch.float64).reshape(size, 1, *shape)
        with torch.no_grad():
            pooled = op.params["fn"](basis)
        out_shape = tuple(pooled.shape[2:])
        weights = pooled.reshape(size, -1).numpy()
        matrix = (weights > 0).astype(np.float64)
        divisor = np.round(1.0 / weights.max(axis=0)).astype(np.int64)
        if np.abs(weights - matrix / divisor).max() > 1e-9:
            raise unsupported(nd, "pooling weights are not 1 / window size")
        mult, shift = requantizer(1.0 / divisor, b.shift_bits)
        params = {"matrix": matrix, "mult": mult, "shift": shift, "out_shape": out_shape}
        b.add(Node(nd.name, AvgPool.name, (src.node,), params=params, scale=src.scale, signed=src.signed), nd)


class AvgPoolForm(Averaging):
    name = "avg_pool"
    summary = "AvgPool1d/2d"
    modules = (nn.AvgPool1d, nn.AvgPool2d)
    functions = {F.avg_pool1d: _AVGPOOL[:-1], F.avg_pool2d: _AVGPOOL, aten.avg_pool1d.default: _AVGPOOL[:-1],
                 aten.avg_pool2d.default: _AVGPOOL}


class AdaptiveAvgPool(Averaging):
    name = "adaptive_avg_pool"
    summary = "AdaptiveAvgPool1d/2d"
    modules = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
    functions = {F.adaptive_avg_pool1d: ("input", "output_size"), F.adaptive_avg_pool2d: ("input", "output_size"),
                 aten.adaptive_avg_pool1d.default: ("input", "output_size"),
                 aten.adaptive_avg_pool2d.default: ("input", "output_size")}


class SpatialMean(Averaging):
    """x.mean(dims) over spatial dimensions (not batch, not channels)."""

    name = "mean"
    summary = "spatial mean"
    functions = {torch.mean: _MEAN, aten.mean.dim: _MEAN}
    methods = {"mean": _MEAN}

    def from_call(self, a, node) -> Op:
        dims = a.get("dim")
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        keep = bool(a.get("keepdim", False))
        if dims == (None,) or any(d in (0, 1) for d in dims):
            raise unsupported(node, "mean over the batch or channel dimension")
        return Op(self.name, [a["input"]], {"fn": lambda v: v.mean(dim=dims, keepdim=keep)})
