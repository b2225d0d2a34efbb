"""Timed, bit-parallel simulation with transport delays: operand streams in, clocked samples and toggles out.

Time runs in ticks (the coarsest power-of-two fraction of a delay unit on which every gate delay and the period
lie). A gate of delay d holds at tick t its function of its inputs at tick t - d (transport delay: every edge,
glitches included, propagates). Element k of a stream is applied at tick k C and sampled at tick k C + T (a sample
holds every transition at or before it), T the period and C the cycle: C = T under *continuous* clocking (a cycle
starts from whatever the previous one left), C = the settling time (at least T) under *settled* clocking (each
cycle starts from the settled previous vector). Before the first element the circuit is settled on `previous`.
When T is at least the settling time both models are the same.

Speed: a gate can change only at the path delays from the inputs to it after an input change (a subset of
[earliest, latest] arrival), so a static schedule, periodic in C, lists which gates to evaluate at each tick.
Each net keeps a ring of R ticks of history, R a power of two above the longest delay of its readers, and is
written for R - 1 ticks after each tick where it can change, so every slot of its ring is right when read.
Streams are independent: 64 per uint64 word, a block of words at a time; the schedule is interpreted (per
tick, runs of gates of one opcode; a loop over the block's words inside). Under settled clocking every element
depends only on itself and the one before, so each element runs as a stream of its own (not with feedback: a
register closing a loop makes an element's operand the previous element's sample, loaded at the cycle's start).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from circuits.cache import load_source
from circuits.errors import NetlistError
from circuits.gates import KINDS, render
from circuits.netlist import Netlist
from circuits.simulate import pack_operands, unpack_outputs
from circuits.timed_plan import ARITY, change_ticks, fold, reader_delays
from circuits.timing import FINEST_GRID, gate_delays

CLOCKINGS = ("continuous", "settled")
INPUT_OP = len(KINDS)  # schedule entries that load an input bit of the current element
BLOCKS = (32, 8, 1)  # words of streams simulated together (2,048, 512, 64 streams): the largest half filled


class Timed(NamedTuple):
    """outputs: {output bus: samples}, the operands' shape ((n,) for one stream, (streams, n)); toggles: int64
    per gate, the transitions (glitches included) of all streams at ticks up to the last sample (continuous)
    or over every cycle's whole settling (settled); tick: the tick in delay units; cycle: C in ticks."""

    outputs: dict[str, np.ndarray]
    toggles: np.ndarray
    tick: float
    cycle: int


def tick_of(delays: np.ndarray, period: float) -> float:
    """The coarsest power-of-two tick (1, 1/2, ... FINEST_GRID delay units) that divides every delay and the
    period; NetlistError when none does."""
    values = np.append(np.asarray(delays, dtype=np.float64), float(period))
    tick = 1.0
    while tick >= FINEST_GRID:
        if np.all(values / tick == np.round(values / tick)):
            return tick
        tick /= 2
    raise NetlistError(f"delays and the period must be multiples of {FINEST_GRID} delay units "
                       f"(period {period!r}; round delays with circuits.timing.gate_delays(grid=...))")


class Schedule(NamedTuple):
    entries: np.ndarray  # int32 (n_entries, 12), sorted by tick and opcode: op, gate (-1 for inputs), delay,
    #                      dst base, dst mask, a base, a mask, b base, b mask, c base, c mask, input row
    runs: np.ndarray  # (n_runs, 3): opcode, first entry, end entry of each run of one opcode within one tick
    start: np.ndarray  # runs of tick tau (0..C): runs[start[tau]:start[tau + 1]]
    base: np.ndarray  # ring base slot per net
    mask: np.ndarray  # ring length - 1 per net
    slots: int
    settle: int  # ticks after an input change by which every ring is settled


@lru_cache(maxsize=32)
def _schedule_cached(netlist: Netlist, ticks_bytes: bytes, cycle: int | None) -> Schedule:
    return _schedule(netlist, np.frombuffer(ticks_bytes, np.int64), cycle)


