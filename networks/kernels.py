"""Numba kernels of the integer engine's graph interpreter: input quantization, operand histograms, signed sums of
products, requantization of accumulators (with bit flips of the accumulators inside the fused pass), and
two's-complement wrap-around."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def count_pairs(cols, mag, hist):
    """hist[cols[s, i], mag[o, i]] += 1 for every row s, output o and input i."""
    n, k = cols.shape
    for o in range(mag.shape[0]):
        for s in range(n):
            for i in range(k):
                hist[cols[s, i], mag[o, i]] += 1


@njit(cache=True, nogil=True)
def signed_sum(prod, cols, w, bias):
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
def conv_operands(image, geometry, r, i):
    """The im2col operands cols[r[t], i[t]] of a convolution over image (N, C, H, W) (a 1-d one: W = 1), read in
    place: row r = (sample, output position (y, x)), feature i = (channel, ky, kx); geometry rows: output shape,
    kernel, stride, dilation, padding, each (y, x). Padding reads 0. (T,) int64."""
    oh, ow = geometry[0]
    kh, kw = geometry[1]
    h, w = image.shape[2], image.shape[3]
    out = np.empty(r.shape[0], np.int64)
    for t in range(r.shape[0]):
        s, pos = divmod(r[t], oh * ow)
        oy, ox = divmod(pos, ow)
        c, rem = divmod(i[t], kh * kw)
        ky, kx = divmod(rem, kw)
        y = oy * geometry[2, 0] + ky * geometry[3, 0] - geometry[4, 0]
        x = ox * geometry[2, 1] + kx * geometry[3, 1] - geometry[4, 1]
        out[t] = image[s, c, y, x] if 0 <= y < h and 0 <= x < w else 0
    return out


@njit(cache=True, nogil=True)
def accumulators(y, bias):
    """Accumulators (N * L, out) int64, row s * L + l, from exact float sums y (N, out, L) plus bias[o]."""
    n, c, length = y.shape
    acc = np.empty((n * length, c), np.int64)
    for s in range(n):
        for o in range(c):
            b = bias[o]
            for j in range(length):
                acc[s * length + j, o] = np.int64(y[s, o, j]) + b
    return acc


def quantize_inputs(x: np.ndarray, bits: int) -> np.ndarray:
    """Float inputs in [0, 1], any shape -> unsigned `bits`-bit integers round(x * (2^bits - 1)) (half to even),
    clipped to [0, 2^bits - 1]: int64, same shape. The one input quantizer of the engine and the compilers."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return _quantize(np.ascontiguousarray(x).reshape(-1), float(2 ** bits - 1)).reshape(x.shape)


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
def finish(y, bias, mult, shift, lo, hi, clamp, acc_bits):
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
def finish_flipped(out, y, bias, mult, shift, lo, hi, clamp, acc_bits, words, masks):
    """finish's outputs `out` (N, out, L), in place, where accumulators are flipped: word words[t] (ascending) of
    the accumulators (N * L, out) (row s * L + l, as `accumulators` lays them out), wrapped to acc_bits two's
    complement, XORed with masks[t] (int64, bits below acc_bits), wrapped again and requantized as finish does."""
    n, c, length = y.shape
    half = np.int64(1) << np.int64(shift - 1) if shift > 0 else np.int64(0)
    sh = np.int64(shift)
    top = np.int64(1) << np.int64(acc_bits - 1)
    mask = (np.int64(1) << np.int64(acc_bits)) - 1 if acc_bits < 64 else np.int64(-1)
    yf, of = y.reshape(-1), out.reshape(-1)
    s, j, o, prev = 0, 0, 0, 0  # (sample, position, column) of word prev, walked forward
    for t in range(words.shape[0]):
        o += words[t] - prev
        prev = words[t]
        if o >= 4 * c:
            j, o = j + o // c, o % c
        while o >= c:  # flips lie a few columns apart: cheaper than a division
            o -= c
            j += 1
        if j >= length:
            s, j = s + j // length, j % length
        k = (s * c + o) * length + j
        a = ((np.int64(yf[k]) + bias[o] + top) & mask) - top
        of[k] = _requant1(a ^ masks[t], np.int64(0), mult[o], half, sh, lo, hi, clamp, top, mask)


@njit(cache=True, nogil=True)
def requantize(acc, n, mult, shift, lo, hi, clamp, wrap_bits):
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


@njit(cache=True, nogil=True)
def as_float(a, out, lo, hi):
    """out[i] = a[i] for flat integer words a and a float array out of their size; True when every word lies in
    [lo, hi]."""
    mn, mx = lo, hi
    for i in range(a.shape[0]):
        v = a[i]
        out[i] = v
        mn = min(mn, v)
        mx = max(mx, v)
    return lo <= mn and mx <= hi


def xor_words(values: np.ndarray, masks: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """`bits`-bit words (integers within the word's range) XORed with masks (uint64, bits below `bits`): int64
    words again, two's complement when signed."""
    v = values.astype(np.int64) ^ masks.view(np.int64)
    return wrap(v, bits) if signed else v


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap-around of int64 values to `bits` bits."""
    half = 1 << (bits - 1)
    return ((values + half) & ((1 << bits) - 1)) - half
