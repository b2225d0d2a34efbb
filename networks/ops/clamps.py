"""The torch forms of the clamp: ReLU, ReLU6 and Hardtanh (real bounds; see networks.ops.activation)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from networks.ops.activation import ClampForm
from networks.ops.base import Op

aten = torch.ops.aten


class ReLU(ClampForm):
    name = "relu"
    summary = "ReLU"
    modules = (nn.ReLU,)
    functions = {F.relu: ("input",), torch.relu: ("input",), aten.relu.default: ("input",),
                 aten.relu_.default: ("input",)}
    methods = {"relu": ("input",)}

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"lo": 0.0, "hi": math.inf})

    def from_call(self, a, node) -> Op:
        return Op(self.name, [a["input"]], {"lo": 0.0, "hi": math.inf})


class ReLU6(ClampForm):
    name = "relu6"
    summary = "ReLU6"
    modules = (nn.ReLU6,)
    functions = {F.relu6: ("input",), aten.relu6.default: ("input",)}

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"lo": 0.0, "hi": 6.0})

    def from_call(self, a, node) -> Op:
        return Op(self.name, [a["input"]], {"lo": 0.0, "hi": 6.0})


class Hardtanh(ClampForm):
    name = "hardtanh"
    summary = "Hardtanh"
    modules = (nn.Hardtanh,)
    functions = {F.hardtanh: ("input", "min_val", "max_val"), aten.hardtanh.default: ("input", "min_val", "max_val")}

    def from_module(self, mod, node) -> Op:
        return Op(self.name, [node.args[0]], {"lo": float(mod.min_val), "hi": float(mod.max_val)})

    def from_call(self, a, node) -> Op:
        return Op(self.name, [a["input"]], {"lo": float(a.get("min_val", -1.0)), "hi": float(a.get("max_val", 1.0))})
