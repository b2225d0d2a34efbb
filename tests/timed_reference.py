"""An independent, slow event-driven reference of timed simulation with transport delays.

Python big ints as bit vectors (bit s = stream s). Each net keeps its list of (tick, value) changes; a gate is
evaluated at tick t = s + d whenever one of its inputs changed at tick s, on its inputs' values at s.
"""

import bisect
from collections import defaultdict

from circuits.gates import BY_OPCODE, KINDS, evaluate


def reference_timed(netlist, operands: dict, previous: dict, ticks, period: int, cycle: int, until=None,
                    feedback=None, restart=0):
    """operands {bus: list (streams) of lists (elements) of unsigned ints}, previous {bus: list per stream};
    ticks: int delay per gate; element k applied at tick k * cycle, sampled at k * cycle + period; feedback
    {input bus: output bus}: element k (not a multiple of restart; 0: k > 0) takes on the input bus the output
    bus as sampled for element k - 1. Returns ({bus: [[sample per element] per stream]}, toggles per gate up to
    tick `until` (default: the last sample))."""
    buses = list(netlist.inputs)
    n_streams, n = len(operands[buses[0]]), len(operands[buses[0]][0])
    mask = (1 << n_streams) - 1
    kinds = [BY_OPCODE[int(op)] for op in netlist.ops]
    arity = [KINDS[k].arity for k in kinds]
    base = netlist.first_gate_net
    readers = defaultdict(list)
    for g in range(netlist.n_gates):
        for i in range(arity[g]):
            readers[int(netlist.args[g, i])].append(g)

    def word(values, k):
        return sum(((int(v) >> k) & 1) << s for s, v in enumerate(values))

    def element(bus, k, e):
        return [operands[bus][s][e] for s in range(n_streams)]

    input_nets = [(bus, k) for bus, w in netlist.inputs.items() for k in range(w)]
    settled = [0, mask] + [word(previous[bus], k) for bus, k in input_nets]
    for g in range(netlist.n_gates):
        settled.append(evaluate(kinds[g], *[settled[int(netlist.args[g, i])] for i in range(arity[g])],
                                width=n_streams))
    history = [[(-1, v)] for v in settled]  # (tick, value) changes per net, ticks ascending

    def value(net, t):
        h = history[net]
        return h[bisect.bisect_right(h, (t, 1 << 70)) - 1][1]

    pending = defaultdict(set)  # tick -> gates to evaluate
    end = (n - 1) * cycle + period if until is None else until
    toggles = [0] * netlist.n_gates

    def changed(net, t):
        for g in readers[net]:
            pending[t + int(ticks[g])].add(g)

    def run_until(limit):
        while pending and min(pending) <= limit:
            t = min(pending)
            for g in sorted(pending.pop(t)):
                evaluate_gate(g, t)

    def evaluate_gate(g, t):
        v = evaluate(kinds[g], *[value(int(netlist.args[g, i]), t - int(ticks[g])) for i in range(arity[g])],
                     width=n_streams)
        old = value(base + g, t)
        if v != old:
            history[base + g].append((t, v))
            toggles[g] += bin(v ^ old).count("1")
            changed(base + g, t)

    feedback = feedback or {}
    for e in range(n):
        t = e * cycle
        run_until(t)  # every transition up to this element's start (the previous sample included)
        fed = e % (restart or n) != 0
        for i, (bus, k) in enumerate(input_nets):
            if fed and bus in feedback:
                v = value(int(netlist.outputs[feedback[bus]][k]), t - cycle + period)
            else:
                v = word(element(bus, k, e), k)
            if v != value(2 + i, t):
                history[2 + i].append((t, v))
                changed(2 + i, t)
    run_until(end)
    outputs = {}
    for bus, nets in netlist.outputs.items():
        outputs[bus] = [[sum(((value(int(net), e * cycle + period) >> s) & 1) << k for k, net in enumerate(nets))
                         for e in range(n)] for s in range(n_streams)]
    return outputs, toggles
