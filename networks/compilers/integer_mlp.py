"""The integer MLP itself as one gate netlist (networks.graph.IntegerModel, a chain of linear layers).

`compile_integer_mlp(imodel)` gives a networks.compilers.CompiledClassifier with input buses x0..x{F-1} of
act_bits bits (the engine's quantized inputs round(x * (2^act_bits - 1))) and one output bus `class`; its
predictions equal `IntegerEngine(imodel).run(x).predictions` bit for bit (the engine's exact pass, which is
also its software model `model_predict`).

Weights are constants, so nothing multiplies at run time: every neuron is one column-compressed sum of shifted
copies of its input words, one copy per nonzero digit of the weight in non-adjacent form (signed digits: a
negative digit adds the inverted bits and a constant), the bias and every such constant folded into one
constant, reduced by a three-greedy tree of full and half adders (the shallowest nets first) in two's
complement of exactly the width the accumulator's range needs (bounded from the weights and the input
ranges). Inputs whose weights share an odd part k (k * +-2^j) are summed first and multiplied by k once where
that adds fewer bits (about 15% fewer gates on the digits MLPs).

Requantization clamp((acc * mult + 2^(shift-1)) >> shift, 0, hi) is a nondecreasing step function of the
accumulator on its range; the compiler finds equivalent (m, s, c) with clamp(floor((acc * m + c) / 2^s))
identical on every integer of the range (m of a few bits instead of 30), then per neuron takes the way with the
fewest estimated gates: the accumulator word times m (shift-and-add again), m folded into the weights, or
comparators of the accumulator against the output's steps and an encoder (few steps). ReLU and the upper clamp
are the sign bit and a constant comparator; neurons constant on their range become constants, and every
activation word is as wide as its range. The logits (requantized, as the engine's argmax reads them) go to a
tournament argmax (blocks.argmax, the lowest index on ties, as numpy) after an offset-binary flip of their sign
bits. Full adders are Builder's five-gate cell by default, as in the other compiled classifiers (majority=True:
XOR, XOR, MAJ).

Sizes (digits; 540 test inputs, one simulate in the interpreter ~0.03 s at 0.4 M gates): 64-16-10 at 4 bits
27,589 gates, depth 150; 64-64-10 at 4 bits 95,555, depth 160; 64-64-10 at 8 bits 433,944 gates, depth 251,
built in about 2.5 s (majority cells: 17,642 / 60,413 / 270,024).
"""

from __future__ import annotations

import functools
import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from circuits import blocks
from circuits.builder import Builder
from networks.compilers.compiled import CompiledClassifier
from networks.errors import NetworkError
from networks.graph import IntegerModel

ZERO, ONE = Builder.ZERO, Builder.ONE
REQUANT = ("auto", "steps", "fused", "split")


@dataclass
class _Word:
    """An integer on nets (bit 0 first) with a known range [lo, hi]: unsigned when lo >= 0, else two's
    complement (the last net is the sign). A constant word (lo == hi) holds constant nets."""

    nets: list[int]
    lo: int
    hi: int

    @property
    def signed(self) -> bool:
        return self.lo < 0


def _width(lo: int, hi: int) -> int:
    """Bits of a word holding every integer of [lo, hi]: unsigned when lo >= 0, else two's complement."""
    if lo >= 0:
        return max(1, hi.bit_length())
    return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


def _const_word(v: int) -> _Word:
    w = _width(v, v)
    return _Word([ONE if v >> k & 1 else ZERO for k in range(w)], v, v)


@functools.lru_cache(maxsize=1 << 16)
def _naf(n: int) -> tuple[tuple[int, int], ...]:
    """Non-adjacent form of an integer: [(position, +1 or -1)], the fewest signed binary digits."""
    digits, k = [], 0
    while n:
        if n & 1:
            d = 2 - (n & 3)
            digits.append((k, d))
            n -= d
        n >>= 1
        k += 1
    return tuple(digits)


