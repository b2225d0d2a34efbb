"""Integer inference with a pluggable multiplier: exact, a lookup table, or the gate-level netlist.

Every multiply is sign-magnitude around an unsigned multiplier: product = sign(w) * MUL(a, |w|), where a is
an unsigned activation and |w| the weight magnitude; MUL is integer arithmetic (`exact`), a table of the
netlist's outputs over all operand pairs (`lut`), or the netlist simulated at gate level for every product
(`gates`: hardware in the loop, with the netlist's transient flips and stuck-at faults). The netlist must
be unsigned with input buses a (activation) and b (weight magnitude) and one output bus.

Noise hooks: `noise={site: fn}` with fn(values, bits, signed, rng) -> values, applied to integer weights
(site 'weight', two's complement of the layer's weight width), layer inputs ('activation', unsigned
act_bits), product magnitude words ('product', the multiplier's output width) and accumulators
('accumulator', two's complement acc_bits). No model copy is made; weights are perturbed per pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from circuits import GateFaults, Netlist, exhaustive, simulate
from networks.errors import NetworkError
from networks.export import IntegerModel, IntLayer

SITES = ("weight", "activation", "product", "accumulator")


@dataclass
class PassResult:
    logits: np.ndarray  # (N, classes) int64, common scale
    predictions: np.ndarray  # (N,) int64
    operands: np.ndarray | None = None  # (2^act_bits, 2^mag_bits) counts of (a, |w|) pairs when recorded
    site_error: dict | None = None  # per site: [signal power, error power] summed over the pass
    wrong_products: np.ndarray | None = None  # (N,) products that differ from exact, per input (measured)


@njit(cache=True, nogil=True)
def _lut_accumulate(a, mag, sign, table, bias):
    n, k = a.shape
    out = mag.shape[0]
    acc = np.empty((n, out), np.int64)
    for s in range(n):
        for o in range(out):
            t = bias[o]
            for i in range(k):
                t += sign[o, i] * table[a[s, i], mag[o, i]]
            acc[s, o] = t
    return acc


@njit(cache=True, nogil=True)
def _lut_products(a, mag, table):
    n, k = a.shape
    out = mag.shape[0]
    prod = np.empty((n, out, k), np.int64)
    for s in range(n):
        for o in range(out):
            for i in range(k):
                prod[s, o, i] = table[a[s, i], mag[o, i]]
    return prod


@njit(cache=True, nogil=True)
def _signed_sum(prod, sign, bias):
    n, out, k = prod.shape
    acc = np.empty((n, out), np.int64)
    for s in range(n):
        for o in range(out):
            t = bias[o]
            for i in range(k):
                t += sign[o, i] * prod[s, o, i]
            acc[s, o] = t
    return acc


def _wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap-around of int64 values to `bits` bits."""
    half = 1 << (bits - 1)
    return ((values + half) & ((1 << bits) - 1)) - half


class Multiplier:
    """The multiplier of an engine: `Multiplier(mode, netlist, act_bits, mag_bits)` gives the class of `mode`:
    ExactMultiplier ('exact'), TableMultiplier ('lut': a table of the netlist's outputs) or GateMultiplier
    ('gates': the netlist simulated at gate level for every product)."""

    mode = ""
    takes_flips = False  # transient gate flips
    takes_stuck = False  # permanent stuck-at faults of the netlist's gates

    def __new__(cls, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8):
        if cls is Multiplier:
            if mode not in MODES:
                raise NetworkError(f"multiplier mode must be one of {', '.join(MODES)}, got {mode!r}")
            cls = MODES[mode]
        return super().__new__(cls)

    def __init__(self, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8):
        self.netlist, self.act_bits, self.mag_bits = netlist, act_bits, mag_bits
        self.out_bits = act_bits + mag_bits

    @classmethod
    def check(cls, faults: GateFaults) -> None:
        """NetworkError unless this kind of multiplier can realise `faults`."""
        if (faults.flip_p > 0 and not cls.takes_flips) or (faults.stuck and not cls.takes_stuck):
            raise NetworkError(f"gate faults need a netlist multiplier (mode 'gates' for transient flips, 'lut' or "
                               f"'gates' for stuck-at); this one is {cls.mode!r}")

    def table(self, stuck=()) -> np.ndarray:
        """(2^act_bits, 2^mag_bits) products a * b."""
        return np.arange(1 << self.act_bits)[:, None] * np.arange(1 << self.mag_bits)[None, :]

    def products(self, a: np.ndarray, mag: np.ndarray, faults: GateFaults) -> np.ndarray:
        """MUL(a[s, i], mag[o, i]) for all rows s, output channels o and inputs i: (N, out, in) int64."""
        return _lut_products(a, mag, self.table(faults.stuck))

    def accumulate(self, a, mag, sign, bias, faults: GateFaults) -> np.ndarray:
        """bias[o] + sum_i sign[o, i] * MUL(a[s, i], mag[o, i]): (N, out) int64."""
        return _lut_accumulate(a, mag, sign, self.table(faults.stuck), bias)


