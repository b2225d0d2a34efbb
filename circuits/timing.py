"""Gate delays and static timing: per-kind delay tables, per-gate delays with process variation, arrival times.

Delays are in *delay units*: "unit" gives every gate 1; "cells" gives relative delays in units of tau (the delay
of an inverter driving an identical inverter without parasitics; a fanout-of-4 inverter is 5 tau) from the
method of logical effort (Sutherland, Sproull and Harris, "Logical Effort: Designing Fast CMOS Circuits", 1999,
table 4.1 for the logical effort g and table 4.3 for the parasitic delay p): each gate drives a load of four
copies of itself (electrical effort h = 4) and takes d = g h + p, rounded to whole tau. Inverting gates:
NOT g=1 p=1 (5); NAND2 g=4/3 p=2 (7); NOR2 g=5/3 p=2 (9); XOR2/XNOR2 g=4 p=4 (20); NMUX (inverting 2:1 mux)
g=2 p=4 (12); AOI21/OAI21 g=2 (worst input) p=7/3 (10). Non-inverting gates are the inverting one at h=1
followed by an inverter at h=4: BUF 2+5 (7), AND 3.33+5 (8), OR 3.67+5 (9), MUX 6+5 (11), MAJ 8+5 (13,
inverting majority g=2 p=6). ANDNOT a&~b = NOR(~a, b) and ORNOT a|~b = NAND(~a, b): an inverter at h=1 (2)
before the gate at h=4 (11 and 9).

Process variation: one chip per trial multiplies every gate's delay by its own log-normal factor exp(sigma z),
z standard normal (median 1), drawn from `seed`; the result is rounded to a power-of-two grid so that a timed
simulation can run on whole ticks.

Static timing: a net's earliest (latest) arrival is its gate delay plus the earliest (latest) arrival of its
inputs, inputs arriving at 0; constants never change (earliest +inf, latest -inf). D, the critical path delay,
is the latest arrival over the output bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from circuits.cache import verify_numba_cache
from circuits.errors import NetlistError
from circuits.gates import BY_OPCODE, KINDS
from circuits.netlist import Netlist

TABLES: dict[str, dict[str, float]] = {
    "unit": {kind: 1.0 for kind in KINDS},
    "cells": {"BUF": 7.0, "NOT": 5.0, "AND": 8.0, "NAND": 7.0, "OR": 9.0, "NOR": 9.0, "XOR": 20.0, "XNOR": 20.0,
              "ANDNOT": 11.0, "ORNOT": 9.0, "MUX": 11.0, "NMUX": 12.0, "MAJ": 13.0, "AOI3": 10.0, "OAI3": 10.0},
}
assert all(set(t) == set(KINDS) for t in TABLES.values()), "every table covers every gate kind"
FINEST_GRID = 2.0 ** -10  # the finest tick a timed simulation accepts, in delay units


def gate_delays(netlist: Netlist, delays="unit", sigma: float = 0.0, seed: int | None = None,
                grid: float = 1 / 16) -> np.ndarray:
    """Delay of every gate (float64, delay units): a table name ("unit", "cells") or an array per gate
    (overrides), times a log-normal factor exp(sigma z) per gate when sigma > 0 (z from `seed`), then rounded to
    multiples of `grid` (a power of two, at least FINEST_GRID; at least one grid step per gate)."""
    if isinstance(delays, str):
        if delays not in TABLES:
            raise NetlistError(f"netlist {netlist.name!r}: delays must be one of {', '.join(TABLES)} or an array "
                               f"per gate, got {delays!r}")
        table = np.array([TABLES[delays][BY_OPCODE[i]] for i in range(len(BY_OPCODE))])
        base = table[netlist.ops]
    else:
        base = np.asarray(delays, dtype=np.float64)
        if base.shape != (netlist.n_gates,):
            raise NetlistError(f"netlist {netlist.name!r}: delays per gate must have shape ({netlist.n_gates},), "
                               f"got {base.shape}")
        bad = np.flatnonzero(~(base > 0) | ~np.isfinite(base))
        if len(bad):
            g = int(bad[0])
            raise NetlistError(f"netlist {netlist.name!r}: gate {netlist.gate_names[g]!r} has delay {base[g]}; "
                               "delays must be positive and finite")
    if not sigma:
        return base.copy()
    if not (np.isfinite(sigma) and sigma > 0):
        raise NetlistError(f"process variation sigma must be a positive number, got {sigma!r}")
    if not (FINEST_GRID <= grid <= 1 and float(np.log2(grid)).is_integer()):
        raise NetlistError(f"delay grid must be a power of two between {FINEST_GRID} and 1, got {grid!r}")
    factor = np.exp(sigma * np.random.default_rng(seed).standard_normal(netlist.n_gates))
    return np.maximum(np.round(base * factor / grid), 1) * grid


@dataclass(frozen=True)
class StaticTiming:
    """Arrival times of one netlist under one set of gate delays (delay units).

    delays: per gate; earliest, latest: per net (net numbering of circuits.netlist; inputs 0, constants +inf and
    -inf); D: the critical path delay (latest arrival over output bits; 0 when every output is an input or a
    constant); paths: {output bus: per bit, the critical path as net ids from an input bit (or constant) to the
    output bit}.
    """

    delays: np.ndarray
    earliest: np.ndarray
    latest: np.ndarray
    D: float
    paths: dict[str, list[list[int]]]

    def arrival(self, bus: str) -> np.ndarray:
        """Latest arrival of each bit of an output bus, bit 0 first (-inf for a constant bit)."""
        return self.latest[[path[-1] for path in self.paths[bus]]]


@njit(cache=True, nogil=True)
def _arrivals(args, arity, base, n_nets, delays, earliest, latest):
    """Fill earliest/latest arrival per net and the latest-arriving input of each gate (-1: all constant)."""
    n_gates = args.shape[0]
    worst = np.full(n_gates, -1, np.int64)
    for g in range(n_gates):
        lo, hi = np.inf, -np.inf
        for k in range(arity[g]):
            n = args[g, k]
            lo = min(lo, earliest[n])
            if latest[n] > hi:
                hi = latest[n]
                worst[g] = n
        earliest[base + g] = lo + delays[g]
        latest[base + g] = hi + delays[g]
    return worst


_ARITY = np.array([KINDS[BY_OPCODE[i]].arity for i in range(len(BY_OPCODE))], dtype=np.int64)


def static_timing(netlist: Netlist, delays="unit") -> StaticTiming:
    """Static timing analysis: earliest and latest arrival per net, each output bit's critical path and D.

    delays: "unit", "cells" or an array per gate (e.g. from gate_delays with process variation)."""
    d = gate_delays(netlist, delays)
    earliest = np.full(netlist.n_nets, np.inf)
    latest = np.full(netlist.n_nets, -np.inf)
    base = netlist.first_gate_net
    earliest[2:base] = 0.0
    latest[2:base] = 0.0
    worst = _arrivals(netlist.args.astype(np.int64), _ARITY[netlist.ops], base, netlist.n_nets, d, earliest,
                      latest)
    paths: dict[str, list[list[int]]] = {}
    for bus, nets in netlist.outputs.items():
        paths[bus] = []
        for n in nets:
            path = [int(n)]
            while path[-1] >= base and worst[path[-1] - base] >= 0:
                path.append(int(worst[path[-1] - base]))
            paths[bus].append(path[::-1])
    outs = np.concatenate(list(netlist.outputs.values()))
    top = latest[outs].max() if len(outs) else 0.0
    return StaticTiming(d, earliest, latest, float(max(top, 0.0)), paths)


def dynamic_energy(netlist: Netlist, toggles: np.ndarray, voltage: float = 1.0,
                   capacitance: np.ndarray | None = None) -> float:
    """Dynamic energy of the counted transitions: sum over gates of toggles x C x V^2 / 2 (each transition
    charges or discharges the gate's load C once; in units of C x V^2 with C and V as given).

    capacitance: per gate (the load its output drives); by default one unit per gate input it drives plus one per
    output bit it feeds (the output register's input)."""
    toggles = np.asarray(toggles)
    if toggles.shape != (netlist.n_gates,):
        raise NetlistError(f"netlist {netlist.name!r}: toggles must have shape ({netlist.n_gates},), "
                           f"got {toggles.shape}")
    cap = fanout_capacitance(netlist) if capacitance is None else np.asarray(capacitance, dtype=np.float64)
    if cap.shape != (netlist.n_gates,):
        raise NetlistError(f"netlist {netlist.name!r}: capacitance must have shape ({netlist.n_gates},), "
                           f"got {cap.shape}")
    return float(0.5 * voltage ** 2 * np.dot(toggles.astype(np.float64), cap))


def fanout_capacitance(netlist: Netlist) -> np.ndarray:
    """Unit capacitance per gate input (and per output bit) that each gate's output drives (float64 per gate)."""
    arity = _ARITY[netlist.ops]
    reads = np.concatenate([netlist.args[arity > k, k] for k in range(3)] + list(netlist.outputs.values()))
    gates = reads[reads >= netlist.first_gate_net] - netlist.first_gate_net
    return np.bincount(gates, minlength=netlist.n_gates).astype(np.float64)


verify_numba_cache(globals(), __name__)
