"""The graph's plumbing: its input and output, aliases (Dropout, Identity, contiguous), reshapes, and the adds
and concatenations that bring branches to a common scale by multiply-and-shift (an add's clamp is fused)."""

from __future__ import annotations

import math
import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from networks.graph import Node, requantizer
from networks.ops.activation import ClampForm
from networks.ops.base import Op, Operation, unsupported

aten = torch.ops.aten


class Input(Operation):
    """The network input: round(x * (2^act_bits - 1)) for x in [0, 1] (the engine quantizes it)."""

    name = "input"

    def lower(self, b, op, nd) -> None:
        b.add(Node("input", self.name, scale=1.0 / b.amax), nd)

    def evaluate(self, engine, node, ins, p):
        return ins[0]


class Output(Operation):
    """The module's one returned tensor (a one-tuple for torch.export)."""

    name = "output"

    def lower(self, b, op, nd) -> None:
        out = op.inputs[0]
        if isinstance(out, (tuple, list)) and len(out) == 1:
            out = out[0]
        if not isinstance(out, fx.Node):
            raise unsupported(nd, "the module must return one tensor")
        b.output = b.value(out)


class Pass(Operation):
    """Operations that are the identity at inference: their output is their input's integer value."""

    name = "pass"
    summary = "Dropout, Identity"
    modules = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)
    functions = {F.dropout: ("input",), aten.dropout.default: ("input",), aten.clone.default: ("input",)}
    methods = {"contiguous": ("input",)}

    def lower(self, b, op, nd) -> None:
        b.env[nd.name] = b.value(op.inputs[0])


class Reshape(Operation):
    """A reshape that keeps the batch dimension (shape read off the calibration pass)."""

    name = "reshape"
    summary = "Flatten/Unflatten/flatten/view/reshape"
    modules = (nn.Flatten, nn.Unflatten)
    functions = {torch.flatten: ("input",), torch.reshape: ("input",), aten.flatten.using_ints: ("input",),
                 aten.view.default: ("input",), aten.reshape.default: ("input",)}
    methods = {"view": ("input",), "reshape": ("input",), "flatten": ("input",)}

    def lower(self, b, op, nd) -> None:
        src = b.value(op.inputs[0])
        shape = tuple(b.values[nd.name].shape)
        if shape[0] != b.values[op.inputs[0].name].shape[0]:
            raise unsupported(nd, f"a reshape must keep the batch dimension (got {shape})")
        b.add(Node(nd.name, self.name, (src.node,), params={"shape": shape[1:]}, scale=src.scale,
                   signed=src.signed), nd)

    def evaluate(self, engine, node, ins, p):
        return ins[0].reshape(p.n, *node.params["shape"])


class Add(Operation):
    """Branches requantized to the output scale (the calibrated peak of the add, or of its fused clamp), summed,
    clamped."""

    name = "add"
    summary = "add"
    functions = {operator.add: ("input", "other"), torch.add: ("input", "other"), aten.add.Tensor: ("input", "other")}
    methods = {"add": ("input", "other")}

    def from_call(self, a, node) -> Op:
        if a.get("alpha", 1) != 1:
            raise unsupported(node, "add with alpha")
        return Op(self.name, [a["input"], a["other"]])

    def lower(self, b, op, nd) -> None:
        srcs = [b.value(x) for x in op.inputs]
        last, lo, hi = nd, -math.inf, math.inf
        act_node, act = b.follow(nd, ClampForm)
        if act_node is not None:
            last, lo, hi = act_node, act.params["lo"], act.params["hi"]
        scale = b.out_scale(last)
        mults, shift = requantizer(np.array([s.scale / scale for s in srcs]), b.shift_bits)
        lo_i, hi_i = b.clamp(scale, lo, hi)
        b.add(Node(nd.name, self.name, tuple(s.node for s in srcs),
                   params={"mults": [int(m) for m in mults], "shift": shift, "clamp": (lo_i, hi_i)},
                   scale=scale, signed=lo_i < 0), nd, last)

    def evaluate(self, engine, node, ins, p):
        """Branches brought to the output scale by multiply-and-shift, summed, clamped."""
        shift = node.params["shift"]
        total = sum(v * m for v, m in zip(ins, node.params["mults"], strict=True))
        return np.clip((total + (1 << (shift - 1))) >> shift, *node.params["clamp"])


class Cat(Operation):
    """Branches requantized to the largest input scale, concatenated along a non-batch dimension."""

    name = "cat"
    summary = "cat"
    functions = {torch.cat: ("tensors", "dim"), aten.cat.default: ("tensors", "dim")}

    def from_call(self, a, node) -> Op:
        return Op(self.name, list(a["tensors"]), {"dim": int(a.get("dim", 0))})

    def lower(self, b, op, nd) -> None:
        srcs = [b.value(x) for x in op.inputs]
        rank = b.values[nd.name].dim()
        dim = op.params["dim"] % rank
        if dim == 0:
            raise unsupported(nd, "concatenation along the batch dimension")
        scale = max(s.scale for s in srcs)
        mults, shift = requantizer(np.array([s.scale / scale for s in srcs]), b.shift_bits)
        b.add(Node(nd.name, self.name, tuple(s.node for s in srcs),
                   params={"mults": [int(m) for m in mults], "shift": shift, "dim": dim},
                   scale=scale, signed=any(s.signed for s in srcs)), nd)

    def evaluate(self, engine, node, ins, p):
        """Branches brought to the output scale by multiply-and-shift, concatenated along params['dim']."""
        shift = node.params["shift"]
        parts = [(v * m + (1 << (shift - 1))) >> shift for v, m in zip(ins, node.params["mults"], strict=True)]
        return np.concatenate(parts, axis=node.params["dim"])
