"""The integer model: a DAG of integer operations (multiply layers, clamps, piecewise-linear functions, pools,
reshapes, adds, concatenations; one class each in networks.ops).

Every value is an int64 tensor (batch first) with one real scale: real value = integer * scale. Multiply layers
(linear, conv1d, conv2d) hold signed integer weights per output channel (step = w_scale[c]), biases in
accumulator units (w_scale[c] * in_scale), and requantize the accumulator by integer multiply-and-shift:
out = clamp((acc * mult[c] + 2^(shift-1)) >> shift, lo, hi), mult[c] / 2^shift = w_scale[c] * in_scale / out_scale.
Activations are unsigned (0 .. 2^act_bits - 1) after a ReLU-like clamp and sign-magnitude (|a| <= 2^act_bits - 1)
elsewhere; the network input is round(x * (2^act_bits - 1)) for x in [0, 1]. The logits layer has no clamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from networks.errors import NetworkError


@dataclass
class IntLayer:
    """One multiply layer. weight: (out, in_features) int64, for convolutions in_features = c_in / groups *
    prod(kernel) in torch's (channel, taps) order; bias: (out,) int64 in units of w_scale * in_scale; clamp:
    integer (lo, hi) bounds of the output, None for logits; name: the module path ('features.3'); bound: None, or
    the range restriction's upper bounds per output channel (int64 (out,), within clamp), enforced after the clamp
    (networks.ranges)."""

    kind: str  # "linear" | "conv1d" | "conv2d"
    weight: np.ndarray
    bias: np.ndarray
    mult: np.ndarray
    shift: int
    clamp: tuple | None
    w_scale: np.ndarray
    in_scale: float
    out_scale: float
    weight_bits: int  # signed width that holds every weight of the layer
    name: str = ""
    kernel: tuple = (1,)
    stride: tuple = (1,)
    padding: tuple = (0,)
    dilation: tuple = (1,)
    groups: int = 1
    signed_input: bool = False  # the input may be negative (sign-magnitude operands)
    bound: np.ndarray | None = None  # range restriction (networks.ranges): (out,) int64 upper bounds of the outputs

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    @property
    def relu(self) -> bool:
        return self.clamp is not None and self.clamp[0] == 0


@dataclass
class Node:
    """One operation of the graph. op: the name of its operation in networks.ops.OPERATIONS (input, linear,
    conv1d, conv2d, clamp, maxpool, avgpool, reshape, add, cat, or a registered extension); inputs: names of the
    nodes it reads; scale: real value of one output unit; signed: the output may be negative; params: the
    operation's integer parameters (read by that operation's evaluate)."""

    name: str
    op: str
    inputs: tuple = ()
    layer: IntLayer | None = None
    params: dict = field(default_factory=dict)
    scale: float = 1.0
    signed: bool = False


@dataclass
class IntegerModel:
    """Multiply layers in graph order (`layers`) and the graph (`nodes`, topological order; the last node's
    output is the logits). A chain of layers without nodes gets the chain graph input -> layer 0 -> layer 1 ..."""

    layers: list[IntLayer]
    input_shape: tuple
    act_bits: int = 8
    acc_bits: int = 32
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self):
        if not self.nodes:
            self.nodes = [Node("input", "input", scale=1.0 / (2 ** self.act_bits - 1))]
            for layer in self.layers:
                self.nodes.append(Node(layer.name, layer.kind, (self.nodes[-1].name,), layer, scale=layer.out_scale,
                                       signed=not layer.relu))
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise NetworkError(f"integer model: node names repeat: {names}")

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def describe(self) -> str:
        return (f"integer model: {len(self.nodes)} nodes, {len(self.layers)} multiply layers, weights "
                f"{[lay.weight_bits for lay in self.layers]} bits, activations {self.act_bits} bits, "
                f"accumulators {self.acc_bits} bits")


def requantizer(ratio: np.ndarray, shift_bits: int = 30) -> tuple[np.ndarray, int]:
    """(mult, shift) with mult / 2^shift ~= ratio (per channel), the largest mult below 2^shift_bits."""
    ratio = np.asarray(ratio, dtype=np.float64)
    shift = int(min(shift_bits, max(0, shift_bits - math.ceil(math.log2(max(float(ratio.max()), 1e-30))))))
    return np.round(ratio * 2 ** shift).astype(np.int64), shift


def weight_width(w_int: np.ndarray) -> int:
    """Signed bits that hold every integer weight (at least 2)."""
    return int(max(2, math.ceil(math.log2(2 * int(np.abs(w_int).max()) + 1)) if w_int.size else 2))


def quantize_weights(w: np.ndarray, weight_bits: int, steps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(integers round(w / steps) (half to even) as floats, steps) per output channel (row of w (out, in)); steps
    None: symmetric to weight_bits, max|w[o]| / (2^(weight_bits - 1) - 1) (a zero row gets 1e-12 / levels)."""
    if steps is None:
        levels = 2 ** (weight_bits - 1) - 1
        steps = np.maximum(np.abs(w).max(axis=1), 1e-12) / levels
    return np.round(w / steps[:, None]), steps

