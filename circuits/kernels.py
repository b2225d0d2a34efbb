"""Numba kernels generated from the gate table, cached on disk.

Two kinds of evaluator, both generated as Python source from `circuits.gates.KINDS` and imported
from a cache folder so that `@njit(cache=True)` keeps the machine code for later processes:

- a straight-line kernel per netlist: one loop over the B words of a block holds the whole netlist as
  scalar locals (`s93 = ~(s12 & s40)`); inputs and outputs are staged in one flat buffer at constant
  offsets so LLVM vectorises the loop (blocks of CLEAN_B words; B words with flips, whose masks then stay
  in L1). Fastest, but compiling costs seconds per netlist (once, then
  cached). Two variants: fault-free, and transient flips (each gate output XOR a flip mask);
- one interpreter for every netlist: opcode arrays, liveness-compacted signal slots, a block of B words
  per gate, with stuck-at faults (per gate a keep and a force mask) and flips. No compile per netlist;
  used for stuck-at faults and for one-off or huge netlists.

Transient flips: each gate output flips independently with probability p for each vector. Per block a
binomial count of flips is drawn (inverse CDF from a table), then that many distinct bit positions
(rejection of repeats); for p > DENSE_P every bit is drawn. Streams are keyed by (seed, chunk of
CHUNK_BLOCKS blocks), so both evaluators draw the same flips and results do not depend on threads.

The cache is verified, never trusted: a kernel file is named by the hash of its source and ends with a
`# sha256 ...` line; one that does not hold exactly the generated source is rebuilt, and Numba's cache files
(*.nbi, *.nbc) that cannot be read back are deleted before first use, each with a one-line CacheWarning. An
unusable cache folder gives way to a temporary one for the rest of the process (with a warning).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import warnings
from concurrent.futures import Future
from pathlib import Path

from circuits.faults import DENSE_P
from circuits.gates import BY_OPCODE, KINDS, render

B = 8  # words per block of the flip kernel, the interpreter and the campaign: 512 vectors
CLEAN_B = 32  # words per block of the fault-free straight-line kernel: 2,048 vectors (measured fastest)
WORDS = 32  # input planes are padded to a multiple of this many words (a multiple of B and CLEAN_B)
CHUNK_BLOCKS = 64  # blocks of B words per parallel task (and per flip stream): 32,768 vectors
GENERATOR_VERSION = "6"


class CacheWarning(UserWarning):
    """A cached kernel or model was unusable (rebuilt), or the cache folder was (a temporary one is used)."""


_fallbacks: dict[Path, Path] = {}  # configured cache folder -> temporary folder used instead in this process


def cache_root() -> Path:
    """$TESTBED_CACHE, else ~/.cache/nn-vs-digital-testbed (kernels/ and models/ live below it)."""
    return Path(os.environ.get("TESTBED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                  "nn-vs-digital-testbed"))


def usable_dir(path: Path) -> Path:
    """`path`, created if needed; a temporary folder instead (one warning per process) when it cannot be."""
    if path in _fallbacks:
        return _fallbacks[path]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fall_back(path, exc)
    return path


def fall_back(path: Path, exc: BaseException) -> Path:
    """The temporary folder that replaces the unusable cache folder `path` for the rest of the process."""
    if path not in _fallbacks:
        tmp = Path(tempfile.mkdtemp(prefix=f"testbed-{path.name}-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        _fallbacks[path] = tmp
        reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
        warn(f"cache folder {path} is unusable ({reason}); using {tmp} for this process")
    return _fallbacks[path]


def warn(message: str) -> None:
    """One line about the cache on stderr (a CacheWarning)."""
    warnings.warn(" ".join(message.split()), CacheWarning, stacklevel=3)


def cache_dir() -> Path:
    """Where generated kernels live: cache_root()/kernels (a temporary folder when that is unusable or others
    can write it: its files are imported)."""
    from circuits.jitcache import private_dir

    return private_dir(usable_dir(cache_root() / "kernels"))


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to `path` (mode 0644) through a temporary file, into the fallback folder when path's
    folder is unwritable. Returns the path written."""
    folder = usable_dir(path.parent)
    try:
        return _write(folder / path.name, data)
    except OSError as exc:
        if folder in _fallbacks.values():
            raise
        return _write(fall_back(path.parent, exc) / path.name, data)


