"""Integer inference of an IntegerModel graph with a pluggable multiplier: exact, a lookup table, or the netlist.

Every multiply of every linear / convolution layer is sign-magnitude around an unsigned multiplier:
product = sgn(a) * sign(w) * MUL(|a|, |w|), with sgn(a) = -1 for a < 0 else +1 (activations after a ReLU are
unsigned, so sgn(a) = +1) and sign(w) in {-1, 0, +1} (a zero weight contributes nothing). MUL is integer
arithmetic (`exact`), a table of the netlist's outputs over all operand pairs (`lut`), or the netlist simulated
at gate level for every product (`gates`: hardware in the loop, with transient flips and stuck-at faults). The
netlist must be unsigned with input buses a (activation magnitude) and b (weight magnitude) and one output bus.
Mode `pe` (the processing element in the loop, networks/pe.py) runs every multiply-accumulate step through the
netlist and an accumulator adder of the model's width; `run(..., fault_part=)` puts the gate faults on the
multiplier ('mul', as in mode 'gates'), the adder ('add') or both ('all').

The engine runs the graph node by node; OPS is the registry networks.ops.OPERATIONS (a new layer kind is one
entry). Noise hooks: `noise={key: fn}` with fn(values, bits, signed, rng) -> values, key 'SITE' (every
multiply layer) or 'SITE@LAYER' (that layer only, named by its module path, see `layer_names`), applied to
integer weights (site 'weight', two's complement of the layer's weight width), layer inputs ('activation',
unsigned act_bits, or two's complement act_bits + 1 for a signed input), product magnitude words ('product', the
multiplier's output width) and accumulators ('accumulator', two's complement acc_bits). No model copy is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numba import njit

from circuits import GateFaults, Netlist, exhaustive
from networks import gatemac, pe
from networks.errors import NetworkError
from networks.graph import IntegerModel, IntLayer
from networks.ops import OPERATIONS, graph_operations

SITES = ("weight", "activation", "product", "accumulator")
_EXACT_FLOAT = 2.0 ** 53  # float64 sums of integers are exact below this


@dataclass
class PassResult:
    logits: np.ndarray  # (N, classes) int64, common scale
    predictions: np.ndarray  # (N,) int64
    operands: np.ndarray | None = None  # (2^act_bits, 2^mag_bits) counts of (|a|, |w|) pairs when recorded
    site_error: dict | None = None  # per site: [signal power, error power] summed over the pass
    wrong_products: np.ndarray | None = None  # (N,) products that differ from exact, per input (measured)


@njit(cache=True, nogil=True)
def _lut_accumulate(at, w, table_t, bias, signed, acc):
    """acc (out, N) := bias[o] + sum_i sgn(at[i, s]) sign(w[o, i]) table_t[|w[o, i]|, |at[i, s]|], at (in, N)
    (small integer types: int32 accumulators wrap modulo 2^32)."""
    k, n = at.shape
    out = w.shape[0]
    for o in range(out):
        row = acc[o]
        row[:] = bias[o]
        for i in range(k):
            wv = w[o, i]
            if wv == 0:
                continue
            col = table_t[abs(wv)]
            av = at[i]
            if signed:
                for s in range(n):
                    v = av[s]
                    t = col[abs(v)]
                    row[s] += -t if (v < 0) != (wv < 0) else t
            elif wv > 0:
                for s in range(n):
                    row[s] += col[av[s]]
            else:
                for s in range(n):
                    row[s] -= col[av[s]]
    return acc


@njit(cache=True, nogil=True)
def _lut_measured(at, w, table_t, bias):
    """(accumulators (out, N), wrong products per row (N,), sum of exact products squared, sum of squared
    product errors) of table products against exact |a| * |w|; at is (in, N), sgn(a) as in _signed_sum."""
    k, n = at.shape
    out = w.shape[0]
    acc = np.empty((out, n), np.int64)
    wrong = np.zeros(n, np.int64)
    sig = 0
    err = 0
    for o in range(out):
        row = acc[o]
        row[:] = bias[o]
        for i in range(k):
            wv = w[o, i]
            mag = abs(wv)
            col = table_t[mag]
            av = at[i]
            for s in range(n):
                v = np.int64(av[s])
                t = np.int64(col[abs(v)])
                if wv != 0:
                    row[s] += -t if (v < 0) != (wv < 0) else t
                ex = abs(v) * mag
                d = t - ex
                sig += ex * ex
                if d != 0:
                    wrong[s] += 1
                    err += d * d
    return acc, wrong, sig, err


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
def _count_pairs(cols, mag, hist):
    """hist[cols[s, i], mag[o, i]] += 1 for every row s, output o and input i."""
    n, k = cols.shape
    for o in range(mag.shape[0]):
        for s in range(n):
            for i in range(k):
                hist[cols[s, i], mag[o, i]] += 1


@njit(cache=True, nogil=True)
def _signed_sum(prod, cols, w, bias):
    """(N, out): bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) prod[s, o, i]."""
    n, out, k = prod.shape
    acc = np.empty((n, out), np.int64)
    for s in range(n):
        for o in range(out):
            t = bias[o]
            for i in range(k):
                wv = w[o, i]
                if wv != 0:
                    p = prod[s, o, i]
                    t += -p if (cols[s, i] < 0) != (wv < 0) else p
            acc[s, o] = t
    return acc


@njit(cache=True, nogil=True)
def _quantize(x, amax):
    """round(x * amax) (half to even) clipped to [0, amax], x flat floats: int64."""
    out = np.empty(x.shape[0], np.int64)
    for i in range(x.shape[0]):
        v = np.rint(np.float64(x[i]) * amax)
        v = 0.0 if v < 0.0 else v
        out[i] = np.int64(amax if v > amax else v)
    return out


@njit(cache=True, nogil=True, inline="always")
def _requant1(acc, b, m, half, shift, lo, hi, clamp, top, mask):
    a = ((acc + b + top) & mask) - top
    v = (a * m + half) >> shift
    if clamp:
        v = lo if v < lo else v
        v = hi if v > hi else v
    return v


@njit(cache=True, nogil=True)
def _finish(y, bias, mult, shift, lo, hi, clamp, acc_bits):
    """Accumulators from exact float sums y (N, out, L) plus bias, wrapped to acc_bits two's complement,
    requantized ((acc * mult[o] + 2^(shift-1)) >> shift) and clamped to [lo, hi] when `clamp`: (N, out, L) int64.
    The inner loop runs over the longest contiguous axis (channels when L = 1), so it vectorizes."""
    n, c, length = y.shape
    out = np.empty((n, c, length), np.int64)
    half = np.int64(1) << np.int64(shift - 1) if shift > 0 else np.int64(0)
    sh = np.int64(shift)
    top = np.int64(1) << np.int64(acc_bits - 1)
    mask = (np.int64(1) << np.int64(acc_bits)) - 1 if acc_bits < 64 else np.int64(-1)
    if length == 1:
        for s in range(n):
            for o in range(c):
                out[s, o, 0] = _requant1(np.int64(y[s, o, 0]), bias[o], mult[o], half, sh, lo, hi, clamp, top, mask)
    else:
        for s in range(n):
            for o in range(c):
                b, m = bias[o], mult[o]
                for j in range(length):
                    out[s, o, j] = _requant1(np.int64(y[s, o, j]), b, m, half, sh, lo, hi, clamp, top, mask)
    return out


@njit(cache=True, nogil=True)
def _requantize(acc, n, mult, shift, lo, hi, clamp, wrap_bits):
    """Layer outputs (n, out, L) from accumulators acc (n * L, out) int64 (row s * L + l): wrapped to wrap_bits
    two's complement (0: not wrapped), requantized ((acc * mult[o] + 2^(shift-1)) >> shift), clamped to [lo, hi]
    when `clamp`."""
    rows, c = acc.shape
    length = rows // n
    out = np.empty((n, c, length), np.int64)
    half = (1 << (shift - 1)) if shift > 0 else 0
    top = (1 << (wrap_bits - 1)) if wrap_bits > 0 else 0
    mask = ((1 << wrap_bits) - 1) if wrap_bits > 0 else 0
    for s in range(n):
        for j in range(length):
            for o in range(c):
                a = acc[s * length + j, o]
                if wrap_bits > 0:
                    a = ((a + top) & mask) - top
                v = (a * mult[o] + half) >> shift
                if clamp:
                    v = min(max(v, lo), hi)
                out[s, o, j] = v
    return out


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
    parts = ("mul",)  # the parts that can take gate faults (run's fault_part)

    def __new__(cls, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8,
                **options):
        if cls is Multiplier:
            if mode not in MODES:
                raise NetworkError(f"multiplier mode must be one of {', '.join(MODES)}, got {mode!r}")
            cls = MODES[mode]
        return super().__new__(cls)

    def __init__(self, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8):
        self.netlist, self.act_bits, self.mag_bits = netlist, act_bits, mag_bits
        self.out_bits = act_bits + mag_bits
        self._tables: dict = {}

    @classmethod
    def check(cls, faults: GateFaults, part: str = "mul") -> None:
        """NetworkError unless this kind of multiplier can realise `faults` on `part`."""
        if part not in pe.PARTS:
            raise NetworkError(f"fault_part must be one of {', '.join(pe.PARTS)}, got {part!r}")
        if not faults.none and part not in cls.parts:
            raise NetworkError(f"fault_part {part!r} needs mode 'pe' (the processing element); this multiplier is "
                               f"{cls.mode!r}")
        if (faults.flip_p > 0 and not cls.takes_flips) or (faults.stuck and not cls.takes_stuck):
            raise NetworkError(f"gate faults need a netlist multiplier (mode 'gates' for transient flips, 'lut' or "
                               f"'gates' for stuck-at); this one is {cls.mode!r}")

    def table(self, stuck=()) -> np.ndarray:
        """(2^act_bits, 2^mag_bits) products a * b."""
        return np.arange(1 << self.act_bits)[:, None] * np.arange(1 << self.mag_bits)[None, :]

    def _table_t(self, stuck) -> np.ndarray:
        """The table transposed, (2^mag_bits, 2^act_bits) C-contiguous (rows per weight magnitude), int32
        when every product fits."""
        key = ("t", tuple(sorted(stuck)))
        if key not in self._tables:
            if len(self._tables) > 64:
                self._tables.clear()
            table = self.table(stuck).T
            self._tables[key] = np.ascontiguousarray(table, np.int32 if table.max() < 2 ** 31 else np.int64)
        return self._tables[key]

    def products(self, a: np.ndarray, mag: np.ndarray, faults: GateFaults) -> np.ndarray:
        """MUL(a[s, i], mag[o, i]) for all rows s, output channels o and inputs i: (N, out, in) int64, a >= 0."""
        return _lut_products(a, mag, self.table(faults.stuck))

    def accumulate(self, cols: np.ndarray, w: np.ndarray, bias: np.ndarray, faults: GateFaults,
                   signed: bool = False, acc_bits: int = 64, part: str = "mul") -> np.ndarray:
        """bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) MUL(|cols[s, i]|, |w[o, i]|): (N, out) int64, correct
        modulo 2^acc_bits. signed: cols may be negative (else every sgn(a) is +1). part: where the faults
        are (see run)."""
        at = np.ascontiguousarray(cols.T)
        acc = np.empty((w.shape[0], cols.shape[0]), np.int32 if acc_bits <= 32 else np.int64)
        _lut_accumulate(at, w, self._table_t(faults.stuck), bias.astype(acc.dtype), signed, acc)
        return acc.T.astype(np.int64)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul") -> tuple:
        """(accumulate(...), wrong products per row of cols, sum of exact products squared, sum of squared
        product errors): errors against exact arithmetic |a| * |w|, zero weights included."""
        acc, wrong, sig, err = _lut_measured(np.ascontiguousarray(cols.T), w, self._table_t(faults.stuck), bias)
        return acc.T, wrong, sig, err


class ExactMultiplier(Multiplier):
    """Integer arithmetic (float64 BLAS, exact while every partial sum stays below 2^53; else int64)."""

    mode = "exact"

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return _exact_accumulate(cols, w, bias)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        sq_a = np.square(cols.astype(np.int64)).sum(axis=0)  # sum of every exact product squared:
        sig = int(sq_a @ np.square(w).sum(axis=0))  # sum_i (sum_s a_si^2) (sum_o w_oi^2)
        return self.accumulate(cols, w, bias, faults), np.zeros(len(cols), np.int64), sig, 0


def _exact_accumulate(cols, w, bias):
    """bias[o] + sum_i cols[s, i] w[o, i], exact (float64 BLAS while every partial sum stays below 2^53, else
    int64): (N, out) int64."""
    bound = float(np.abs(cols).max(initial=0)) * float(np.abs(w).sum(axis=1).max(initial=0))
    if bound + float(np.abs(bias).max(initial=0)) < _EXACT_FLOAT:
        return (cols.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64) + bias
    return cols.astype(np.int64) @ w.T + bias


class TableMultiplier(Multiplier):
    """A netlist's outputs over every operand pair, looked up (permanent stuck-at faults: a faulty table)."""

    mode = "lut"
    takes_stuck = True

    def __init__(self, mode="lut", netlist=None, act_bits=8, mag_bits=8):
        super().__init__(mode, netlist, act_bits, mag_bits)
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
    alone (no flips) the faulty netlist's table gives the same products faster. Products are simulated in
    (row s, output o, input i) order, vector v = (s * out + o) * in + i of the layer's flip stream."""

    mode = "gates"
    takes_flips = True

    def __init__(self, mode="gates", netlist=None, act_bits=8, mag_bits=8):
        super().__init__(mode, netlist, act_bits, mag_bits)
        self._buffers: dict = {}  # bit-plane arrays reused between layers and passes

    def products(self, a, mag, faults):
        if faults.stuck and faults.flip_p == 0:
            return super().products(a, mag, faults)
        return gatemac.products(self.netlist, a, mag, faults, self._buffers)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        if faults.stuck and faults.flip_p == 0:
            return super().accumulate(cols, w, bias, faults, signed, acc_bits)
        return gatemac.accumulate(self.netlist, cols, w, bias, faults, signed, self._buffers)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        if faults.stuck and faults.flip_p == 0:
            return super().accumulate_measured(cols, w, bias, faults)
        return gatemac.accumulate_measured(self.netlist, cols, w, bias, faults, self._buffers)


