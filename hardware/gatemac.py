"""Gate-level multiply-accumulate of one layer: operands packed straight into bit planes, the netlist simulated
with its faults (circuits.simulate_planes), accumulators read straight from the output planes.

Vector v = (s * out + o) * k + i holds the operands (|a[s, i]|, |w[o, i]|) of row s, output channel o and input
i (k inputs); planes follow circuits.bitplanes (vector v at bit v % 64 of word v // 64, bus bit 0 first), the
same vectors circuits.simulate gives those operands, so a fault plan draws the same flips either way.
Packing copies precomputed bit strings (bit j of a[s, :] and of |w[o, :]|, k bits each) to each (s, o)
segment; accumulating adds popcount(P_j & positive lanes) - popcount(P_j & negative lanes), times 2^j, per
output bit j of each segment (sign(w) and, for signed inputs, sgn(a) give the lane's sign), or, when errors
are measured, unpacks each word of 64 products (a 64 x 64 bit transpose) and compares it with exact products.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core.extending import intrinsic

from circuits import (
    MASKS,
    WORDS,
    GateFaultPlan,
    Netlist,
    TimingPlan,
    flip_keys,
    simulate_planes,
    simulate_touched_pairs,
    touched_vectors,
    transpose64,
    transpose_fields,
)

_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def _bit_strings(values, bits, words, masks):
    """(R, bits, words) uint64: bit j of values[r, i] (>= 0) at bit i % 64 of word i // 64 of row (r, j)."""
    r_n, k = values.shape
    out = np.empty((r_n, bits, words), np.uint64)
    buf = np.empty(64, np.uint64)
    for r in range(r_n):
        for q in range(words):
            lanes = min(64, k - 64 * q)
            for v in range(lanes):
                buf[v] = np.uint64(values[r, 64 * q + v])
            for v in range(lanes, 64):
                buf[v] = 0
            transpose64(buf, masks)
            for j in range(bits):
                out[r, j, q] = buf[j]
    return out


@njit(cache=True, nogil=True, inline="always")
def _append(planes, row, p, val, nbits):
    """Append the low nbits of val to planes[row] at bit position p (every bit before p already written, none
    after it: a word's first write assigns it, so the planes need no zeroing)."""
    idx = p >> 6
    off = p & 63
    if off == 0:
        planes[row, idx] = val
    else:
        planes[row, idx] |= val << np.uint64(off)
        if nbits > 64 - off:
            planes[row, idx + 1] = val >> np.uint64(64 - off)


@njit(cache=True, nogil=True, inline="always")
def _get(planes, row, p):
    """The 64 bits of planes[row] from bit position p on (zeros past the last word)."""
    idx = p >> 6
    off = p & 63
    if off == 0 or idx + 1 == planes.shape[1]:
        return planes[row, idx] >> np.uint64(off)
    return (planes[row, idx] >> np.uint64(off)) | (planes[row, idx + 1] << np.uint64(64 - off))


@njit(cache=True, nogil=True)
def _pack(abits, bbits, a_row, b_row, k, planes):
    """Write the a and b planes of every (s, o) segment of k vectors, one plane at a time. The b planes repeat
    with a period of one row (out * k vectors): when that is whole words, the first row's words are copied."""
    n, na, words = abits.shape
    out, nb = bbits.shape[0], bbits.shape[1]
    for j in range(na):
        pos = 0
        for s in range(n):
            for _ in range(out):
                for q in range(words):
                    _append(planes, a_row + j, pos + 64 * q, abits[s, j, q], min(64, k - 64 * q))
                pos += k
    period = out * k
    rows = n if period % 64 else 1
    for j in range(nb):
        pos = 0
        for _ in range(rows):
            for o in range(out):
                for q in range(words):
                    _append(planes, b_row + j, pos + 64 * q, bbits[o, j, q], min(64, k - 64 * q))
                pos += k
        if rows == 1:
            w = period // 64
            for s in range(1, n):
                planes[b_row + j, s * w:(s + 1) * w] = planes[b_row + j, :w]


