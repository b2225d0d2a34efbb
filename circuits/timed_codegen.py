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
SEGMENT = 400  # statements per generated function
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


def _statements(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int):
    """One cycle as statements (target, expression, names used) in tick order, and the carried slots
    (net, ticks before the start) in slot order. Targets: a local name, or ('tog', gate), ('out', bit),
    ('st', slot) for buffer regions (toggle counts are added to)."""
    cyc = _Cycle(netlist, ticks, cycle)
    base = cyc.base
    stmts = []
    for tau, n in sorted((tau, n) for n, taus in cyc.writes.items() for tau in taus):
        g = n - base
        kind = BY_OPCODE[int(netlist.ops[g])]
        ins = [cyc.value(int(netlist.args[g, k]), tau - int(ticks[g])) for k in range(ARITY[netlist.ops[g]])]
        old = cyc.value(n, tau - 1)
        stmts.append((f"v{n}_{tau}", render(kind, *ins), set(ins)))
        stmts.append((("tog", g), f"popcount(v{n}_{tau} ^ {old})", {f"v{n}_{tau}", old}))
    out_nets = np.concatenate(list(netlist.outputs.values()))
    for i, n in enumerate(out_nets):
        name = cyc.value(int(n), sample)
        stmts.append((("out", i), name, {name}))
    stores, done = [], set()
    while cyc.needed - done:  # end of cycle: each carried local becomes the net m ticks before the next start
        n, m = min(cyc.needed - done)
        done.add((n, m))
        new = cyc.value(n, cycle - m)
        if new != f"h{n}_{m}":
            stores.append(((n, m), new))
    slots = sorted(cyc.needed)
    index = {key: i for i, key in enumerate(slots)}
    stmts += [(("st", index[key]), new, {new}) for key, new in stores]
    return stmts, slots


def source(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int, block: int = BLOCK,
           segment: int = SEGMENT) -> str:
    """The generated module of one (netlist, delays in ticks, cycle, sample tick): `run(inp, init, out, ncyc,
    nw, toggles)` with the planes layout of timed.py and `init` the settled value of each carried slot. The
    cycle is cut into functions of `segment` statements (compile time stays linear); locals that cross a cut
    pass through the buffer's value region."""
    stmts, slots = _statements(netlist, ticks, cycle, sample)
    n_in, n_out = netlist.n_input_bits, sum(netlist.output_widths.values())
    segments = [stmts[i:i + segment] for i in range(0, len(stmts), segment)] or [[]]
    defined_in = {}
    for k, seg in enumerate(segments):
        for target, _, _ in seg:
            if isinstance(target, str):
                defined_in[target] = k
    crossing = sorted({u for k, seg in enumerate(segments) for _, _, uses in seg for u in uses
                       if u in defined_in and defined_in[u] < k})
    val = {name: i for i, name in enumerate(crossing)}
    region = {"IN": 0, "OUT": n_in, "ST": n_in + n_out, "VAL": n_in + n_out + len(slots),
              "TOG": n_in + n_out + len(slots) + len(val)}
    total = region["TOG"] + netlist.n_gates
    slot_of = {f"h{n}_{m}": i for i, (n, m) in enumerate(slots)}

    def where(name: str) -> str:
        if name in val:
            return f"buf[{(region['VAL'] + val[name]) * block} + j]"
        if name in slot_of:
            return f"buf[{(region['ST'] + slot_of[name]) * block} + j]"
        net = int(name[1:].split("_")[0])  # an input bit v{net}_0
        return f"buf[{(net - 2) * block} + j]"

    lines = ["import numpy as np", "from numba import njit, types", "from numba.extending import intrinsic",
             POPCOUNT, "", f"B = {block}", ""]
    for k, seg in enumerate(segments):
        uses = {u for _, _, us in seg for u in us if u not in ("c0", "c1")}
        local = {t for t, _, _ in seg if isinstance(t, str)}
        body = [f"{u} = {where(u)}" for u in sorted(uses - local)]
        for target, expr, _ in seg:
            if isinstance(target, str):
                body.append(f"{target} = {expr}")
                if target in val:
                    body.append(f"{where(target)} = {target}")
            else:
                what, i = target
                offset = (region[what.upper()] + i) * block
                body.append(f"buf[{offset} + j] {'+' if what == 'tog' else ''}= {expr}")
        lines += ["", "@njit(cache=True, nogil=True)", f"def seg{k}(buf):", "    c0 = np.uint64(0)", "    c1 = ~c0",
                  "    for j in range(B):"] + [f"        {b}" for b in body] + ["    return 0", ""]
    calls = "\n".join(f"            seg{k}(buf)" for k in range(len(segments)))
    lines.append(f"""
@njit(cache=True, nogil=True)
def run(inp, init, out, ncyc, nw, toggles):
    buf = np.zeros({total * block}, np.uint64)
    for w0 in range(0, nw, B):
        for i in range({len(slots)}):
            for j in range(B):
                buf[({region['ST']} + i) * B + j] = init[i, w0 + j]
        for k in range(ncyc):
            col = k * nw + w0
            for i in range({n_in}):
                for j in range(B):
                    buf[i * B + j] = inp[i, col + j]
{calls}
            for i in range({n_out}):
                for j in range(B):
                    out[i, col + j] = buf[({region['OUT']} + i) * B + j]
        for g in range({netlist.n_gates}):
            for j in range(B):
                toggles[g] += buf[({region['TOG']} + g) * B + j]
                buf[({region['TOG']} + g) * B + j] = 0
""")
    return "\n".join(lines)


def carried_nets(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int) -> np.ndarray:
    """The net of each carried slot, in slot order (their settled values start the kernel)."""
    return np.array([n for n, _ in _statements(netlist, ticks, cycle, sample)[1]], dtype=np.int64)


def kernel(netlist: Netlist, ticks: np.ndarray, cycle: int, sample: int, block: int = BLOCK):
    """The compiled module (generated once per structure, delays, cycle and sample tick; cached on disk)."""
    return kernels._load(source(netlist, ticks, cycle, sample, block), f"timed_{netlist.fingerprint()}",
                         ("run",))
