"""Conversion between integer vectors and bit planes (64 vectors per uint64 word).

A bit plane of a bus bit i over n vectors is a uint64 array of ceil(n / 64) words; vector v sits at
bit (v % 64) of word (v // 64). Conversions use a 64x64 bit-matrix transpose (6 rounds of masked swaps).
Numba's cache files of these functions are read back at import; unreadable ones are deleted (see circuits.cache).
"""

import numpy as np
from numba import njit

from circuits.cache import verify_numba_cache

MASKS = np.array([0x00000000FFFFFFFF, 0x0000FFFF0000FFFF, 0x00FF00FF00FF00FF,
                   0x0F0F0F0F0F0F0F0F, 0x3333333333333333, 0x5555555555555555], dtype=np.uint64)


@njit(cache=True, nogil=True)
def transpose64(x, masks):
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
def transpose_fields(x, size, masks):
    """In place, size in {16, 32, 64}: transpose each size x size bit block of x[0:size], the block of field f
    being bits [f * size, (f + 1) * size) of every word; afterwards field f of x[r] holds, bit j, the old bit
    f * size + r of x[j]. With x[j] = output plane j (size >= its bits), lane v's value is field v // size of
    x[v % size]."""
    j = size // 2
    r = 2 if size == 16 else 1 if size == 32 else 0  # masks[r] pairs bits j apart
    while j >= 1:
        m = masks[r]
        sj = np.uint64(j)
        k = 0
        while k < size:
            t = ((x[k] >> sj) ^ x[k + j]) & m
            x[k + j] ^= t
            x[k] ^= t << sj
            k = ((k | j) + 1) & ~j
        j >>= 1
        r += 1


@njit(cache=True, nogil=True)
def transpose64_lanes(x, masks):
    """transpose64 of the columns of x (64, lanes) at once (the lanes vectorise)."""
    lanes = x.shape[1]
    j = 32
    for r in range(6):
        m = masks[r]
        sj = np.uint64(j)
        k = 0
        while k < 64:
            for q in range(lanes):
                t = ((x[k, q] >> sj) ^ x[k + j, q]) & m
                x[k + j, q] ^= t
                x[k, q] ^= t << sj
            k = ((k | j) + 1) & ~j
        j >>= 1


@njit(cache=True, nogil=True)
def _from_planes(planes, row0, width, n, out, masks):
    buf = np.empty(64, np.uint64)
    for w in range((n + 63) // 64):
        for i in range(width):
            buf[i] = planes[row0 + i, w]
        for i in range(width, 64):
            buf[i] = 0
        transpose64(buf, masks)
        base = w * 64
        for v in range(min(64, n - base)):
            out[base + v] = buf[v]


_GROUP_WORDS = 8  # words transposed before their rows are written: one 64-byte line per plane row


@njit(cache=True, nogil=True)
def _pack(values, seg, groups, planes, masks):
    n = values.shape[1]
    nrows = planes.shape[0]
    buf = np.empty((64, _GROUP_WORDS), np.uint64)  # buf[v, k]: vector v of word w0 + k
    full = ~np.uint64(0)
    nw = (n + 63) // 64
    for w0 in range(0, nw, _GROUP_WORDS):
        kw = min(_GROUP_WORDS, nw - w0)
        for g in range(groups.shape[0] - 1):
            buf[:] = 0
            for s in range(groups[g], groups[g + 1]):
                src, shift, dst, length = seg[s, 0], np.uint64(seg[s, 1]), np.uint64(seg[s, 2]), seg[s, 3]
                m = full if length == 64 else (np.uint64(1) << np.uint64(length)) - np.uint64(1)
                for k in range(kw):
                    base = (w0 + k) * 64
                    for v in range(min(64, n - base)):
                        buf[v, k] |= ((values[src, base + v] >> shift) & m) << dst
            transpose64_lanes(buf, masks)
            for i in range(min(64, nrows - 64 * g)):
                for k in range(kw):
                    planes[64 * g + i, w0 + k] = buf[i, k]


@njit(cache=True, nogil=True)
def _unpack(planes, seg, groups, out, masks):
    n = out.shape[1]
    nrows = planes.shape[0]
    buf = np.zeros((64, _GROUP_WORDS), np.uint64)  # buf[i, k]: plane row 64g + i of word w0 + k
    full = ~np.uint64(0)
    nw = (n + 63) // 64
    for w0 in range(0, nw, _GROUP_WORDS):
        kw = min(_GROUP_WORDS, nw - w0)
        for g in range(groups.shape[0] - 1):
            buf[:] = 0
            for i in range(min(64, nrows - 64 * g)):
                for k in range(kw):
                    buf[i, k] = planes[64 * g + i, w0 + k]
            transpose64_lanes(buf, masks)
            for s in range(groups[g], groups[g + 1]):
                dst, shift, src, length = seg[s, 0], np.uint64(seg[s, 1]), np.uint64(seg[s, 2]), seg[s, 3]
                m = full if length == 64 else (np.uint64(1) << np.uint64(length)) - np.uint64(1)
                for k in range(kw):
                    base = (w0 + k) * 64
                    for v in range(min(64, n - base)):
                        out[dst, base + v] |= ((buf[v, k] >> src) & m) << shift


def _segments(widths) -> tuple[np.ndarray, np.ndarray]:
    """Rows of values (widths <= 64 bits each) laid on consecutive plane rows from 0, cut at every 64th plane
    row: segments (value row, bit offset in the value, plane row within its group of 64, length), and the
    start of each group's segments."""
    seg, groups, row = [], [0], 0
    for k, width in enumerate(widths):
        done = 0
        while done < width:
            length = min(width - done, 64 - row % 64)
            seg.append((k, done, row % 64, length))
            done += length
            row += length
            if row % 64 == 0:
                groups.append(len(seg))
    if row % 64:
        groups.append(len(seg))
    return np.array(seg, np.int64).reshape(-1, 4), np.array(groups, np.int64)


def pack_rows(values: np.ndarray, widths, planes: np.ndarray) -> None:
    """Write the low widths[k] bits of each row k of `values` (k, n) uint64 into consecutive rows of `planes`
    from row 0, 64 plane rows per transpose (several narrow rows share one)."""
    seg, groups = _segments(widths)
    _pack(np.ascontiguousarray(values, dtype=np.uint64), seg, groups, planes, MASKS)


def unpack_rows(planes: np.ndarray, widths, n: int) -> np.ndarray:
    """The inverse of pack_rows: (len(widths), n) uint64 values read from consecutive rows of `planes`."""
    seg, groups = _segments(widths)
    out = np.zeros((len(widths), n), np.uint64)
    _unpack(planes, seg, groups, out, MASKS)
    return out


def from_planes(planes: np.ndarray, row0: int, width: int, n: int) -> np.ndarray:
    """Read `width` rows of `planes` starting at row0 back into n uint64 values."""
    if width > 64:
        raise ValueError(f"bit planes of integers hold at most 64 bits, not {width}")
    out = np.empty(n, np.uint64)
    _from_planes(planes, row0, width, n, out, MASKS)
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
