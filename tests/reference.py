"""An independent, slow reference simulator: Python big ints as bit vectors (bit v = vector v)."""

from circuits.gates import BY_OPCODE, KINDS, evaluate


def reference_simulate(netlist, operands: dict, stuck=(), inverted=()) -> dict:
    """Outputs {bus: list of unsigned ints} for operands {bus: list of unsigned ints}, with stuck-at faults and
    inverted gates (indices)."""
    n = len(next(iter(operands.values())))
    mask = (1 << n) - 1
    val = [0, mask]
    for bus, width in netlist.inputs.items():
        for k in range(width):
            val.append(sum(((int(x) >> k) & 1) << v for v, x in enumerate(operands[bus])))
    forced = {netlist.gate_index(g): s for g, s in stuck}
    for g in range(netlist.n_gates):
        kind = BY_OPCODE[int(netlist.ops[g])]
        ins = [val[int(netlist.args[g, i])] for i in range(KINDS[kind].arity)]
        out = evaluate(kind, *ins, width=n)
        if g in forced:
            out = mask if forced[g] else 0
        if g in inverted:
            out ^= mask
        val.append(out)
    result = {}
    for bus, nets in netlist.outputs.items():
        result[bus] = [sum(((val[int(net)] >> v) & 1) << k for k, net in enumerate(nets)) for v in range(n)]
    return result
