"""The flip stream of every evaluator, as Numba source pasted into each generated module, and its table.

Transient flips: each gate output flips independently with probability p for each vector. Per block a
binomial count of flips is drawn (inverse CDF from a table, `binomial_cdf`), then that many distinct bit
positions (rejection of repeats); for p > DENSE_P every bit is drawn. Streams are splitmix64, keyed by (seed,
chunk of CHUNK_BLOCKS blocks), so every evaluator draws the same flips and results do not depend on threads.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from circuits.faults import DENSE_P
from circuits.layout import B

RNG_SOURCE = '''
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
DENSE_P = {dense_p!r}  # above this flip probability every bit is drawn; below, a binomial count of distinct positions


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _seed_chunk(seed, chunk):
    """The splitmix64 state of one chunk of blocks."""
    return _mix(np.uint64(seed) ^ _mix(np.uint64(chunk) + _GOLD))


@njit(cache=True, nogil=True, inline="always")
def _position(state, draws, spare, n32, reject):
    """The next uniform position in [0, n32) by Lemire's method (reject = (2^32 - n32) % n32) from 32-bit halves
    of the stream, two per 64-bit draw (draws: the last draw, spare: its low half unused): (state, draws, spare,
    position, or -1 where the draw is rejected and the caller draws again)."""
    if spare:
        x = draws & np.uint64(0xFFFFFFFF)
    else:
        state += _GOLD
        draws = _mix(state)
        x = draws >> np.uint64(32)
    m = x * n32
    if (m & np.uint64(0xFFFFFFFF)) < reject:
        return state, draws, not spare, -1
    return state, draws, not spare, np.int64(m >> np.uint64(32))


@njit(cache=True, nogil=True)
def _fill_flips(buf, off, nwords, p, state, touched, k0, cdf):
    """Set each bit of buf[off:off+nwords] independently with probability p; returns (state, n touched).

    The count of flips is drawn by inverting cdf, the Binomial(nbits, p) CDF over k0, k0 + 1, ... (see
    binomial_cdf). The caller zeroes the words listed in touched[:n] afterwards (the whole range when
    n < 0: dense draws, or more flips than touched holds).
    """
    nbits = nwords * 64  # < 2^32
    if p <= 0.0 or nwords <= 0:
        return state, 0
    if p > DENSE_P:
        for w in range(nwords):
            word = np.uint64(0)
            for k in range(64):
                state += _GOLD
                if (float(_mix(state) >> np.uint64(11)) * 1.1102230246251565e-16) < p:
                    word |= np.uint64(1) << np.uint64(k)
            buf[off + w] = word
        return state, -1
    state += _GOLD
    u = float(_mix(state) >> np.uint64(11)) * 1.1102230246251565e-16
    count = k0 + np.searchsorted(cdf, u, side="right")  # inverse binomial CDF
    cap = touched.shape[0]
    placed = 0
    n32 = np.uint64(nbits)
    reject = (np.uint64(1 << 32) - n32) % n32  # Lemire's method: exactly uniform positions
    draws = np.uint64(0)
    spare = False
    while placed < count:
        state, draws, spare, pos = _position(state, draws, spare, n32, reject)
        if pos < 0:
            continue
        w = off + (pos >> 6)
        bit = np.uint64(1) << np.uint64(pos & 63)
        if buf[w] & bit:
            continue  # distinct positions: redraw
        buf[w] |= bit
        if placed < cap:
            touched[placed] = w
        placed += 1
    return state, placed if placed <= cap else -1


@njit(cache=True, nogil=True)
def _clear_flips(buf, off, nwords, touched, n):
    if n < 0:
        for w in range(nwords):
            buf[off + w] = 0
    else:
        for q in range(n):
            buf[touched[q]] = 0
'''.replace("{dense_p!r}", repr(DENSE_P))


@functools.lru_cache(maxsize=64)
def binomial_cdf(n_gates: int, p: float):
    """(k0, cdf), cached (do not modify cdf): the CDF of the number of flips per block,
    Binomial(n_gates * B * 64, p), at k0, k0+1, ...
    over mean +- 12 standard deviations (the mass outside is below 1e-30); cdf[-1] is exactly 1."""
    nbits = n_gates * B * 64
    if p <= 0 or p > DENSE_P or nbits == 0:
        return 0, np.ones(1)
    mean, sd = nbits * p, (nbits * p * (1 - p)) ** 0.5
    k0 = max(0, int(mean - 12 * sd) - 10)
    k1 = min(nbits, int(mean + 12 * sd) + 10)
    log_norm = math.lgamma(nbits + 1)
    log_p, log_q = math.log(p), math.log1p(-p)
    log_pmf = np.array([log_norm - math.lgamma(k + 1) - math.lgamma(nbits - k + 1) + k * log_p + (nbits - k) * log_q
                        for k in range(k0, k1 + 1)])
    cdf = np.cumsum(np.exp(log_pmf))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return k0, cdf