def _schedule(netlist: Netlist, ticks: np.ndarray, cycle: int | None) -> Schedule:
    """The periodic schedule for gate delays `ticks` and cycle length `cycle` (None: the settling time)."""
    base_gate = netlist.first_gate_net
    arity = ARITY[netlist.ops]
    ring = 1 << np.ceil(np.log2(reader_delays(netlist, ticks) + 1)).astype(np.int64)  # > the longest read delay
    ring[:2] = 1
    paths = change_ticks(netlist, ticks)
    settle = max(p.bit_length() for p in paths) + int(ring.max())
    cycle = settle if cycle is None else cycle
    base = np.concatenate([[0], np.cumsum(ring)])
    rows = []
    for n in range(2, netlist.n_nets):
        ext = 0
        for j in range(int(ring[n])):
            ext |= paths[n] << j  # written R - 1 ticks after each change
        taus = ([0] if n < base_gate else []) + fold(ext, cycle)  # an input changes at the cycle's start
        g = n - base_gate
        for tau in taus:
            if n < base_gate:
                rows.append((tau, INPUT_OP, -1, 0, base[n], ring[n] - 1, 0, 0, 0, 0, 0, 0, n - 2))
            else:
                a = [(base[netlist.args[g, k]], ring[netlist.args[g, k]] - 1) if k < arity[g] else (0, 0)
                     for k in range(3)]
                rows.append((tau, int(netlist.ops[g]), g, int(ticks[g]), base[n], ring[n] - 1,
                             *a[0], *a[1], *a[2], 0))
    table = np.array(sorted(rows, key=lambda r: (r[0], r[1], r[2])), np.int64).reshape(-1, 13)
    cut = np.flatnonzero(np.diff(table[:, 0]) | np.diff(table[:, 1])) + 1
    first = np.concatenate([[0], cut]).astype(np.int64)
    runs = np.stack([table[first, 1], first, np.append(cut, len(table))], axis=1)
    start = np.searchsorted(table[first, 0], np.arange(cycle + 2)).astype(np.int64)
    return Schedule(np.ascontiguousarray(table[:, 1:], np.int32), np.ascontiguousarray(runs, np.int32), start,
                    base[:-1].astype(np.int64), ring - 1, int(base[-1]), settle)


def _kernel_source(block: int) -> str:
    """The generated interpreter of a schedule (gate semantics from circuits.gates): per tick, runs of entries
    of one opcode, so the opcode is dispatched once per run and the loop over a block's words is branch-free."""
    lines = ["import numpy as np", "from numba import njit, types", "from numba.extending import intrinsic", "",
             f"B = {block}", "", "",
             "@intrinsic", "def popcount(typingctx, x):",
             "    def codegen(context, builder, signature, args):",
             "        return builder.ctpop(args[0])",
             "    return types.uint64(types.uint64), codegen", "", "",
             "@njit(cache=True, nogil=True, inline='always')", "def gate(op, a, b, c):"]
    for name, kind in KINDS.items():
        lines += [f"    if op == {kind.opcode}:  # {name}", f"        return {kind.expr}"]
    lines += ["    return a", "", "",
              "@njit(cache=True, nogil=True)",
              "def run(inp, prev, out, ncyc, nw, E, runs, start, base, mask, slots, args, ops, out_nets, sample,",
              "        toggles, fb, fresh):",
              "    C = start.shape[0] - 2",
              "    n_in = prev.shape[0]",
              "    first = 2 + n_in",
              "    v = np.empty((slots, B), np.uint64)",
              "    for w0 in range(0, nw, B):",
              "        for n in range(2 + n_in + ops.shape[0]):  # settled on prev: every slot of every ring",
              "            for j in range(B):",
              "                if n < 2:",
              "                    x = np.uint64(0) if n == 0 else ~np.uint64(0)",
              "                elif n < first:",
              "                    x = prev[n - 2, w0 + j]",
              "                else:",
              "                    g = n - first",
              "                    x = gate(ops[g], v[base[args[g, 0]], j], v[base[args[g, 1]], j],",
              "                             v[base[args[g, 2]], j])",
              "                for r in range(mask[n] + 1):",
              "                    v[base[n] + r, j] = x",
              "        for k in range(ncyc):",
              "            col = k * nw + w0",
              "            for tau in range(C + 1):",
              "                t = k * C + tau",
              "                for r in range(start[tau], start[tau + 1]):",
              "                    op = runs[r, 0]",
              f"                    if op == {INPUT_OP}:",
              "                        for e in range(runs[r, 1], runs[r, 2]):",
              "                            dst = E[e, 3] + (t & E[e, 4])",
              "                            row = E[e, 11]",
              "                            src = fb[row]",
              "                            if src >= 0 and fresh[k] == 0:  # the register: last cycle's sample",
              "                                for j in range(B):",
              "                                    v[dst, j] = out[src, col - nw + j]",
              "                            else:",
              "                                for j in range(B):",
              "                                    v[dst, j] = inp[row, col + j]",
              "                        continue",
              ]
    for name, kind in KINDS.items():
        expr = render(name, "v[ka, j]", "v[kb, j]", "v[kc, j]")
        lines += [f"                    {'if' if kind.opcode == 0 else 'elif'} op == {kind.opcode}:  # {name}",
                  "                        for e in range(runs[r, 1], runs[r, 2]):",
                  "                            dst = E[e, 3] + (t & E[e, 4])",
                  "                            old = E[e, 3] + ((t - 1) & E[e, 4])",
                  "                            s = t - E[e, 2]",
                  "                            ka = E[e, 5] + (s & E[e, 6])",
                  "                            kb = E[e, 7] + (s & E[e, 8])",
                  "                            kc = E[e, 9] + (s & E[e, 10])",
                  "                            total = np.uint64(0)",
                  "                            for j in range(B):",
                  f"                                x = {expr}",
                  "                                total += popcount(x ^ v[old, j])",
                  "                                v[dst, j] = x",
                  "                            toggles[E[e, 1]] += total"]
    lines += ["                if tau == sample:",
              "                    for i in range(out_nets.shape[0]):",
              "                        n = out_nets[i]",
              "                        src = base[n] + (t & mask[n])",
              "                        for j in range(B):",
              "                            out[i, col + j] = v[src, j]",
              ""]
    return "\n".join(lines)


