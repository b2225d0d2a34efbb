"""Integer inference of an IntegerModel graph with a pluggable multiplier: exact, a lookup table, or the netlist.

Every multiply of every linear / convolution layer is, in the multiplier's default arithmetic, sign-magnitude
around an unsigned multiplier: product = sgn(a) * sign(w) * MUL(|a|, |w|), with sgn(a) = -1 for a < 0 else +1
(activations after a ReLU are unsigned, so sgn(a) = +1) and sign(w) in {-1, 0, +1} (a zero weight contributes
nothing); in arithmetic 'twos-complement' (hardware.multipliers) the signed operands go to a signed multiplier
netlist as two's-complement words and every product is added (the product site then holds signed words). MUL is integer
arithmetic (`exact`), a table of the netlist's outputs over all operand pairs (`lut`), or the netlist simulated
at gate level for every product (`gates`: hardware in the loop, with transient flips and stuck-at faults). The
netlist must be unsigned with input buses a (activation magnitude) and b (weight magnitude) and one output bus.
Mode `pe` (the processing element in the loop, hardware/pe.py) runs every multiply-accumulate step through the
netlist and an accumulator adder of the model's width, and the outputs of ReLU layers through a requantizer netlist
when it takes faults; `run(..., fault_part=)` puts the gate faults on the multiplier ('mul', as in mode 'gates'),
the adder ('add'), both ('all'), the requantizer ('req') or all three ('whole').

The engine runs the graph node by node; OPS is the registry networks.ops.OPERATIONS (a new layer kind is one
entry). Noise hooks: `noise={key: fn}` with fn(values, bits, signed, rng) -> values, key 'SITE' (every
multiply layer) or 'SITE@LAYER' (that layer only, named by its module path, see `layer_names`), SITE one of the
word sites declared here (`word_site`, WORD_SITES), applied to integer weights (site 'weight', two's complement
of the layer's weight width), layer inputs ('activation', unsigned act_bits, or two's complement act_bits + 1 for
a signed input), product magnitude words ('product', the multiplier's output width) and accumulators
('accumulator', two's complement acc_bits). No model copy is made. A hook may hand its flips to the engine: `fn.xor`
true and `fn.flips(n_words, bits, rng)` -> (sorted distinct word indices, their uint64 XOR masks), drawn exactly as
fn draws them on n_words words, fn's result being the words wrapped to `bits` with those words XORed (testbed's
bit-flip plans). Where such a hook is a site's only one, no error is measured and the words lie in their range,
the exact direct pass applies the flips itself (weights to a copy, activations to the float input, accumulators
inside the requantizing pass) with the same draws and the same outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from circuits import GateFaultPlan, GateFaults
from hardware import EXACT_FLOAT, Multiplier, exact_accumulate
from networks.errors import NetworkError
from networks.graph import IntegerModel, IntLayer
from networks.kernels import (
    accumulators,
    as_float,
    conv_operands,
    count_pairs,
    finish,
    finish_flipped,
    quantize_inputs,
    requantize,
    signed_sum,
    wrap,
    xor_words,
)
from networks.ops import OPERATIONS, graph_operations


@dataclass(frozen=True)
class WordSite:
    """A network word site the engine realises (noise keys 'NAME' and 'NAME@LAYER'): how its words' width and
    sign are found (`width`, in words), what they are, and the batch rule (`batch_axis`: the first axis of the
    words indexes samples). A site on a multiply layer's parameter names it (`field`, an IntLayer attribute) and
    gives its words' width (`bits(model, layer)`) and sign (`signed`); the engine perturbs that parameter before
    the layer runs. Sites without a field (activation, product, accumulator) are points of the datapath the
    engine applies itself."""

    name: str
    width: str
    description: str
    batch_axis: bool = True
    field: str = ""
    bits: Callable[[IntegerModel, IntLayer], int] | None = None
    signed: bool = True


WORD_SITES: dict[str, WordSite] = {}


def word_site(site: WordSite) -> WordSite:
    """Register a network word site (its name must be new); returns it."""
    if site.name in WORD_SITES:
        raise NetworkError(f"word site {site.name!r} is already registered")
    if site.field and site.bits is None:
        raise NetworkError(f"word site {site.name!r} on layer parameter {site.field!r} needs bits(model, layer)")
    WORD_SITES[site.name] = site
    return site


word_site(WordSite("weight", "the layer's weight bits, two's complement", "integer weights", batch_axis=False,
                   field="weight", bits=lambda model, layer: layer.weight_bits))
word_site(WordSite("activation", "act_bits, unsigned", "layer inputs"))
word_site(WordSite("accumulator", "acc_bits, two's complement", "accumulator words"))
word_site(WordSite("product", "the multiplier's output width, unsigned magnitude", "each multiply's result word"))


@dataclass
class PassResult:
    logits: np.ndarray  # (N, classes) int64, common scale
    predictions: np.ndarray  # (N,) int64
    operands: np.ndarray | None = None  # (2^act_bits, 2^mag_bits) counts of (|a|, |w|) pairs when recorded
    site_error: dict | None = None  # per site: [signal power, error power] summed over the pass
    wrong_products: np.ndarray | None = None  # (N,) products that differ from exact, per input (measured)
    outputs: dict | None = None  # per multiply layer: its outputs (dot products) in the pass, when `record`


class _Pass:
    """The state of one pass: resolved hooks, the rng, fault plan, and what is being measured."""

    def __init__(self, n, hooks, rng, faults, faults_layer, hist, errors, part="mul"):
        self.n, self.hooks, self.rng, self.faults, self.faults_layer = n, hooks, rng, faults, faults_layer
        self.part = part
        self.hist, self.errors = hist, errors
        self.outputs: dict = {}  # layer -> outputs (dot products) computed, counted when hist is recorded
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
        self.multiplier.check_model(model.acc_bits, [lay.name for lay in model.layers if lay.signed_input])
        self.multiplier.attach(model.layers)
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
        return quantize_inputs(x, self.model.act_bits)

    def _resolve(self, noise: dict) -> dict:
        """{(site, layer or None): [fn]} from 'SITE' and 'SITE@LAYER' keys; NetworkError for unknown ones."""
        hooks: dict = {}
        bad_sites = []
        for key, fn in noise.items():
            site, _, layer = str(key).partition("@")
            if site not in WORD_SITES:
                bad_sites.append(key)
                continue
            if layer:
                self._check_layer(layer, f"noise key {key!r}")
            hooks.setdefault((site, layer or None), []).append(fn)
        if bad_sites:
            raise NetworkError(f"unknown noise site(s) {sorted(bad_sites)}; sites: {', '.join(WORD_SITES)}")
        return hooks

    def _check_layer(self, layer: str, where: str) -> None:
        if layer not in self._index:
            raise NetworkError(f"{where}: unknown layer {layer!r}; layers: {', '.join(self.layer_names)}")

    def run(self, x: np.ndarray, *, noise: dict | None = None, faults: GateFaultPlan | None = None,
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
        'gates'), 'add' (the accumulator adder's gates), 'all' (both; see hardware.pe.split_faults), 'req' (the
        requantizer's gates, once per output of a ReLU layer: its errors are measured at the activation site and
        its wrong outputs counted) or 'whole' (multiplier, adder and requantizer); other modes take 'mul' only."""
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
        errors = {site: np.zeros(2) for site in WORD_SITES} if measure_error else None
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
                          p.wrong if errors is not None else None, p.outputs if record else None)

    def multiply(self, node, ins, p):
        """The output of multiply layer `node` (networks.ops.Multiply evaluates through this) on input ins[0]:
        weight and activation noise, every product through the multiplier (or the exact direct pass), product and
        accumulator noise, requantization and clamp (with the range restriction's bounds where the layer has them)."""
        layer: IntLayer = node.layer
        k = self._index[layer.name]
        m = self.model
        layer = self._parameters(layer, p)
        a, w = ins[0], layer.weight
        act_fns = p.fns("activation", layer.name)
        product_fns = p.fns("product", layer.name)
        acc_fns = p.fns("accumulator", layer.name)
        measure = p.measures_products(layer.name)
        acc_xor = acc_fns[0] if len(acc_fns) == 1 and self._xor(acc_fns[0], p) else None
        if self.multiplier.exact and not product_fns and (acc_xor or not acc_fns) and not measure and p.hist is None:
            wt = self._weights_t(layer, w, layer is node.layer)
            if wt is not None:
                x = self._noisy_input(layer, a, act_fns, wt.dtype, p)
                return self._bounded(layer, self._direct(layer, x, wt, acc_xor, p.rng))
        for fn in act_fns:
            a = self._noisy("activation", fn, a, m.act_bits + layer.signed_input, layer.signed_input, p)
            if layer.signed_input:
                a = np.clip(a, 1 - 2 ** m.act_bits, 2 ** m.act_bits - 1)
        faults = p.faults if p.faults_layer in (None, layer.name) else GateFaults()
        faults = faults.with_seed(faults.seed * 1009 + k)
        a = a.astype(self._operand_type(layer.signed_input))
        acc = None
        if not product_fns and not measure and p.hist is None:
            acc, shape = self._direct_layer(layer, a, w, faults, p, layer is node.layer) or (None, ())
        groups = [] if acc is None else [acc]
        for g in range(layer.groups if acc is None else 0):
            cols, shape = self._columns(layer, a, g)
            wg = w[g * (w.shape[0] // layer.groups):(g + 1) * (w.shape[0] // layer.groups)]
            bias = layer.bias[g * len(wg):(g + 1) * len(wg)]
            if p.hist is not None:
                p.hist += self._histogram(np.abs(cols), np.abs(wg), p.hist.shape)
            gf = faults if g == 0 else faults.with_seed(faults.seed * 65537 + g)
            groups.append(self._accumulate(cols, wg, bias, product_fns, gf, p, layer.signed_input, measure))
        acc = groups[0] if len(groups) == 1 else np.concatenate(groups, axis=1)
        if p.hist is not None:
            p.outputs[layer.name] = p.outputs.get(layer.name, 0) + acc.size
        wrap_bits = m.acc_bits
        if acc_fns:
            acc, wrap_bits = wrap(acc, m.acc_bits), 0
        for fn in acc_fns:
            acc = self._noisy("accumulator", fn, acc, m.acc_bits, True, p)
        lo, hi = layer.clamp if layer.clamp is not None else (0, 0)
        acc = np.ascontiguousarray(acc, dtype=np.int64)
        gates = self.multiplier.requantize(acc, layer, faults, p.part)  # the requantizer's gates in the loop
        if gates is None or p.errors is not None:
            out = requantize(acc, p.n, layer.mult, layer.shift, lo, hi, layer.clamp is not None, wrap_bits)
        if gates is not None:
            gates = np.ascontiguousarray(gates.reshape(p.n, -1, layer.n_out).transpose(0, 2, 1))
            if p.errors is not None:  # its errors at the activation site (the next layer's inputs)
                p.errors["activation"] += [float(np.square(out, dtype=np.float64).sum()),
                                           float(np.square(gates - out, dtype=np.float64).sum())]
                p.wrong += np.count_nonzero((gates != out).reshape(p.n, -1), axis=1)
            out = gates
        return self._bounded(layer, out.reshape(p.n, layer.n_out, *shape))

    @staticmethod
    def _bounded(layer: IntLayer, out: np.ndarray) -> np.ndarray:
        """The layer's outputs (N, out, ...) under its range restriction (networks.ranges): min(out, bound[c]) per
        output channel, as the requantizer's clamp with its upper end at the bound; itself without one."""
        if layer.bound is None:
            return out
        return np.minimum(out, layer.bound.reshape(1, -1, *([1] * (out.ndim - 2))))

    def _parameters(self, layer: IntLayer, p) -> IntLayer:
        """The layer with the noise of its parameter word sites (weight, ...) applied; itself when none applies. A
        hook with `xor` alone at a site whose words lie in their range has its flips XORed in by the engine."""
        changed = {}
        for site in WORD_SITES.values():
            fns = p.fns(site.name, layer.name) if site.field else []
            bits = site.bits(self.model, layer) if fns else 0
            if len(fns) == 1 and self._xor(fns[0], p) and self._fits(layer, site, bits):
                values = np.array(getattr(layer, site.field), dtype=np.int64)
                words, masks = fns[0].flips(values.size, bits, p.rng)
                flat = values.reshape(-1)
                flat[words] = xor_words(flat[words], masks, bits, site.signed)
                changed[site.field] = values
                continue
            for fn in fns:
                values = changed.get(site.field, getattr(layer, site.field))
                changed[site.field] = self._noisy(site.name, fn, values, bits, site.signed, p)
        return dataclasses.replace(layer, **changed) if changed else layer

    def _fits(self, layer: IntLayer, site: WordSite, bits: int) -> bool:
        """Whether the layer's own words at parameter site `site` lie in the range of `bits`-bit words (two's
        complement when the site is signed); cached."""
        key = (layer.name, site.name, bits)
        if key not in self._cache:
            v = np.asarray(getattr(layer, site.field))
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if site.signed else (0, (1 << bits) - 1)
            self._cache[key] = v.size == 0 or bool(lo <= v.min() and v.max() <= hi)
        return self._cache[key]

    def _direct(self, layer: IntLayer, x: torch.Tensor, wt: torch.Tensor, flips=None,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """The layer's output (N, out, *spatial) by torch's float linear / convolution kernels on the input x and
        weights wt (_weights_t), exact because every partial sum stays below 2^24 (float32) or 2^53 (float64).
        flips: an accumulator hook with `xor` (module docstring), its flips drawn from rng over the (rows, out)
        accumulators and applied inside the requantizing pass."""
        y = self._sums(layer, x, wt)
        n, acc_bits, shape = x.shape[0], self.model.acc_bits, y.shape
        y = y.reshape(n, layer.n_out, -1)
        lo, hi = layer.clamp if layer.clamp is not None else (0, 0)
        args = (layer.bias, layer.mult, layer.shift, lo, hi, layer.clamp is not None, acc_bits)
        out = finish(y, *args)
        if flips is not None:
            words, masks = flips.flips(y.size, acc_bits, rng)
            finish_flipped(out, y, *args, words, masks.view(np.int64))
        return out.reshape(shape)

    def _weights_t(self, layer: IntLayer, w: np.ndarray, cached: bool) -> torch.Tensor | None:
        """The weights w of the layer as torch's kernels take them, float32 when every partial sum of the layer
        stays below 2^24 whatever its inputs, float64 below 2^53; None when neither holds. cached: w is the
        layer's own."""
        key = (layer.name, "direct")
        if cached and key in self._cache:
            return self._cache[key]
        amax = 2 ** self.model.act_bits - 1
        bound = amax * float(np.abs(w).sum(axis=1).max(initial=0))
        dtype = torch.float32 if bound < 2 ** 24 else torch.float64 if bound < EXACT_FLOAT else None
        wt = None if dtype is None else torch.from_numpy(w).to(dtype).reshape(
            layer.n_out, -1, *(layer.kernel if layer.kind != "linear" else ()))
        if cached:
            self._cache[key] = wt
        return wt

    def _noisy_input(self, layer: IntLayer, a: np.ndarray, fns: list, dtype: torch.dtype, p) -> torch.Tensor:
        """The layer input a with the activation site's noise, as a float tensor of `dtype`: a hook with `xor`
        alone, on words that wrapping and clipping leave as they are (the usual case), has its flips written into
        the converted tensor; other hooks run on the words, and signed inputs are clipped to +-(2^act_bits - 1)."""
        top = 2 ** self.model.act_bits - 1
        bits, signed = self.model.act_bits + layer.signed_input, layer.signed_input
        if len(fns) == 1 and self._xor(fns[0], p):
            x = np.empty(a.shape, np.float32 if dtype == torch.float32 else np.float64)
            flat = a.reshape(-1)
            if as_float(flat, x.reshape(-1), -top if signed else 0, top):
                words, masks = fns[0].flips(a.size, bits, p.rng)
                v = xor_words(flat[words], masks, bits, signed)
                x.reshape(-1)[words] = np.maximum(v, -top) if signed else v
                return torch.from_numpy(x)
        for fn in fns:
            a = self._noisy("activation", fn, a, bits, signed, p)
            if signed:
                a = np.clip(a, -top, top)
        return torch.from_numpy(a).to(dtype)

    @staticmethod
    def _xor(fn, p) -> bool:
        """Whether the engine may apply hook fn's flips itself (it offers them, `xor`, and no error is measured)."""
        return getattr(fn, "xor", False) and p.errors is None

    @staticmethod
    def _sums(layer: IntLayer, x: torch.Tensor, wt: torch.Tensor) -> np.ndarray:
        """sum_i x * w of every output (N, out, *spatial), float, by torch's linear / convolution kernels."""
        if layer.kind == "linear":
            return (x.reshape(x.shape[0], -1) @ wt.T).numpy()
        conv = F.conv1d if layer.kind == "conv1d" else F.conv2d
        return conv(x, wt, None, layer.stride, layer.padding, layer.dilation, layer.groups).numpy()

    def _direct_sums(self, layer: IntLayer, a: np.ndarray, w: np.ndarray, cached: bool) -> np.ndarray | None:
        """sum_i a * w of every output (N, out, *spatial), float, by torch's linear / convolution kernels, exact
        (see _direct); None when no float type is exact for this layer."""
        wt = self._weights_t(layer, w, cached)
        return None if wt is None else self._sums(layer, torch.from_numpy(a).to(wt.dtype), wt)

    def _direct_layer(self, layer: IntLayer, a: np.ndarray, w: np.ndarray, faults, p, cached: bool) -> tuple | None:
        """(accumulators (rows, out), output spatial shape) of a one-group convolution by the multiplier's
        accumulate_direct: the exact sums by _direct_sums, the operands of the columns (_columns) read from the
        layer input where asked, never materialised; None where the multiplier or the sums cannot do it. cached:
        w is the layer's own."""
        mul = self.multiplier
        if layer.kind == "linear" or layer.groups != 1 or not mul.direct(faults):  # linear: its columns are a view
            return None
        y = self._direct_sums(layer, a, w, cached)
        if y is None:
            return None
        n = a.shape[0]
        shape = tuple(y.shape[2:])
        rows = n * int(np.prod(shape))
        d = len(layer.kernel)
        geometry = np.array([list(shape) + [1] * (2 - d), list(layer.kernel) + [1] * (2 - d),
                             list(layer.stride) + [1] * (2 - d), list(layer.dilation) + [1] * (2 - d),
                             list(layer.padding) + [0] * (2 - d)], np.int64)
        image = a.reshape(n, a.shape[1], a.shape[2], -1)

        def take(r, i):
            return conv_operands(image, geometry, r, i)
        exact = accumulators(y.reshape(n, layer.n_out, -1), np.asarray(layer.bias, np.int64))
        acc = mul.accumulate_direct(exact, take, (rows, w.shape[1]), w, faults, layer.signed_input,
                                    self.model.acc_bits, p.part)
        return None if acc is None else (acc, shape)

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
        count_pairs(cols, mag, hist)
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
            if mul.accumulates:  # the accumulators' own errors (the adder's faults show here)
                exact = wrap(exact_accumulate(cols, w, bias), self.model.acc_bits)
                diff = wrap(acc - exact, self.model.acc_bits)
                p.errors["accumulator"] += [float(np.square(exact, dtype=np.float64).sum()),
                                            float(np.square(diff, dtype=np.float64).sum())]
                wrong = wrong + np.count_nonzero(diff, axis=1)
            p.wrong += wrong.reshape(p.n, -1).sum(axis=1)
            return acc
        if p.part != "mul" and not p.faults.none:
            raise NetworkError(f"the product site takes the multiplier's faults only; fault_part {p.part!r} with "
                               "product noise is not supported")
        a, mag = mul.indices(cols, w)
        prod = mul.products(a, mag, faults)
        for fn in product_fns:
            prod = np.asarray(fn(prod, mul.out_bits, mul.twos, p.rng), dtype=np.int64)
        if measure:
            exact = (cols.astype(np.int64)[:, None, :] * w[None, :, :]) if mul.twos else a[:, None, :] * mag[None, :, :]
            diff = prod - exact
            p.errors["product"] += [float(np.square(exact, dtype=np.float64).sum()),
                                    float(np.square(diff, dtype=np.float64).sum())]
            p.wrong += np.count_nonzero(diff.reshape(p.n, -1), axis=1)
        return bias + prod.sum(axis=2) if mul.twos else signed_sum(prod, cols, w, bias)
