"""Numba source generated per netlist from the gate table (circuits.gates.KINDS).

- a straight-line kernel: one loop over the words of a block holds the whole netlist as scalar locals
  (`s93 = ~(s12 & s40)`); inputs and outputs are staged in one flat buffer at constant offsets so LLVM
  vectorises the loop (blocks of CLEAN_B words; B words with flips, whose masks then stay in L1). Two
  variants: fault-free, and transient flips (each gate output XOR a flip mask from circuits.rng);
- a segmented fault-free kernel for large netlists: functions of at most SEGMENT_GATES gates each, so that
  compile time stays linear in the gate count, called in order by one compiled driver (`run`).
"""

from __future__ import annotations

from circuits.gates import BY_OPCODE, KINDS, render
from circuits.layout import CHUNK_BLOCKS, CLEAN_B, B
from circuits.rng import RNG_SOURCE


def straight_line_source(netlist) -> str:
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
             RNG_SOURCE]
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


def segmented_source(netlist, slot) -> str:
    """Fault-free kernel of a large netlist as functions of at most SEGMENT_GATES gates each, run one after
    another on a flat buffer of signal slots (slot[net] from circuits.plan, CLEAN_B words each, at constant
    offsets): each loads the nets it reads from earlier segments, computes its gates as locals and stores
    the nets that later segments or the outputs read. Loads come before stores, so reused slots are safe.
    `run(planes, out, v, in_count, out_slots)` runs them all, CLEAN_B words of the input planes at a time: inputs
    copied into slots 2.., output slots copied out."""
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
    lines += ["", "", "@njit(cache=True, nogil=True)", "def run(planes, out, v, in_count, out_slots):",
              f"    for w0 in range(0, planes.shape[1], {b}):", "        for i in range(in_count):",
              f"            for j in range({b}):", f"                v[(2 + i) * {b} + j] = planes[i, w0 + j]",
              *(f"        seg{k}(v)" for k in range(nseg)), "        for k in range(out_slots.shape[0]):",
              f"            for j in range({b}):", f"                out[k, w0 + j] = v[out_slots[k] * {b} + j]"]
    return "\n".join(lines) + "\n"
