"""The processing element in the loop: every multiply-accumulate step acc <- acc + a * w of a layer through gates,
and the requantizer of a ReLU layer's outputs (`requantizer_netlist`, `requantize`: one evaluation per output,
simulated when its gates take faults, else the engine's own requantization gives the same outputs).

The element is two netlists: the multiplier the engine was given (inputs a, b; one output bus P, as in mode
'gates') and an accumulator adder (`adder_netlist`) of the model's accumulator width: acc_out = acc +
(P XOR neg) + neg, neg = sign(w) (XOR sgn(a), gate add.sign, with signed activations), wrapped to acc_bits two's
complement, gates named add.* exactly as in the registered `mac` circuit (the same adder, the same conditional
negation), so multiplier + adder hold the gates of `mac` gate for gate. Two netlists rather than the one `mac`
netlist because the simulator's flips hit every gate of a netlist: with two, the multiplier's gates, the adder's
or both take faults (each its own fault plan), flips stay exact (per gate, per vector, probability p) and both
run in the simulator's compiled flip kernel.

A layer (rows s of the input columns, output channels o, inputs i = 0..k-1 in order) runs k steps. Lanes are
(channel o, row s) with each channel's rows padded to whole 64-bit words (lane o * 64 * wn + s): a's planes of
step i are the bit strings of column i copied into every channel's words, b's planes are all-ones or all-zeros
words (|w[o, i]|'s bits), so packing is word copies. The multiplier writes its product planes straight into the
adder's input rows; the adder writes acc_out into the other of two plane buffers (ping-pong), which is the next
step's acc: the accumulator stays bit planes from the bias (preloaded) to the end of the dot product, where one
64x64 transpose per word reads it out.

Zero weights: the element runs every step, but a zero weight's product planes are cleared before the adder (the
engine's sign(w) = 0: a zero weight contributes nothing), so the multiplier's faults reach the sum exactly as in
mode 'gates' (the same product errors at the same nonzero weights); the adder still runs (adds 0, and its faults
count) at a zero weight.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numba import njit

from circuits import (
    MASKS,
    WORDS,
    GateFaultPlan,
    GateFaults,
    GateMasks,
    Netlist,
    TimingPlan,
    flip_sites_streams,
    simulate,
    simulate_planes,
    simulate_touched,
    static_timing,
    transpose64,
    transpose_fields,
)
from circuits.builder import Builder
from circuits.mac import ADDERS, requantizer, signed_accumulate
from circuits.simulate import choose_engine
from hardware.errors import HardwareError
from hardware.gatemac import _bit_strings, _buffer, _touched_products, products


class Part(StrEnum):
    """Which gates of the element take the faults: the multiplier's, the accumulator adder's, both (ALL), the
    requantizer's (REQ: once per output), or the whole element's (WHOLE: multiplier, adder and requantizer)."""

    MUL = "mul"
    ADD = "add"
    ALL = "all"
    REQ = "req"
    WHOLE = "whole"


PARTS = tuple(Part)


@dataclass(frozen=True)
class GateSite:
    """A network gate site the datapath realises: the gates of `part` take the faults; their error is measured at
    the word site `error_site`."""

    name: str
    part: Part
    description: str
    error_site: str


GATE_SITES = (
    GateSite("mac-gate", Part.MUL, "every gate of every multiplier (gate level)", "product"),
    GateSite("pe-add", Part.ADD, "every gate of every accumulator adder (multiplier mode 'pe')", "accumulator"),
    GateSite("pe-gate", Part.ALL, "every gate of every processing element: multiplier and accumulator adder "
             "(mode 'pe')", "accumulator"),
    GateSite("pe-req", Part.REQ, "every gate of every requantizer of a ReLU layer's outputs (mode 'pe')", "activation"),
    GateSite("pe-whole", Part.WHOLE, "every gate of every processing element: multiplier, accumulator adder and "
             "requantizer (mode 'pe')", "activation"),
)
REQ_PARTS = (Part.REQ, Part.WHOLE)  # the parts whose faults reach the requantizer
TIMED_PARTS = (Part.MUL, Part.ADD, Part.ALL)  # the parts with a timing model (timed_accumulate)
SPARSE_TOUCHED = 6e-3  # the sparse path while (multiplier + adder gates) * flip_p is below this: the 8x8 element
# with a 32-bit adder (523 gates), both paths in one run: at p = 1e-5 (5.2e-3) the sparse path 2.0x (digits MLP)
# and 1.26x (ResNet-20) faster than the compiled full path, at 1.5e-5 (7.8e-3, ResNet-20) 0.73x, 2e-5 (MLP) 0.9x
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def adder_netlist(acc_bits: int, product_bits: int, signed_a: bool = False, adder: str = "ripple",
                  twos: bool = False) -> Netlist:
    """The accumulator adder: inputs acc (acc_bits, two's complement), p (product_bits, the product magnitude;
    bits at or above acc_bits ignored), sw (sign(w) < 0) and, with signed_a, sa (a < 0); output acc_out =
    acc + (-1)^neg * p wrapped to acc_bits, neg = sw (XOR sa). The MAC adder of `mac`
    (circuits.mac.signed_accumulate): acc_bits XORs add.neg[k] and an (acc_bits + 1)-bit adder (add.*) whose
    lowest cell turns neg into the carry-in. twos: the product p is two's complement, acc_out = acc + p wrapped
    to acc_bits (p sign-extended by wiring, an acc_bits-bit adder add.*; no sign inputs)."""
    if adder not in ADDERS:
        raise HardwareError(f"processing element adder must be one of {', '.join(ADDERS)}, got {adder!r}")
    if twos:
        b = Builder(f"acc{acc_bits}_p{product_bits}t_{adder}")
        acc, p = b.input("acc", acc_bits), b.input("p", product_bits)
        ext = (p + [p[-1]] * max(0, acc_bits - product_bits))[:acc_bits]
        b.output("acc_out", b.instantiate(ADDERS[adder](acc_bits), {"a": acc, "b": ext}, prefix="add.")["s"][:acc_bits])
        return b.build()
    b = Builder(f"acc{acc_bits}_p{product_bits}{'s' if signed_a else ''}_{adder}")
    acc = b.input("acc", acc_bits)
    p = b.input("p", product_bits)
    sw = b.input("sw", 1)[0]
    neg = b.gate("XOR", b.input("sa", 1)[0], sw, name="add.sign") if signed_a else sw
    b.output("acc_out", signed_accumulate(b, acc, p, neg, adder))
    return b.build()


def split_faults(faults: GateFaultPlan, part: str, mul: Netlist, add: Netlist,
                 req: Netlist | None = None) -> tuple[GateFaultPlan, ...]:
    """(multiplier faults, adder faults, requantizer faults) of `faults` placed on `part`: 'mul' (gates of the
    multiplier, names and indices as in mode 'gates'), 'add' (gates of the adder, names add.*), 'req' (gates of
    the requantizer `req`, names req.*), 'all' (the plan realised on the element's gates [multiplier gates, adder
    gates] (the order of an unsigned `mac`): a gate by index into that list, or by name: 'mul.NAME' or a
    multiplier gate's name, 'add.*' an adder gate's; flips on every gate, the two parts drawing them from seeds
    _mix(seed, 1) and _mix(seed, 2)) or 'whole' (as 'all' over [multiplier, adder, requantizer gates], 'req.*'
    a requantizer gate's name, its flips from seed _mix(seed, 3))."""
    if part not in PARTS:
        raise HardwareError(f"fault_part must be one of {', '.join(PARTS)}, got {part!r}")
    none = GateFaults()
    if part in REQ_PARTS and req is None:
        raise HardwareError(f"fault_part {part!r} needs a requantizer in the loop (a ReLU layer)")
    if part == "mul":
        return faults, none, none
    if part == "add":
        return none, faults, none
    if part == "req":
        return none, none, faults
    nets = [mul, add] + ([req] if part == "whole" else [])
    starts = np.cumsum([0] + [net.n_gates for net in nets])
    n = int(starts[-1])

    def element_gate(gate) -> int:
        if isinstance(gate, (int, np.integer)) and not isinstance(gate, bool):
            if not 0 <= int(gate) < n:
                raise HardwareError(f"stuck-at gate index {int(gate)} outside the element's {n} gates")
            return int(gate)
        if str(gate).startswith("add."):
            return int(starts[1]) + add.gate_index(str(gate))
        if str(gate).startswith("req.") and len(nets) == 3:
            return int(starts[2]) + req.gate_index(str(gate))
        return mul.gate_index(str(gate).removeprefix("mul."))

    masks = faults.masks(n, element_gate)
    keep, force = masks if masks is not None else (np.full(n, _ALL, np.uint64), np.zeros(n, np.uint64))
    plans = tuple(GateMasks(keep[starts[q]:starts[q + 1]], force[starts[q]:starts[q + 1]], faults.flip_p,
                            _mix(faults.seed, q + 1)) for q in range(len(nets)))
    return plans + (none,) * (3 - len(plans))


def requantizer_netlist(act_bits: int, acc_bits: int, mult_bits: int, shift: int) -> Netlist:
    """The requantizer of a ReLU layer's outputs (circuits.mac.requantizer, gates req.*): inputs acc (acc_bits,
    two's complement bit pattern) and mult (mult_bits, unsigned); output q = clamp((acc * mult + 2^(shift-1)) >>
    shift, 0, 2^act_bits - 1), as the engine requantizes."""
    return requantizer(act_bits, acc_bits, mult_bits, shift)


def requantize(req: Netlist, acc: np.ndarray, mult: np.ndarray, faults: GateFaultPlan) -> np.ndarray:
    """Layer outputs (rows, out) by the requantizer netlist with its faults, one evaluation per output:
    accumulators acc (rows, out) int64 (wrapped to the netlist's acc width), mult (out,) per output channel;
    vector v = row * out + o."""
    acc_bits = req.inputs["acc"]
    a = (acc.astype(np.int64) & ((1 << acc_bits) - 1)).ravel()
    m = np.broadcast_to(np.asarray(mult, np.int64), acc.shape).ravel()
    return simulate(req, {"acc": a, "mult": m}, faults=faults)["q"].reshape(acc.shape)


@njit(cache=True, nogil=True, inline="always")
def _divmod(x, d, inv):
    """divmod(x, d) for 0 <= x < 2^52, 0 < d, inv = 1 / d: a float multiply and one correction step."""
    q = np.int64(x * inv)
    r = x - q * d
    if r < 0:
        q -= 1
        r += d
    elif r >= d:
        q += 1
        r -= d
    return q, r


def _mix(seed: int, k: int) -> int:
    """A 63-bit seed from (seed, k) (splitmix64 finaliser): distinct flip streams per step and part."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + (k + 1) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


def _mixes(seed: int, ks: np.ndarray) -> np.ndarray:
    """[_mix(seed, k) for k in ks] as int64, in numpy (uint64 arithmetic wraps modulo 2^64)."""
    with np.errstate(over="ignore"):
        z = np.uint64(int(seed) * 0x9E3779B97F4A7C15 % 2 ** 64) + (ks.astype(np.uint64) + np.uint64(1)) \
            * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((z ^ (z >> np.uint64(31))) & np.uint64(0x7FFFFFFFFFFFFFFF)).astype(np.int64)


@njit(cache=True, nogil=True)
def _init_acc(planes, acc_bits, bias, wn):
    """The acc rows of every channel's words: bias[o]'s bits (two's complement) as all-ones / all-zeros words."""
    for o in range(bias.shape[0]):
        b = np.uint64(bias[o])
        for j in range(acc_bits):
            v = _ALL if (b >> np.uint64(j)) & np.uint64(1) else np.uint64(0)
            planes[j, o * wn:(o + 1) * wn] = v


@njit(cache=True, nogil=True)
def _pack_step(abits, mag, wneg, sbits, mul_in, a_row, a_width, b_row, b_width, add_in, sw_row, sa_row, wn):
    """Step operands: a's planes (abits (na, wn): bit strings of |a[:, i]|) and b's (mag (out,): |w[:, i]|) into
    mul_in, sign(w) (and sgn(a): sbits (wn,), when sa_row >= 0) into add_in, channel o at words o*wn.."""
    na = abits.shape[0]
    for o in range(mag.shape[0]):
        lo = o * wn
        for j in range(a_width):
            row = a_row + j
            if j < na:
                for q in range(wn):
                    mul_in[row, lo + q] = abits[j, q]
            else:
                for q in range(wn):
                    mul_in[row, lo + q] = 0
        m = np.uint64(mag[o])
        for j in range(b_width):
            v = _ALL if (m >> np.uint64(j)) & np.uint64(1) else np.uint64(0)
            for q in range(wn):
                mul_in[b_row + j, lo + q] = v
        if sw_row >= 0:
            v = _ALL if wneg[o] else np.uint64(0)
            for q in range(wn):
                add_in[sw_row, lo + q] = v
        if sa_row >= 0:
            for q in range(wn):
                add_in[sa_row, lo + q] = sbits[q]


@njit(cache=True, nogil=True)
def _clear_zero(add_in, p_row, p_bits, mag, wn):
    """Clear the product planes of channels whose weight is zero (sign(w) = 0: nothing added)."""
    for o in range(mag.shape[0]):
        if mag[o] == 0:
            add_in[p_row:p_row + p_bits, o * wn:(o + 1) * wn] = 0


@njit(cache=True, nogil=True)
def _product_errors(planes, p_row, p_bits, abs_a, mag, n, wn, wrong, masks, twos=False):
    """Compare every product lane (rows < n of every channel) with |a| * |w| (twos: the product read as two's
    complement against a * w, abs_a and mag then signed): wrong[s] += products that differ; returns the sum of
    squared errors. Words are transposed in blocks as wide as the product (gatemac)."""
    size = 16 if p_bits <= 16 else 32 if p_bits <= 32 else 64
    field = np.uint64(0xFFFFFFFFFFFFFFFF) if size == 64 else np.uint64((1 << size) - 1)
    buf = np.empty(64, np.uint64)
    vals = np.empty(64, np.int64)
    err = 0.0
    for o in range(mag.shape[0]):
        m = np.int64(mag[o])
        for q in range(wn):
            for j in range(p_bits):
                buf[j] = planes[p_row + j, o * wn + q]
            for j in range(p_bits, size):
                buf[j] = 0
            transpose_fields(buf, size, masks)
            for f in range(64 // size):
                sh = np.uint64(size * f)
                for r in range(size):
                    vals[f * size + r] = np.int64((buf[r] >> sh) & field)
            if twos:
                top = np.int64(1) << np.int64(p_bits - 1)
                for lane in range(64):
                    vals[lane] = (vals[lane] ^ top) - top
            base = 64 * q
            part = 0
            for lane in range(min(64, n - base)):  # no branch: vectorizes
                d = vals[lane] - abs_a[base + lane] * m
                part += d * d
                wrong[base + lane] += d != 0
            err += float(part)
    return err


@njit(cache=True, nogil=True)
def _read_acc(planes, acc_bits, n, out, wn, masks):
    """(n, out) int64 accumulators (two's complement acc_bits) from the acc planes, one 64x64 transpose a word."""
    acc = np.empty((n, out), np.int64)
    buf = np.empty(64, np.uint64)
    top = np.uint64(1) << np.uint64(acc_bits - 1)
    for o in range(out):
        for q in range(wn):
            for j in range(acc_bits):
                buf[j] = planes[j, o * wn + q]
            for j in range(acc_bits, 64):
                buf[j] = 0
            transpose64(buf, masks)
            for lane in range(min(64, n - 64 * q)):
                v = buf[lane]
                if acc_bits < 64:
                    acc[64 * q + lane, o] = np.int64(v ^ top) - np.int64(top)
                else:
                    acc[64 * q + lane, o] = np.int64(v)
    return acc


def _rows(netlist: Netlist) -> dict[str, tuple[int, int]]:
    rows, row = {}, 0
    for bus, width in netlist.inputs.items():
        rows[bus] = (row, width)
        row += width
    return rows


def accumulate(mul: Netlist, add: Netlist, cols: np.ndarray, w: np.ndarray, bias: np.ndarray,
               mul_faults: GateFaultPlan, add_faults: GateFaultPlan, signed: bool, acc_bits: int, buffers: dict,
               measure: bool = False, engine: str = "auto"):
    """bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) MUL(|cols[s, i]|, |w[o, i]|), accumulated step by step
    (i = 0..k-1) through the multiplier `mul` and the adder `add` (adder_netlist), each with its faults (step i
    of part q draws its flips from seed _mix(faults.seed, 2i + q)): (n, out) int64, two's complement acc_bits.
    measure: also (wrong products per row (n,), sum of exact products squared, sum of squared product errors),
    every lane (zero weights included) compared with |a| * |w| before the adder. engine: the simulator's engine;
    'auto' decides once per layer and netlist from the layer's k * lanes vectors (circuits.simulate.choose_engine:
    a kernel that would pay off is compiled in the background, used once ready; both engines give the same bits)."""
    n, k = cols.shape
    out = w.shape[0]
    wn = -(-max(n, 1) // 64)
    nwords = -(-(out * wn) // WORDS) * WORDS
    mrows, arows = _rows(mul), _rows(add)
    (a_row, a_width), (b_row, b_width) = mrows["a"], mrows["b"]
    p_row, p_bits = arows["p"]
    sa_row = arows["sa"][0] if "sa" in arows else -1
    sw_row = arows["sw"][0] if "sw" in arows else -1
    twos = mul.signed  # two's complement: operands as bit patterns, every product added (no sign inputs)
    if signed and sa_row < 0 and not twos:
        raise HardwareError(f"adder {add.name!r} has no activation sign input sa; this layer's inputs are signed")
    mul_in = _buffer(buffers, "pe.mul", (mul.n_input_bits, nwords))
    planes = [_buffer(buffers, "pe.add0", (add.n_input_bits, nwords)),
              _buffer(buffers, "pe.add1", (add.n_input_bits, nwords))]
    mul_in[:, out * wn:] = 0
    for pl in planes:
        pl[:, out * wn:] = 0
        if sa_row >= 0:
            pl[sa_row] = 0
    mask = (1 << acc_bits) - 1
    _init_acc(planes[0], acc_bits, (np.asarray(bias, np.int64) & mask).astype(np.uint64), wn)
    if twos:
        abs_cols, ops_w = cols.astype(np.int64) & ((1 << a_width) - 1), w.astype(np.int64) & ((1 << b_width) - 1)
    else:
        abs_cols, ops_w = np.abs(cols), np.abs(w)
    abits = _bit_strings(np.ascontiguousarray(abs_cols.T), min(a_width, 64), wn, MASKS)  # (k, na, wn)
    sbits = _bit_strings(np.ascontiguousarray((cols < 0).T.astype(np.uint8)), 1, wn, MASKS)[:, 0] \
        if signed and not twos else np.zeros((k, wn), np.uint64)
    mag_t = np.ascontiguousarray(ops_w.T.astype(np.int64))  # (k, out): the b operands
    neg_t = np.ascontiguousarray((w < 0).T)
    exact_w = np.ascontiguousarray((w if twos else np.abs(w)).T.astype(np.int64))  # (k, out): products against
    abs_a_t = np.ascontiguousarray((cols if twos else abs_cols).T.astype(np.int64)) if measure else None
    wrong, sig, err = np.zeros(n, np.int64), 0.0, 0.0
    if measure:  # sum over s, o, i of (|a[s, i]| |w[o, i]|)^2 = sum_i (sum_s a_si^2) (sum_o w_oi^2)
        sig = float(np.square(abs_a_t, dtype=np.float64).sum(axis=1) @ np.square(exact_w, dtype=np.float64).sum(axis=1))
    mul_seed, add_seed = mul_faults.seed, add_faults.seed
    lanes = k * nwords * 64
    mul_engine = choose_engine(mul, lanes, engine, mul_faults.flip_p, mul_faults.permanent)
    add_engine = choose_engine(add, lanes, engine, add_faults.flip_p, add_faults.permanent)
    cur = 0
    for i in range(k):
        src, dst = planes[cur], planes[1 - cur]
        _pack_step(abits[i], mag_t[i], neg_t[i], sbits[i], mul_in, a_row, a_width, b_row, b_width, src,
                   sw_row, sa_row, wn)
        prod = src[p_row:p_row + p_bits]
        simulate_planes(mul, mul_in, faults=mul_faults.with_seed(_mix(mul_seed, 2 * i)), out=prod,
                        engine=mul_engine)
        if measure:
            err += _product_errors(src, p_row, p_bits, abs_a_t[i], exact_w[i], n, wn, wrong, MASKS, twos)
        if not twos:  # sign-magnitude: a zero weight adds nothing
            _clear_zero(src, p_row, p_bits, mag_t[i], wn)
        simulate_planes(add, src, faults=add_faults.with_seed(_mix(add_seed, 2 * i + 1)), out=dst[:acc_bits],
                        engine=add_engine)
        cur = 1 - cur
    acc = _read_acc(planes[cur], acc_bits, n, out, wn, MASKS)
    return (acc, wrong, sig, err) if measure else acc


def _flips(net: Netlist, nwords: int, plan: GateFaultPlan, seeds, wn: int, n: int, out: int):
    """(keys step * nwords * 64 + vector, gates) of every flip of step i's plan (seed seeds[i]) on a used lane
    (channel o = vector // (64 wn) < out, row s = vector % (64 wn) < n), sorted by key."""
    if plan.flip_p <= 0 or not len(seeds):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    vec, gat, counts = flip_sites_streams(net, nwords, plan.flip_p, seeds)
    return _used_keys(vec, gat, counts, nwords * 64, wn * 64, n, out)


@njit(cache=True, nogil=True)
def _used_keys(vec, gates, counts, span, lane_words, n, out):
    """The flips of step i (counts[i] of them, in order) on used lanes as (key i * span + vector, gate)."""
    keys = np.empty(vec.shape[0], np.int64)
    gat = np.empty(vec.shape[0], np.int64)
    m = 0
    f = 0
    for i in range(counts.shape[0]):
        for _ in range(counts[i]):
            v = vec[f]
            if v // lane_words < out and v % lane_words < n:
                keys[m] = i * span + v
                gat[m] = gates[f]
                m += 1
            f += 1
    return keys[:m], gat[:m]


@njit(cache=True, nogil=True)
def _operand(v, twos, mask):
    """A table index: the bit pattern (two's complement) or the magnitude of v."""
    return np.int64(v) & mask if twos else abs(np.int64(v))


@njit(cache=True, nogil=True)
def _sign(a, w, twos):
    """The sign a product enters the sum with: +1 in two's complement, else sign(w) sgn(a) (0 at w = 0)."""
    if twos:
        return np.int64(1)
    if w == 0:
        return np.int64(0)
    return np.int64(1) if (w > 0) == (a >= 0) else np.int64(-1)


@njit(cache=True, nogil=True)
def _wrap1(v, bits):
    """v wrapped to `bits`-bit two's complement."""
    half = np.int64(1) << np.int64(bits - 1)
    return ((v + half) & ((half << np.int64(1)) - 1)) - half


@njit(cache=True, nogil=True)
def _events(mk, ak, span, lane_words, cols, w, table_t, twos, mask_a, mask_b):
    """The events: the distinct keys (step i * span + vector) of the sorted flip keys mk of the multiplier and
    ak of the adder, merged, in key order (by step, then lane o * (lane_words / 64 words) + s). Per event: kind
    (bit 0: a multiplier flip, bit 1: an adder flip, bit 2: w < 0, bit 3: a < 0), row s, channel o, step i,
    fault-free product ff, the sign its product enters the sum with and its fault-free contribution cff. Returns
    those, the multiplier events (kind bit 0) with their operands' table indices, each multiplier flip's index
    among them, and the adder events (kind bit 1) with the first and end index into ak of their flips."""
    total = mk.shape[0] + ak.shape[0]
    kind = np.zeros(total, np.uint8)
    s, o, i = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.int64)
    ff, sign, cff = np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.int64)
    hit, adds = np.empty(total, np.int64), np.empty(total, np.int64)
    ma, mb = np.empty(mk.shape[0], np.int64), np.empty(mk.shape[0], np.int64)
    a_lo, a_hi = np.zeros(ak.shape[0], np.int64), np.zeros(ak.shape[0], np.int64)
    mul_lane = np.empty(mk.shape[0], np.int64)
    inv_span, inv_lane = 1.0 / span, 1.0 / lane_words
    n_adds = f = g = 0
    e = m = -1
    last = np.int64(-1)
    while f < mk.shape[0] or g < ak.shape[0]:
        from_mul = g >= ak.shape[0] or (f < mk.shape[0] and mk[f] <= ak[g])
        key = mk[f] if from_mul else ak[g]
        if key != last:
            e += 1
            last = key
            i[e], v = _divmod(key, span, inv_span)
            o[e], s[e] = _divmod(v, lane_words, inv_lane)
            a, wv = np.int64(cols[s[e], i[e]]), np.int64(w[o[e], i[e]])
            xa, xb = _operand(a, twos, mask_a), _operand(wv, twos, mask_b)
            ff[e] = table_t[xb, xa]
            sign[e] = _sign(a, wv, twos)
            cff[e] = sign[e] * ff[e]
            kind[e] = (4 if wv < 0 else 0) | (8 if a < 0 else 0)
        if from_mul:
            if not kind[e] & 1:
                kind[e] |= 1
                m += 1
                hit[m], ma[m], mb[m] = e, xa, xb
            mul_lane[f] = m
            f += 1
        else:
            if not kind[e] & 2:
                kind[e] |= 2
                adds[n_adds] = e
                a_lo[n_adds] = g
                n_adds += 1
            a_hi[n_adds - 1] = g + 1
            g += 1
    e += 1
    return (kind[:e], s[:e], o[:e], i[:e], ff[:e], sign[:e], cff[:e], hit[:m + 1], ma[:m + 1], mb[:m + 1], mul_lane,
            adds[:n_adds], a_lo[:n_adds], a_hi[:n_adds])


@njit(cache=True, nogil=True)
def _products(hit, new, kind, s, o, i, cols, w, ff, sign, cff, adds, n, twos, measure, wrong, dev, acc_bits):
    """Each lane's (o * n + s) chain of adder events, from the products: the simulated product new[m] at
    multiplier event hit[m], else the fault-free one (a zero weight's cleared in sign-magnitude). Per adder event
    r (adds[r]): its lane, the product entering the adder, its kind, the fault-free contribution, the next adder
    event of its lane (-1: none) and `fold`, the changes of the contributions of the lane's events between the
    two; the changes before a lane's first adder event go into its deviation dev (in place). Returns those, the
    lanes' first adder events (by key) and, with measure (wrong[s] follows the new products), the change of the
    sum of squared product errors (against a * w, or |a| * |w|)."""
    e_n, a_n = ff.shape[0], adds.shape[0]
    dc = np.zeros(e_n, np.int64)
    prod = ff.copy()
    err = np.int64(0)
    for m in range(hit.shape[0]):
        e = hit[m]
        p = new[m]
        if measure:
            a, wv = np.int64(cols[s[e], i[e]]), np.int64(w[o[e], i[e]])
            exact = a * wv if twos else abs(a) * abs(wv)
            d_new, d_old = p - exact, ff[e] - exact
            wrong[s[e]] += np.int64(d_new != 0) - np.int64(d_old != 0)
            err += d_new * d_new - d_old * d_old
        prod[e] = p
        dc[e] = sign[e] * p - cff[e]
    a_lane, a_p, a_kind, a_cff = np.empty(a_n, np.int64), np.empty(a_n, np.int64), np.empty(a_n, np.int64), \
        np.empty(a_n, np.int64)
    following, fold = np.full(a_n, -1, np.int64), np.zeros(a_n, np.int64)
    first = np.empty(a_n, np.int64)
    last = np.full(dev.shape[0], -1, np.int64)  # per lane: its latest adder event so far
    r = n_first = 0
    for e in range(e_n):  # key order: each lane's events by step
        lane = o[e] * n + s[e]
        at = last[lane]
        if kind[e] & 2:
            a_lane[r], a_kind[r], a_cff[r] = lane, kind[e], cff[e]
            a_p[r] = 0 if not twos and sign[e] == 0 else prod[e]  # a zero weight: nothing enters the adder
            if at >= 0:
                following[at] = r
            else:
                first[n_first] = r
                n_first += 1
            last[lane] = r
            r += 1
        elif at >= 0:
            fold[at] = _wrap1(fold[at] + dc[e], acc_bits)
        else:
            dev[lane] = _wrap1(dev[lane] + dc[e], acc_bits)
    return a_lane, a_p, a_kind, a_cff, following, fold, first[:n_first], err


@njit(cache=True, nogil=True)
def _before(events, s, o, i, cols, w, table_t, base, bias, twos, exact, mask_a, mask_b, acc_bits):
    """At every adder event: the fault-free accumulator before its step (bias[o] plus the products of steps
    j < i, or base[s, o] minus those of steps j >= i, whichever is shorter), wrapped to acc_bits; the
    value of adder event r at r. exact: the table is exact arithmetic (a product is a * w)."""
    k = cols.shape[1]
    out = np.empty(events.shape[0], np.int64)
    for r in range(events.shape[0]):
        e = events[r]
        row, wrow = cols[s[e]], w[o[e]]
        lo, hi, sgn = 0, i[e], 1
        if 2 * i[e] > k:
            lo, hi, sgn = i[e], k, -1
        acc = np.int64(0)
        if exact:
            for j in range(lo, hi):
                acc += np.int64(row[j]) * np.int64(wrow[j])
        else:
            for j in range(lo, hi):
                a, wv = np.int64(row[j]), np.int64(wrow[j])
                acc += _sign(a, wv, twos) * np.int64(table_t[_operand(wv, twos, mask_b), _operand(a, twos, mask_a)])
        start = np.int64(bias[o[e]]) if sgn > 0 else np.int64(base[s[e], o[e]])
        out[r] = _wrap1(start + sgn * acc, acc_bits)
    return out


@njit(cache=True, nogil=True)
def _adder_round(active, before, dev, a_lane, a_p, a_kind, a_lo, a_hi, ag, acc_bits, p_mask):
    """The operands of the adder events `active` (one per lane): acc (the fault-free accumulator before the step
    plus the lane's deviation), p, sw (w < 0), sa (a < 0); and their flips (lane j of active[j], gate), lanes
    ascending."""
    c = active.shape[0]
    acc, p = np.empty(c, np.int64), np.empty(c, np.int64)
    sw, sa = np.empty(c, np.int64), np.empty(c, np.int64)
    m = 0
    for j in range(c):
        m += a_hi[active[j]] - a_lo[active[j]]
    lane, gates = np.empty(m, np.int64), np.empty(m, np.int64)
    m = 0
    for j in range(c):
        r = active[j]
        acc[j] = _wrap1(before[r] + dev[a_lane[r]], acc_bits) & ((np.int64(1) << np.int64(acc_bits)) - 1)
        p[j] = a_p[r] & p_mask
        sw[j] = (a_kind[r] >> 2) & 1
        sa[j] = (a_kind[r] >> 3) & 1
        for f in range(a_lo[r], a_hi[r]):
            lane[m], gates[m] = j, ag[f]
            m += 1
    return acc, p, sw, sa, lane, gates


@njit(cache=True, nogil=True)
def _adder_done(active, acc_out, before, a_cff, fold, following, a_lane, dev, acc_bits):
    """After the adder events `active`: each lane's deviation is its actual accumulator minus the fault-free one
    after the step, plus the changes up to its next adder event; returns those next adder events (the lanes
    that have one)."""
    nxt = np.empty(active.shape[0], np.int64)
    c = 0
    for j in range(active.shape[0]):
        r = active[j]
        d = _wrap1(np.int64(acc_out[j]), acc_bits) - (before[r] + a_cff[r])
        dev[a_lane[r]] = _wrap1(_wrap1(d, acc_bits) + fold[r], acc_bits)
        if following[r] >= 0:
            nxt[c] = following[r]
            c += 1
    return nxt[:c]


@njit(cache=True, nogil=True)
def _finish(acc, dev, n, acc_bits):
    """acc[s, o] + the deviation of lane o * n + s, wrapped to acc_bits (in place)."""
    for r in range(acc.shape[0]):
        for c in range(acc.shape[1]):
            acc[r, c] = _wrap1(acc[r, c] + dev[c * n + r], acc_bits)


def _wrap(values: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((values + half) & ((1 << bits) - 1)) - half


def sparse_accumulate(mul: Netlist, add: Netlist, table_t: np.ndarray, base, cols: np.ndarray, w: np.ndarray,
                      bias: np.ndarray, mul_faults: GateFaultPlan, add_faults: GateFaultPlan, acc_bits: int,
                      exact: bool, measure: bool = False):
    """accumulate's result (measure: with its product errors) for transient flips alone, bit for bit: the same
    flips drawn per step and part (flip_sites over the same planes and seeds), the fault-free result `base`
    (accumulators (n, out) from table_t's products, or with measure (accumulators, wrong, signal, error); exact:
    table_t is exact arithmetic's, so that base was computed as exact sums) and only
    the touched (step, lane) events simulated: the multiplier on the step's operands (all at once), the adder on
    the lane's actual accumulator (the fault-free accumulator before the step, `_before`, plus the lane's
    deviation so far), lanes' adder events taken in rounds (the r-th adder event of every lane at once; a
    multiplier-only event changes the lane's deviation by its product's change)."""
    n, k = cols.shape
    out = w.shape[0]
    twos = mul.signed
    wn = -(-max(n, 1) // 64)
    nwords = -(-(out * wn) // WORDS) * WORDS
    cols, w32 = np.ascontiguousarray(cols), np.ascontiguousarray(w, np.int32)
    mask_a, mask_b = (1 << mul.inputs["a"]) - 1, (1 << mul.inputs["b"]) - 1
    acc, *rest = base if measure else (base,)
    acc = np.array(acc, np.int64)
    wrong, sig, err = (np.array(rest[0], np.int64), rest[1], rest[2]) if measure else (np.zeros(0, np.int64), 0, 0)
    mk, mg = _flips(mul, nwords, mul_faults, _mixes(mul_faults.seed, 2 * np.arange(k)), wn, n, out)
    ak, ag = _flips(add, nwords, add_faults, _mixes(add_faults.seed, 2 * np.arange(k) + 1), wn, n, out)
    dev = np.zeros(out * n, np.int64)  # per lane o * n + s: the deviation from the fault-free accumulator
    kind, s, o, i, ff, sign, cff, hit, ma, mb, mul_lane, adds, a_lo, a_hi = _events(
        mk, ak, nwords * 64, wn * 64, cols, w32, table_t, twos, mask_a, mask_b)
    new = _touched_products(mul, ma, mb, mul_lane, mg, mul_faults) if len(hit) else ff[:0]
    a_lane, a_p, a_kind, a_cff, following, fold, active, d_err = _products(
        hit, new, kind, s, o, i, cols, w32, ff, sign, cff, adds, n, twos, measure, wrong, dev, acc_bits)
    if len(hit) and measure:
        err += float(d_err)
    if len(active):
        before = _before(adds, s, o, i, cols, w32, table_t, acc, np.asarray(bias, np.int64),
                         twos, exact, mask_a, mask_b, acc_bits)
        p_mask = (1 << add.inputs["p"]) - 1
        while len(active):
            a_acc, p, sw, sa, lanes, gates = _adder_round(active, before, dev, a_lane, a_p, a_kind, a_lo, a_hi, ag,
                                                          acc_bits, p_mask)
            ops = {"acc": a_acc, "p": p, "sw": sw, "sa": sa}
            acc_out = simulate_touched(add, {bus: ops[bus] for bus in add.inputs}, lanes, gates, add_faults)
            active = _adder_done(active, np.asarray(acc_out["acc_out"], np.int64), before, a_cff, fold, following,
                                 a_lane, dev, acc_bits)
    _finish(acc, dev, n, acc_bits)
    return (acc, wrong, sig, err) if measure else acc


def timed_accumulate(mul: Netlist, add: Netlist, cols: np.ndarray, w: np.ndarray, bias: np.ndarray, plan: TimingPlan,
                     part: str, acc_bits: int, buffers: dict, measure: bool = False):
    """accumulate's result under timing errors of the element's parts `part` (TIMED_PARTS; the other part exact).

    The element is pipelined: a product register between the multiplier and the adder, the accumulator register
    after the adder, one clock for both; a relative period is in units of the element's critical path D = max(D
    of the multiplier, D of the adder), nominal delays. The multiplier's products run as in mode 'gates' (the
    plan's dataflow over the layer's (row, output, input) vectors). The adder's operands follow the dataflow:
    output-stationary, the element holds the accumulator of one dot product while its inputs stream (the
    register closes the loop: input i adds to the sample of input i - 1, the bias preloaded at i = 0; the plan's
    `loop`); weight-stationary, the element of input i holds w[o, i] while the rows stream and adds to the
    partial sum the element of input i - 1 sampled for that row (one timed run per input, the bias entering the
    first). Every timed run logs its circuits.TimingReport (energy of both parts). Returns (n, out) int64
    accumulators, two's complement acc_bits (measure: with wrong products per row, sum of exact products squared,
    sum of squared product errors, products compared before the adder as in accumulate)."""
    if part not in TIMED_PARTS:
        raise HardwareError(f"timing errors on fault_part {part!r}: its gates have no timing model (timed parts: "
                            f"{', '.join(TIMED_PARTS)})")
    n, k = cols.shape
    out = w.shape[0]
    twos = mul.signed
    if plan.relative:
        D = max(static_timing(mul, plan.delays).D, static_timing(add, plan.delays).D)
        plan = dataclasses.replace(plan, period=plan.period * D, relative=False)
    if twos:
        ia, iw = cols.astype(np.int64) & ((1 << mul.inputs["a"]) - 1), w.astype(np.int64) & ((1 << mul.inputs["b"]) - 1)
        exact = cols.astype(np.int64)[:, None, :] * w.astype(np.int64)[None, :, :]
    else:
        ia, iw = np.abs(cols).astype(np.int64), np.abs(w).astype(np.int64)
        exact = ia[:, None, :] * iw[None, :, :]
    prod = products(mul, ia, iw, plan, buffers) if part != Part.ADD else exact
    sign = 1 if twos else np.sign(w)[None, :, :] * np.where(cols < 0, -1, 1)[:, None, :]  # zero weights add 0
    if part == Part.MUL:
        acc = _wrap(np.asarray(bias, np.int64) + (sign * prod).sum(axis=2), acc_bits)
    else:
        mask = (1 << acc_bits) - 1
        ops = {"p": np.where(sign == 0, 0, prod) & ((1 << add.inputs["p"]) - 1)}
        if "sw" in add.inputs:
            ops["sw"] = np.broadcast_to((w < 0)[None, :, :], prod.shape).astype(np.int64)
        if "sa" in add.inputs:
            ops["sa"] = np.broadcast_to((cols < 0)[:, None, :], prod.shape).astype(np.int64)
        start = np.broadcast_to(np.asarray(bias, np.int64)[None, :] & mask, (n, out))
        if plan.dataflow == "output-stationary":
            ops["acc"] = np.broadcast_to(start[:, :, None], prod.shape)
            loop = dataclasses.replace(plan.laid_out(n, out, k), loop=("acc", "acc_out"))
            acc = simulate(add, {b: v.reshape(-1) for b, v in ops.items()}, faults=loop)["acc_out"]
            acc = acc.reshape(n, out, k)[:, :, -1] if k else start
        else:
            acc, step = start, plan.laid_out(n, out, 1)
            for i in range(k):
                now = {b: v[:, :, i].reshape(-1) for b, v in ops.items()}
                acc = simulate(add, {**now, "acc": acc.reshape(-1) & mask}, faults=step)["acc_out"].reshape(n, out)
        acc = _wrap(np.asarray(acc, np.int64), acc_bits)
    if not measure:
        return acc
    diff = (prod - exact).astype(np.float64)
    return (acc, np.count_nonzero(prod != exact, axis=(1, 2)).astype(np.int64),
            float(np.square(exact, dtype=np.float64).sum()), float(np.square(diff).sum()))
