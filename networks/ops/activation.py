"""Elementwise nonlinearities: the clamp (ReLU, ReLU6, Hardtanh) and the family of piecewise-linear functions.

A clamp keeps its input's scale: integer bounds round(lo / scale), round(hi / scale) within +-(2^act_bits - 1).
A piecewise-linear operation (a `PiecewiseLinear` subclass gives its real segments) becomes one integer node:
segment k (inputs x >= threshold[k - 1], integer input units) computes (x * mult[k] + offset[k] + 2^(shift-1))
>> shift, then clamps to the output range; the output scale is the calibrated peak / (2^act_bits - 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from networks.graph import Node, requantizer
from networks.ops.base import Op, Operation

aten = torch.ops.aten

_RELU = {"lo": 0.0, "hi": math.inf}


class Clamp(Operation):
    """clamp(x, lo, hi) in real units; fused into the multiply layer or add before it when it is that node's
    only user."""

    name = "clamp"
    summary = "ReLU, ReLU6, Hardtanh"
    modules = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
    functions = {F.relu: ("input",), torch.relu: ("input",), aten.relu.default: ("input",),
                 aten.relu_.default: ("input",), F.relu6: ("input",), aten.relu6.default: ("input",),
                 F.hardtanh: ("input", "min_val", "max_val"), aten.hardtanh.default: ("input", "min_val", "max_val")}
    methods = {"relu": ("input",)}

    def from_module(self, mod, node) -> Op:
        if isinstance(mod, nn.Hardtanh):  # ReLU6 is a Hardtanh(0, 6)
            return Op(self.name, [node.args[0]], {"lo": float(mod.min_val), "hi": float(mod.max_val)})
        return Op(self.name, [node.args[0]], dict(_RELU))

    def from_call(self, a, node) -> Op:
        if node.target in (F.relu6, aten.relu6.default):
            return Op(self.name, [a["input"]], {"lo": 0.0, "hi": 6.0})
        if node.target in (F.hardtanh, aten.hardtanh.default):
            return Op(self.name, [a["input"]], {"lo": float(a.get("min_val", -1.0)),
                                                "hi": float(a.get("max_val", 1.0))})
        return Op(self.name, [a["input"]], dict(_RELU))

    def lower(self, b, op, nd) -> None:
        src = b.value(op.inputs[0])
        lo, hi = b.clamp(src.scale, op.params["lo"], op.params["hi"])
        b.add(Node(nd.name, self.name, (src.node,), params={"clamp": (lo, hi)}, scale=src.scale, signed=lo < 0), nd)

    def evaluate(self, engine, node, ins, p):
        return np.clip(ins[0], *node.params["clamp"])


def piecewise(x: np.ndarray, params: dict) -> np.ndarray:
    """The integer piecewise-linear function of `params` (thresholds, mults, offsets, shift, clamp) on x."""
    k = np.searchsorted(params["thresholds"], x, side="right")
    shift = params["shift"]
    y = (x * params["mults"][k] + params["offsets"][k] + (1 << shift >> 1)) >> shift
    return np.clip(y, *params["clamp"])


class PiecewiseLinear(Operation):
    """Family base: a continuous piecewise-linear function of one tensor. Subclasses give `segments(params)`:
    [(x_from, slope, intercept), ...] in real units, x_from rising, the first -inf (y = slope * x + intercept for
    x >= x_from up to the next segment's start), and the forms (`from_module`/`from_call` put any parameters in
    the Op)."""

    def segments(self, params: dict) -> list:
        raise NotImplementedError

    def lower(self, b, op, nd) -> None:
        src = b.value(op.inputs[0])
        segs = self.segments(op.params)
        scale = b.out_scale(nd)
        ratio = np.array([abs(s) * src.scale / scale for _, s, _ in segs])
        _, shift = requantizer(ratio, b.shift_bits)
        params = {"thresholds": np.array([math.ceil(x / src.scale) for x, _, _ in segs[1:]], np.int64),
                  "mults": np.array([round(s * src.scale / scale * 2 ** shift) for _, s, _ in segs], np.int64),
                  "offsets": np.array([round(c / scale * 2 ** shift) for _, _, c in segs], np.int64),
                  "shift": shift, "clamp": (-b.amax, b.amax)}
        domain = np.arange(-b.amax if src.signed else 0, b.amax + 1, dtype=np.int64)
        signed = bool(piecewise(domain, params).min() < 0)
        params["clamp"] = (-b.amax if signed else 0, b.amax)
        b.add(Node(nd.name, self.name, (src.node,), params=params, scale=scale, signed=signed), nd)

    def evaluate(self, engine, node, ins, p):
        return piecewise(ins[0], node.params)
