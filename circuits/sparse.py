"""Sparse transient flips: the flips the simulator's stream draws over a run of vectors, listed as (vector, gate)
pairs, and the netlist evaluated with those flips on the vectors they touch only.

A caller computes every untouched vector fault-free (a table of the netlist's outputs, or a fault-free kernel
pass) and replaces the touched ones by `simulate_touched`: the result is bit for bit the result of simulating
every vector with flips (`simulate_planes(..., faults=plan)` on planes of the same number of words), because
`flip_sites` draws the same stream (circuits.rng: per block of layout.B words a binomial count and distinct
positions, streams keyed by (seed, chunk of CHUNK_BLOCKS blocks)) and a flip at (gate g, vector v) is realised
as a flip mask of gate g in v's lane: out = ((gate & keep) ^ force) ^ flip, as the kernels apply it.
Pays off while a vector is rarely touched (n_gates * flip_p well below 1).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from circuits.bitplanes import MASKS
from circuits.cache import load_source
from circuits.faults import DENSE_P, GateFaultPlan
from circuits.interpreter import gate_source
from circuits.layout import CHUNK_BLOCKS, WORDS, B
from circuits.netlist import Netlist
from circuits.rng import RNG_SOURCE, binomial_cdf
from circuits.simulate import _interp_plan, fault_masks, pack_operands, simulate_planes, unpack_outputs

SEED_MASK = 0x7FFFFFFFFFFFFFFF  # seeds enter the kernels as non-negative int64
SPARSE_TOUCHED = 0.01  # sparse pays off while n_gates * flip_p (about the fraction of touched vectors) is below this

_SOURCE = "\n".join(["import numpy as np", "from numba import njit", "from circuits.bitplanes import transpose_fields",
                     "from numba.cpython.unsafe.numbers import trailing_zeros", RNG_SOURCE, *gate_source(), f'''

@njit(cache=True, nogil=True)
def draw(nblocks, ng, p, seed, k0, cdf):
    """Sorted keys vector * ng + gate of every flip of blocks 0..nblocks-1 (block: {B} words of ng gates): the
    stream of _fill_flips (a binomial count per block by inverting cdf, then distinct positions by Lemire's
    method, repeats redrawn), each position pos = (gate * {B} + word) * 64 + bit turned into its key as drawn."""
    nw = ng * {B}
    if p > DENSE_P:
        return _draw_dense(nblocks, ng, p, seed, k0, cdf)
    n32 = np.uint64(nw * 64)
    reject = (np.uint64(1 << 32) - n32) % n32
    fm = np.zeros(nw, np.uint64)  # the block's drawn positions (bits), cleared after each block
    keys = np.empty(int(p * nw * 64 * nblocks * 1.05) + 1024, np.int64)
    pos_of = np.empty(256, np.int64)
    start = np.searchsorted(cdf, 0.5)  # the walk to the inverse CDF starts at the median
    m = 0
    state = np.uint64(0)
    for blk in range(nblocks):
        if blk % {CHUNK_BLOCKS} == 0:
            state = _seed_chunk(seed, blk // {CHUNK_BLOCKS})
        state += _GOLD
        u = float(_mix(state) >> np.uint64(11)) * 1.1102230246251565e-16
        j = start  # the first index with cdf > u (np.searchsorted(cdf, u, side="right"))
        if cdf[j] <= u:
            j += 1
            while cdf[j] <= u:
                j += 1
        else:
            while j > 0 and cdf[j - 1] > u:
                j -= 1
        count = k0 + j
        if m + count > keys.shape[0]:
            keys = np.concatenate((keys, np.empty(max(keys.shape[0], count), np.int64)))
        big = count > 48
        if count > pos_of.shape[0]:
            pos_of = np.empty(2 * count, np.int64)
        base = np.int64(blk) * {B} * 64
        m0 = m
        spare = False
        draws = np.uint64(0)
        while m - m0 < count:
            state, draws, spare, pos = _position(state, draws, spare, n32, reject)
            if pos < 0:
                continue
            word = pos >> 6
            key = (base + (word % {B}) * 64 + (pos & 63)) * ng + word // {B}
            bit = np.uint64(1) << np.uint64(pos & 63)
            if fm[word] & bit:
                continue  # distinct positions: redraw
            fm[word] |= bit
            pos_of[m - m0] = word
            q = m
            if not big:
                while q > m0 and keys[q - 1] > key:  # insertion sort of the block's few keys
                    keys[q] = keys[q - 1]
                    q -= 1
            keys[q] = key
            m += 1
        if big:
            keys[m0:m] = np.sort(keys[m0:m])
        for t in range(m - m0):
            fm[pos_of[t]] = 0
    return keys[:m]



@njit(cache=True, nogil=True)
def draw_streams(nblocks, ng, p, seeds, k0, cdf):
    """draw for each seed in turn: (every stream's keys concatenated, the number of keys of each)."""
    parts = [draw(nblocks, ng, p, seeds[0], k0, cdf)]
    for r in range(1, seeds.shape[0]):
        parts.append(draw(nblocks, ng, p, seeds[r], k0, cdf))
    counts = np.empty(seeds.shape[0], np.int64)
    total = 0
    for r in range(seeds.shape[0]):
        counts[r] = parts[r].shape[0]
        total += counts[r]
    keys = np.empty(total, np.int64)
    m = 0
    for r in range(seeds.shape[0]):
        keys[m:m + counts[r]] = parts[r]
        m += counts[r]
    return keys, counts

@njit(cache=True, nogil=True)
def _draw_dense(nblocks, ng, p, seed, k0, cdf):
    """draw for p > DENSE_P (every bit drawn): the keys of _fill_flips' words."""
    nw = ng * {B}
    fm = np.zeros(nw, np.uint64)
    touched = np.empty(1, np.int64)
    keys = np.empty(1024, np.int64)
    m = 0
    state = np.uint64(0)
    one = np.uint64(1)
    for blk in range(nblocks):
        if blk % {CHUNK_BLOCKS} == 0:
            state = _seed_chunk(seed, blk // {CHUNK_BLOCKS})
        state, _ = _fill_flips(fm, 0, nw, p, state, touched, k0, cdf)
        if m + nw * 64 > keys.shape[0]:
            keys = np.concatenate((keys, np.empty(max(keys.shape[0], nw * 64), np.int64)))
        m0 = m
        for w in range(nw):
            word = fm[w]
            fm[w] = 0
            base = (blk * {B} + w % {B}) * 64 * ng + w // {B}
            while word:
                keys[m] = base + np.int64(trailing_zeros(word)) * ng
                word &= word - one  # the lowest set bit cleared
                m += 1
        keys[m0:m] = np.sort(keys[m0:m])
    return keys[:m]


@njit(cache=True, nogil=True)
def touched(planes, out, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, lane, gates):
    """out[:, q] := the netlist on the 64 vectors of input word q, flip f hitting gate gates[f] in lane[f]
    (vector lane[f] = 64 q + bit; lane sorted ascending)."""
    ng = ops.shape[0]
    v = np.empty(nslots, np.uint64)
    fm = np.zeros(ng, np.uint64)
    v[0] = 0
    v[1] = ~np.uint64(0)
    f = 0
    for q in range(planes.shape[1]):
        for i in range(in_slot.shape[0]):
            v[in_slot[i]] = planes[i, q]
        f0 = f
        while f < lane.shape[0] and lane[f] >> 6 == q:
            fm[gates[f]] ^= np.uint64(1) << np.uint64(lane[f] & 63)
            f += 1
        for g in range(ng):
            v[dst[g]] = ((gate(ops[g], v[sa[g]], v[sb[g]], v[sc[g]]) & keep[g]) ^ force[g]) ^ fm[g]
        for k in range(out_slot.shape[0]):
            out[k, q] = v[out_slot[k]]
        for t in range(f0, f):
            fm[gates[t]] = 0


@njit(cache=True, nogil=True)
def touched_pairs(x, y, x_at, y_at, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, lane, gates,
                  masks):
    """(T,) uint64: the output bits (bit k: output bit k in out_slot order) of a netlist of two input buses on T
    vectors, bus bits x_at[j] (y_at[j]) = bit j of x[t] (y[t]), flip f hitting gate gates[f] of vector lane[f]
    (lane sorted ascending); 64 vectors per word packed and unpacked by bit transposes of blocks as wide as the
    buses and the output (transpose_fields), {B} words per pass over the gates."""
    ng = ops.shape[0]
    t_n = x.shape[0]
    v = np.zeros((nslots, {B}), np.uint64)
    for j in range({B}):
        v[1, j] = ~np.uint64(0)
    fm = np.zeros(ng * {B}, np.uint64)
    buf = np.zeros(64, np.uint64)
    res = np.empty(t_n, np.uint64)
    n_out = out_slot.shape[0]
    wide = max(x_at.shape[0], y_at.shape[0])
    size_in = 16 if wide <= 16 else 32 if wide <= 32 else 64
    size_out = 16 if n_out <= 16 else 32 if n_out <= 32 else 64
    field = ~np.uint64(0) if size_out == 64 else np.uint64((1 << size_out) - 1)
    nwords = (t_n + 63) // 64
    f = 0
    for w0 in range(0, nwords, {B}):
        nb = min({B}, nwords - w0)
        for j in range(nb):
            q = w0 + j
            used = min(64, t_n - 64 * q)
            for src, at in ((x, x_at), (y, y_at)):
                for r in range(size_in):
                    buf[r] = 0
                bus = ~np.uint64(0) if at.shape[0] == 64 else (np.uint64(1) << np.uint64(at.shape[0])) - np.uint64(1)
                for t in range(used):  # field t // size_in of word t % size_in: lane t's value (its bus bits)
                    buf[t % size_in] |= (np.uint64(src[64 * q + t]) & bus) << np.uint64(size_in * (t // size_in))
                transpose_fields(buf, size_in, masks)
                for i in range(at.shape[0]):
                    v[in_slot[at[i]], j] = buf[i]
        f0 = f
        while f < lane.shape[0] and lane[f] >> 6 < w0 + nb:
            fm[gates[f] * {B} + (lane[f] >> 6) - w0] ^= np.uint64(1) << np.uint64(lane[f] & 63)
            f += 1
        gates_block(v, ops, sa, sb, sc, dst, keep, force, fm)
        for t in range(f0, f):
            fm[gates[t] * {B} + (lane[t] >> 6) - w0] = 0
        for j in range(nb):
            q = w0 + j
            for k in range(n_out):
                buf[k] = v[out_slot[k], j]
            for k in range(n_out, size_out):
                buf[k] = 0
            transpose_fields(buf, size_out, masks)
            for t in range(min(64, t_n - 64 * q)):
                res[64 * q + t] = (buf[t % size_out] >> np.uint64(size_out * (t // size_out))) & field
    return res


@njit(cache=True, nogil=True)
def lanes(vec):
    """(distinct vectors, lane of each flip): vec sorted ascending, lane[f] the index of vec[f] among them."""
    lane = np.empty(vec.shape[0], np.int64)
    uv = np.empty(vec.shape[0], np.int64)
    m = -1
    for f in range(vec.shape[0]):
        if m < 0 or vec[f] != uv[m]:
            m += 1
            uv[m] = vec[f]
        lane[f] = m
    return uv[:m + 1], lane
'''])


@functools.cache
def _kernels():
    return load_source(_SOURCE, "sparse", ("draw", "draw_streams", "touched", "touched_pairs", "lanes"))


def sparse_pays_off(netlist: Netlist, faults: GateFaultPlan) -> bool:
    """Whether the sparse path is the faster way to realise `faults`' flips on `netlist`."""
    return 0 < faults.flip_p <= DENSE_P and netlist.n_gates * faults.flip_p < SPARSE_TOUCHED


def _keys(netlist: Netlist, n_words: int, flip_p: float, seed: int) -> np.ndarray:
    """The draw kernel's sorted keys vector * n_gates + gate over planes of `n_words` words (a multiple of
    layout.WORDS) at flip_p from `seed`; empty without flips."""
    if n_words % WORDS:
        raise ValueError(f"n_words must be a multiple of {WORDS}, got {n_words}")
    if flip_p <= 0 or netlist.n_gates == 0:
        return np.zeros(0, np.int64)
    k0, cdf = binomial_cdf(netlist.n_gates, float(flip_p))
    return _kernels().draw(n_words // B, netlist.n_gates, float(flip_p), int(seed) & SEED_MASK, k0, cdf)


def flip_sites(netlist: Netlist, n_words: int, faults: GateFaultPlan) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, gates), sorted by vector then gate: every transient flip of `faults` that simulate_planes
    draws over input planes of `n_words` words (a multiple of layout.WORDS) of this netlist."""
    return np.divmod(_keys(netlist, n_words, faults.flip_p, faults.seed), max(netlist.n_gates, 1))


def simulate_touched(netlist: Netlist, operands: dict, lane: np.ndarray, gates: np.ndarray,
                     faults: GateFaultPlan) -> dict[str, np.ndarray]:
    """Outputs {bus: (T,) values} of the netlist on T touched vectors, operands {bus: (T,) values}, with the
    permanent faults of `faults` and the flips (lane[f], gates[f]): flip f hits gate gates[f] of vector lane[f]
    (lane sorted ascending). 64 vectors per simulation: each flip is a force mask of its gate in its vector's
    lane."""
    n = len(next(iter(operands.values())))
    keep, force = fault_masks(netlist, faults)
    planes, _ = pack_operands(netlist, operands)
    words = max(1, -(-n // 64))
    outs = np.zeros((sum(netlist.output_widths.values()), words), np.uint64)
    sa, sb, sc, dst, in_slot, out_slot, nslots = _interp_plan(netlist)
    _kernels().touched(np.ascontiguousarray(planes[:, :words]), outs, netlist.ops, sa, sb, sc, dst, in_slot,
                       out_slot, nslots, keep, force, np.ascontiguousarray(lane, np.int64),
                       np.ascontiguousarray(gates, np.int64))
    return unpack_outputs(netlist, outs, n)


def flip_sites_streams(netlist: Netlist, n_words: int, flip_p: float, seeds: np.ndarray) -> tuple:
    """(vectors, gates, counts): flip_sites of transient flips at flip_p over `n_words` words for each seed of
    `seeds` (int64) in turn (counts[r] flips of seeds[r], then the next seed's), drawn in one call."""
    if n_words % WORDS:
        raise ValueError(f"n_words must be a multiple of {WORDS}, got {n_words}")
    seeds = np.asarray(seeds, np.int64) & SEED_MASK
    if flip_p <= 0 or netlist.n_gates == 0 or not len(seeds):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(len(seeds), np.int64)
    k0, cdf = binomial_cdf(netlist.n_gates, float(flip_p))
    keys, counts = _kernels().draw_streams(n_words // B, netlist.n_gates, float(flip_p), seeds, k0, cdf)
    return (*np.divmod(keys, netlist.n_gates), counts)


def flip_keys(netlist: Netlist, total: int, faults: GateFaultPlan) -> np.ndarray:
    """Sorted keys vector * n_gates + gate of every flip of `faults` that simulate_planes draws over the planes of
    `total` vectors (padded to whole layout.WORDS words) falling on a vector below `total`."""
    keys = _keys(netlist, -(-max(total, 1) // (64 * WORDS)) * WORDS, faults.flip_p, faults.seed)
    return keys[:np.searchsorted(keys, total * netlist.n_gates)]


def touched_vectors(netlist: Netlist, total: int, faults: GateFaultPlan) -> tuple:
    """(distinct touched vectors (V,), lane (F,), gates (F,)): every flip of `faults` that simulate_planes draws
    over the planes of `total` vectors (padded to whole layout.WORDS words) falling on a vector below `total`,
    flip f on gate gates[f] of vector touched[lane[f]]."""
    vec, gat = np.divmod(flip_keys(netlist, total, faults), max(netlist.n_gates, 1))
    uv, lane = _kernels().lanes(vec)
    return uv, lane, gat


def simulate_touched_pairs(netlist: Netlist, x: np.ndarray, y: np.ndarray, lane: np.ndarray, gates: np.ndarray,
                           faults: GateFaultPlan) -> np.ndarray:
    """simulate_touched of a netlist with two input buses (x, y in its input order, bit patterns >= 0) and one
    output bus of at most 64 bits: its output bit patterns (T,) uint64, packed and unpacked in one kernel."""
    (bx, wx), (by, wy) = netlist.inputs.items()
    first = np.cumsum([0, wx])
    keep, force = fault_masks(netlist, faults)
    sa, sb, sc, dst, in_slot, out_slot, nslots = _interp_plan(netlist)
    return _kernels().touched_pairs(np.ascontiguousarray(x, np.int64), np.ascontiguousarray(y, np.int64),
                                    np.arange(first[0], first[0] + wx), np.arange(first[1], first[1] + wy),
                                    netlist.ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force,
                                    np.ascontiguousarray(lane, np.int64), np.ascontiguousarray(gates, np.int64), MASKS)



def simulate_sparse(netlist: Netlist, operands: dict, planes: np.ndarray, n: int, faults: GateFaultPlan,
                    threads: int = 1) -> dict[str, np.ndarray] | None:
    """circuits.simulate's outputs {bus: values} for operands {bus: values} (packed into `planes`, n vectors)
    with `faults`, by a fault-free (permanent faults only) kernel pass plus the touched vectors: bit for bit the
    full flip simulation. None when the plan cannot be stripped of its flips (no flip_p field to replace)."""
    try:
        clean = dataclasses.replace(faults, flip_p=0.0)
    except (TypeError, ValueError):
        return None
    out = unpack_outputs(netlist, simulate_planes(netlist, planes, faults=clean, threads=threads), n)
    touched, lane, gates = touched_vectors(netlist, n, faults)
    if len(touched):
        ops = {bus: np.broadcast_to(np.asarray(v), (n,))[touched] for bus, v in operands.items()}
        for bus, values in simulate_touched(netlist, ops, lane, gates, faults).items():
            out[bus][touched] = values
    return out