@njit(cache=True, nogil=True)
def _accumulate_popcount(outp, n_bits, n, k, wpos, wneg, aneg, signed, bias, top_neg=False):
    """(n, out) int64: bias[o] + sum over the segment's lanes of sign * product, from the output planes (top_neg:
    products in two's complement, the top output bit weighing -2^(n_bits - 1))."""
    out, words = wpos.shape
    acc = np.empty((n, out), np.int64)
    pos = 0
    for s in range(n):
        for o in range(out):
            t = bias[o]
            for q in range(words):
                p = pos + 64 * q
                pm = wpos[o, q]
                nm = wneg[o, q]
                if signed:
                    an = aneg[s, q]
                    pm, nm = (pm & ~an) | (nm & an), (nm & ~an) | (pm & an)
                if q == words - 1 and k & 63:
                    keep = (_ONE << np.uint64(k & 63)) - _ONE
                    pm &= keep
                    nm &= keep
                for j in range(n_bits):
                    x = _get(outp, j, p)
                    d = np.int64(_popcount(x & pm)) - np.int64(_popcount(x & nm))
                    t += -(d << j) if top_neg and j == n_bits - 1 else d << j
            acc[s, o] = t
            pos += k
    return acc


@intrinsic
def _popcount(typingctx, x):
    """The number of set bits of a uint64 (LLVM's ctpop: one instruction where the CPU has it)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(cache=True, nogil=True)
def _accumulate_measured(outp, n_bits, n, k, cols, w, bias, masks):
    """Accumulators (n, out), wrong products per row (n,), and the sums of exact products squared and of
    (product - exact)^2 over every lane, from the output planes unpacked one row (out * k lanes) at a time
    (words transposed in blocks as wide as the product)."""
    out = w.shape[0]
    acc = np.empty((n, out), np.int64)
    wrong = np.zeros(n, np.int64)
    period = out * k
    tmp = np.empty((period // 64 + 2) * 64, np.int64)
    buf = np.empty(64, np.uint64)
    size = 16 if n_bits <= 16 else 32 if n_bits <= 32 else 64
    field = np.uint64(0xFFFFFFFFFFFFFFFF) if size == 64 else np.uint64((1 << size) - 1)
    mag = np.abs(w).astype(np.int64)
    sign_w = np.sign(w).astype(np.int64)
    abs_a = np.empty(k, np.int64)
    sgn_a = np.empty(k, np.int64)
    sig = 0
    err = 0
    for s in range(n):
        start = s * period
        w0 = start >> 6
        for wd in range(w0, (start + period + 63) >> 6):
            for j in range(n_bits):
                buf[j] = outp[j, wd]
            for j in range(n_bits, size):
                buf[j] = 0
            transpose_fields(buf, size, masks)
            base = (wd - w0) * 64
            for lane in range(64):
                tmp[base + lane] = np.int64((buf[lane % size] >> np.uint64(size * (lane // size))) & field)
        off = start - w0 * 64
        for i in range(k):
            v = np.int64(cols[s, i])
            abs_a[i] = abs(v)
            sgn_a[i] = -1 if v < 0 else 1
        bad = 0
        for o in range(out):
            t = bias[o]
            row = off + o * k
            for i in range(k):
                pv = tmp[row + i]
                ex = abs_a[i] * mag[o, i]
                d = pv - ex
                sig += ex * ex
                err += d * d
                bad += d != 0
                t += sign_w[o, i] * sgn_a[i] * pv
            acc[s, o] = t
        wrong[s] = bad
    return acc, wrong, sig, err


def _buffer(buffers: dict, key: str, shape: tuple) -> np.ndarray:
    """A uint64 array of `shape` kept in `buffers` between calls (fresh pages cost more than the packing)."""
    if (key, shape) not in buffers:
        if len(buffers) >= 16:
            buffers.clear()
        buffers[key, shape] = np.empty(shape, np.uint64)
    return buffers[key, shape]


def _simulate(netlist: Netlist, a: np.ndarray, mag: np.ndarray, faults: GateFaultPlan, buffers: dict) -> np.ndarray:
    """Output planes of the netlist over every (s, o, i) vector of operands a (n, k) >= 0 and mag (out, k)."""
    n, k = a.shape
    out = mag.shape[0]
    total = n * out * k
    if isinstance(faults, TimingPlan):  # timing errors: the products in the plan's dataflow
        faults = faults.laid_out(n, out, k)
    nwords = -(-max(total, 1) // (64 * WORDS)) * WORDS
    words = -(-k // 64)
    rows = {}
    row = 0
    for bus, width in netlist.inputs.items():
        rows[bus] = (row, width)
        row += width
    planes = _buffer(buffers, "in", (netlist.n_input_bits, nwords))
    planes[:, total // 64:] = 0  # the padding vectors (and the last partial word)
    (a_row, a_width), (b_row, b_width) = rows["a"], rows["b"]
    _pack(_bit_strings(a, a_width, words, MASKS), _bit_strings(mag, b_width, words, MASKS), a_row, b_row, k, planes)
    out = _buffer(buffers, "out", (sum(netlist.output_widths.values()), nwords))
    return simulate_planes(netlist, planes, faults=faults, out=out, n=total)


def products(netlist: Netlist, a: np.ndarray, mag: np.ndarray, faults: GateFaultPlan, buffers: dict) -> np.ndarray:
    """MUL(a[s, i], mag[o, i]) by the netlist (inputs a, b; one output bus): (n, out, k) int64; a and mag >= 0 (bit
    patterns of a signed netlist's operands, whose products are read as two's complement). buffers: plane arrays
    kept between calls."""
    n, k = a.shape
    out = mag.shape[0]
    outp = _simulate(netlist, a, mag, faults, buffers)
    width = outp.shape[0]
    vals = np.empty(n * out * k, np.uint64)
    buf = np.empty(64, np.uint64)
    _unpack(outp, width, vals, buf, MASKS)
    prod = vals.astype(np.int64).reshape(n, out, k)
    return np.where(prod >> (width - 1), prod - (1 << width), prod) if netlist.signed else prod


@njit(cache=True, nogil=True)
def _unpack(outp, width, vals, buf, masks):
    total = vals.shape[0]
    for wd in range((total + 63) // 64):
        for j in range(width):
            buf[j] = outp[j, wd]
        for j in range(width, 64):
            buf[j] = 0
        transpose64(buf, masks)
        for lane in range(min(64, total - wd * 64)):
            vals[wd * 64 + lane] = buf[lane]


def accumulate(netlist: Netlist, cols: np.ndarray, w: np.ndarray, bias: np.ndarray, faults: GateFaultPlan,
               signed: bool, buffers: dict) -> np.ndarray:
    """bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) MUL(|cols[s, i]|, |w[o, i]|) by the netlist: (n, out)."""
    n, k = cols.shape
    words = -(-k // 64)
    outp = _simulate(netlist, np.abs(cols), np.abs(w), faults, buffers)
    wpos = _bit_strings((w > 0).astype(np.uint8), 1, words, MASKS)[:, 0]
    wneg = _bit_strings((w < 0).astype(np.uint8), 1, words, MASKS)[:, 0]
    aneg = _bit_strings((cols < 0).astype(np.uint8), 1, words, MASKS)[:, 0] if signed else wpos[:0]
    return _accumulate_popcount(outp, outp.shape[0], n, k, wpos, wneg, aneg, signed, bias)


def tc_accumulate(netlist: Netlist, ia: np.ndarray, iw: np.ndarray, bias: np.ndarray, faults: GateFaultPlan,
                  buffers: dict) -> np.ndarray:
    """Two's complement: bias[o] + sum_i MUL(a[s, i], w[o, i]) by a signed netlist, operands given as their bit
    patterns ia (n, k) and iw (out, k), every product added (zero weights too): (n, out)."""
    n, k = ia.shape
    words = -(-k // 64)
    outp = _simulate(netlist, ia, iw, faults, buffers)
    ones = _bit_strings(np.ones((len(iw), k), np.uint8), 1, words, MASKS)[:, 0]
    return _accumulate_popcount(outp, outp.shape[0], n, k, ones, np.zeros_like(ones), ones[:0], False, bias, True)


def tc_measured(prod: np.ndarray, cols: np.ndarray, w: np.ndarray, bias: np.ndarray) -> tuple:
    """Two's complement, from signed products (n, out, k): (accumulators (n, out), wrong products per row (n,),
    sum of exact products a * w squared, sum of squared product errors)."""
    exact = cols.astype(np.int64)[:, None, :] * w[None, :, :]
    d = prod - exact
    return (bias + prod.sum(axis=2), np.count_nonzero(d.reshape(len(cols), -1), axis=1),
            int(np.square(exact).sum()), int(np.square(d).sum()))


def accumulate_measured(netlist: Netlist, cols: np.ndarray, w: np.ndarray, bias: np.ndarray,
                        faults: GateFaultPlan, buffers: dict) -> tuple:
    """(accumulators (n, out), wrong products per row (n,), sum of exact products squared, sum of squared
    product errors) by the netlist; errors against exact arithmetic |a| * |w|."""
    outp = _simulate(netlist, np.abs(cols), np.abs(w), faults, buffers)
    n, k = cols.shape
    return _accumulate_measured(outp, outp.shape[0], n, k, cols, w, bias, MASKS)


def _touched(netlist: Netlist, n: int, out: int, k: int, faults: GateFaultPlan) -> tuple:
    """(s, o, i, lane, gates): the (row, output, input) of every vector a flip of `faults` touches (vector
    (s * out + o) * k + i, distinct, ascending) and each flip's lane (index into them) and gate."""
    uv, lane, gat = touched_vectors(netlist, n * out * k, faults)
    s, rem = np.divmod(uv, out * k)
    o, i = np.divmod(rem, k)
    return s, o, i, lane, gat