def _write(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def verify_numba_cache(namespace: dict, where) -> None:
    """Read back the Numba cache files of every cached dispatcher in `namespace` (a module's globals) before
    first use, as Numba would. Unreadable ones (truncated, garbage, wrong format) are deleted, with a warning,
    so Numba compiles afresh; where they cannot be deleted, caching is turned off for that function."""
    for obj in list(namespace.values()):
        cache = getattr(obj, "_cache", None)
        cfile = getattr(cache, "_cache_file", None)
        if cfile is None or not hasattr(cfile, "_load_index") or not hasattr(cfile, "_load_data"):
            continue
        try:
            for data_name in cfile._load_index().values():
                try:
                    cfile._load_data(data_name)
                except FileNotFoundError:
                    pass  # Numba compiles a missing entry afresh
        except Exception as exc:  # anything Numba would fail on when loading this function's cache
            folder = Path(cache._cache_path)
            base = cfile._index_name.removesuffix(".nbi")
            try:
                for f in folder.iterdir():
                    if f.name == cfile._index_name or (f.name.startswith(base + ".") and f.name.endswith(".nbc")):
                        f.unlink()
                done = "deleted"
            except OSError:
                cache.disable()
                done = "cannot be deleted; compiling without a cache"
            warn(f"{where}: Numba cache of {obj.__name__} in {folder} is unreadable ({type(exc).__name__}); {done}")


_RNG_SOURCE = '''
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
    low32 = np.uint64(0xFFFFFFFF)
    reject = (np.uint64(1 << 32) - n32) % n32  # Lemire's method: exactly uniform positions
    draws = np.uint64(0)
    spare = False
    while placed < count:
        if spare:  # two 32-bit draws per 64-bit output
            x = draws & low32
        else:
            state += _GOLD
            draws = _mix(state)
            x = draws >> np.uint64(32)
        spare = not spare
        m = x * n32
        if (m & low32) < reject:
            continue
        pos = int(m >> np.uint64(32))
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


def _straight_line_source(netlist) -> str:
    ni, no, ng = netlist.n_input_bits, sum(len(v) for v in netlist.outputs.values()), netlist.n_gates
    base = netlist.first_gate_net
    outs = [int(n) for v in netlist.outputs.values() for n in v]
    names = {0: "c0", 1: "c1"}

    def name(net: int) -> str:
        return names.get(net, f"s{net}")

    def expr(g: int) -> str:
        kind = BY_OPCODE[int(netlist.ops[g])]
        return render(kind, *(name(int(netlist.args[g, i])) for i in range(KINDS[kind].arity)))

    # One staging array per block: inputs at 0, outputs at OUT, flip masks at FM (constant offsets, so
    # LLVM proves the accesses do not overlap and vectorises the word loop).
    lines = ["import numpy as np", "from numba import njit, prange", "", f"NI = {ni}", f"NO = {no}", f"NG = {ng}",
             _RNG_SOURCE]
    for flips in (False, True):
        b = B if flips else CLEAN_B  # words per block of this variant
        chunk = CHUNK_BLOCKS * B // b  # blocks per parallel task: the same vectors for both variants
        out_at, fm_at = ni * b, (ni + no) * b
        extra = ", p, seed, k0, cdf" if flips else ""
        kind = "flip" if flips else "clean"
        lines += ["", "@njit(cache=True, nogil=True, fastmath=False)", f"def {kind}_blocks(inp, out, b0, b1{extra}):",
                  f"    st = np.zeros({(ni + no + (ng if flips else 0)) * b}, np.uint64)",
                  "    c0 = np.uint64(0)", "    c1 = ~c0"]
        if flips:
            lines += [f"    touched = np.empty(int(min(p, DENSE_P) * {ng * b * 128}) + 256, np.int64)",
                      "    state = np.uint64(0)"]
        lines += ["    for blk in range(b0, b1):", f"        w0 = blk * {b}",
                  "        for i in range(NI):", f"            for j in range({b}):",
                  f"                st[i * {b} + j] = inp[i, w0 + j]"]
        if flips:
            lines += [f"        if blk == b0 or blk % {chunk} == 0:",
                      f"            state = _seed_chunk(seed, blk // {chunk})",
                      f"        state, nt = _fill_flips(st, {fm_at}, {ng * b}, p, state, touched, k0, cdf)"]
        lines += [f"        for j in range({b}):"]
        lines += [f"            s{2 + i} = st[{i * b} + j]" for i in range(ni)]
        for g in range(ng):
            e = expr(g)
            lines.append(f"            s{base + g} = " + (f"({e}) ^ st[{fm_at + g * b} + j]" if flips else e))
        lines += [f"            st[{out_at + k * b} + j] = {name(n)}" for k, n in enumerate(outs)]
        if flips:
            lines += [f"        _clear_flips(st, {fm_at}, {ng * b}, touched, nt)"]
        lines += ["        for k in range(NO):", f"            for j in range({b}):",
                  f"                out[k, w0 + j] = st[{out_at} + k * {b} + j]"]
        lines += ["", "@njit(cache=True, nogil=True, parallel=True)",
                  f"def {kind}_parallel(inp, out, nblocks{extra}):",
                  f"    nchunks = (nblocks + {chunk - 1}) // {chunk}", "    for c in prange(nchunks):",
                  f"        {kind}_blocks(inp, out, c * {chunk}, min(nblocks, (c + 1) * {chunk}){extra})"]
    return "\n".join(lines) + "\n"


SEGMENT_GATES = 400  # gates per function of a segmented kernel: compile time stays linear in the gate count


def _segmented_source(netlist, slot) -> str:
    """Fault-free kernel of a large netlist as functions of at most SEGMENT_GATES gates each, run one after
    another on a flat buffer of signal slots (slot[net] from circuits.plan, CLEAN_B words each, at constant
    offsets): each loads the nets it reads from earlier segments, computes its gates as locals and stores
    the nets that later segments or the outputs read. Loads come before stores, so reused slots are safe."""
    base, ng, b = netlist.first_gate_net, netlist.n_gates, CLEAN_B
    last = [-1] * netlist.n_nets
    for g in range(ng):
        for k in range(KINDS[BY_OPCODE[int(netlist.ops[g])]].arity):
            last[int(netlist.args[g, k])] = g
    for v in netlist.outputs.values():
        for n in v:
            last[int(n)] = ng
    names = {0: "c0", 1: "c1"}
    lines = ["import numpy as np", "from numba import njit", "", f"W = {b}"]
    nseg = -(-ng // SEGMENT_GATES)
    for k in range(nseg):
        g0, g1 = k * SEGMENT_GATES, min(ng, (k + 1) * SEGMENT_GATES)
        body, loaded = [], set()
        for g in range(g0, g1):
            kind = BY_OPCODE[int(netlist.ops[g])]
            ins = []
            for i in range(KINDS[kind].arity):
                n = int(netlist.args[g, i])
                if n >= 2 and n < base + g0 and n not in loaded:
                    loaded.add(n)
                    body.insert(len(loaded) - 1, f"        s{n} = v[{int(slot[n]) * b} + j]")
                ins.append(names.get(n, f"s{n}"))
            body.append(f"        s{base + g} = {render(kind, *ins)}")
        body += [f"        v[{int(slot[base + g]) * b} + j] = s{base + g}"
                 for g in range(g0, g1) if last[base + g] >= g1]
        lines += ["", "", "@njit(cache=True, nogil=True, fastmath=False)", f"def seg{k}(v):", "    c0 = np.uint64(0)",
                  "    c1 = ~c0", f"    for j in range({b}):", *body]
    lines += ["", "", f"SEGMENTS = ({''.join(f'seg{k}, ' for k in range(nseg))})"]
    return "\n".join(lines) + "\n"


def _interpreter_source() -> str:
    lines = ["import numpy as np", "from numba import njit, prange", "", f"B = {B}", f"CHUNK = {CHUNK_BLOCKS}",
             _RNG_SOURCE, "", "@njit(cache=True, nogil=True, inline='always')", "def gate(op, a, b, c):"]
    for name, kind in KINDS.items():
        lines += [f"    if op == {kind.opcode}:  # {name}", f"        return {kind.expr}"]
    lines += ["    return a"]
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


def _module_name(source: str, stem: str) -> str:
    """The content-hashed module name of generated source (its file in the cache folder is NAME.py)."""
    return f"_tb_{stem}_{hashlib.sha256((GENERATOR_VERSION + source).encode()).hexdigest()[:16]}"


def _load(source: str, stem: str, names: tuple[str, ...]):
    """Import generated `source` from the cache folder, writing it first (atomically) unless the file there
    holds exactly this source (verified: name and last line carry its hash); anything else is rebuilt."""
    modname = _module_name(source, stem)
    if modname in sys.modules:
        return sys.modules[modname]
    text = (source + f"# sha256 {hashlib.sha256(source.encode()).hexdigest()}\n").encode()
    path = cache_dir() / f"{modname}.py"
    problem = _mismatch(path, text)
    if problem:
        if problem != "missing":
            warn(f"cached kernel {path} {problem}; rebuilding it")
        path = write_atomically(path, text)
    try:
        module = _import(modname, path, names)
    except Exception as exc:  # verified source that does not import here: Numba cannot cache in this folder
        if path.parent in _fallbacks.values():
            raise
        module = _import(modname, _write(fall_back(path.parent, exc) / path.name, text), names)
    return module


def _mismatch(path: Path, text: bytes) -> str | None:
    """None when `path` holds exactly `text`; else what is wrong with it ("missing" when absent)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"is unreadable ({exc.strerror or exc})"
    if data == text:
        return None
    if not data:
        return "is empty"
    return f"fails verification (sha256 mismatch; {len(data)} bytes, expected {len(text)})"


def _import(modname: str, path: Path, names: tuple[str, ...]):
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
        missing = [n for n in names if not callable(getattr(module, n, None))]
        if missing:
            raise ImportError(f"{path} lacks {', '.join(missing)}")
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    verify_numba_cache(vars(module), path)
    return module


_straight_cache: dict[str, object] = {}
_STRAIGHT_NAMES = ("clean_blocks", "clean_parallel", "flip_blocks", "flip_parallel")
_lock = threading.RLock()  # source generation and import of straight-line modules, one at a time


def straight_line(netlist):
    """The generated straight-line kernel module of a netlist (generated and imported once per structure)."""
    key = netlist.fingerprint()
    with _lock:
        if key not in _straight_cache:
            _straight_cache[key] = _load(_straight_line_source(netlist), f"k{key}", _STRAIGHT_NAMES)
    return _straight_cache[key]


def segmented(netlist, slot):
    """The segmented fault-free kernel module of a large netlist (slot: its liveness slots, circuits.plan)."""
    key = "seg" + netlist.fingerprint()
    with _lock:
        if key not in _straight_cache:
            _straight_cache[key] = _load(_segmented_source(netlist, slot), key, ("seg0",))
    return _straight_cache[key]


def run_segmented(module, planes, out, nslots: int, in_count: int, out_slots) -> None:
    """Fault-free outputs of a segmented kernel: CLEAN_B words at a time, inputs copied into their slots, the
    segments run in order, output slots copied out."""
    import numpy as np

    v = np.zeros(nslots * CLEAN_B, np.uint64)
    rows = v.reshape(nslots, CLEAN_B)
    for w0 in range(0, planes.shape[1], CLEAN_B):
        rows[2:2 + in_count] = planes[:, w0:w0 + CLEAN_B]
        for seg in module.SEGMENTS:
            seg(v)
        out[:, w0:w0 + CLEAN_B] = rows[out_slots]


_on_disk: dict[tuple[str, str], bool] = {}
_pending: dict[tuple[str, str], Future] = {}


def ready(netlist, function: str) -> bool:
    """Whether the straight-line kernel `function` (one of clean_blocks, clean_parallel, flip_blocks,
    flip_parallel, or 'segmented' for every segment of a large netlist's kernel) of this netlist runs without
    compiling: compiled in this process, or in Numba's disk cache (its index files exist; looked for once per
    netlist, function and process)."""
    key = netlist.fingerprint()
    if function == "segmented":
        module = _straight_cache.get("seg" + key)
        if module is not None and all(seg.signatures for seg in module.SEGMENTS):
            return True
        if (key, function) not in _on_disk:  # named by the netlist (its source is too big to generate here)
            found = len(list((cache_dir() / "__pycache__").glob(f"_tb_seg{key}_*.seg*-*.nbi")))
            _on_disk[key, function] = found >= -(-netlist.n_gates // SEGMENT_GATES)
        return _on_disk[key, function]
    module = _straight_cache.get(key)
    if module is not None and getattr(module, function).signatures:
        return True
    if (key, function) not in _on_disk:
        name = _module_name(_straight_line_source(netlist), f"k{key}")
        _on_disk[key, function] = any((cache_dir() / "__pycache__").glob(f"{name}.{function}-*.nbi"))
    return _on_disk[key, function]


def compile_later(netlist, function: str) -> Future:
    """Compile the straight-line kernel `function` of this netlist in a background (daemon) thread; the future
    is done when it is ready (its result None, or the exception raised). One compilation per netlist and
    function at a time; a process that exits first leaves it uncompiled (Numba writes its cache atomically)."""
    key = (netlist.fingerprint(), function)
    with _lock:
        if key in _pending:
            return _pending[key]
        done: Future = Future()
        _pending[key] = done

    def work():
        import numpy as np

        try:
            if function == "segmented":
                from circuits.plan import liveness_slots  # circuits.plan imports this module

                slot, nslots = liveness_slots(netlist)
                v = np.zeros(nslots * CLEAN_B, np.uint64)
                for seg in segmented(netlist, slot).SEGMENTS:
                    seg(v)
                done.set_result(None)
                return
            words = max(CLEAN_B, B)
            inp = np.zeros((netlist.n_input_bits, words), np.uint64)
            out = np.zeros((sum(len(v) for v in netlist.outputs.values()), words), np.uint64)
            fn = getattr(straight_line(netlist), function)
            flips = (0.0, 0, *binomial_cdf(netlist.n_gates, 0.0)) if function.startswith("flip") else ()
            fn(inp, out, 0, 0, *flips) if function.endswith("blocks") else fn(inp, out, 0, *flips)
            done.set_result(None)
        except BaseException as exc:  # reported through the future; the caller keeps the interpreter
            done.set_exception(exc)

    threading.Thread(target=work, name=f"compile {function} of {netlist.name}", daemon=True).start()
    return done


def interpreter():
    """The generated interpreter module (shared by all netlists)."""
    return _load(_interpreter_source(), "interp", ("run_blocks", "run_parallel", "detect_counts"))


@functools.lru_cache(maxsize=64)
def binomial_cdf(n_gates: int, p: float):
    """(k0, cdf), cached (do not modify cdf): the CDF of the number of flips per block,
    Binomial(n_gates * B * 64, p), at k0, k0+1, ...
    over mean +- 12 standard deviations (the mass outside is below 1e-30); cdf[-1] is exactly 1."""
    import math

    import numpy as np

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
