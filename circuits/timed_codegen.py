"""Generated straight-line timed kernels: one cycle of a periodic schedule unrolled into scalar statements.

Every write of a net at tick tau of the cycle becomes a local `v{net}_{tau}` computed from the locals that hold
its inputs at tau - d; a value from before the cycle's start (tick tau <= 0) is a carried local `h{net}_{m}`
(the net at m ticks before the start), loaded at the start and stored at the end of each cycle. The loop over
a block's words holds the whole cycle and touches one flat buffer at constant offsets (inputs, outputs, carried
values, toggle counts), so it vectorises. Toggles: popcount of each write against the value one tick before.
"""

from __future__ import annotations

import bisect

import numpy as np

from circuits import kernels
from circuits.gates import BY_OPCODE, render
from circuits.netlist import Netlist
from circuits.timed_plan import ARITY, change_ticks, fold

BLOCK = 8  # words per block: 512 streams
POPCOUNT = '''
@intrinsic
def popcount(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen
'''


class _Cycle:
    """Symbolic values of every net within one cycle of `cycle` ticks."""

    def __init__(self, netlist: Netlist, ticks: np.ndarray, cycle: int):
        self.netlist, self.base = netlist, netlist.first_gate_net
        paths = change_ticks(netlist, ticks)
        self.writes = {n: fold(paths[n], cycle) for n in range(self.base, netlist.n_nets)}
        self.needed: set[tuple[int, int]] = set()

    def value(self, n: int, tau: int) -> str:
        """The local that holds net n at tick tau of the cycle (tau <= 0: before the cycle's start)."""
        if n < 2:
            return f"c{n}"
        if n < self.base:
            return f"v{n}_0" if tau >= 0 else self.carried(n, -tau)
        if tau <= 0:
            return self.carried(n, -tau)
        w = self.writes[n]
        i = bisect.bisect_right(w, tau)
        return f"v{n}_{w[i - 1]}" if i else self.carried(n, 0)

    def carried(self, n: int, m: int) -> str:
        self.needed.add((n, m))
        return f"h{n}_{m}"


def source(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int, block: int = BLOCK) -> str:
    """The generated module of one (netlist, delays in ticks, cycle, sample tick): `run(inp, prev, out, ncyc,
    nw, toggles)` with the interpreter's planes layout (timed.py)."""
    cyc = _Cycle(netlist, ticks, cycle)
    base, n_in = cyc.base, netlist.n_input_bits
    out_nets = np.concatenate(list(netlist.outputs.values()))
    body = [f"v{n}_0 = buf[{(n - 2) * block} + j]" for n in range(2, base)]
    events = sorted((tau, n) for n, taus in cyc.writes.items() for tau in taus)
    for tau, n in events:
        g = n - base
        kind = BY_OPCODE[int(netlist.ops[g])]
        ins = [cyc.value(int(netlist.args[g, k]), tau - int(ticks[g])) for k in range(ARITY[netlist.ops[g]])]
        old = cyc.value(n, tau - 1)
        body.append(f"v{n}_{tau} = {render(kind, *ins)}")
        body.append(f"buf[TOG + {g * block} + j] += popcount(v{n}_{tau} ^ {old})")
    body += [f"buf[OUT + {i * block} + j] = {cyc.value(int(n), sample)}" for i, n in enumerate(out_nets)]
    stores, done = [], set()
    while cyc.needed - done:  # end of cycle: each carried local becomes the net m ticks before the next start
        n, m = min(cyc.needed - done)
        done.add((n, m))
        new = cyc.value(n, cycle - m)
        if new != f"h{n}_{m}":
            stores.append((n, m, new))
    slots = {key: i for i, key in enumerate(sorted(cyc.needed))}
    loads = [f"h{n}_{m} = buf[ST + {slots[n, m] * block} + j]" for n, m in sorted(cyc.needed)]
    body = loads + body + [f"buf[ST + {slots[n, m] * block} + j] = {new}" for n, m, new in stores]
    settle = [f"s{n} = buf[{(n - 2) * block} + j]" for n in range(2, base)]
    for g in range(netlist.n_gates):
        kind = BY_OPCODE[int(netlist.ops[g])]
        ins = [f"s{a}" if a >= 2 else f"c{a}" for a in (int(netlist.args[g, k]) for k in range(ARITY[netlist.ops[g]]))]
        settle.append(f"s{base + g} = {render(kind, *ins)}")
    settle += [f"buf[ST + {slots[n, m] * block} + j] = {'s' if n >= 2 else 'c'}{n}" for n, m in sorted(cyc.needed)]
    n_out = len(out_nets)
    lines = ["import numpy as np", "from numba import njit, types", "from numba.extending import intrinsic",
             POPCOUNT, "", f"B = {block}", f"OUT = {n_in * block}", f"ST = {(n_in + n_out) * block}",
             f"TOG = {(n_in + n_out + len(slots)) * block}", f"TOTAL = {(n_in + n_out + len(slots)) * block} + "
             f"{netlist.n_gates * block}", "", "",
             "@njit(cache=True, nogil=True)", "def run(inp, prev, out, ncyc, nw, toggles):",
             "    buf = np.zeros(TOTAL, np.uint64)", "    c0 = np.uint64(0)", "    c1 = ~c0",
             "    for w0 in range(0, nw, B):",
             f"        for i in range({n_in}):", "            for j in range(B):",
             "                buf[i * B + j] = prev[i, w0 + j]",
             "        for j in range(B):"]
    lines += [f"            {s}" for s in settle]
    lines += ["        for k in range(ncyc):", "            col = k * nw + w0",
              f"            for i in range({n_in}):", "                for j in range(B):",
              "                    buf[i * B + j] = inp[i, col + j]",
              "            for j in range(B):"]
    lines += [f"                {s}" for s in body]
    lines += [f"            for i in range({n_out}):", "                for j in range(B):",
              "                    out[i, col + j] = buf[OUT + i * B + j]",
              f"        for g in range({netlist.n_gates}):", "            for j in range(B):",
              "                toggles[g] += buf[TOG + g * B + j]", "                buf[TOG + g * B + j] = 0", ""]
    return "\n".join(lines)


def kernel(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int, block: int = BLOCK):
    """The compiled module (generated once per structure, delays, cycle and sample tick; cached on disk)."""
    return kernels._load(source(netlist, ticks, cycle, sample, block), f"timed_{netlist.fingerprint()}",
                         ("run",))