class ProcessingElement(GateMultiplier):
    """The processing element in the loop (networks/pe.py): every multiply-accumulate step acc <- acc + a * w,
    in order over the inputs of each dot product, through the netlist (the multiplier) and an accumulator adder
    of acc_bits (the model's accumulator width; `adder` 'ripple' or 'kogge_stone'; signed_a: the adder takes
    sgn(a), needed by layers with signed inputs), accumulators held as bit planes between steps. Faults go on
    the multiplier's gates, the adder's or all of them (run's fault_part); `gates(part)` counts them."""

    mode = "pe"
    parts = pe.PARTS

    def __init__(self, mode="pe", netlist=None, act_bits=8, mag_bits=8, *, acc_bits: int = 32,
                 adder: str = "ripple", signed_a: bool = False):
        super().__init__(mode, netlist, act_bits, mag_bits)
        if not 2 <= acc_bits <= 62:
            raise NetworkError(f"processing element acc_bits must be in 2..62, got {acc_bits}")
        self.acc_bits, self.signed_a = acc_bits, signed_a
        self.adder = pe.adder_netlist(acc_bits, self.out_bits, signed_a, adder)

    def gates(self, part: str = "all") -> int:
        """The gates that take faults placed on `part`."""
        if part not in pe.PARTS:
            raise NetworkError(f"fault_part must be one of {', '.join(pe.PARTS)}, got {part!r}")
        return (self.netlist.n_gates if part != "add" else 0) + (self.adder.n_gates if part != "mul" else 0)

    def _run(self, cols, w, bias, faults, signed, acc_bits, part, measure):
        if acc_bits != self.acc_bits:
            raise NetworkError(f"processing element has a {self.acc_bits}-bit accumulator; the model's is {acc_bits}")
        mul_f, add_f = pe.split_faults(faults, part, self.netlist, self.adder)
        return pe.accumulate(self.netlist, self.adder, cols, w, bias, mul_f, add_f, signed, acc_bits,
                             self._buffers, measure)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, False)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, True)