class ExactMultiplier(Multiplier):
    """Integer arithmetic."""

    mode = "exact"

    def accumulate(self, a, mag, sign, bias, faults):
        return a @ (mag * sign).T + bias


class TableMultiplier(Multiplier):
    """A netlist's outputs over every operand pair, looked up (permanent stuck-at faults: a faulty table)."""

    mode = "lut"
    takes_stuck = True

    def __init__(self, mode="lut", netlist=None, act_bits=8, mag_bits=8):
        super().__init__(mode, netlist, act_bits, mag_bits)
        self._tables: dict = {}
        if netlist is None:
            raise NetworkError(f"multiplier mode {self.mode!r} needs a netlist")
        if netlist.signed or set(netlist.inputs) != {"a", "b"} or len(netlist.outputs) != 1:
            raise NetworkError(f"multiplier netlist {netlist.name!r} must be unsigned with inputs a, b and one output;"
                               f" it has inputs {list(netlist.inputs)} and outputs {list(netlist.outputs)}")
        if netlist.inputs["a"] < act_bits or netlist.inputs["b"] < mag_bits:
            raise NetworkError(f"multiplier netlist {netlist.name!r} takes a[{netlist.inputs['a']}] x "
                               f"b[{netlist.inputs['b']}]; the model needs a[{act_bits}] x b[{mag_bits}]")
        self.out_bus = next(iter(netlist.outputs))
        self.out_bits = len(netlist.outputs[self.out_bus])
        if netlist.n_input_bits > 20 and self.mode == "lut":
            raise NetworkError(f"multiplier netlist {netlist.name!r}: a lookup table of 2^{netlist.n_input_bits} "
                               "entries is too large; use mode 'gates'")

    def table(self, stuck=()) -> np.ndarray:
        """(2^act_bits, 2^mag_bits) products of the netlist (with permanent stuck-at faults, if any)."""
        key = tuple(sorted(stuck))
        if key not in self._tables:
            table = np.zeros((1 << self.act_bits, 1 << self.mag_bits), np.int64)
            for ins, outs in exhaustive(self.netlist, stuck=list(key)):
                a, b = ins["a"], ins["b"]
                ok = (a < (1 << self.act_bits)) & (b < (1 << self.mag_bits))
                table[a[ok], b[ok]] = outs[self.out_bus][ok]
            if len(self._tables) > 64:
                self._tables.clear()
            self._tables[key] = table
        return self._tables[key]


class GateMultiplier(TableMultiplier):
    """The netlist simulated at gate level for every product (hardware in the loop); with stuck-at faults
    alone (no flips) the faulty netlist's table gives the same products faster."""

    mode = "gates"
    takes_flips = True

    def products(self, a, mag, faults):
        if faults.stuck and faults.flip_p == 0:
            return super().products(a, mag, faults)
        n, k = a.shape
        out = mag.shape[0]
        aa = np.broadcast_to(a[:, None, :], (n, out, k)).reshape(-1)
        bb = np.broadcast_to(mag[None, :, :], (n, out, k)).reshape(-1)
        return simulate(self.netlist, {"a": aa, "b": bb}, faults=faults)[self.out_bus].reshape(n, out, k)

    def accumulate(self, a, mag, sign, bias, faults):
        return _signed_sum(self.products(a, mag, faults), sign, bias)


MODES = {"exact": ExactMultiplier, "lut": TableMultiplier, "gates": GateMultiplier}