class _Compiler:
    def __init__(self, b: Builder, requant: str = "auto", majority: bool = False, group: bool = True):
        self.b, self.requant, self.majority, self.group = b, requant, majority, group
        self.penalty = 0.5  # the inner sums' half adders and constants, in full adders per output bit
        self.depth: dict[int, int] = {}
        self.inverted: dict[int, int] = {}
        self.seq = itertools.count()

    def d(self, net: int) -> int:
        return self.depth.get(net, 0)

    def gate(self, kind: str, *ins: int) -> int:
        before = len(self.b.ops)
        out = self.b.gate(kind, *ins)
        if len(self.b.ops) > before:
            self.depth[out] = 1 + max(self.d(i) for i in ins)
        return out

    def inv(self, net: int) -> int:
        if net in (ZERO, ONE):
            return ONE if net == ZERO else ZERO
        if net not in self.inverted:
            self.inverted[net] = self.gate("NOT", net)
        return self.inverted[net]

    # sums of constant multiples of words

    @staticmethod
    def _range(terms, const: int) -> tuple[int, int]:
        lo = hi = const
        for word, coef in terms:
            lo += min(coef * word.lo, coef * word.hi)
            hi += max(coef * word.lo, coef * word.hi)
        return lo, hi

    @staticmethod
    def _bits(terms, width: int) -> int:
        return sum(sum(max(0, min(len(w.nets), width - k)) for k, _ in _naf(c)) for w, c in terms if w.lo != w.hi)

    def _grouped(self, terms, build: bool) -> tuple[list, int]:
        """Terms whose coefficients share an odd part k (k * +-2^j) summed first, then multiplied by k once,
        where that reduces fewer bits: (the new terms, the inner sums' cost). build=False: placeholder words."""
        terms = [(w, c) for w, c in terms if c]
        if not self.group:
            return terms, 0
        by_odd: dict[int, list] = {}
        for word, coef in terms:
            k = abs(coef) >> ((abs(coef) & -abs(coef)).bit_length() - 1)
            by_odd.setdefault(k if word.lo != word.hi and k > 1 else 0, []).append((word, coef))
        out, extra = list(by_odd.pop(0, [])), 0
        for k, members in by_odd.items():
            inner = [(w, c // k) for w, c in members]
            lo, hi = self._range(inner, 0)
            width = _width(lo, hi)
            inner_cost = self._bits(inner, width) - width + int(self.penalty * width)
            if len(members) < 2 or inner_cost + len(_naf(k)) * width >= self._bits(members, 1 << 30):
                out.extend(members)
                continue
            extra += inner_cost
            out.append((self.lincomb(inner, 0) if build else _Word([0] * width, lo, hi), k))
        return out, extra

    def cost(self, terms, const: int) -> int:
        """Bits the column compressors of lincomb(terms, const) reduce, less their output columns (about the
        number of full adders)."""
        lo, hi = self._range(terms, const)
        if lo == hi:
            return 0
        width = _width(lo, hi)
        terms, extra = self._grouped(terms, False)
        return extra + self._bits(terms, width) - width

    def lincomb(self, terms, const: int) -> _Word:
        """The word sum_i coef_i * word_i + const (exact: its width holds the whole range)."""
        terms, _ = self._grouped(terms, True)
        lo, hi = self._range(terms, const)
        if lo == hi:
            return _const_word(lo)
        width = _width(lo, hi)
        cols: list[list] = [[] for _ in range(width)]
        k_const = const

        def put(col: int, net: int) -> None:
            nonlocal k_const
            if net == ONE:
                k_const += 1 << col
            elif net != ZERO:
                heapq.heappush(cols[col], (self.d(net), next(self.seq), net))

        for word, coef in terms:
            if word.lo == word.hi:
                k_const += coef * word.lo
                continue
            nets = list(word.nets)
            if word.signed:  # offset binary: u = value + 2^(n-1), the sign bit inverted
                nets[-1] = self.inv(nets[-1])
                k_const -= coef << (len(nets) - 1)
            n = len(nets)
            for shift, sign in _naf(coef):
                if sign < 0:  # -(u << shift) = (~u << shift) - ((2^n - 1) << shift)
                    k_const -= ((1 << n) - 1) << shift
                for i, net in enumerate(nets):
                    if i + shift >= width:
                        break
                    put(i + shift, net if sign > 0 else self.inv(net))
        k_const &= (1 << width) - 1
        for col in range(width):
            if k_const >> col & 1:
                heapq.heappush(cols[col], (0, next(self.seq), ONE))
        out = []
        for col in range(width):
            heap = cols[col]
            nxt = cols[col + 1] if col + 1 < width else None
            while len(heap) >= 3 or (len(heap) == 2 and nxt is not None):
                if len(heap) >= 3:
                    a, b, c = (heapq.heappop(heap)[2] for _ in range(3))
                    t = self.gate("XOR", a, b)
                    s = self.gate("XOR", t, c)
                    if nxt is not None and self.majority:
                        carry = self.gate("MAJ", a, b, c)
                    elif nxt is not None:
                        carry = self.gate("OR", self.gate("AND", a, b), self.gate("AND", c, t))
                else:
                    a, b = (heapq.heappop(heap)[2] for _ in range(2))
                    s = self.gate("XOR", a, b)
                    carry = self.gate("AND", a, b)
                heapq.heappush(heap, (self.d(s), next(self.seq), s))
                if nxt is not None:
                    heapq.heappush(nxt, (self.d(carry), next(self.seq), carry))
            if len(heap) == 2:  # the top column: its carry falls off the word
                a, b = (heapq.heappop(heap)[2] for _ in range(2))
                heapq.heappush(heap, (0, 0, self.gate("XOR", a, b)))
            out.append(heap[0][2] if heap else ZERO)
        return _Word(out, lo, hi)

    # requantization

    def neuron(self, inputs: list[_Word], weights: np.ndarray, bias: int, mult: int, shift: int,
               clamp: tuple | None, acc_bits: int, where: str) -> _Word:
        """One output of a linear layer: clamp((acc * mult + 2^(shift-1)) >> shift) as the engine computes it."""
        terms = [(x, int(w)) for x, w in zip(inputs, weights, strict=True) if w != 0]
        acc_lo, acc_hi = self._range(terms, bias)
        if acc_lo < -(1 << (acc_bits - 1)) or acc_hi >= 1 << (acc_bits - 1):
            raise NetworkError(f"{where}: the accumulator's range [{acc_lo}, {acc_hi}] exceeds {acc_bits} bits "
                               "(the engine would wrap it; not compiled)")
        if mult < 0:
            raise NetworkError(f"{where}: negative requantization multiplier {mult}")
        plan = _plan(acc_lo, acc_hi, mult, shift, clamp)
        if plan.lo == plan.hi:
            return _const_word(plan.lo)
        fa = 3 if self.majority else 5  # gates per full adder: the compressor's cost unit
        acc_cost = fa * self.cost(terms, bias)
        acc_width = _width(acc_lo, acc_hi)
        options = []
        if plan.thresholds is not None:  # comparators of the accumulator against the steps, then an encoder
            options.append((acc_cost + (acc_width + 2) * len(set(plan.thresholds)), "steps", 0, 0, 0))
        acc_word = _Word([0] * acc_width, acc_lo, acc_hi)
        for m, sh, c in plan.candidates:
            options.append((fa * self.cost([(x, w * m) for x, w in terms], bias * m + c), "fused", m, sh, c))
            options.append((acc_cost + fa * self.cost([(acc_word, m)], c), "split", m, sh, c))
        chosen = [o for o in options if o[1] == self.requant] or options
        best = min(chosen, key=lambda o: o[0])
        _, how, m, sh, c = best
        if how == "steps":
            return self._steps(self.lincomb(terms, bias), plan)
        if how == "split":
            y = self.lincomb([(self.lincomb(terms, bias), m)], c)
        else:
            y = self.lincomb([(x, w * m) for x, w in terms], bias * m + c)
        return self._output(y, sh, clamp, plan.lo, plan.hi)

    def _steps(self, acc: _Word, plan: _Plan) -> _Word:
        """The output of range [lo, hi] from comparators acc >= t_v (v = lo + 1 .. hi: the first accumulator of
        output v or more): bit k is the OR over the runs [p, q] of values with bit k set of
        [acc >= t_p] AND NOT [acc >= t_(q+1)]."""
        nets = list(acc.nets)
        offset = 0
        if acc.signed:  # offset binary: order-preserving unsigned
            nets[-1] = self.inv(nets[-1])
            offset = 1 << (len(nets) - 1)
        memo: dict = {}

        def ge(t: int) -> int:  # acc >= t, from the least significant bit up (shared low-bit prefixes)
            t += offset
            if t <= 0:
                return ONE
            if t >= 1 << len(nets):
                return ZERO
            r = ONE
            for k, x in enumerate(nets):
                key = (k, t & ((2 << k) - 1))
                if key not in memo:
                    memo[key] = self.gate("AND" if t >> k & 1 else "OR", x, r)
                r = memo[key]
            return r

        lo, hi = plan.lo, plan.hi
        step = {v: ge(t) for v, t in zip(range(lo + 1, hi + 1), plan.thresholds, strict=True)}
        step[lo], step[hi + 1] = ONE, ZERO
        out = []
        for k in range(_width(lo, hi)):
            runs, v = [], lo
            while v <= hi:
                if v >> k & 1:
                    q = min(hi, v | ((1 << k) - 1))
                    runs.append(self.gate("ANDNOT", step[v], step[q + 1]))
                    v = q + 1
                else:
                    v += 1
            out.append(blocks.reduce_tree(self.b, "OR", runs, ZERO))
        return _Word(out, lo, hi)

    def _output(self, y: _Word, s: int, clamp: tuple | None, lo: int, hi: int) -> _Word:
        """clamp(y >> s) as a word of range [lo, hi] (the range it takes on the accumulator's range)."""
        v_nets = y.nets[s:] if s < len(y.nets) else []
        v_lo, v_hi = y.lo >> s, y.hi >> s
        if not v_nets:  # every bit shifted out: v is the sign extension (0 or -1)
            v_nets = [y.nets[-1]] if y.signed else [ZERO]
        if clamp is None:
            width = _width(lo, hi)
            nets = v_nets[:width] + [v_nets[-1] if v_lo < 0 else ZERO] * (width - len(v_nets))
            return _Word(nets, lo, hi)
        c_lo, c_hi = clamp
        if c_lo != 0:
            raise NetworkError(f"clamp {clamp}: only ReLU clamps (0, hi) compile")
        sign = v_nets[-1] if v_lo < 0 else ZERO
        mag = v_nets[:-1] if v_lo < 0 else v_nets
        over = self.inv(blocks.le_const(self.b, mag, c_hi)) if v_hi > c_hi else ZERO
        out = []
        for k in range(_width(lo, hi)):
            bit = mag[k] if k < len(mag) else ZERO
            bit = self.gate("OR", bit, over) if c_hi >> k & 1 else self.gate("ANDNOT", bit, over)
            out.append(self.gate("ANDNOT", bit, sign))
        return _Word(out, lo, hi)


@dataclass
class _Plan:
    lo: int  # the output's range on the accumulator's range
    hi: int
    candidates: list  # [(m, s, c)]: clamp(floor((acc * m + c) / 2^s)) equals the layer's output on the range
    thresholds: list | None = None  # t_v, v = lo + 1 .. hi: the first accumulator of output v or more


def _plan(a: int, b: int, mult: int, shift: int, clamp: tuple | None, spread: int = 3, reach: int = 8) -> _Plan:
    """Cheaper requantizers equivalent to the engine's on every integer accumulator of [a, b].

    f(acc) = clamp((acc * mult + 2^(shift-1)) >> shift) is a nondecreasing step function. (m, s, c) with
    g(acc) = clamp(floor((acc * m + c) / 2^s)) equals f on [a, b] iff on each nonempty plateau [st, en] of value v
    g(st) >= v and g(en) <= v (g is nondecreasing): st * m + c >= v 2^s unless v is the lower clamp, and
    en * m + c < (v + 1) 2^s unless v is the upper clamp. For each s the feasible real m form an interval that
    holds mult * 2^(s - shift), so s is feasible iff the floor or the ceiling of that is (and then s + 1 is)."""
    half = 1 << (shift - 1) if shift > 0 else 0

    def f(acc: int) -> int:
        v = (acc * mult + half) >> shift
        return v if clamp is None else min(max(v, clamp[0]), clamp[1])

    lo, hi = f(a), f(b)
    if lo == hi:
        return _Plan(lo, hi, [])
    big = (max(abs(a), abs(b), abs(lo), abs(hi)) + 2) * (max(mult, 1 << shift) + reach + 2) * 4 >= 1 << 62
    dtype = object if big else np.int64
    vals = np.arange(lo, hi + 1).astype(dtype)
    # the first accumulator of each value above lo: ceil((v 2^shift - half) / mult), within [a, b]
    start = np.empty(len(vals), dtype)
    start[0] = a
    start[1:] = -((half - vals[1:] * (1 << shift)) // mult)
    start = np.maximum(start, a)
    end = np.empty(len(vals), dtype)
    end[:-1] = start[1:] - 1
    end[-1] = b
    thresholds = [int(t) for t in start[1:]] if hi - lo <= 1024 else None
    keep = np.asarray(start <= end, bool)
    vals, start, end = vals[keep], start[keep], end[keep]
    low_ok = np.ones(len(vals), bool) if clamp is None else np.asarray(vals > clamp[0], bool)
    high_ok = np.ones(len(vals), bool) if clamp is None else np.asarray(vals < clamp[1], bool)
    lv, ls = vals[low_ok], start[low_ok]
    hv, he = vals[high_ok], end[high_ok]

    def offset(m: int, s: int) -> int | None:
        """The least c of a feasible (m, s, c), or None."""
        c_lo = int((lv * (1 << s) - ls * m).max()) if len(lv) else None
        c_hi = int(((hv + 1) * (1 << s) - 1 - he * m).min()) if len(hv) else None
        if c_lo is None:
            c_lo = c_hi - (1 << s) + 1  # any c up to c_hi; keep it small
        if c_hi is not None and c_lo > c_hi:
            return None
        return int(c_lo)

    def feasible(s: int) -> list:
        m0 = mult >> (shift - s)
        return [(m, s, c) for m in {m0, m0 + 1} if m >= 0 and (c := offset(m, s)) is not None]

    s_lo, s_hi = 0, shift  # s_hi is feasible: the engine's own requantizer
    while s_lo < s_hi:
        mid = (s_lo + s_hi) // 2
        if feasible(mid):
            s_hi = mid
        else:
            s_lo = mid + 1
    many = len(vals) > 4096  # long step functions (logits): fewer candidates
    candidates = {}
    for s in range(s_hi, min(shift, s_hi + (1 if many else spread)) + 1):
        found = feasible(s)
        for m, _, _ in list(found):
            for step in (-1, 1):
                mm = m + step
                for _ in range(2 if many else reach):
                    if mm < 0 or (c := offset(mm, s)) is None:
                        break
                    found.append((mm, s, c))
                    mm += step
        for cand in found:
            candidates[cand[:2]] = cand
    if not candidates:  # cannot happen (the engine's own constants are feasible); kept as a guard
        candidates[(mult, shift)] = (mult, shift, half)
    return _Plan(lo, hi, sorted(candidates.values()), thresholds)


def _chain(imodel: IntegerModel):
    layers = imodel.layers
    nodes = imodel.nodes
    ops = [n.op for n in nodes]
    if ops != ["input"] + ["linear"] * len(layers) or not layers:
        raise NetworkError(f"compile_integer_mlp takes a chain of linear layers; this model's nodes are {ops}")
    for k, (node, layer) in enumerate(zip(nodes[1:], layers, strict=True)):
        if node.inputs != (nodes[k].name,) or node.layer is not layer:
            raise NetworkError(f"node {node.name}: not a chain of the model's layers")
        if layer.groups != 1 or layer.signed_input:
            raise NetworkError(f"layer {layer.name}: grouped or signed-input layers do not compile")
        if k < len(layers) - 1 and (layer.clamp is None or layer.clamp[0] != 0):
            raise NetworkError(f"layer {layer.name}: hidden layers need a ReLU clamp (0, hi), got {layer.clamp}")
    if layers[-1].clamp is not None:
        raise NetworkError(f"layer {layers[-1].name}: the logits layer must have no clamp")
    return layers


def integer_predict(imodel: IntegerModel, q: np.ndarray) -> np.ndarray:
    """The engine's exact predictions for quantized inputs q (n, features): IntegerEngine on q / (2^act_bits - 1)
    (which quantizes back to q exactly)."""
    from networks.engine import IntegerEngine

    q = np.asarray(q, np.int64)
    x = q.astype(np.float64) / (2 ** imodel.act_bits - 1)
    return IntegerEngine(imodel).run(x.reshape(len(q), *imodel.input_shape)).predictions


def compile_integer_mlp(imodel: IntegerModel, name: str = "imlp", requant: str = "auto",
                        majority: bool = False) -> CompiledClassifier:
    """The integer MLP (a chain of linear layers with ReLU clamps, logits without) as one netlist whose `class`
    equals the engine's exact prediction on every input (see the module docstring). requant: how each neuron
    requantizes, 'auto' (the fewest estimated gates per neuron), 'steps' (comparators against the output's
    steps, where it has at most 1024), 'fused' (m folded into the weights) or 'split' (the accumulator word
    times m); a neuron that cannot take the asked way takes the cheapest. majority: full adders of three gates
    (XOR, XOR, MAJ) instead of the five of Builder.full_adder (XOR, XOR, AND, AND, OR) that the other compiled
    classifiers and the multipliers use; False keeps gate counts comparable with them."""
    if requant not in REQUANT:
        raise NetworkError(f"requant must be one of {', '.join(REQUANT)}, got {requant!r}")
    layers = _chain(imodel)
    n_features = int(np.prod(imodel.input_shape))
    if layers[0].weight.shape[1] != n_features:
        raise NetworkError(f"layer {layers[0].name} takes {layers[0].weight.shape[1]} inputs, the model "
                           f"{n_features}")
    bits = imodel.act_bits
    b = Builder(name)
    comp = _Compiler(b, requant, majority)
    words = [_Word(b.input(f"x{f}", bits), 0, (1 << bits) - 1) for f in range(n_features)]
    for layer in layers:
        words = [comp.neuron(words, layer.weight[o], int(layer.bias[o]), int(layer.mult[o]), int(layer.shift),
                             layer.clamp, imodel.acc_bits, f"{name}: {layer.name}[{o}]")
                 for o in range(layer.n_out)]
    # logits -> offset binary of one common width (order-preserving), then the lowest-index argmax
    if any(w.signed for w in words):
        width = max(_width(w.lo, w.hi) if w.signed else _width(w.lo, w.hi) + 1 for w in words)
        scores = []
        for w in words:
            ext = w.nets + [w.nets[-1] if w.signed else ZERO] * (width - len(w.nets))
            scores.append(ext[:-1] + [comp.inv(ext[-1])])
    else:
        scores = [w.nets for w in words]
    b.output("class", blocks.argmax(b, scores))
    return CompiledClassifier(b.build(), bits, n_features, lambda q: integer_predict(imodel, q))
