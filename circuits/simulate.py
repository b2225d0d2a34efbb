"""Bit-parallel simulation of a netlist: integers in, integers out, with optional faults.

`simulate(netlist, {"a": ..., "b": ...})` (or `simulate(netlist, a=..., b=...)`) returns {output bus: values}.
Faults: one fault plan (`faults=`, a `circuits.GateFaultPlan` such as `GateFaults`), or GateFaults' fields as
keywords: `stuck=[(gate, 0 or 1), ...]`
(permanent stuck-at on gate outputs; gate by index or name) and `flip_p` (each gate output flips
independently with probability flip_p for every vector: transient faults), drawn from `seed`.

Engines: a generated straight-line kernel per netlist ('compiled') or one interpreter ('interpreter'); both
give bit-identical results, flips included. engine='auto' (the default) never waits for a compilation: it uses a
kernel that is ready (compiled in this process or in Numba's disk cache), and otherwise the interpreter, while
a kernel that would pay off is compiled in a background thread for later calls (see `choose_engine`).
`last_engine()` says which engine this thread's last simulation used.

Buses up to 64 bits wide are int64 arrays (uint64 for unsigned 64-bit buses); wider buses are object arrays of
Python ints, in and out.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np

from circuits import kernels, layout
from circuits.bitplanes import counter_planes, pack_rows, unpack_rows
from circuits.errors import NetlistError
from circuits.faults import GateFaultPlan, GateFaults
from circuits.interpreter import interpreter
from circuits.netlist import Netlist
from circuits.plan import liveness_slots
from circuits.rng import binomial_cdf

ENGINES = ("auto", "compiled", "interpreter")
MAX_COMPILED_GATES = 20_000  # largest netlist given one fault-free straight-line kernel (compiles in about 40 s)
MAX_SEGMENTED_GATES = 2_000_000  # largest netlist given a segmented fault-free kernel (about 6 ms of compile per gate)
SEGMENTED_PAYS_OFF = 1 << 24  # vectors of one call from which a segmented kernel is compiled (in the background)
MAX_FLIP_GATES = 2_000  # largest netlist given a flip kernel (the 16x16 multiplier's, 1,491 gates: about 35 s)
COMPILE_PAYS_OFF = 2e8  # gate evaluations of one call from which compiling a kernel (in the background) pays off
_last = threading.local()


def fault_masks(netlist: Netlist, faults: GateFaultPlan) -> tuple[np.ndarray, np.ndarray]:
    """Per-gate keep and force masks of a fault plan on this netlist (all-keep, no force when it masks nothing)."""
    masks = faults.masks(netlist.n_gates, netlist.gate_index)
    if masks is None:
        return np.full(netlist.n_gates, ~np.uint64(0), dtype=np.uint64), np.zeros(netlist.n_gates, dtype=np.uint64)
    return masks


_interp_plans: dict[str, tuple] = {}


def _interp_plan(netlist: Netlist):
    key = netlist.fingerprint()
    if key not in _interp_plans:
        slot, nslots = liveness_slots(netlist)
        args = netlist.args
        base = netlist.first_gate_net
        outs = np.concatenate(list(netlist.outputs.values()))
        _interp_plans[key] = (np.ascontiguousarray(slot[args[:, 0]]), np.ascontiguousarray(slot[args[:, 1]]),
                              np.ascontiguousarray(slot[args[:, 2]]),
                              np.ascontiguousarray(slot[base + np.arange(netlist.n_gates)]),
                              np.arange(2, base, dtype=np.int32), np.ascontiguousarray(slot[outs]), nslots)
    return _interp_plans[key]


def choose_engine(netlist: Netlist, n_vectors: int, engine: str = "auto", flip_p: float = 0.0, stuck=(),
                  threads: int = 1) -> str:
    """'compiled' (generated straight-line kernel) or 'interpreter'. 'auto' decides without blocking:

    1. permanent faults (stuck true), no gates, or more gates than a generated kernel handles (MAX_FLIP_GATES
       with flips: the flip kernel's compile time grows faster than linearly; MAX_SEGMENTED_GATES fault-free): the
       interpreter;
    2. the kernel function this call needs is ready: compiled. Fault-free netlists of up to MAX_COMPILED_GATES
       use one straight-line kernel (one thread or several), larger ones a segmented kernel (one thread);
    3. n_vectors * n_gates >= COMPILE_PAYS_OFF (segmented: n_vectors >= SEGMENTED_PAYS_OFF): the function is
       compiled in a background thread (for later calls) and this call uses the interpreter;
    4. otherwise the interpreter.
    """
    if engine not in ENGINES:
        raise NetlistError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    limit = MAX_FLIP_GATES if flip_p > 0 else MAX_SEGMENTED_GATES
    if stuck or not 0 < netlist.n_gates <= limit:
        return "interpreter"
    if netlist.n_gates > MAX_COMPILED_GATES and not flip_p:
        function, pays = "segmented", n_vectors >= SEGMENTED_PAYS_OFF
    else:
        function = f"{'flip' if flip_p > 0 else 'clean'}_{'parallel' if threads > 1 else 'blocks'}"
        pays = n_vectors * netlist.n_gates >= COMPILE_PAYS_OFF
    if kernels.ready(netlist, function):
        return "compiled"
    if pays:
        kernels.compile_later(netlist, function)
    return "interpreter"


def last_engine() -> str | None:
    """The engine ('compiled', 'interpreter', or 'timed' for a timing plan) of this thread's last simulate or
    simulate_planes call."""
    return getattr(_last, "engine", None)


@contextmanager
def measuring():
    """Collect, in a list this yields, what every fault plan that ran an evaluation itself measured in this
    thread's simulations inside the block (e.g. the timing reports of every layer of a network pass)."""
    logs = _last.__dict__.setdefault("logs", [])
    log: list = []
    logs.append(log)
    try:
        yield log
    finally:
        logs.pop()


def last_measured():
    """What the fault plan of this thread's last simulation measured when it ran the evaluation itself (a timing
    plan: circuits.timing_faults.TimingReport); None otherwise."""
    return getattr(_last, "measured", None)


def _faults(faults: GateFaultPlan | None, stuck, flip_p, seed) -> GateFaultPlan:
    """One fault plan from either the value or GateFaults' fields given as keywords (not both)."""
    if faults is None:
        return GateFaults(flip_p, tuple(stuck or ()), seed)
    if stuck or flip_p or seed:
        raise NetlistError("give faults= or stuck/flip_p/seed, not both")
    if not isinstance(faults, GateFaultPlan):
        raise NetlistError(f"faults must be a circuits.GateFaultPlan (such as GateFaults), got {type(faults).__name__}")
    return faults


def simulate_planes(netlist: Netlist, planes: np.ndarray, *, faults: GateFaultPlan | None = None, stuck=None,
                    flip_p: float = 0.0, seed: int = 0, engine: str = "auto", threads: int = 1,
                    out: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    """Simulate on input bit planes (n_input_bits, n_words), n_words a multiple of layout.WORDS.

    Returns output planes (n_output_bits, n_words), output buses in declaration order, bit 0 first,
    written into `out` when given (a uint64 array of that shape, reused across calls). Stuck-at faults run
    in the interpreter, as do a plan's other permanent masks; engine='compiled' with them is an error. A plan
    that runs the evaluation itself (a timing plan) runs on the first `n` vectors (default: all, padding
    included); what it measured is `last_measured()`.
    """
    if not isinstance(planes, np.ndarray) or planes.ndim != 2 or planes.shape[0] != netlist.n_input_bits \
            or planes.shape[1] % layout.WORDS:
        raise NetlistError(f"netlist {netlist.name!r}: input planes must be ({netlist.n_input_bits}, "
                           f"k*{layout.WORDS}), got {np.shape(planes)}")
    faults = _faults(faults, stuck, flip_p, seed)
    shape = (sum(netlist.output_widths.values()), planes.shape[1])
    if out is None:
        out = np.empty(shape, np.uint64)
    elif out.shape != shape or out.dtype != np.uint64 or not out.flags.c_contiguous:
        raise NetlistError(f"netlist {netlist.name!r}: out must be a C-contiguous uint64 array of shape {shape}")
    n = planes.shape[1] * 64 if n is None else int(n)
    if not 0 <= n <= planes.shape[1] * 64:
        raise NetlistError(f"netlist {netlist.name!r}: n = {n} vectors do not fit {planes.shape[1]} words of planes")
    _last.measured = faults.execute(netlist, np.ascontiguousarray(planes, dtype=np.uint64), n, out)
    if _last.measured is not None:
        _last.engine = "timed"
        for log in getattr(_last, "logs", ()):
            log.append(_last.measured)
        return out
    permanent, flip_p = faults.permanent, faults.flip_p
    if permanent and engine == "compiled":
        raise NetlistError(f"netlist {netlist.name!r}: engine 'compiled' does not take stuck-at faults "
                           "(use 'auto' or 'interpreter')")
    planes = np.ascontiguousarray(planes, dtype=np.uint64)
    nblocks = planes.shape[1] // layout.B  # blocks of the flip kernel and the interpreter
    seed = int(faults.seed) & 0x7FFFFFFFFFFFFFFF
    parallel = threads > 1
    if parallel:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    k0, cdf = binomial_cdf(netlist.n_gates, float(flip_p))
    use = choose_engine(netlist, planes.shape[1] * 64, engine, flip_p, permanent, threads)
    if use == "compiled" and netlist.n_gates > MAX_COMPILED_GATES and not flip_p:
        slot, nslots = liveness_slots(netlist)
        outs = np.concatenate(list(netlist.outputs.values()))
        kernels.run_segmented(kernels.segmented(netlist, slot), planes, out, nslots, netlist.n_input_bits, slot[outs])
    elif use == "compiled" and netlist.n_gates > 0:
        k = kernels.straight_line(netlist)
        if flip_p > 0:
            if parallel:
                k.flip_parallel(planes, out, nblocks, float(flip_p), seed, k0, cdf)
            else:
                k.flip_blocks(planes, out, 0, nblocks, float(flip_p), seed, k0, cdf)
        elif parallel:
            k.clean_parallel(planes, out, planes.shape[1] // layout.CLEAN_B)
        else:
            k.clean_blocks(planes, out, 0, planes.shape[1] // layout.CLEAN_B)
    else:
        keep, force = fault_masks(netlist, faults)
        sa, sb, sc, dst, in_slot, out_slot, nslots = _interp_plan(netlist)
        it = interpreter()
        args = (netlist.ops, sa, sb, sc, dst, in_slot, out_slot, nslots, keep, force, float(flip_p), seed, k0, cdf)
        if parallel:
            it.run_parallel(planes, out, nblocks, *args)
        else:
            it.run_blocks(planes, out, 0, nblocks, *args)
        use = "interpreter"
    _last.engine = use
    return out


def _operand_rows(netlist: Netlist, bus: str, values, rows: np.ndarray) -> None:
    """Write one operand bus into `rows` (one uint64 row per 64 bits, least significant first; two's complement)."""
    width = netlist.inputs[bus]
    arr = np.asarray(values)
    if arr.dtype.kind == "O" and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr.flat):
        arr = np.asarray(values, dtype=object)  # Python ints, as wide buses take them
    elif arr.dtype.kind not in "iub":
        raise NetlistError(f"netlist {netlist.name!r}: operand {bus!r} must hold integers, got {arr.dtype}")
    if arr.ndim > 1:
        raise NetlistError(f"netlist {netlist.name!r}: operand {bus!r} must be one value or a 1-D array, "
                           f"got shape {arr.shape}")
    if arr.size:
        lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if netlist.signed else (0, (1 << width) - 1)
        amin, amax = int(arr.min()), int(arr.max())  # before any cast, so the message shows the values given
        if amin < lo or amax > hi:
            raise NetlistError(f"netlist {netlist.name!r}: operand {bus!r} has values in [{amin}, {amax}], outside "
                               f"the {'signed' if netlist.signed else 'unsigned'} {width}-bit range [{lo}, {hi}]")
    n = rows.shape[1]
    if arr.dtype.kind == "O" or width > 64:
        words = [int(v) for v in np.broadcast_to(arr, (n,))]
        for k in range(len(rows)):
            rows[k] = np.fromiter(((v >> (64 * k)) & 0xFFFFFFFFFFFFFFFF for v in words), np.uint64, n)
    else:
        np.copyto(rows[0], arr, casting="unsafe")  # negative values as two's complement


def _row_widths(widths) -> list[int]:
    """Widths of the 64-bit rows that buses of `widths` bits occupy (a bus wider than 64 bits takes several)."""
    return [min(64, w - k) for w in widths for k in range(0, w, 64)]


def pack_operands(netlist: Netlist, operands: dict) -> tuple[np.ndarray, int]:
    """Input planes (padded to whole blocks) for integer operands {bus: array}; returns (planes, n)."""
    missing = [b for b in netlist.inputs if b not in operands]
    extra = [b for b in operands if b not in netlist.inputs]
    if missing or extra:
        raise NetlistError(f"netlist {netlist.name!r} takes operands {', '.join(netlist.inputs)}; "
                           f"missing: {', '.join(missing) or '-'}, unknown: {', '.join(extra) or '-'}")
    try:
        n = int(np.broadcast_shapes(*(np.shape(v) for v in operands.values()), (1,))[0])
    except ValueError:
        raise NetlistError(f"netlist {netlist.name!r}: operand arrays have incompatible shapes "
                           f"{[np.shape(v) for v in operands.values()]}") from None
    nwords = -(-max(n, 1) // (64 * layout.WORDS)) * layout.WORDS
    planes = np.zeros((netlist.n_input_bits, nwords), np.uint64)
    widths = _row_widths(netlist.inputs.values())
    rows, r = np.empty((len(widths), n), np.uint64), 0
    for bus, width in netlist.inputs.items():
        _operand_rows(netlist, bus, operands[bus], rows[r:r + -(-width // 64)])
        r += -(-width // 64)
    pack_rows(rows, widths, planes)
    return planes, n


def to_signed(values: np.ndarray, width: int) -> np.ndarray:
    """Read `width`-bit unsigned values (width < 64) as two's complement."""
    return np.where(values >= (1 << (width - 1)), values - (1 << width), values)


def index_operands(netlist: Netlist, index: np.ndarray) -> dict[str, np.ndarray]:
    """The operands of exhaustive vector numbers `index`: the first bus in the low bits (two's complement
    values when the netlist is signed)."""
    ops, shift = {}, 0
    for bus, width in netlist.inputs.items():
        vals = (index >> shift) & ((1 << width) - 1)
        ops[bus] = to_signed(vals, width) if netlist.signed else vals
        shift += width
    return ops


def unpack_outputs(netlist: Netlist, planes: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Integer outputs {bus: array} from output planes (two's complement when netlist.signed): int64 for buses
    narrower than 64 bits, uint64 (int64 when signed) for 64-bit buses, object arrays of Python ints for wider."""
    widths = netlist.output_widths
    rows = unpack_rows(planes, _row_widths(widths.values()), n)
    result, r = {}, 0
    for bus, width in widths.items():
        if width > 64:
            parts = rows[r:r + -(-width // 64)].astype(object)
            vals = sum(part << (64 * k) for k, part in enumerate(parts))
            if netlist.signed:
                vals = np.where(vals >> (width - 1), vals - (1 << width), vals)
            result[bus] = np.asarray(vals, dtype=object).reshape(n)
        elif width < 64:
            vals = rows[r].astype(np.int64)
            result[bus] = to_signed(vals, width) if netlist.signed else vals
        else:
            result[bus] = rows[r].view(np.int64) if netlist.signed else rows[r]
        r += -(-width // 64)
    return result


def simulate(netlist: Netlist, operands: dict | None = None, /, *, faults: GateFaultPlan | None = None, stuck=None,
             flip_p: float = 0.0, seed: int = 0, engine: str = "auto", threads: int = 1,
             **operand_kwargs) -> dict[str, np.ndarray]:
    """Simulate `netlist` on integer operands {input bus: 1-D array} (broadcast together), given as one
    mapping (any bus name, `seed` included) or as keywords.

    Returns {output bus: int64 array} (uint64 for unsigned 64-bit buses; object arrays of Python ints for buses
    wider than 64 bits, which also take Python ints). Signed netlists take and return two's-complement values.
    faults: a GateFaults, or stuck: [(gate index or name, 0/1)]; flip_p: per-gate, per-vector transient flip
    probability; seed: the flip stream. engine: 'auto', 'compiled' or 'interpreter'
    (`last_engine()` tells which ran); with 'auto', rare flips (circuits.sparse.sparse_pays_off) run as a
    fault-free pass plus the vectors a flip touches, bit for bit the same outputs.
    """
    if operands is not None and operand_kwargs:
        raise NetlistError(f"netlist {netlist.name!r}: give operands as one mapping or as keywords, not both")
    if operands is not None and not isinstance(operands, dict):
        raise NetlistError(f"netlist {netlist.name!r}: operands must be a mapping {{bus: values}}, "
                           f"got {type(operands).__name__}")
    operands = operand_kwargs if operands is None else operands
    planes, n = pack_operands(netlist, operands)
    plan = _faults(faults, stuck, flip_p, seed)
    if engine == "auto":
        from circuits.sparse import simulate_sparse, sparse_pays_off  # (sparse builds on this module)

        if sparse_pays_off(netlist, plan):
            result = simulate_sparse(netlist, operands, planes, n, plan, threads)
            if result is not None:
                return result
    out = simulate_planes(netlist, planes, faults=plan, engine=engine, threads=threads, n=n)
    return unpack_outputs(netlist, out, n)


def exhaustive(netlist: Netlist, *, chunk_bits: int = 20, **kwargs) -> Iterator[tuple[dict, dict]]:
    """Every input combination, streamed in chunks of 2**chunk_bits vectors with bounded memory.

    Yields ({input bus: values}, {output bus: values}) per chunk. Vector index v enumerates the inputs
    with the first bus in its low bits. Accepts simulate_planes' keyword arguments (faults, engine, ...).
    """
    nbits = netlist.n_input_bits
    if nbits > 40:
        raise NetlistError(f"netlist {netlist.name!r} has {nbits} input bits; exhaustive simulation allows <= 40")
    total = 1 << nbits
    chunk = 1 << max(10, min(chunk_bits, max(nbits, 10)))
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        nwords = -(-n // (64 * layout.WORDS)) * layout.WORDS
        planes = np.zeros((nbits, nwords), np.uint64)
        counter_planes(start, nbits, planes)
        kw = dict(kwargs)
        kw["seed"] = int(kw.get("seed", 0)) + start  # a distinct flip stream per chunk
        out = simulate_planes(netlist, planes, **kw)
        yield index_operands(netlist, np.arange(start, start + n, dtype=np.int64)), unpack_outputs(netlist, out, n)