def _kernel(block: int):
    return load_source(_kernel_source(block), f"timed{block}", ("run",))


def _streams(netlist: Netlist, operands: dict, previous) -> tuple[dict, dict, tuple]:
    """Operands as (streams, n) arrays and previous as (streams,) arrays; the shape of the outputs."""
    if not isinstance(operands, dict):
        raise NetlistError(f"netlist {netlist.name!r}: operands must be a mapping {{bus: values}}, "
                           f"got {type(operands).__name__}")
    missing = [b for b in netlist.inputs if b not in operands]
    extra = [b for b in operands if b not in netlist.inputs]
    if missing or extra:
        raise NetlistError(f"netlist {netlist.name!r} takes operands {', '.join(netlist.inputs)}; "
                           f"missing: {', '.join(missing) or '-'}, unknown: {', '.join(extra) or '-'}")
    arrays = {b: np.asarray(v) for b, v in operands.items()}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()), (1,))
    except ValueError:
        raise NetlistError(f"netlist {netlist.name!r}: operand streams have incompatible shapes "
                           f"{[a.shape for a in arrays.values()]}") from None
    if len(shape) > 2:
        raise NetlistError(f"netlist {netlist.name!r}: operands must be one stream (n,) or streams (streams, n), "
                           f"got shape {shape}")
    full = shape if len(shape) == 2 else (1,) + shape
    streams = {b: np.broadcast_to(a.reshape(a.shape if a.ndim == 2 else (1,) * (2 - a.ndim) + a.shape), full)
               for b, a in arrays.items()}
    previous = {} if previous is None else previous
    if not isinstance(previous, dict) or set(previous) - set(netlist.inputs):
        raise NetlistError(f"netlist {netlist.name!r}: previous must be a mapping of input buses "
                           f"({', '.join(netlist.inputs)}) to values, got {previous!r}")
    prev = {}
    for b in netlist.inputs:
        p = np.asarray(previous.get(b, 0))
        if p.ndim > 1 or (p.ndim == 1 and len(p) not in (1, full[0])):
            raise NetlistError(f"netlist {netlist.name!r}: previous {b!r} must be one value or one per stream "
                               f"({full[0]}), got shape {p.shape}")
        prev[b] = np.broadcast_to(p.reshape(-1), (full[0],))
    return streams, prev, shape


def _feedback(netlist: Netlist, feedback) -> np.ndarray:
    """Per input bit, the output bit (index into the concatenated output buses) its register takes, or -1."""
    fb = np.full(netlist.n_input_bits, -1, np.int64)
    if not feedback:
        return fb
    if not isinstance(feedback, dict):
        raise NetlistError(f"netlist {netlist.name!r}: feedback must be a mapping {{input bus: output bus}}, "
                           f"got {type(feedback).__name__}")
    rows = dict(zip(netlist.inputs, np.cumsum([0, *netlist.inputs.values()]).tolist(), strict=False))
    outs = dict(zip(netlist.outputs, np.cumsum([0, *netlist.output_widths.values()]).tolist(), strict=False))
    for bus, to in feedback.items():
        if bus not in netlist.inputs or to not in netlist.outputs or netlist.inputs[bus] != netlist.output_widths[to]:
            raise NetlistError(f"netlist {netlist.name!r}: feedback {bus!r} -> {to!r} must map an input bus to an "
                               "output bus of the same width")
        fb[rows[bus]:rows[bus] + netlist.inputs[bus]] = np.arange(netlist.inputs[bus]) + outs[to]
    return fb


