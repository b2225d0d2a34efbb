"""Numba kernels generated from the gate table, cached on disk.

Two kinds of evaluator, both generated as Python source from `circuits.gates.KINDS` and imported
from a cache folder so that `@njit(cache=True)` keeps the machine code for later processes:

- a straight-line kernel per netlist: one loop over the B words of a block holds the whole netlist as
  scalar locals (`s93 = ~(s12 & s40)`); inputs are staged into a flat buffer first so LLVM vectorises
  the loop. Fastest, but compiling costs seconds per netlist (once, then cached);
- one interpreter for every netlist: opcode arrays, liveness-compacted signal slots, a block of B words
  per gate. No compile per netlist; used for one-off or huge netlists.

Both take the same fault operands: per gate a keep mask and a force mask (stuck-at 0: keep 0, force 0;
stuck-at 1: keep 0, force ~0) and a transient flip probability p per gate output and vector, drawn per
block by geometric skips from a splitmix64 stream keyed by (seed, block index), so results do not
depend on threads or chunking.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from circuits.gates import BY_OPCODE, KINDS, render

B = 16  # words per block: 1,024 vectors
CHUNK_BLOCKS = 64  # blocks per parallel task: 65,536 vectors
GENERATOR_VERSION = "3"


def cache_dir() -> Path:
    """Where generated kernels live: $TESTBED_CACHE/kernels, else ~/.cache/nn-vs-digital-testbed/kernels."""
    root = os.environ.get("TESTBED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "nn-vs-digital-testbed")
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


_RNG_SOURCE = '''
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def _fill_flips(fm, nbits, p, lg, seed, blk):
    """Set each of the nbits bits of fm independently with probability p (geometric skips)."""
    for i in range(fm.shape[0]):
        fm[i] = 0
    if p <= 0.0:
        return
    state = _mix(np.uint64(seed) ^ (np.uint64(blk) * _GOLD)) + np.uint64(blk)
    pos = -1
    while True:
        state += _GOLD
        u = (float(_mix(state) >> np.uint64(11)) + 0.5) * 1.1102230246251565e-16
        gap = 0 if p >= 1.0 else int(np.floor(np.log(u) / lg))
        pos += 1 + gap
        if pos >= nbits or pos < 0:
            return
        fm[pos >> 6] ^= np.uint64(1) << np.uint64(pos & 63)
'''


def _straight_line_source(netlist) -> str:
    ni, no, ng = netlist.n_input_bits, sum(len(v) for v in netlist.outputs.values()), netlist.n_gates
    base = netlist.first_gate_net
    outs = [int(n) for v in netlist.outputs.values() for n in v]

    def name(net: int) -> str:
        return {0: "c0", 1: "c1"}.get(net, f"s{net}")

    def expr(g: int) -> str:
        kind = BY_OPCODE[int(netlist.ops[g])]
        return render(kind, *(name(int(netlist.args[g, i])) for i in range(KINDS[kind].arity)))

    lines = ["import numpy as np", "from numba import njit, prange", "", f"B = {B}", f"NI = {ni}",
             f"NO = {no}", f"NG = {ng}", f"NBITS = NG * B * 64", _RNG_SOURCE]
    for faulty in (False, True):
        fname = "_faulty_blocks" if faulty else "_clean_blocks"
        extra = ", keep, force, p, seed" if faulty else ""
        lines += ["", "@njit(cache=True, nogil=True, fastmath=False)", f"def {fname}(inp, out, b0, b1{extra}):",
                  "    sin = np.empty(NI * B, np.uint64)", "    sout = np.empty(NO * B, np.uint64)",
                  "    c0 = np.uint64(0)", "    c1 = ~c0"]
        if faulty:
            lines += ["    fm = np.zeros(NG * B, np.uint64)", "    lg = np.log1p(-p) if p < 1.0 else -np.inf"]
            lines += [f"    k{g} = keep[{g}]; f{g} = force[{g}]" for g in range(ng)]
        lines += ["    for blk in range(b0, b1):", "        w0 = blk * B",
                  "        for i in range(NI):", "            for j in range(B):",
                  "                sin[i * B + j] = inp[i, w0 + j]"]
        if faulty:
            lines += ["        _fill_flips(fm, NBITS, p, lg, seed, blk)"]
        lines += ["        for j in range(B):"]
        lines += [f"            s{2 + i} = sin[{i * B} + j]" for i in range(ni)]
        for g in range(ng):
            e = expr(g)
            if faulty:
                e = f"((({e}) & k{g}) | f{g}) ^ fm[{g * B} + j]"
            lines.append(f"            s{base + g} = {e}")
        lines += [f"            sout[{k * B} + j] = {name(n)}" for k, n in enumerate(outs)]
        lines += ["        for k in range(NO):", "            for j in range(B):",
                  "                out[k, w0 + j] = sout[k * B + j]"]
    for faulty in (False, True):
        fname = "_faulty_blocks" if faulty else "_clean_blocks"
        extra = ", keep, force, p, seed" if faulty else ""
        for par in (False, True):
            loop = "prange" if par else "range"
            lines += ["", f"@njit(cache=True, nogil=True{', parallel=True' if par else ''})",
                      f"def {'faulty' if faulty else 'clean'}_{'parallel' if par else 'serial'}"
                      f"(inp, out, nblocks{extra}):",
                      f"    nchunks = (nblocks + {CHUNK_BLOCKS - 1}) // {CHUNK_BLOCKS}",
                      f"    for c in {loop}(nchunks):",
                      f"        {fname}(inp, out, c * {CHUNK_BLOCKS}, min(nblocks, (c + 1) * {CHUNK_BLOCKS}){extra})"]
    return "\n".join(lines) + "\n"


def _interpreter_source() -> str:
    lines = ["import numpy as np", "from numba import njit, prange", "", f"B = {B}", _RNG_SOURCE, "",
             "@njit(cache=True, nogil=True, inline='always')", "def gate(op, a, b, c):"]
    for name, kind in KINDS.items():
        lines += [f"    if op == {kind.opcode}:  # {name}", f"        return {kind.expr}"]
    lines += ["    return a"]
    lines += ['''

@njit(cache=True, nogil=True)
def _blocks(inp, out, b0, b1, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed):
    ng = ops.shape[0]
    v = np.empty((nslots, B), np.uint64)
    fm = np.zeros(ng * B, np.uint64)
    lg = np.log1p(-p) if p < 1.0 else -np.inf
    for j in range(B):
        v[0, j] = 0
        v[1, j] = ~np.uint64(0)
    for blk in range(b0, b1):
        w0 = blk * B
        for i in range(in_slot.shape[0]):
            for j in range(B):
                v[in_slot[i], j] = inp[i, w0 + j]
        _fill_flips(fm, ng * B * 64, p, lg, seed, blk)
        for g in range(ng):
            op = ops[g]
            ka = sa[g]
            kb = sb[g]
            kc = sc[g]
            kd = dst[g]
            kk = keep[g]
            kf = force[g]
            for j in range(B):
                v[kd, j] = ((gate(op, v[ka, j], v[kb, j], v[kc, j]) & kk) | kf) ^ fm[g * B + j]
        for k in range(out_slot.shape[0]):
            for j in range(B):
                out[k, w0 + j] = v[out_slot[k], j]


@njit(cache=True, nogil=True, parallel=True)
def run_parallel(inp, out, nblocks, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed):
    nchunks = (nblocks + CHUNK - 1) // CHUNK
    for c in prange(nchunks):
        _blocks(inp, out, c * CHUNK, min(nblocks, (c + 1) * CHUNK), ops, sa, sb, sc, dst, in_slot, out_slot,
                nslots, keep, force, p, seed)


@njit(cache=True, nogil=True)
def run_serial(inp, out, nblocks, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed):
    _blocks(inp, out, 0, nblocks, ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, p, seed)


@njit(cache=True, nogil=True)
def detect_counts(inp, nblocks, nvec, ops, args, out_nets, sites, stuck, cone_ptr, cone, counts, per_bit):
    """Parallel-pattern single-fault propagation: counts[f] += vectors where fault f changes an output,
    per_bit[f, k] += vectors where it changes output bit k. Fault f is gate sites[f] stuck at stuck[f];
    only the gates of that gate's fan-out cone (cone[cone_ptr[g]:cone_ptr[g+1]]) are re-evaluated."""
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
    for blk in range(nblocks):
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
'''.replace("CHUNK", str(CHUNK_BLOCKS))]
    return "\n".join(lines)


def _load(source: str, stem: str):
    """Write `source` to the cache folder under a content-hashed name (atomically) and import it."""
    digest = hashlib.sha256((GENERATOR_VERSION + source).encode()).hexdigest()[:16]
    modname = f"_tb_{stem}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    path = cache_dir() / f"{modname}.py"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


_straight_cache: dict[str, object] = {}


def straight_line(netlist):
    """The generated straight-line kernel module of a netlist (generated and imported once per structure)."""
    key = netlist.fingerprint()
    if key not in _straight_cache:
        _straight_cache[key] = _load(_straight_line_source(netlist), f"k{key}")
    return _straight_cache[key]


def interpreter():
    """The generated interpreter module (shared by all netlists)."""
    return _load(_interpreter_source(), "interp")