def _touched_products(netlist: Netlist, a: np.ndarray, b: np.ndarray, lane: np.ndarray, gates: np.ndarray,
                      faults: GateFaultPlan) -> np.ndarray:
    """The netlist's products (int64; a signed netlist's read as two's complement) of operand bit patterns a, b
    (inputs a and b) on touched vectors, flip f on gate gates[f] of vector lane[f]."""
    if list(netlist.inputs) == ["b", "a"]:
        a, b = b, a
    prod = simulate_touched_pairs(netlist, a, b, lane, gates, faults).astype(np.int64)
    width = next(iter(netlist.output_widths.values()))
    return np.where(prod >> (width - 1), prod - (1 << width), prod) if netlist.signed else prod


def touched(netlist: Netlist, a: np.ndarray, mag: np.ndarray, faults: GateFaultPlan) -> tuple:
    """The sparse path (circuits.sparse): (s, o, i, products) of every (row, output, input) vector that a flip
    of `faults` touches, its product by the netlist with those flips (and the plan's permanent faults); the same
    flips the full path draws over the same vectors, so every other product is the fault-free (or permanently
    faulty) table's. a (n, k) >= 0, mag (out, k): operands, or the bit patterns of a signed netlist's."""
    s, o, i, lane, gat = _touched(netlist, a.shape[0], mag.shape[0], a.shape[1], faults)
    return s, o, i, _touched_products(netlist, a[s, i], mag[o, i], lane, gat, faults)


