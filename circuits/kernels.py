"""The straight-line kernels of each netlist (circuits.codegen): loaded once per structure, whether one runs
without compiling, and compilation in a background thread.

Compiling a straight-line kernel costs seconds per netlist (once, then cached on disk, circuits.cache); the
simulator uses the interpreter (circuits.interpreter) until a kernel is ready.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np

from circuits.cache import cache_dir, load_source, module_name
from circuits.codegen import segmented_source, straight_line_source
from circuits.layout import CLEAN_B, B
from circuits.rng import binomial_cdf

_straight_cache: dict[str, object] = {}
_STRAIGHT_NAMES = ("clean_blocks", "clean_parallel", "flip_blocks", "flip_parallel")
_lock = threading.RLock()  # source generation and import of straight-line modules, one at a time


def straight_line(netlist):
    """The generated straight-line kernel module of a netlist (generated and imported once per structure)."""
    key = netlist.fingerprint()
    with _lock:
        if key not in _straight_cache:
            _straight_cache[key] = load_source(straight_line_source(netlist), f"k{key}", _STRAIGHT_NAMES)
    return _straight_cache[key]


def segmented(netlist, slot):
    """The segmented fault-free kernel module of a large netlist (slot: its liveness slots, circuits.plan)."""
    key = "seg" + netlist.fingerprint()
    with _lock:
        if key not in _straight_cache:
            _straight_cache[key] = load_source(segmented_source(netlist, slot), key, ("seg0", "run"))
    return _straight_cache[key]


def run_segmented(module, planes, out, nslots: int, in_count: int, out_slots) -> None:
    """Fault-free outputs of a segmented kernel (its compiled driver: CLEAN_B words at a time, inputs copied
    into their slots, the segments run in order, output slots copied out)."""
    module.run(planes, out, np.zeros(nslots * CLEAN_B, np.uint64), in_count, np.ascontiguousarray(out_slots))


_on_disk: dict[tuple[str, str], bool] = {}
_pending: dict[tuple[str, str], Future] = {}


def ready(netlist, function: str) -> bool:
    """Whether the straight-line kernel `function` (one of clean_blocks, clean_parallel, flip_blocks,
    flip_parallel, or 'segmented': the driver of a large netlist's segmented kernel, which holds every segment)
    of this netlist runs without compiling: compiled in this process, or in Numba's disk cache (its index files
    exist; looked for once per netlist, function and process)."""
    key = netlist.fingerprint()
    if function == "segmented":
        module = _straight_cache.get("seg" + key)
        if module is not None and module.run.signatures:
            return True
        if (key, function) not in _on_disk:  # named by the netlist (its source is too big to generate here)
            _on_disk[key, function] = any((cache_dir() / "__pycache__").glob(f"_tb_seg{key}_*.run-*.nbi"))
        return _on_disk[key, function]
    module = _straight_cache.get(key)
    if module is not None and getattr(module, function).signatures:
        return True
    if (key, function) not in _on_disk:
        name = module_name(straight_line_source(netlist), f"k{key}")
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
        try:
            if function == "segmented":
                from circuits.plan import liveness_slots  # circuits.plan imports this module

                slot, nslots = liveness_slots(netlist)
                outs = np.concatenate(list(netlist.outputs.values()))
                run_segmented(segmented(netlist, slot), np.zeros((netlist.n_input_bits, 0), np.uint64),
                              np.zeros((len(outs), 0), np.uint64), nslots, netlist.n_input_bits, slot[outs])
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
