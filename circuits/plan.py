"""The interpreter's plan of a netlist: a signal slot per net, reused once the last reader of a net has run.

Linear in the number of gates (compiled with Numba, cached on disk), so netlists of millions of gates are
planned in milliseconds. Slot 0 holds constant 0, slot 1 constant 1, slots 2.. the input bits; gate outputs
take the most recently freed slot (outputs of the netlist are never freed).
"""

import numpy as np
from numba import njit

from circuits.cache import verify_numba_cache


@njit(cache=True, nogil=True)
def _slots(args, out_nets, base, n_nets):
    n_gates = args.shape[0]
    last = np.full(n_nets, -1, np.int64)  # index of the last gate reading each net; n_gates for outputs
    for g in range(n_gates):
        for k in range(3):
            last[args[g, k]] = g
    for n in out_nets:
        last[n] = n_gates
    due = np.full(n_nets, -1, np.int64)  # the gate before which a net's slot is freed (-1: never)
    for n in range(2, n_nets):
        d = last[n]
        if n >= base and d < 0:
            d = n - base + 1  # a gate output nobody reads is freed after the next gate
        if 0 <= d < n_gates:
            due[n] = d
    start = np.zeros(n_gates + 1, np.int64)  # nets freed before gate g: order[start[g]:start[g+1]], ascending
    for n in range(n_nets):
        if due[n] >= 0:
            start[due[n] + 1] += 1
    for g in range(n_gates):
        start[g + 1] += start[g]
    fill = start[:-1].copy()
    order = np.empty(start[n_gates], np.int64)
    for n in range(n_nets):
        if due[n] >= 0:
            order[fill[due[n]]] = n
            fill[due[n]] += 1
    slot = np.zeros(n_nets, np.int32)
    slot[1] = 1
    for n in range(2, base):
        slot[n] = n
    free = np.empty(n_nets, np.int32)
    nfree = 0
    nslots = base
    for g in range(n_gates):
        for q in range(start[g], start[g + 1]):
            free[nfree] = slot[order[q]]
            nfree += 1
        if nfree:
            nfree -= 1
            slot[base + g] = free[nfree]
        else:
            slot[base + g] = nslots
            nslots += 1
    return slot, nslots


def liveness_slots(netlist) -> tuple[np.ndarray, int]:
    """(slot per net as int32, number of slots) of a netlist."""
    outs = np.concatenate([np.asarray(v, np.int64) for v in netlist.outputs.values()])
    slot, nslots = _slots(netlist.args, outs, netlist.first_gate_net, netlist.n_nets)
    return slot, int(nslots)


verify_numba_cache(globals(), __name__)