@njit(cache=True, nogil=True)
def _touched_sites(keys, ng, out, k):
    """From sorted flip keys vector * ng + gate ((s * out + o) * k + i vectors): per distinct touched vector its
    s, o, i; per flip the index of its vector (lane) and its gate."""
    f_n = keys.shape[0]
    lane = np.empty(f_n, np.int64)
    gates = np.empty(f_n, np.int64)
    s = np.empty(f_n, np.int64)
    o = np.empty(f_n, np.int64)
    i = np.empty(f_n, np.int64)
    m = -1
    last = -1
    for f in range(f_n):
        vec, gates[f] = divmod(keys[f], ng)
        if vec != last:
            m += 1
            last = vec
            so, i[m] = divmod(vec, k)
            s[m], o[m] = divmod(so, out)
        lane[f] = m
    return s[:m + 1], o[:m + 1], i[:m + 1], lane, gates


@njit(cache=True, nogil=True)
def _patterns(o, i, av, w, twos, wa, wb):
    """The multiplier's operands of touched vector t: av[t] and w[o[t], i[t]] as bit patterns (two's complement,
    wa and wb bits) or magnitudes."""
    xa = np.empty(o.shape[0], np.int64)
    xb = np.empty(o.shape[0], np.int64)
    for t in range(o.shape[0]):
        a, wv = av[t], np.int64(w[o[t], i[t]])
        xa[t], xb[t] = ((a & ((1 << wa) - 1), wv & ((1 << wb) - 1)) if twos else (abs(a), abs(wv)))
    return xa, xb


