"""Elementwise nonlinearities: the clamp node and the family of its torch forms (networks.ops.clamps), and the
family of piecewise-linear functions.

A clamp keeps its input's scale: integer bounds round(lo / scale), round(hi / scale) within +-(2^act_bits - 1).
A piecewise-linear operation (a `PiecewiseLinear` subclass gives its real segments) becomes one integer node:
segment k (inputs x >= threshold[k - 1], integer input units) computes (x * mult[k] + offset[k] + 2^(shift-1))
>> shift, then clamps to the output range; the output scale is the calibrated peak / (2^act_bits - 1).
"""

from __future__ import annotations

import math

import numpy as np

from networks.errors import NetworkError
from networks.graph import Node, requantizer
from networks.ops.base import Operation


class Clamp(Operation):
    """The integer clamp node: clip to params['clamp'] = (lo, hi), the input's scale kept."""

    name = "clamp"

    def evaluate(self, engine, node, ins, p):
        return np.clip(ins[0], *node.params["clamp"])


class ClampForm(Operation):
    """Family base: a torch operation that is clamp(x, lo, hi) in real units (Op params 'lo', 'hi'), lowered to a
    clamp node at its input's scale; fused into the multiply layer or add before it when it is that node's only
    user."""

    def lower(self, b, op, nd) -> None:
        src = b.value(op.inputs[0])
        lo, hi = b.clamp(src.scale, op.params["lo"], op.params["hi"])
        b.add(Node(nd.name, Clamp.name, (src.node,), params={"clamp": (lo, hi)}, scale=src.scale, signed=lo < 0),
              nd)


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
        starts = [x for x, _, _ in segs]
        if not segs or starts[0] != -math.inf or starts != sorted(set(starts)):
            raise NetworkError(f"operation {self.name!r}: segments must start at -inf and rise, got starts {starts}")
        scale = b.out_scale(nd)
        ratio = np.array([abs(s) * src.scale / scale for _, s, _ in segs])
        _, shift = requantizer(ratio, b.shift_bits)
        lows = np.ceil(np.array(starts[1:], np.float64) / src.scale)  # first integer input of each segment
        params = {"thresholds": np.clip(lows, -b.amax - 1, b.amax + 1).astype(np.int64),
                  "mults": np.array([round(s * src.scale / scale * 2 ** shift) for _, s, _ in segs], np.int64),
                  "offsets": np.array([round(c / scale * 2 ** shift) for _, _, c in segs], np.int64),
                  "shift": shift, "clamp": (-b.amax, b.amax)}
        domain = np.arange(-b.amax if src.signed else 0, b.amax + 1, dtype=np.int64)
        signed = bool(piecewise(domain, params).min() < 0)
        params["clamp"] = (-b.amax if signed else 0, b.amax)
        b.add(Node(nd.name, self.name, (src.node,), params=params, scale=scale, signed=signed), nd)

    def evaluate(self, engine, node, ins, p):
        return piecewise(ins[0], node.params)
