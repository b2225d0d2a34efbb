"""Builder: assemble a netlist gate by gate with integer nets, folding constant operands."""

from __future__ import annotations

import numpy as np

from circuits.errors import NetlistError
from circuits.gates import BY_OPCODE, KINDS, evaluate
from circuits.netlist import CONST0, CONST1, Netlist


class Builder:
    """Declare all inputs first, then add gates (each returns its output net), then outputs.

    Gates whose result is fixed by constant operands are folded away (AND with 0 is 0, XOR with 1
    is NOT, ...), so generated circuits contain no gate with a constant input.
    """

    ZERO, ONE = CONST0, CONST1

    def __init__(self, name: str, signed: bool = False):
        self.name, self.signed = name, signed
        self.inputs: dict[str, int] = {}
        self.ops: list[int] = []
        self.args: list[tuple[int, int, int]] = []
        self.names: list[str] = []
        self.outputs: dict[str, list[int]] = {}
        self._next_input = 2

    def input(self, bus: str, width: int) -> list[int]:
        if self.ops:
            raise NetlistError(f"netlist {self.name!r}: input {bus!r} declared after the first gate")
        if bus in self.inputs:
            raise NetlistError(f"netlist {self.name!r}: input {bus!r} declared twice")
        self.inputs[bus] = width
        nets = list(range(self._next_input, self._next_input + width))
        self._next_input += width
        return nets

    def gate(self, kind: str, *ins: int, name: str | None = None) -> int:
        folded = _fold(kind, ins)
        if folded is not None:
            if isinstance(folded, tuple):
                kind, ins = folded
            else:
                return folded
        if kind not in KINDS or len(ins) != KINDS[kind].arity:
            raise NetlistError(f"netlist {self.name!r}: bad gate {kind}{tuple(ins)}")
        self.ops.append(KINDS[kind].opcode)
        self.args.append(tuple(ins) + (0,) * (3 - len(ins)))
        self.names.append(name or f"g{len(self.ops) - 1}")
        return self._next_input + len(self.ops) - 1

    def output(self, bus: str, nets) -> None:
        self.outputs[bus] = [int(n) for n in nets]

    def instantiate(self, netlist: Netlist, connections: dict[str, list[int]], prefix: str = "") -> dict:
        """Copy `netlist` into this builder with its inputs wired to `connections`; return its output nets."""
        remap = np.zeros(netlist.n_nets, dtype=np.int64)
        remap[CONST1] = CONST1
        for bus in netlist.inputs:
            remap[netlist.input_nets(bus)] = connections[bus]
        base = netlist.first_gate_net
        for g in range(netlist.n_gates):
            kind = BY_OPCODE[int(netlist.ops[g])]
            ins = [int(remap[netlist.args[g, k]]) for k in range(KINDS[kind].arity)]
            remap[base + g] = self.gate(kind, *ins, name=prefix + netlist.gate_names[g])
        return {bus: [int(remap[n]) for n in nets] for bus, nets in netlist.outputs.items()}

    def build(self) -> Netlist:
        """The netlist of every gate that some output depends on (dead gates are dropped)."""
        base = self._next_input
        live = np.zeros(len(self.ops), dtype=bool)
        for nets in self.outputs.values():
            for n in nets:
                if n >= base:
                    live[n - base] = True
        for g in range(len(self.ops) - 1, -1, -1):
            if live[g]:
                for a in self.args[g]:
                    if a >= base:
                        live[a - base] = True
        remap = np.arange(base + len(self.ops))
        remap[base:] = base + np.cumsum(live) - 1
        keep = np.flatnonzero(live)
        args = remap[np.asarray(self.args, dtype=np.int64).reshape(-1, 3)[keep]] if len(keep) else np.zeros((0, 3))
        outputs = {bus: [int(remap[n]) for n in nets] for bus, nets in self.outputs.items()}
        return Netlist(self.inputs, np.asarray(self.ops, np.uint8)[keep], args, outputs,
                       [self.names[g] for g in keep], self.name, self.signed)

    # conveniences
    def half_adder(self, a: int, b: int) -> tuple[int, int]:
        return self.gate("XOR", a, b), self.gate("AND", a, b)

    def full_adder(self, a: int, b: int, c: int) -> tuple[int, int]:
        """Sum and carry with the classic 5-gate cell: s = a^b^c, carry = a&b | c&(a^b)."""
        t = self.gate("XOR", a, b)
        return self.gate("XOR", t, c), self.gate("OR", self.gate("AND", a, b), self.gate("AND", c, t))


def _fold(kind: str, ins):
    """Result of a gate with constant operands: a net, a simpler (kind, ins), or None to keep it.

    Works from the gate table: with at most one non-constant operand x, the gate is a constant,
    x or NOT x, read off its truth table. MAJ and MUX with one constant reduce to AND/OR or a wire.
    """
    consts = (CONST0, CONST1)
    if kind == "BUF":
        return ins[0]
    free = sorted({i for i in ins if i not in consts})
    if len(free) == len(ins) and len(set(ins)) == len(ins):
        return None
    if len(free) <= 1:
        x = free[0] if free else None
        f = [evaluate(kind, *[(v if i == x else i) for i in ins]) for v in (0, 1)]
        if f[0] == f[1]:
            return f[0]
        return x if f == [0, 1] else ("NOT", (x,))
    if kind == "MAJ" and len(free) == 2 and len(set(ins)) == 3:
        return ("AND" if CONST0 in ins else "OR", tuple(free))
    if kind == "MUX" and ins[2] in consts:
        return ins[1] if ins[2] == CONST1 else ins[0]
    return None