MODES = {"exact": ExactMultiplier, "lut": TableMultiplier, "gates": GateMultiplier, "pe": ProcessingElement}


class _Pass:
    """The state of one pass: resolved hooks, the rng, fault plan, and what is being measured."""

    def __init__(self, n, hooks, rng, faults, faults_layer, hist, errors, part="mul"):
        self.n, self.hooks, self.rng, self.faults, self.faults_layer = n, hooks, rng, faults, faults_layer
        self.part = part
        self.hist, self.errors = hist, errors
        self.wrong = np.zeros(n, np.int64)
        product_layers = {layer for site, layer in hooks if site == "product"}
        scope = set() if faults_layer is None else {faults_layer}
        if product_layers and None not in product_layers:
            scope |= product_layers
        self.scope = scope or None  # layers whose products are measured (None: every layer)

    def measures_products(self, layer: str) -> bool:
        return self.errors is not None and (self.scope is None or layer in self.scope)

    def fns(self, site: str, layer: str) -> list:
        return self.hooks.get((site, None), []) + self.hooks.get((site, layer), [])


class IntegerEngine:
    """Runs an IntegerModel graph on inputs in [0, 1] with a Multiplier; see the module docstring for sites.
    layer_names: the multiply layers in graph order (the LAYER of 'SITE@LAYER' keys and of faults_layer)."""

    OPS = OPERATIONS  # the operation table: networks.ops, node.op -> its operation's evaluate

    def __init__(self, model: IntegerModel, multiplier: Multiplier | None = None):
        self.model = model
        if not model.layers:
            raise NetworkError("integer model has no multiply layer")
        mag_bits = max(max(1, int(np.abs(lay.weight).max()).bit_length()) for lay in model.layers)
        self.multiplier = multiplier or Multiplier("exact", act_bits=model.act_bits, mag_bits=mag_bits)
        if self.multiplier.act_bits < model.act_bits or (1 << self.multiplier.mag_bits) <= max(
                int(np.abs(lay.weight).max()) for lay in model.layers):
            bad = next(k for k, lay in enumerate(model.layers)
                       if int(np.abs(lay.weight).max()) >= 1 << self.multiplier.mag_bits)
            raise NetworkError(f"layer {bad}: weight magnitudes up to {int(np.abs(model.layers[bad].weight).max())} "
                               f"do not fit the multiplier's {self.multiplier.mag_bits}-bit operand b")
        if isinstance(self.multiplier, ProcessingElement):
            if self.multiplier.acc_bits != model.acc_bits:
                raise NetworkError(f"processing element has a {self.multiplier.acc_bits}-bit accumulator; the model's "
                                   f"is {model.acc_bits} bits (pass acc_bits={model.acc_bits})")
            signed = [lay.name for lay in model.layers if lay.signed_input]
            if signed and not self.multiplier.signed_a:
                raise NetworkError(f"layer(s) {signed} take signed inputs: the processing element needs signed_a=True")
        known = graph_operations()
        unknown = sorted({n.op for n in model.nodes} - set(known))
        if unknown:
            raise NetworkError(f"integer model: unknown operation(s) {unknown}; known: {', '.join(known)}")
        self.layer_names = model.layer_names
        self._index = {name: k for k, name in enumerate(self.layer_names)}
        uses = {}
        for k, node in enumerate(model.nodes):
            for name in node.inputs:
                uses[name] = k
        self._last_use = uses
        self._cache: dict = {}  # per layer: torch weights of the exact direct pass

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs in [0, 1] shaped like the model input -> unsigned act_bits integers."""
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        if x.shape[1:] != tuple(self.model.input_shape):
            raise NetworkError(f"input shape {x.shape[1:]} does not match the model's {tuple(self.model.input_shape)}")
        return _quantize(np.ascontiguousarray(x).reshape(-1), float(2 ** self.model.act_bits - 1)).reshape(x.shape)

    def _resolve(self, noise: dict) -> dict:
        """{(site, layer or None): [fn]} from 'SITE' and 'SITE@LAYER' keys; NetworkError for unknown ones."""
        hooks: dict = {}
        bad_sites = []
        for key, fn in noise.items():
            site, _, layer = str(key).partition("@")
            if site not in SITES:
                bad_sites.append(key)
                continue
            if layer:
                self._check_layer(layer, f"noise key {key!r}")
            hooks.setdefault((site, layer or None), []).append(fn)
        if bad_sites:
            raise NetworkError(f"unknown noise site(s) {sorted(bad_sites)}; sites: {', '.join(SITES)}")
        return hooks

    def _check_layer(self, layer: str, where: str) -> None:
        if layer not in self._index:
            raise NetworkError(f"{where}: unknown layer {layer!r}; layers: {', '.join(self.layer_names)}")

    def run(self, x: np.ndarray, *, noise: dict | None = None, faults: GateFaults | None = None,
            faults_layer: str | None = None, rng: np.random.Generator | None = None, record: bool = False,
            measure_error: bool = False, fault_part: str = "mul") -> PassResult:
        """One pass over float inputs x in [0, 1]. noise: {'SITE' or 'SITE@LAYER': fn(values, bits, signed, rng)};
        faults: gate faults of every multiply (flips need mode 'gates'; stuck-at faults alone run through a
        faulty lookup table; layer k draws its flips from seed faults.seed * 1009 + k), restricted to the layer
        named `faults_layer` when given; rng: the stream of the word-site hooks (default: seeded with
        faults.seed). record: count the (|a|, |w|) operand pairs; measure_error: signal and error power at each
        site (the product site compares every product with exact arithmetic, so it includes the multiplier's
        own errors; it and the wrong products per input cover the layers of faults_layer and of 'product@LAYER'
        keys when those restrict the noise, else every layer; in mode 'pe' the accumulator site also gets the
        error of every dot product's accumulator against exact arithmetic, and the wrong products count wrong
        accumulators too). fault_part: where `faults` go in mode 'pe': 'mul' (the multiplier's gates, as in mode
        'gates'), 'add' (the accumulator adder's gates) or 'all' (both; see networks.pe.split_faults); other modes
        take 'mul' only."""
        faults = faults or GateFaults()
        hooks = self._resolve(noise or {})
        if faults_layer is not None:
            self._check_layer(faults_layer, "faults_layer")
        mul = self.multiplier
        mul.check(faults, fault_part)
        rng = rng if rng is not None else np.random.default_rng(faults.seed)
        a = self.quantize_input(x)
        n = a.shape[0]
        hist = np.zeros((1 << mul.act_bits, 1 << mul.mag_bits), np.int64) if record else None
        errors = {site: np.zeros(2) for site in SITES} if measure_error else None
        p = _Pass(n, hooks, rng, faults, faults_layer, hist, errors, fault_part)
        values = {}
        for k, node in enumerate(self.model.nodes):
            ins = [a] if node.op == "input" else [values[name] for name in node.inputs]
            values[node.name] = self.OPS[node.op].evaluate(self, node, ins, p)
            for name in node.inputs:
                if self._last_use[name] == k:
                    del values[name]
        logits = values[self.model.nodes[-1].name].reshape(n, -1)
        return PassResult(logits, logits.argmax(axis=1), hist,
                          {s: v.tolist() for s, v in errors.items()} if errors is not None else None,
                          p.wrong if errors is not None else None)

    def multiply(self, node, ins, p):
        """The output of multiply layer `node` (networks.ops.Multiply evaluates through this) on input ins[0]:
        weight and activation noise, every product through the multiplier (or the exact direct pass), product and
        accumulator noise, requantization and clamp."""
        layer: IntLayer = node.layer
        k = self._index[layer.name]
        m = self.model
        a, w = ins[0], layer.weight
        for fn in p.fns("weight", layer.name):
            w = self._noisy("weight", fn, w, layer.weight_bits, True, p)
        for fn in p.fns("activation", layer.name):
            a = self._noisy("activation", fn, a, m.act_bits + layer.signed_input, layer.signed_input, p)
            if layer.signed_input:
                a = np.clip(a, 1 - 2 ** m.act_bits, 2 ** m.act_bits - 1)
        faults = p.faults if p.faults_layer in (None, layer.name) else GateFaults()
        faults = faults.with_seed(faults.seed * 1009 + k)
        product_fns = p.fns("product", layer.name)
        acc_fns = p.fns("accumulator", layer.name)
        measure = p.measures_products(layer.name)
        if (isinstance(self.multiplier, ExactMultiplier) and not product_fns and not acc_fns and not measure
                and p.hist is None):
            out = self._direct(layer, a, w, w is layer.weight)
            if out is not None:
                return out
        a = a.astype(self._operand_type(layer.signed_input))
        groups = []
        for g in range(layer.groups):
            cols, shape = self._columns(layer, a, g)
            wg = w[g * (w.shape[0] // layer.groups):(g + 1) * (w.shape[0] // layer.groups)]
            bias = layer.bias[g * len(wg):(g + 1) * len(wg)]
            if p.hist is not None:
                p.hist += self._histogram(np.abs(cols), np.abs(wg), p.hist.shape)
            gf = faults if g == 0 else faults.with_seed(faults.seed * 65537 + g)
            groups.append(self._accumulate(cols, wg, bias, product_fns, gf, p, layer.signed_input, measure))
        acc = groups[0] if len(groups) == 1 else np.concatenate(groups, axis=1)
        wrap_bits = m.acc_bits
        if acc_fns:
            acc, wrap_bits = _wrap(acc, m.acc_bits), 0
        for fn in acc_fns:
            acc = self._noisy("accumulator", fn, acc, m.acc_bits, True, p)
        lo, hi = layer.clamp if layer.clamp is not None else (0, 0)
        out = _requantize(np.ascontiguousarray(acc, dtype=np.int64), p.n, layer.mult, layer.shift, lo, hi,
                          layer.clamp is not None, wrap_bits)
        return out.reshape(p.n, layer.n_out, *shape)

    def _direct(self, layer: IntLayer, a: np.ndarray, w: np.ndarray, cached: bool) -> np.ndarray | None:
        """The layer's output by torch's float linear / convolution kernels, exact because every partial sum
        stays below 2^24 (float32) or 2^53 (float64); None when neither holds. cached: w is the layer's own."""
        key = (layer.name, "direct")
        if cached and key in self._cache:
            wt = self._cache[key]
        else:
            amax = 2 ** self.model.act_bits - 1
            bound = amax * float(np.abs(w).sum(axis=1).max(initial=0))
            dtype = torch.float32 if bound < 2 ** 24 else torch.float64 if bound < _EXACT_FLOAT else None
            wt = None if dtype is None else torch.from_numpy(w).to(dtype).reshape(
                layer.n_out, -1, *(layer.kernel if layer.kind != "linear" else ()))
            if cached:
                self._cache[key] = wt
        if wt is None:
            return None
        x = torch.from_numpy(a).to(wt.dtype)
        n = a.shape[0]
        if layer.kind == "linear":
            y = x.reshape(n, -1) @ wt.T
        else:
            conv = F.conv1d if layer.kind == "conv1d" else F.conv2d
            y = conv(x, wt, None, layer.stride, layer.padding, layer.dilation, layer.groups)
        y = y.numpy()
        lo, hi = layer.clamp if layer.clamp is not None else (0, 0)
        out = _finish(y.reshape(n, layer.n_out, -1), layer.bias, layer.mult, layer.shift, lo, hi,
                      layer.clamp is not None, self.model.acc_bits)
        return out.reshape(y.shape)

    @staticmethod
    def _noisy(site, fn, values, bits, signed, p):
        new = np.asarray(fn(values, bits, signed, p.rng), dtype=np.int64)
        if p.errors is not None:
            p.errors[site] += [float(np.square(values, dtype=np.float64).sum()),
                               float(np.square(new - values, dtype=np.float64).sum())]
        return new

    @staticmethod
    def _columns(layer: IntLayer, a: np.ndarray, group: int = 0) -> tuple[np.ndarray, tuple]:
        """The layer's input (channels of `group`) as rows of in_features (im2col for convolutions, rows in
        (sample, position) order), and the output's spatial shape."""
        n = a.shape[0]
        if layer.kind == "linear":
            return np.ascontiguousarray(a.reshape(n, -1)), ()
        cg = a.shape[1] // layer.groups
        a = a[:, group * cg:(group + 1) * cg]
        d = len(layer.kernel)
        if any(layer.padding):
            a = np.pad(a, [(0, 0), (0, 0)] + [(q, q) for q in layer.padding])
        span = tuple(dl * (kk - 1) + 1 for kk, dl in zip(layer.kernel, layer.dilation, strict=True))
        win = np.lib.stride_tricks.sliding_window_view(a, span, axis=tuple(range(2, 2 + d)))
        win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in layer.stride)
                  + tuple(slice(None, None, dl) for dl in layer.dilation)]
        shape = win.shape[2:2 + d]
        win = win.transpose(0, *range(2, 2 + d), 1, *range(2 + d, 2 + 2 * d))
        return np.ascontiguousarray(win.reshape(n * int(np.prod(shape)), -1)), tuple(shape)

    def _operand_type(self, signed: bool):
        """The smallest integer type of the layer's activations (table indices load faster)."""
        bits = self.model.act_bits
        if signed:
            return np.int16 if bits <= 15 else np.int32
        return np.uint8 if bits <= 8 else np.uint16

    @staticmethod
    def _histogram(cols, mag, shape):
        hist = np.zeros(shape, np.int64)
        _count_pairs(cols, mag, hist)
        return hist

    def _accumulate(self, cols, w, bias, product_fns, faults, p, signed, measure):
        """Accumulators (rows of cols x output channels); with `measure`, adds the product site's signal and
        error power and counts wrong products per input."""
        mul = self.multiplier
        if not product_fns:
            if not measure:
                return mul.accumulate(cols, w, bias, faults, signed, self.model.acc_bits, p.part)
            acc, wrong, sig, err = mul.accumulate_measured(cols, w, bias, faults, signed, self.model.acc_bits, p.part)
            p.errors["product"] += [float(sig), float(err)]
            if isinstance(mul, ProcessingElement):  # the accumulators' own errors (the adder's faults show here)
                exact = _wrap(_exact_accumulate(cols, w, bias), self.model.acc_bits)
                diff = _wrap(acc - exact, self.model.acc_bits)
                p.errors["accumulator"] += [float(np.square(exact, dtype=np.float64).sum()),
                                            float(np.square(diff, dtype=np.float64).sum())]
                wrong = wrong + np.count_nonzero(diff, axis=1)
            p.wrong += wrong.reshape(p.n, -1).sum(axis=1)
            return acc
        if p.part != "mul" and not p.faults.none:
            raise NetworkError(f"the product site takes the multiplier's faults only; fault_part {p.part!r} with "
                               "product noise is not supported")
        a, mag = np.abs(cols), np.abs(w)
        prod = mul.products(a, mag, faults)
        for fn in product_fns:
            prod = np.asarray(fn(prod, mul.out_bits, False, p.rng), dtype=np.int64)
        if measure:
            exact = a[:, None, :] * mag[None, :, :]
            diff = prod - exact
            p.errors["product"] += [float(np.square(exact, dtype=np.float64).sum()),
                                    float(np.square(diff, dtype=np.float64).sum())]
            p.wrong += np.count_nonzero(diff.reshape(p.n, -1), axis=1)
        return _signed_sum(prod, cols, w, bias)