@njit(cache=True, nogil=True)
def _correct(acc, wrong, s, o, i, av, w, xa, xb, new, table_t, twos, measure):
    """acc[s, o] += sign * (new[t] - table_t[xb, xa]) per touched vector t (sign: +1 in two's complement, else
    sign(w) sgn(a); operands av[t], w[o[t], i[t]], table indices xa[t], xb[t]); with measure, wrong[s] and the
    returned change of the sum of squared product errors (against a * w, or |a| * |w|)."""
    err = 0
    for t in range(s.shape[0]):
        a, wv = av[t], np.int64(w[o[t], i[t]])
        old = np.int64(table_t[xb[t], xa[t]])
        sign = 1 if twos else (0 if wv == 0 else (1 if (wv > 0) == (a >= 0) else -1))
        acc[s[t], o[t]] += sign * (new[t] - old)
        if measure:
            exact = a * wv if twos else abs(a) * abs(wv)
            d_new, d_old = new[t] - exact, old - exact
            wrong[s[t]] += np.int64(d_new != 0) - np.int64(d_old != 0)
            err += d_new * d_new - d_old * d_old
    return err


def sparse_correct(netlist: Netlist, table_t: np.ndarray, base, cols, w: np.ndarray, faults: GateFaultPlan,
                   measure: bool = False, take=None):
    """The sparse path of accumulate (measure: accumulate_measured), bit for bit the full path's result: `base`,
    the fault-free result (accumulators (n, out), or with measure the tuple (accumulators, wrong products per row,
    signal, error) computed from the products table_t[|w|, |a|]: the netlist's fault-free or permanently faulty
    outputs), corrected at the vectors a flip touches. A signed netlist: two's complement (table_t indexed by
    bit patterns, every product added). cols: the (n, k) operands, or with `take` only their shape (n, k) and
    take(s, i) -> the operands cols[s, i] (never materialised)."""
    n, k = (cols if take is not None else np.shape(cols))
    keys = flip_keys(netlist, n * w.shape[0] * k, faults)
    s, o, i, lane, gates = _touched_sites(keys, netlist.n_gates, w.shape[0], k)
    av = np.asarray(take(s, i) if take is not None else cols[s, i], np.int64)
    xa, xb = _patterns(o, i, av, w, netlist.signed, netlist.inputs["a"], netlist.inputs["b"])
    new = _touched_products(netlist, xa, xb, lane, gates, faults)
    acc, *rest = base if measure else (base,)
    acc = np.array(acc, np.int64)
    wrong = np.array(rest[0], np.int64) if measure else np.zeros(0, np.int64)
    d_err = _correct(acc, wrong, s, o, i, av, w, xa, xb, new, table_t, netlist.signed, measure)
    return (acc, wrong, rest[1], rest[2] + int(d_err)) if measure else acc


def sparse_products(netlist: Netlist, table_t: np.ndarray, a: np.ndarray, mag: np.ndarray,
                    faults: GateFaultPlan) -> np.ndarray:
    """products by the sparse path: table_t[mag, a] with the touched vectors' products replaced."""
    prod = table_t[mag[None, :, :], a[:, None, :]].astype(np.int64)
    s, o, i, new = touched(netlist, a, mag, faults)
    prod[s, o, i] = new
    return prod
