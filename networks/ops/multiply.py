"""Multiply layers (Linear, Conv1d, Conv2d) with a following BatchNorm folded in and a clamp fused, and the
BatchNorm that only exists folded.

Weights per output channel symmetric `weight_bits` (or the steps of a networks.quant.WeightQuantizer the module
carries); a BatchNorm right after the layer folded in (w' = w g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps)
+ beta); a clamp (ReLU, ReLU6, Hardtanh) right after that fused as the output clamp; output scale = calibrated
peak / (2^act_bits - 1); the logits layer (read by the output alone) keeps the accumulator scale, unclamped.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from networks.errors import NetworkError
from networks.graph import IntLayer, Node, quantize_weights, requantizer, weight_width
from networks.ops.activation import ClampForm
from networks.ops.base import Op, Operation, unsupported

aten = torch.ops.aten

_CONV = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")


def _tuple(v, d: int) -> tuple:
    return tuple(int(t) for t in v) if isinstance(v, (tuple, list)) else (int(v),) * d


def module_path(node) -> str:
    """The module path of a node of a torch.export graph (its nn_module_stack), else the node's name."""
    stack = node.meta.get("nn_module_stack")
    return list(stack.values())[-1][0] if stack else node.name


class Multiply(Operation):
    """A multiply layer of `dims` spatial dimensions (0: linear); its integer node holds an IntLayer."""

    dims: int = 0

    def _op(self, x, weight, bias, stride=1, padding=0, dilation=1, groups=1, name="", quant=None) -> Op:
        d = self.dims
        if isinstance(padding, str):
            raise NetworkError(f"layer {name}: padding {padding!r} is not supported (give integer padding)")
        return Op(self.name, [x], {
            "weight": weight.detach(), "bias": None if bias is None else bias.detach(), "stride": _tuple(stride, d),
            "padding": _tuple(padding, d), "dilation": _tuple(dilation, d), "groups": int(groups), "name": name,
            "quant": quant})

    def from_module(self, mod, node) -> Op:
        x, quant = node.args[0], getattr(mod, "quant", None)
        if self.dims == 0:
            return self._op(x, mod.weight, mod.bias, name=node.target, quant=quant)
        if mod.padding_mode != "zeros":
            raise unsupported(node, f"padding_mode {mod.padding_mode!r}")
        return self._op(x, mod.weight, mod.bias, mod.stride, mod.padding, mod.dilation, mod.groups, node.target,
                        quant)

    def from_call(self, a, node) -> Op:
        return self._op(a["input"], a["weight"], a.get("bias"), a.get("stride", 1), a.get("padding", 0),
                        a.get("dilation", 1), a.get("groups", 1), module_path(node))

    def lower(self, b, op, nd) -> None:
        p = op.params
        src = b.value(op.inputs[0])
        if self.dims == 0 and b.values[op.inputs[0].name].dim() != 2:
            raise unsupported(nd, "a Linear layer needs a (batch, features) input; flatten before it")
        w = p["weight"].double()
        bias = p["bias"].double() if p["bias"] is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        steps = None
        if p["quant"] is not None and p["quant"].mode != "float":
            q = p["quant"]
            with torch.no_grad():
                q.eval()
                w = q(p["weight"].detach()).double()
                steps = q.current_steps(p["weight"].detach()).double()
                steps = torch.where(steps > 0, steps, torch.ones_like(steps))
        fused = [nd]
        bn_node, bn = b.follow(nd, BatchNorm)
        if bn_node is not None:
            w, bias, steps = BatchNorm.fold(bn.params, w, bias, steps)
            fused.append(bn_node)
        lo, hi = -math.inf, math.inf
        act_node, act = b.follow(fused[-1], ClampForm)
        if act_node is not None:
            lo, hi = act.params["lo"], act.params["hi"]
            fused.append(act_node)
        w2 = w.reshape(w.shape[0], -1).numpy()
        w_int, steps_np = quantize_weights(w2, b.weight_bits, None if steps is None else steps.numpy())
        w_int = w_int.astype(np.int64)
        acc_scale = steps_np * src.scale
        bias_int = np.round(bias.numpy() / acc_scale).astype(np.int64)
        logits = act_node is None and [u.op for u in b.users(fused[-1])] == ["output"]
        if logits:
            out_scale, clamp = float(acc_scale.max()), None
        else:
            out_scale = b.out_scale(fused[-1])
            clamp = b.clamp(out_scale, lo, hi)
        mult, shift = requantizer(acc_scale / out_scale, b.shift_bits)
        kernel = tuple(p["weight"].shape[2:]) or (1,)
        layer = IntLayer(self.name, w_int, bias_int, mult, shift, clamp, steps_np, src.scale, out_scale,
                         weight_width(w_int), name=p["name"], kernel=kernel, stride=p["stride"] or (1,),
                         padding=p["padding"] or (0,), dilation=p["dilation"] or (1,), groups=p["groups"],
                         signed_input=src.signed)
        b.add(Node(p["name"], self.name, (src.node,), layer, scale=out_scale,
                   signed=clamp is None or clamp[0] < 0), *fused)

    def evaluate(self, engine, node, ins, p):
        """The engine's multiply: every product through its multiplier, with the word sites' noise."""
        return engine.multiply(node, ins, p)


class Linear(Multiply):
    name, dims = "linear", 0
    summary = "Linear"
    modules = (nn.Linear,)
    functions = {F.linear: ("input", "weight", "bias"), aten.linear.default: ("input", "weight", "bias")}


class Conv1d(Multiply):
    name, dims = "conv1d", 1
    summary = "Conv1d"
    modules = (nn.Conv1d,)
    functions = {F.conv1d: _CONV, aten.conv1d.default: _CONV}


class Conv2d(Multiply):
    name, dims = "conv2d", 2
    summary = "Conv2d (stride, padding, dilation, groups)"
    modules = (nn.Conv2d,)
    functions = {F.conv2d: _CONV, aten.conv2d.default: _CONV}


class BatchNorm(Operation):
    """A BatchNorm right after a multiply layer, folded into it (nothing of its own in the integer graph)."""

    name = "batchnorm"
    summary = "BatchNorm1d/2d (folded)"
    modules = (nn.BatchNorm1d, nn.BatchNorm2d)
    functions = {
        F.batch_norm: ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
        aten.batch_norm.default: ("input", "weight", "bias", "running_mean", "running_var", "training", "momentum",
                                  "eps")}

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"weight": mod.weight, "bias": mod.bias, "mean": mod.running_mean,
                                              "var": mod.running_var, "eps": mod.eps})

    def from_call(self, a, node) -> Op:
        return Op(self.name, [a["input"]], {"weight": a.get("weight"), "bias": a.get("bias"),
                                            "mean": a["running_mean"], "var": a["running_var"],
                                            "eps": float(a.get("eps", 1e-5))})

    @staticmethod
    def fold(bp: dict, w, bias, steps) -> tuple:
        """(w, bias, steps) of a layer with this BatchNorm (params `bp`) folded in (float64 tensors)."""
        g = bp["weight"].detach().double() if bp["weight"] is not None else torch.ones_like(bp["mean"]).double()
        beta = bp["bias"].detach().double() if bp["bias"] is not None else torch.zeros_like(g)
        f = g / torch.sqrt(bp["var"].double() + bp["eps"])
        w = w * f.view(-1, *([1] * (w.dim() - 1)))
        bias = (bias - bp["mean"].double()) * f + beta
        return w, bias, (steps * f.abs() if steps is not None else None)

    def lower(self, b, op, nd) -> None:
        raise unsupported(nd, "a BatchNorm must follow a Linear or Conv (it is folded into it)")
