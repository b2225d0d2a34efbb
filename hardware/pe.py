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
    flip_sites,
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
from hardware.gatemac import _bit_strings, _buffer, products


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
SPARSE_TOUCHED = 1e-3  # the sparse path while (multiplier + adder gates) * flip_p is below this (per-event work
# in NumPy: at 5e-3, p = 1e-5 on the 8x8 element, measured slower than the compiled full path, bench/sparse.py)
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


def _mix(seed: int, k: int) -> int:
    """A 63-bit seed from (seed, k) (splitmix64 finaliser): distinct flip streams per step and part."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + (k + 1) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


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


@njit(cache=True, nogil=True)
def _prefix(ia, iw, table_t, asign, wsign, s, o, i):
    """Per event t: the fault-free sum of products of steps j < i[t] of lane (s[t], o[t])."""
    out = np.zeros(s.shape[0], np.int64)
    for t in range(s.shape[0]):
        acc = np.int64(0)
        for j in range(i[t]):
            acc += wsign[o[t], j] * asign[s[t], j] * np.int64(table_t[iw[o[t], j], ia[s[t], j]])
        out[t] = acc
    return out


def _wrap(values: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((values + half) & ((1 << bits) - 1)) - half


def _flips(net: Netlist, nwords: int, plan: GateFaultPlan, seeds, wn: int, n: int, out: int):
    """(keys step * nwords * 64 + vector, gates) of every flip of step i's plan (seed seeds[i]) on a used lane
    (channel o = vector // (64 wn) < out, row s = vector % (64 wn) < n), sorted by key."""
    keys, gates = [], []
    for i, seed in enumerate(seeds):
        vec, gat = flip_sites(net, nwords, plan.with_seed(seed))
        o, s = np.divmod(vec, wn * 64)
        ok = (o < out) & (s < n)
        keys.append(vec[ok] + i * nwords * 64)
        gates.append(gat[ok])
    return np.concatenate(keys), np.concatenate(gates)


def _distinct(sorted_keys: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    keep = np.ones(len(sorted_keys), bool)
    keep[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return sorted_keys[keep]


def _member(x: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """x's elements that occur in the sorted array sorted_keys (boolean mask)."""
    at = np.minimum(np.searchsorted(sorted_keys, x), max(len(sorted_keys) - 1, 0))
    return sorted_keys[at] == x if len(sorted_keys) else np.zeros(len(x), bool)


def _simulate_events(net: Netlist, keys: np.ndarray, flip_keys: np.ndarray, gates: np.ndarray, ops: dict,
                     plan: GateFaultPlan):
    """Outputs of `net` on the events `keys` (sorted, distinct; operands ops) with the flips (flip_keys sorted,
    gates) that fall on them."""
    hit = _member(flip_keys, keys)
    return simulate_touched(net, ops, np.searchsorted(keys, flip_keys[hit]), gates[hit], plan)


def sparse_accumulate(mul: Netlist, add: Netlist, table_t: np.ndarray, base, cols: np.ndarray, w: np.ndarray,
                      bias: np.ndarray, mul_faults: GateFaultPlan, add_faults: GateFaultPlan, acc_bits: int,
                      measure: bool = False):
    """accumulate's result (measure: with its product errors) for transient flips alone, bit for bit: the same
    flips drawn per step and part (flip_sites over the same planes and seeds), the fault-free result `base`
    (accumulators (n, out) from table_t's products, or with measure (accumulators, wrong, signal, error)) and only
    the touched (step, lane) events simulated: the multiplier on the step's operands (all at once), the adder on
    the lane's actual accumulator (the fault-free prefix sum plus the lane's deviation so far), lanes' events taken
    in rounds (the r-th event of every lane at once)."""
    n, k = cols.shape
    out = w.shape[0]
    twos = mul.signed
    wn = -(-max(n, 1) // 64)
    nwords = -(-(out * wn) // WORDS) * WORDS
    span = nwords * 64
    if twos:
        ia = cols.astype(np.int64) & ((1 << mul.inputs["a"]) - 1)
        iw = w.astype(np.int64) & ((1 << mul.inputs["b"]) - 1)
        asign, wsign = np.ones((n, k), np.int64), np.ones((out, k), np.int64)
    else:
        ia, iw = np.abs(cols).astype(np.int64), np.abs(w).astype(np.int64)
        asign, wsign = np.where(cols < 0, -1, 1).astype(np.int64), np.sign(w).astype(np.int64)
    acc, *rest = base if measure else (base,)
    wrong, sig, err = (np.array(rest[0], np.int64), rest[1], rest[2]) if measure else (None, 0, 0)
    mk, mg = _flips(mul, nwords, mul_faults, [_mix(mul_faults.seed, 2 * i) for i in range(k)], wn, n, out)
    ak, ag = _flips(add, nwords, add_faults, [_mix(add_faults.seed, 2 * i + 1) for i in range(k)], wn, n, out)
    dev = np.zeros(out * n, np.int64)  # per lane o * n + s: the deviation from the fault-free accumulator
    keys = _distinct(np.sort(np.concatenate((mk, ak))))
    if len(keys):
        step, vec = np.divmod(keys, span)
        o, s = np.divmod(vec, wn * 64)
        ff = table_t[iw[o, step], ia[s, step]].astype(np.int64)  # fault-free products
        prod = ff.copy()
        mul_keys = _distinct(mk)
        if len(mul_keys):
            hit = np.searchsorted(keys, mul_keys)
            a_op, b_op = ia[s[hit], step[hit]], iw[o[hit], step[hit]]
            if twos:
                a_op = np.where(a_op >> (mul.inputs["a"] - 1), a_op - (1 << mul.inputs["a"]), a_op)
                b_op = np.where(b_op >> (mul.inputs["b"] - 1), b_op - (1 << mul.inputs["b"]), b_op)
            new = next(iter(_simulate_events(mul, mul_keys, mk, mg, {"a": a_op, "b": b_op}, mul_faults).values()))
            prod[hit] = new.astype(np.int64)
            if measure:
                sh, oh, ih = s[hit], o[hit], step[hit]
                exact = cols[sh, ih].astype(np.int64) * w[oh, ih] if twos else ia[sh, ih] * iw[oh, ih]
                d_new, d_old = prod[hit] - exact, ff[hit] - exact
                np.add.at(wrong, sh, (d_new != 0).astype(np.int64) - (d_old != 0))
                err += float(np.square(d_new, dtype=np.float64).sum() - np.square(d_old, dtype=np.float64).sum())
        sign = wsign[o, step] * asign[s, step]
        if not twos:
            prod = np.where(w[o, step] == 0, 0, prod)  # a zero weight's product is cleared before the adder
        before = bias[o] + _prefix(ia, iw, table_t, asign, wsign, s, o, step)
        lane = o * n + s
        order = np.lexsort((step, lane))
        first = np.ones(len(order), bool)
        first[1:] = lane[order][1:] != lane[order][:-1]
        starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order)) - starts
        add_event = _member(keys, ak)
        for r in range(int(rank.max()) + 1):
            sel = np.flatnonzero(rank == r)  # ascending: keys stay sorted
            acc_in = _wrap(before[sel] + dev[lane[sel]], acc_bits)
            acc_out = _wrap(acc_in + (prod[sel] if twos else sign[sel] * prod[sel]), acc_bits)  # fault-free adder
            on = add_event[sel]
            if on.any():
                ev = sel[on]
                ops = {"acc": acc_in[on] & ((1 << acc_bits) - 1), "p": prod[ev] & ((1 << add.inputs["p"]) - 1)}
                if "sw" in add.inputs:
                    ops["sw"] = (w[o[ev], step[ev]] < 0).astype(np.int64)
                if "sa" in add.inputs:
                    ops["sa"] = (cols[s[ev], step[ev]] < 0).astype(np.int64)
                acc_out[on] = _wrap(_simulate_events(add, keys[ev], ak, ag, ops, add_faults)["acc_out"], acc_bits)
            dev[lane[sel]] = _wrap(acc_out - (before[sel] + sign[sel] * ff[sel]), acc_bits)
    acc = _wrap(np.asarray(acc, np.int64) + dev.reshape(out, n).T, acc_bits)
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
