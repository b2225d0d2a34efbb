"""Numba kernels of table multipliers and of exact integer dot products (the multiplier family's arithmetic).

A table holds MUL(|a|, |w|) for every operand pair; a dot product is bias[o] + sum_i sgn(a_i) sign(w[o, i])
MUL(|a_i|, |w[o, i]|), sgn(a) = -1 for a < 0 else +1, sign(w) in {-1, 0, +1} (a zero weight adds nothing).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

EXACT_FLOAT = 2.0 ** 53  # float64 sums of integers are exact below this


@njit(cache=True, nogil=True)
def lut_accumulate(at, w, table_t, bias, signed, acc):
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
def lut_measured(at, w, table_t, bias):
    """(accumulators (out, N), wrong products per row (N,), sum of exact products squared, sum of squared
    product errors) of table products against exact |a| * |w|; at is (in, N), sgn(a) as above."""
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
def lut_products(a, mag, table):
    n, k = a.shape
    out = mag.shape[0]
    prod = np.empty((n, out, k), np.int64)
    for s in range(n):
        for o in range(out):
            for i in range(k):
                prod[s, o, i] = table[a[s, i], mag[o, i]]
    return prod


def exact_accumulate(cols, w, bias):
    """bias[o] + sum_i cols[s, i] w[o, i], exact (torch's float32 / float64 matrix product while every partial
    sum stays below 2^24 / 2^53, else int64): (N, out) int64."""
    bound = float(np.abs(cols).max(initial=0)) * float(np.abs(w).sum(axis=1).max(initial=0))
    if bound < EXACT_FLOAT:  # torch's matrix product (NumPy's BLAS threads stall on a busy machine)
        dtype = np.float32 if bound < 2 ** 24 else np.float64  # float32 sums of integers are exact below 2^24
        y = torch.from_numpy(cols.astype(dtype)) @ torch.from_numpy(np.ascontiguousarray(w.T, dtype))
        return y.numpy().astype(np.int64) + bias
    return cols.astype(np.int64) @ w.T + bias


def exact_measured(cols, w, bias) -> tuple:
    """exact_accumulate's (accumulators, wrong products per row (zeros), sum of every exact product squared,
    0): sum_{s,o,i} (a_si w_oi)^2 = sum_i (sum_s a_si^2) (sum_o w_oi^2)."""
    sq_a = np.square(cols.astype(np.int64)).sum(axis=0)
    sig = int(sq_a @ np.square(w.astype(np.int64)).sum(axis=0))
    return exact_accumulate(cols, w, bias), np.zeros(len(cols), np.int64), sig, 0


@njit(cache=True, nogil=True)
def tc_accumulate(at, w, table_t, bias, mask_a, mask_b, acc):
    """Two's complement: acc (out, N) := bias[o] + sum_i table_t[w[o, i] & mask_b, at[i, s] & mask_a] (at (in, N)
    and w signed values, indexed by their bit patterns; a zero weight's product is added too)."""
    k, n = at.shape
    for o in range(w.shape[0]):
        row = acc[o]
        row[:] = bias[o]
        for i in range(k):
            col = table_t[w[o, i] & mask_b]
            av = at[i]
            for s in range(n):
                row[s] += col[av[s] & mask_a]
    return acc


@njit(cache=True, nogil=True)
def tc_measured(at, w, table_t, bias, mask_a, mask_b):
    """tc_accumulate's accumulators (out, N), wrong products per row (N,), sum of exact products a * w squared and
    sum of squared product errors."""
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
            wv = np.int64(w[o, i])
            col = table_t[wv & mask_b]
            av = at[i]
            for s in range(n):
                v = np.int64(av[s])
                t = np.int64(col[v & mask_a])
                row[s] += t
                ex = v * wv
                d = t - ex
                sig += ex * ex
                if d != 0:
                    wrong[s] += 1
                    err += d * d
    return acc, wrong, sig, err
