"""The netlist: a combinational gate DAG in topological order with named input and output buses.

Nets are integers: 0 is constant 0, 1 is constant 1, then the input bits (buses in declaration
order, bit 0 = least significant first), then one net per gate output in gate order. A gate may
read only nets numbered below its own, so the DAG is acyclic and topologically ordered by
construction. `from_gates` builds one from named nets in any order and validates it.
"""

from __future__ import annotations

import hashlib
from collections import deque

import numpy as np

from circuits.errors import NetlistError
from circuits.gates import BY_OPCODE, KINDS

CONST0, CONST1 = 0, 1


class Netlist:
    """A validated combinational netlist.

    inputs: {bus name: width}; outputs: {bus name: int array of net ids, bit 0 first};
    ops: uint8 opcode per gate (see circuits.gates); args: int32 (n_gates, 3) input nets per gate
    (unused operands are net 0); gate_names: one name per gate, used in messages and fault lists;
    signed: whether buses hold two's-complement numbers.
    """

    def __init__(self, inputs, ops, args, outputs, gate_names=None, name="netlist", signed=False):
        self.name = str(name)
        self.signed = bool(signed)
        self.inputs = {str(k): int(v) for k, v in inputs.items()}
        self.ops = np.ascontiguousarray(ops, dtype=np.uint8)
        self.args = np.ascontiguousarray(np.asarray(args, dtype=np.int32).reshape(-1, 3))
        self.outputs = {str(k): np.asarray(v, dtype=np.int64) for k, v in outputs.items()}
        self.gate_names = list(gate_names) if gate_names is not None else [f"g{i}" for i in range(len(self.ops))]
        self._validate()
        self.args.setflags(write=False)
        self.ops.setflags(write=False)

    # -- sizes -----------------------------------------------------------------------------
    @property
    def n_gates(self) -> int:
        return len(self.ops)

    @property
    def n_input_bits(self) -> int:
        return sum(self.inputs.values())

    @property
    def n_nets(self) -> int:
        return 2 + self.n_input_bits + self.n_gates

    @property
    def first_gate_net(self) -> int:
        return 2 + self.n_input_bits

    def input_nets(self, bus: str) -> np.ndarray:
        """Net ids of one input bus, bit 0 first."""
        start = 2
        for name, width in self.inputs.items():
            if name == bus:
                return np.arange(start, start + width)
            start += width
        raise NetlistError(f"netlist {self.name!r}: no input bus {bus!r} (inputs: {', '.join(self.inputs)})")

    @property
    def output_widths(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.outputs.items()}

    def gate_index(self, gate) -> int:
        """A gate's index from its index or its name."""
        if isinstance(gate, (int, np.integer)):
            if not 0 <= gate < self.n_gates:
                raise NetlistError(f"netlist {self.name!r}: gate index {gate} outside 0..{self.n_gates - 1}")
            return int(gate)
        try:
            return self.gate_names.index(gate)
        except ValueError:
            raise NetlistError(f"netlist {self.name!r}: no gate named {gate!r}") from None

    def depth(self) -> int:
        """Logic depth: the most gates on any input-to-output path."""
        level = np.zeros(self.n_nets, dtype=np.int64)
        base = self.first_gate_net
        for g in range(self.n_gates):
            arity = KINDS[BY_OPCODE[int(self.ops[g])]].arity
            level[base + g] = 1 + max(level[self.args[g, k]] for k in range(arity))
        outs = np.concatenate(list(self.outputs.values())) if self.outputs else np.zeros(0, np.int64)
        return int(level[outs].max()) if len(outs) else 0

    def fingerprint(self) -> str:
        """A hash of the structure (gates, buses, signedness): equal netlists share compiled kernels.

        Computed once: a netlist's gates and buses are not changed after construction."""
        if getattr(self, "_fingerprint", None) is None:
            self._fingerprint = self._hash()
        return self._fingerprint

    def _hash(self) -> str:
        h = hashlib.sha256()
        h.update(repr((sorted(self.inputs.items()), self.signed)).encode())
        h.update(self.ops.tobytes())
        h.update(self.args.tobytes())
        for k, v in self.outputs.items():
            h.update(k.encode() + b":" + v.astype(np.int64).tobytes())
        return h.hexdigest()[:20]

    def __repr__(self) -> str:
        ins = ", ".join(f"{k}[{w}]" for k, w in self.inputs.items())
        outs = ", ".join(f"{k}[{len(v)}]" for k, v in self.outputs.items())
        return f"Netlist({self.name!r}: {ins} -> {outs}, {self.n_gates} gates)"

    # -- validation --------------------------------------------------------------------------
    def _validate(self) -> None:
        where = f"netlist {self.name!r}"
        for name, width in self.inputs.items():
            if width < 1:
                raise NetlistError(f"{where}: input bus {name!r} has width {width}; widths must be >= 1")
        for name in self.outputs:
            if name in self.inputs:
                raise NetlistError(f"{where}: bus name {name!r} is both an input and an output")
        if len(self.gate_names) != self.n_gates:
            raise NetlistError(f"{where}: {len(self.gate_names)} gate names for {self.n_gates} gates")
        if self.args.shape[0] != self.n_gates:
            raise NetlistError(f"{where}: {self.args.shape[0]} argument rows for {self.n_gates} gates")
        bad = np.flatnonzero(self.ops >= len(BY_OPCODE))
        if len(bad):
            g = int(bad[0])
            raise NetlistError(f"{where}: gate {self.gate_names[g]!r} has unknown opcode {int(self.ops[g])}")
        own = self.first_gate_net + np.arange(self.n_gates)
        late = np.flatnonzero(((self.args < 0) | (self.args >= own[:, None])).any(axis=1))
        if len(late):
            g = int(late[0])
            raise NetlistError(
                f"{where}: gate {self.gate_names[g]!r} reads net(s) {self.args[g].tolist()} not driven before it "
                "(cycle, undriven net or gates out of topological order)")
        for name, nets in self.outputs.items():
            if nets.ndim != 1 or len(nets) == 0:
                raise NetlistError(f"{where}: output bus {name!r} has no bits")
            if ((nets < 0) | (nets >= self.n_nets)).any():
                raise NetlistError(f"{where}: output bus {name!r} is connected to an undriven net")


