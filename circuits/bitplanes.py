"""Conversion between integer vectors and bit planes (64 vectors per uint64 word).

A bit plane of a bus bit i over n vectors is a uint64 array of ceil(n / 64) words; vector v sits at
bit (v % 64) of word (v // 64). Conversions use a 64x64 bit-matrix transpose (6 rounds of masked swaps).
Numba's cache files of these functions are read back at import; unreadable ones are deleted (see kernels).
"""

import numpy as np
from numba import njit

from circuits.kernels import verify_numba_cache

_MASKS = np.array([0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF,
                   0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555], dtype=np.uint64)


@njit(cache=True, nogil=True)
def _transpose64(x, masks):
    """In place: afterwards bit i of x[v] is the old bit v of x[i]."""
    j = 32
    for r in range(6):
        m = masks[r]
        sj = np.uint64(j)
        k = 0
        while k < 64:
            t = ((x[k] >> sj) ^ x[k + j]) & m
            x[k + j] ^= t
            x[k] ^= t << sj
            k = ((k | j) + 1) & ~j
        j >>= 1


@njit(cache=True, nogil=True)
def _to_planes(values, width, planes, row0, masks):
    n = values.shape[0]
    buf = np.empty(64, np.uint64)
    for w in range((n + 63) // 64):
        base = w * 64
        cnt = min(64, n - base)
        for v in range(cnt):
            buf[v] = values[base + v]
        for v in range(cnt, 64):
            buf[v] = 0
        _transpose64(buf, masks)
        for i in range(width):
            planes[row0 + i, w] = buf[i]


@njit(cache=True, nogil=True)
def _from_planes(planes, row0, width, n, out, masks):
    buf = np.empty(64, np.uint64)
    for w in range((n + 63) // 64):
        for i in range(width):
            buf[i] = planes[row0 + i, w]
        for i in range(width, 64):
            buf[i] = 0
        _transpose64(buf, masks)
        base = w * 64
        for v in range(min(64, n - base)):
            out[base + v] = buf[v]


def to_planes(values: np.ndarray, width: int, planes: np.ndarray, row0: int) -> None:
    """Write the low `width` bits of uint64 `values` into rows row0.. of `planes`."""
    if width > 64:
        raise ValueError(f"bit planes of integers hold at most 64 bits, not {width}")
    _to_planes(np.ascontiguousarray(values, dtype=np.uint64), width, planes, row0, _MASKS)


def from_planes(planes: np.ndarray, row0: int, width: int, n: int) -> np.ndarray:
    """Read `width` rows of `planes` starting at row0 back into n uint64 values."""
    if width > 64:
        raise ValueError(f"bit planes of integers hold at most 64 bits, not {width}")
    out = np.empty(n, np.uint64)
    _from_planes(planes, row0, width, n, out, _MASKS)
    return out


@njit(cache=True, nogil=True)
def counter_planes(start, n_bits, planes):
    """Planes of the counter start, start+1, ... (start a multiple of 64): the exhaustive input set."""
    nw = planes.shape[1]
    pat = np.array([0xAAAAAAAAAAAAAAAA, 0xCCCCCCCCCCCCCCCC, 0xF0F0F0F0F0F0F0F0,
                    0xFF00FF00FF00FF00, 0xFFFF0000FFFF0000, 0xFFFFFFFF00000000], dtype=np.uint64)
    full = ~np.uint64(0)
    for i in range(n_bits):
        for w in range(nw):
            if i < 6:
                planes[i, w] = pat[i]
            else:
                planes[i, w] = full if ((start // 64 + w) >> (i - 6)) & 1 else np.uint64(0)


verify_numba_cache(globals(), __name__)