class IntegerEngine:
    """Runs an IntegerModel on unsigned inputs with a Multiplier; see the module docstring for sites."""

    def __init__(self, model: IntegerModel, multiplier: Multiplier | None = None):
        self.model = model
        mag_bits = max(max(1, int(np.abs(lay.weight).max()).bit_length()) for lay in model.layers)
        self.multiplier = multiplier or Multiplier("exact", act_bits=model.act_bits, mag_bits=mag_bits)
        if self.multiplier.act_bits < model.act_bits or (1 << self.multiplier.mag_bits) <= max(
                int(np.abs(lay.weight).max()) for lay in model.layers):
            bad = next(k for k, lay in enumerate(model.layers)
                       if int(np.abs(lay.weight).max()) >= 1 << self.multiplier.mag_bits)
            raise NetworkError(f"layer {bad}: weight magnitudes up to {int(np.abs(model.layers[bad].weight).max())} "
                               f"do not fit the multiplier's {self.multiplier.mag_bits}-bit operand b")

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs in [0, 1] shaped like the model input -> unsigned act_bits integers."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != tuple(self.model.input_shape):
            raise NetworkError(f"input shape {x.shape[1:]} does not match the model's {tuple(self.model.input_shape)}")
        return np.clip(np.round(x * (2 ** self.model.act_bits - 1)), 0, 2 ** self.model.act_bits - 1).astype(np.int64)

    def run(self, x: np.ndarray, *, noise: dict | None = None, faults: GateFaults | None = None,
            rng: np.random.Generator | None = None, record: bool = False, measure_error: bool = False) -> PassResult:
        """One pass over float inputs x in [0, 1]. noise: {word site: fn(values, bits, signed, rng)};
        faults: gate faults of every multiply (flips need mode 'gates'; stuck-at faults alone run through a
        faulty lookup table; layer k draws its flips from seed faults.seed * 1009 + k); rng: the stream of the
        word-site hooks (default: seeded with faults.seed). record: count the (a, |w|) operand pairs;
        measure_error: signal and error power at each site (the product site compares every product with
        exact arithmetic, so it includes the multiplier's own errors) and wrong products per input."""
        noise = noise or {}
        faults = faults or GateFaults()
        unknown = set(noise) - set(SITES)
        if unknown:
            raise NetworkError(f"unknown noise site(s) {sorted(unknown)}; sites: {', '.join(SITES)}")
        mul = self.multiplier
        mul.check(faults)
        rng = rng if rng is not None else np.random.default_rng(faults.seed)
        m = self.model
        a = self.quantize_input(x)
        n = a.shape[0]
        hist = np.zeros((1 << mul.act_bits, 1 << mul.mag_bits), np.int64) if record else None
        errors = {site: np.zeros(2) for site in SITES} if measure_error else None
        wrong_products = np.zeros(n, np.int64)
        for k, layer in enumerate(m.layers):
            w = layer.weight
            if "weight" in noise:
                w = self._noisy("weight", noise, w, layer.weight_bits, True, rng, errors)
            if "activation" in noise:
                a = self._noisy("activation", noise, a, m.act_bits, False, rng, errors)
            cols, positions = self._columns(layer, a)
            mag, sign = np.abs(w), np.sign(w)
            if hist is not None:
                hist += self._histogram(cols, mag, hist.shape)
            acc, wrong = self._accumulate(layer, cols, mag, sign, noise, rng, faults.with_seed(faults.seed * 1009 + k),
                                          errors)
            if wrong is not None:
                wrong_products += wrong.reshape(n, -1).sum(axis=1)
            acc = _wrap(acc, m.acc_bits)
            if "accumulator" in noise:
                acc = self._noisy("accumulator", noise, acc, m.acc_bits, True, rng, errors)
            out = (acc * layer.mult + (1 << (layer.shift - 1) if layer.shift else 0)) >> layer.shift
            if layer.relu:
                out = np.clip(out, 0, 2 ** m.act_bits - 1)
            if layer.kind == "conv1d":
                out = out.reshape(n, positions, layer.n_out).transpose(0, 2, 1)
            a = out
        logits = a.reshape(n, -1)
        return PassResult(logits, logits.argmax(axis=1), hist,
                          {s: v.tolist() for s, v in errors.items()} if errors is not None else None,
                          wrong_products if errors is not None else None)

    @staticmethod
    def _noisy(site, noise, values, bits, signed, rng, errors):
        new = np.asarray(noise[site](values, bits, signed, rng), dtype=np.int64)
        if errors is not None:
            errors[site] += [float(np.square(values, dtype=np.float64).sum()),
                             float(np.square(new - values, dtype=np.float64).sum())]
        return new

    @staticmethod
    def _columns(layer: IntLayer, a: np.ndarray) -> tuple[np.ndarray, int]:
        """The layer's input as rows of in_features (im2col for conv1d); and the number of positions."""
        if layer.kind == "linear":
            return np.ascontiguousarray(a.reshape(a.shape[0], -1)), 1
        win = np.lib.stride_tricks.sliding_window_view(a, layer.kernel, axis=2)[:, :, ::layer.stride, :]
        n, c, pos, kk = win.shape
        return np.ascontiguousarray(win.transpose(0, 2, 1, 3).reshape(n * pos, c * kk)), pos

    def _histogram(self, cols, mag, shape):
        pairs = cols[:, None, :] * shape[1] + mag[None, :, :]
        return np.bincount(pairs.reshape(-1), minlength=shape[0] * shape[1]).reshape(shape)

    def _accumulate(self, layer, cols, mag, sign, noise, rng, faults, errors):
        """Accumulators (rows of cols x output channels) and, when errors are measured, the number of wrong
        products of each row (else None)."""
        mul = self.multiplier
        if "product" not in noise and errors is None:
            return mul.accumulate(cols, mag, sign, layer.bias, faults), None
        prod = mul.products(cols, mag, faults)
        if "product" in noise:
            prod = self._noisy("product", noise, prod, mul.out_bits, False, rng, None)
        wrong = None
        if errors is not None:
            exact = cols[:, None, :] * mag[None, :, :]
            diff = prod - exact
            errors["product"] += [float(np.square(exact, dtype=np.float64).sum()),
                                  float(np.square(diff, dtype=np.float64).sum())]
            wrong = np.count_nonzero(diff.reshape(diff.shape[0], -1), axis=1)
        return _signed_sum(prod, sign, layer.bias), wrong
