"""When each net of a netlist can change under integer gate delays: the static analysis behind timed simulation.

A net can change only at the sums of gate delays along the paths from the inputs to it, counted from an input
change (a subset of [earliest, latest] arrival); with period C, the changes of earlier cycles fold onto the
ticks 1..C of the current one.
"""

from __future__ import annotations

import numpy as np

from circuits.gates import BY_OPCODE, KINDS
from circuits.netlist import Netlist

ARITY = np.array([KINDS[BY_OPCODE[i]].arity for i in range(len(KINDS))], dtype=np.int64)


def change_ticks(netlist: Netlist, ticks: np.ndarray) -> list[int]:
    """Per net, a Python-int bit set: bit r set when the net can change r ticks after an input change (inputs:
    bit 0; constants: none)."""
    arity = ARITY[netlist.ops]
    paths = [0, 0] + [1] * netlist.n_input_bits
    for g in range(netlist.n_gates):
        reach = 0
        for k in range(arity[g]):
            reach |= paths[netlist.args[g, k]]
        paths.append(reach << int(ticks[g]))
    return paths


def reader_delays(netlist: Netlist, ticks: np.ndarray) -> np.ndarray:
    """Per net, the longest delay of the gates that read it (0 when none does)."""
    arity = ARITY[netlist.ops]
    longest = np.zeros(netlist.n_nets, np.int64)
    for k in range(3):
        live = arity > k
        np.maximum.at(longest, netlist.args[live, k], ticks[live])
    return longest


def fold(mask: int, cycle: int) -> list[int]:
    """The ticks 1..cycle of a cycle at which relative ticks r >= 1 of `mask` fall (r -> (r - 1) % cycle + 1)."""
    n = mask.bit_length()
    if n <= 1:
        return []
    raw = np.frombuffer((mask >> 1).to_bytes((n + 7) // 8, "little"), np.uint8)
    later = np.flatnonzero(np.unpackbits(raw, bitorder="little"))
    return sorted(set((later % cycle + 1).tolist()))
