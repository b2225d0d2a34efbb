"""Range restriction: upper bounds of each ReLU layer's integer outputs, profiled on training data and enforced by
the requantizer's clamp (its upper end moved from 2^act_bits - 1 down to the bound: a comparison per layer output,
no gate added to a multiply).

A bound is a percentile (100: the maximum) of the layer's outputs in the noise-free integer model, over the
profiling inputs (and, for convolutions, every output position): one bound per layer (`per = "layer"`, over all
of its channels) or one per output channel (`per = "channel"`, the default: the export calibrates each layer's
scale on the peak of its float outputs over the same training inputs, so the maximum per layer is the top of the
clamp already and restricts nothing). Layers without a ReLU-like clamp (the logits) are
left unbounded. The bounds are stored in the integer model (IntLayer.bound, int64 per output channel) and the
engine applies them after requantization: out = min(clamp(requantized), bound[c]); with the requantizer netlist
in the loop (mode 'pe', faults on 'req' or 'whole') the bound is applied to its outputs, fault-free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from networks.engine import IntegerEngine
from networks.errors import NetworkError
from networks.graph import IntegerModel

PER = ("layer", "channel")


@dataclass(frozen=True)
class RangeRestriction:
    """What a bound is: the `percentile` (in (0, 100]; 100 = the maximum) of a layer's noise-free integer outputs
    over the profiling inputs, per layer or per output channel (`per`)."""

    percentile: float = 100.0
    per: str = "channel"

    def __post_init__(self):
        if not 0 < self.percentile <= 100:
            raise NetworkError(f"range restriction percentile must be in (0, 100], got {self.percentile}")
        if self.per not in PER:
            raise NetworkError(f"range restriction per must be one of {', '.join(PER)}, got {self.per!r}")

    def describe(self) -> str:
        stat = "maximum" if self.percentile == 100 else f"{self.percentile:g}th percentile"
        return f"{stat} per {self.per}"


class _Profiler(IntegerEngine):
    """The exact engine that counts the output values of every ReLU layer of its passes: hist[name] (out, hi + 1)
    int64, the number of outputs of channel c equal to v (clamp (0, hi): every output is in 0..hi), so memory
    does not grow with the profiling inputs."""

    def __init__(self, model: IntegerModel):
        super().__init__(model)
        self.hist = {lay.name: np.zeros((lay.n_out, int(lay.clamp[1]) + 1), np.int64) for lay in model.layers
                     if lay.relu}

    def multiply(self, node, ins, p):
        out = super().multiply(node, ins, p)
        hist = self.hist.get(node.layer.name)
        if hist is not None:
            values = np.moveaxis(out, 1, 0).reshape(hist.shape[0], -1)
            flat = values + np.arange(hist.shape[0])[:, None] * hist.shape[1]
            hist += np.bincount(flat.ravel(), minlength=hist.size).reshape(hist.shape)
        return out


def profile_bounds(model: IntegerModel, x: np.ndarray, rule: RangeRestriction, batch: int = 2048) -> dict:
    """{layer name: (out,) int64 bounds} of every layer with a ReLU-like clamp (clamp (0, hi)), from the noise-free
    integer outputs of `model` (without its own bounds) on inputs x (float in [0, 1], model input shape)."""
    plain = with_bounds(model, {})
    engine = _Profiler(plain)
    x = np.asarray(x)
    if not len(x):
        raise NetworkError("range restriction: no profiling inputs")
    for start in range(0, len(x), batch):
        engine.run(x[start:start + batch])
    bounds = {}
    for lay in plain.layers:
        if not lay.relu:
            continue
        hist = engine.hist[lay.name]
        if rule.per == "layer":
            bound = np.full(lay.n_out, _statistic(hist.sum(axis=0), rule.percentile))
        else:
            bound = np.array([_statistic(h, rule.percentile) for h in hist])
        bounds[lay.name] = np.minimum(bound, lay.clamp[1]).astype(np.int64)
    return bounds


def _statistic(counts: np.ndarray, percentile: float) -> int:
    """The percentile of the integer values counted by `counts` (counts[v]: how many equal v), rounded up: the
    'higher' order statistic of np.percentile, value number ceil(percentile / 100 * (n - 1)) of the n sorted ones
    (never below any value it is meant to keep)."""
    rank = int(np.ceil(np.true_divide(percentile, 100) * (int(counts.sum()) - 1)))
    return int(np.searchsorted(np.cumsum(counts), rank, side="right"))


def with_bounds(model: IntegerModel, bounds: dict) -> IntegerModel:
    """A copy of `model` whose layers carry bounds[name] (None where a layer is not named); nothing else changes."""
    layers = [dataclasses.replace(lay, bound=bounds.get(lay.name)) for lay in model.layers]
    by_name = {lay.name: lay for lay in layers}
    nodes = [dataclasses.replace(n, layer=by_name[n.layer.name]) if n.layer is not None else n for n in model.nodes]
    return IntegerModel(layers, model.input_shape, model.act_bits, model.acc_bits, nodes)


def restrict_ranges(model: IntegerModel, x: np.ndarray, rule: RangeRestriction) -> IntegerModel:
    """A copy of `model` whose ReLU layers carry the bounds profiled on x (profile_bounds)."""
    return with_bounds(model, profile_bounds(model, x, rule))