def from_gates(inputs, gates, outputs, name="netlist", signed=False) -> Netlist:
    """Build and validate a netlist from named nets in any gate order.

    inputs: {bus: [net name, ...]} bit 0 first; gates: [(gate name, kind, [input nets], output net)];
    outputs: {bus: [net name or "0"/"1", ...]} bit 0 first. Raises NetlistError naming the
    gate or net for unknown kinds, wrong arity, multiply driven or undriven nets and cycles.
    """
    where = f"netlist {name!r}"
    driver: dict = {}
    for bus, bits in inputs.items():
        for k, net in enumerate(bits):
            if net in driver:
                raise NetlistError(f"{where}: net {net!r} is driven twice (input {bus}[{k}] and {driver[net]})")
            driver[net] = f"input {bus}[{k}]"
    gate_of: dict = {}
    for idx, gate in enumerate(gates):
        try:
            gname, kind, ins, out = gate
        except (TypeError, ValueError):
            raise NetlistError(f"{where}: gate #{idx} is not (name, kind, inputs, output): {gate!r}") from None
        if kind not in KINDS:
            raise NetlistError(f"{where}: gate {gname!r} has unknown kind {kind!r} (known: {', '.join(KINDS)})")
        if len(ins) != KINDS[kind].arity:
            raise NetlistError(f"{where}: gate {gname!r} of kind {kind} takes {KINDS[kind].arity} inputs, "
                               f"got {len(ins)}")
        if out in driver or _is_const(out):
            raise NetlistError(f"{where}: net {out!r} is driven twice ({driver.get(out, 'a constant')} "
                               f"and gate {gname!r})")
        driver[out] = f"gate {gname!r}"
        gate_of[out] = idx
    # Kahn's algorithm over gate-to-gate dependencies.
    readers: list[list[int]] = [[] for _ in gates]
    pending = [0] * len(gates)
    for idx, (gname, _kind, ins, _out) in enumerate(gates):
        for net in ins:
            if _is_const(net):
                continue
            if net not in driver:
                raise NetlistError(f"{where}: net {net!r} read by gate {gname!r} is undriven")
            if net in gate_of:
                readers[gate_of[net]].append(idx)
                pending[idx] += 1
    ready = deque(i for i, n in enumerate(pending) if n == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(i)
        for r in readers[i]:
            pending[r] -= 1
            if pending[r] == 0:
                ready.append(r)
    if len(order) != len(gates):
        stuck = [gates[i][0] for i, n in enumerate(pending) if n > 0][:5]
        raise NetlistError(f"{where}: combinational cycle through gate(s) {', '.join(map(repr, stuck))}")
    net_id: dict = {}
    nid = 2
    for bits in inputs.values():
        for net in bits:
            net_id[net] = nid
            nid += 1
    first_gate = nid
    for pos, i in enumerate(order):
        net_id[gates[i][3]] = first_gate + pos

    def resolve(net, reader):
        if _is_const(net):
            return CONST1 if str(net) == "1" else CONST0
        if net not in net_id:
            raise NetlistError(f"{where}: net {net!r} used by {reader} is undriven")
        return net_id[net]

    ops = np.zeros(len(gates), np.uint8)
    args = np.zeros((len(gates), 3), np.int32)
    names = []
    for pos, i in enumerate(order):
        gname, kind, ins, _out = gates[i]
        ops[pos] = KINDS[kind].opcode
        for k, net in enumerate(ins):
            args[pos, k] = resolve(net, f"gate {gname!r}")
        names.append(str(gname))
    outs = {bus: [resolve(net, f"output {bus}[{k}]") for k, net in enumerate(bits)] for bus, bits in outputs.items()}
    return Netlist({bus: len(bits) for bus, bits in inputs.items()}, ops, args, outs, names, name, signed)


def _is_const(net) -> bool:
    """Constants are the strings "0" and "1" (as in Yosys JSON); every other value names a net."""
    return isinstance(net, str) and net in ("0", "1")
