"""One Numba interpreter for every netlist, generated from the gate table, and the single-fault campaign kernel.

Opcode arrays, liveness-compacted signal slots (circuits.plan), a block of B words per gate, with permanent
faults (per gate a keep and a force mask: (gate & keep) ^ force, circuits.faults) and transient flips
(circuits.rng). No compile per netlist; used for permanent faults and for one-off or huge netlists.
`detect_counts` propagates single stuck-at faults through their fan-out cones (circuits.campaign).
"""

from __future__ import annotations

from circuits.cache import load_source
from circuits.gates import KINDS
from circuits.layout import CHUNK_BLOCKS, B
from circuits.rng import RNG_SOURCE


def gate_source() -> list[str]:
    """Source lines of `gate(op, a, b, c)`: one gate of any kind on uint64 words (from the gate table), and of
    `gates_block`: the whole netlist on a block of layout.B words."""
    lines = ["@njit(cache=True, nogil=True, inline='always')", "def gate(op, a, b, c):"]
    for name, kind in KINDS.items():
        lines += [f"    if op == {kind.opcode}:  # {name}", f"        return {kind.expr}"]
    return lines + ["    return a", f'''

@njit(cache=True, nogil=True, inline='always')
def gates_block(v, ops, sa, sb, sc, dst, keep, force, fm):
    """Every gate in order on the {B} words of v (signal slots x {B}): slot dst[g] := ((gate & keep[g]) ^ force[g])
    ^ fm[g * {B} + j], its inputs the slots sa[g], sb[g], sc[g]."""
    for g in range(ops.shape[0]):
        op = ops[g]
        ka = sa[g]
        kb = sb[g]
        kc = sc[g]
        kd = dst[g]
        kk = keep[g]
        kf = force[g]
        for j in range({B}):
            v[kd, j] = ((gate(op, v[ka, j], v[kb, j], v[kc, j]) & kk) ^ kf) ^ fm[g * {B} + j]''']


def interpreter_source() -> str:
    lines = ["import numpy as np", "from numba import njit, prange", "", f"B = {B}", f"CHUNK = {CHUNK_BLOCKS}",
             RNG_SOURCE, "", *gate_source()]
    lines += ['''

@njit(cache=True, nogil=True)
def run_blocks(inp, out, b0, b1, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed, k0,
               cdf):
    ng = ops.shape[0]
    v = np.empty((nslots, B), np.uint64)
    fm = np.zeros(ng * B, np.uint64)
    touched = np.empty(int(min(p, DENSE_P) * ng * B * 128) + 256, np.int64)
    state = np.uint64(0)
    for j in range(B):
        v[0, j] = 0
        v[1, j] = ~np.uint64(0)
    for blk in range(b0, b1):
        w0 = blk * B
        for i in range(in_slot.shape[0]):
            for j in range(B):
                v[in_slot[i], j] = inp[i, w0 + j]
        if blk == b0 or blk % CHUNK == 0:
            state = _seed_chunk(seed, blk // CHUNK)
        state, nt = _fill_flips(fm, 0, ng * B, p, state, touched, k0, cdf)
        gates_block(v, ops, sa, sb, sc, dst, keep, force, fm)
        _clear_flips(fm, 0, ng * B, touched, nt)
        for k in range(out_slot.shape[0]):
            for j in range(B):
                out[k, w0 + j] = v[out_slot[k], j]


@njit(cache=True, nogil=True, parallel=True)
def run_parallel(inp, out, nblocks, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed, k0,
                 cdf):
    nchunks = (nblocks + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        run_blocks(inp, out, c * CHUNK, min(nblocks, (c + 1) * CHUNK), ops, sa, sb, sc, dst, in_slot, out_slot,
                   nslots, keep, force, p, seed, k0, cdf)


@njit(cache=True, nogil=True, parallel=True)
def detect_counts(inp, nblocks, nvec, ops, args, out_nets, sites, stuck, cone_ptr, cone, counts, per_bit, parts):
    """Parallel-pattern single-fault propagation: counts[f] += vectors where fault f changes an output,
    per_bit[f, k] += vectors where it changes output bit k. Fault f is gate sites[f] stuck at stuck[f];
    only the gates of that gate's fan-out cone (cone[cone_ptr[g]:cone_ptr[g+1]]) are re-evaluated.
    The blocks are split into `parts` ranges run in parallel, each counting on its own."""
    nf = sites.shape[0]
    part_counts = np.zeros((parts, nf), np.int64)
    part_bits = np.zeros((parts, nf, out_nets.shape[0]), np.int64)
    per = (nblocks + parts - 1) // parts
    for t in prange(parts):
        _detect_range(inp, t * per, min(nblocks, (t + 1) * per), nvec, ops, args, out_nets, sites, stuck, cone_ptr,
                      cone, part_counts[t], part_bits[t])
    for t in range(parts):
        counts += part_counts[t]
        per_bit += part_bits[t]


@njit(cache=True, nogil=True)
def _detect_range(inp, b0, b1, nvec, ops, args, out_nets, sites, stuck, cone_ptr, cone, counts, per_bit):
    ng = ops.shape[0]
    nin = inp.shape[0]
    base = 2 + nin
    nn = base + ng
    v = np.empty((nn, B), np.uint64)
    fv = np.empty((nn, B), np.uint64)
    stamp = np.full(nn, -1, np.int64)
    valid = np.empty(B, np.uint64)
    for j in range(B):
        v[0, j] = 0
        v[1, j] = ~np.uint64(0)
    for blk in range(b0, b1):
        w0 = blk * B
        for j in range(B):
            first = (w0 + j) * 64
            rem = nvec - first
            if rem >= 64:
                valid[j] = ~np.uint64(0)
            elif rem <= 0:
                valid[j] = 0
            else:
                valid[j] = (np.uint64(1) << np.uint64(rem)) - np.uint64(1)
        for i in range(nin):
            for j in range(B):
                v[2 + i, j] = inp[i, w0 + j]
        for g in range(ng):
            op = ops[g]
            a = args[g, 0]
            b = args[g, 1]
            c = args[g, 2]
            for j in range(B):
                v[base + g, j] = gate(op, v[a, j], v[b, j], v[c, j])
        for f in range(sites.shape[0]):
            g = sites[f]
            tag = blk * sites.shape[0] + f
            val = ~np.uint64(0) if stuck[f] else np.uint64(0)
            for j in range(B):
                fv[base + g, j] = val
            stamp[base + g] = tag
            for q in range(cone_ptr[g], cone_ptr[g + 1]):
                h = cone[q]
                op = ops[h]
                a = args[h, 0]
                b = args[h, 1]
                c = args[h, 2]
                ra = fv if stamp[a] == tag else v
                rb = fv if stamp[b] == tag else v
                rc = fv if stamp[c] == tag else v
                for j in range(B):
                    fv[base + h, j] = gate(op, ra[a, j], rb[b, j], rc[c, j])
                stamp[base + h] = tag
            for j in range(B):
                diff = np.uint64(0)
                for k in range(out_nets.shape[0]):
                    n = out_nets[k]
                    if stamp[n] == tag:
                        d = (fv[n, j] ^ v[n, j]) & valid[j]
                        diff |= d
                        if d:
                            per_bit[f, k] += _popcount(d)
                if diff:
                    counts[f] += _popcount(diff)


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
''']
    return "\n".join(lines)


def interpreter():
    """The generated interpreter module (shared by all netlists)."""
    return load_source(interpreter_source(), "interp", ("run_blocks", "run_parallel", "detect_counts"))