def timed_simulate(netlist: Netlist, operands: dict, period: float, delays="unit", clocking: str = "continuous",
                   previous: dict | None = None, seed: int | None = None, sigma: float = 0.0,
                   feedback: dict | None = None, restart: int = 0) -> Timed:
    """Simulate operand streams clocked at `period` (delay units) with transport gate delays.

    operands: {input bus: values} as for circuits.simulate, each array one stream in time order (n,) or
    independent streams (streams, n); previous: {bus: value or one per stream} applied and settled before the
    first element (missing buses: 0); delays: "unit", "cells" or an array per gate (circuits.timing);
    sigma, seed: log-normal process variation of the delays (one chip; see circuits.timing.gate_delays);
    clocking: "continuous" or "settled"; feedback: {input bus: output bus of the same width}, a register that
    closes a loop (an accumulator): element k of a stream takes on that input bus the output sampled for element
    k - 1, except the elements whose index is a multiple of `restart` (0: element 0 alone), which take their
    operand (the operands given at the other elements are ignored). Returns a Timed: the outputs sampled `period`
    after each element was applied (the operands' shape) and the toggles per gate.
    """
    if clocking not in CLOCKINGS:
        raise NetlistError(f"clocking must be one of {', '.join(CLOCKINGS)}, got {clocking!r}")
    if not (np.isfinite(period) and period > 0):
        raise NetlistError(f"netlist {netlist.name!r}: period must be a positive number, got {period!r}")
    d = gate_delays(netlist, delays, sigma, seed)
    tick = tick_of(d, period)
    ticks = np.round(d / tick).astype(np.int64)
    T = int(round(period / tick))
    streams, prev, shape = _streams(netlist, operands, previous)
    settled = _schedule_cached(netlist, ticks.tobytes(), None)
    if T >= settled.settle:
        sched, sample = settled, settled.settle  # every cycle settles: both models agree
    elif clocking == "settled":
        sched, sample = settled, T
    else:
        sched, sample = _schedule_cached(netlist, ticks.tobytes(), T), T
    n_streams, n = next(iter(streams.values())).shape if streams else (1, shape[-1])
    fb = _feedback(netlist, feedback)
    if not (isinstance(restart, (int, np.integer)) and restart >= 0):
        raise NetlistError(f"netlist {netlist.name!r}: restart must be an element count >= 0, got {restart!r}")
    split = clocking == "settled" and n > 1 and not feedback and T < settled.settle
    if split:  # every element is independent: one stream per element (a settled period: one stream as given)
        prev = {b: np.concatenate([prev[b][:, None], streams[b][:, :-1]], axis=1).reshape(-1) for b in streams}
        streams = {b: s.reshape(-1, 1) for b, s in streams.items()}
        n_streams, n = n_streams * n, 1
    if n == 0:
        return Timed({b: np.zeros(shape, np.int64) for b in netlist.outputs},
                     np.zeros(netlist.n_gates, np.int64), tick, len(sched.start) - 2)
    block = next(b for b in BLOCKS if n_streams > 32 * b or b == 1)
    nw = -(-n_streams // (64 * block)) * block
    lanes = nw * 64
    padded = {}
    for b, s in streams.items():
        pad = np.zeros((n, lanes), dtype=s.dtype)
        pad[:, :n_streams] = s.T
        padded[b] = pad.reshape(-1)
    planes, _ = pack_operands(netlist, padded)
    prev_planes, _ = pack_operands(netlist, {b: np.concatenate([p, np.zeros(lanes - n_streams, p.dtype)])
                                             for b, p in prev.items()})
    out_nets = np.concatenate(list(netlist.outputs.values())).astype(np.int64)
    out = np.zeros((len(out_nets), planes.shape[1]), np.uint64)
    toggles = np.zeros(netlist.n_gates, np.uint64)
    args = netlist.args.astype(np.int64)
    _kernel(block).run(planes, prev_planes, out, n, nw, sched.entries, sched.runs, sched.start, sched.base,
                       sched.mask, sched.slots, args, netlist.ops.astype(np.int64), out_nets, sample, toggles, fb,
                       (np.arange(n) % (restart or n) == 0).astype(np.uint8))
    flat = unpack_outputs(netlist, out, n * lanes)
    result = {}
    for bus, vals in flat.items():
        per = vals.reshape(n, lanes)[:, :n_streams].T  # (streams, n)
        if split and shape[-1] > 1:
            per = per.reshape(-1, shape[-1])
        result[bus] = np.ascontiguousarray(per.reshape(shape))
    return Timed(result, toggles.astype(np.int64), tick, len(sched.start) - 2)
