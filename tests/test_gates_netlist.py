import re

import numpy as np
import pytest

from circuits import NetlistError, from_gates
from circuits.builder import Builder
from circuits.gates import KINDS, evaluate
from circuits.netlist import Netlist

# Truth tables written out independently of the gate table: output for (a, b, c) = 000, 001, ..., 111
# with a the least significant index bit.
TRUTH = {
    "BUF": "01010101", "NOT": "10101010", "AND": "00010001", "NAND": "11101110", "OR": "01110111",
    "NOR": "10001000", "XOR": "01100110", "XNOR": "10011001", "ANDNOT": "01000100", "ORNOT": "11011101",
    "MUX": "01010011", "NMUX": "10101100", "MAJ": "00010111", "AOI3": "11100000", "OAI3": "11111000",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gate_table_matches_truth_table(kind):
    got = "".join(str(evaluate(kind, i & 1, (i >> 1) & 1, (i >> 2) & 1)) for i in range(8))
    assert got == TRUTH[kind]


def test_from_gates_orders_topologically_and_names_gates():
    net = from_gates({"x": ["x0", "x1"]}, [("g2", "XOR", ["n1", "x1"], "y"), ("g1", "AND", ["x0", "x1"], "n1")],
                     {"y": ["y", "0"]})
    assert net.gate_names == ["g1", "g2"]
    assert net.n_gates == 2 and net.output_widths == {"y": 2}


@pytest.mark.parametrize("inputs,gates,outputs,fragment", [
    ({"x": ["a"]}, [("g1", "FOO", ["a"], "y")], {"y": ["y"]}, "unknown kind 'FOO'"),
    ({"x": ["a"]}, [("g1", "AND", ["a"], "y")], {"y": ["y"]}, "gate 'g1' of kind AND takes 2 inputs"),
    ({"x": ["a"]}, [("g1", "NOT", ["zz"], "y")], {"y": ["y"]}, "net 'zz' read by gate 'g1' is undriven"),
    ({"x": ["a"]}, [("g1", "NOT", ["a"], "y"), ("g2", "BUF", ["a"], "y")], {"y": ["y"]}, "net 'y' is driven twice"),
    ({"x": ["a"]}, [("g1", "NOT", ["a"], "a")], {"y": ["a"]}, "net 'a' is driven twice"),
    ({"x": ["a"]}, [("g1", "AND", ["a", "n2"], "n1"), ("g2", "NOT", ["n1"], "n2")], {"y": ["n2"]},
     "combinational cycle through gate(s) 'g1', 'g2'"),
    ({"x": ["a"]}, [("g1", "NOT", ["a"], "y")], {"y": ["nowhere"]}, "net 'nowhere' used by output y[0] is undriven"),
])
def test_from_gates_rejects_malformed_netlists(inputs, gates, outputs, fragment):
    with pytest.raises(NetlistError, match=re.escape(fragment)):
        from_gates(inputs, gates, outputs, name="bad")


def test_netlist_rejects_out_of_order_and_unknown_opcodes():
    with pytest.raises(NetlistError, match="gate 'g0' reads net"):
        Netlist({"a": 1}, [2], [[2, 3, 0]], {"y": [3]})
    with pytest.raises(NetlistError, match="unknown opcode 99"):
        Netlist({"a": 1}, [99], [[2, 2, 0]], {"y": [3]})
    with pytest.raises(NetlistError, match="output bus 'y' is connected to an undriven net"):
        Netlist({"a": 1}, [1], [[2, 0, 0]], {"y": [7]})
    with pytest.raises(NetlistError, match="input bus 'a' has width 0"):
        Netlist({"a": 0}, [], np.zeros((0, 3)), {"y": [0]})


def test_builder_folds_constant_operands():
    b = Builder("fold")
    x = b.input("x", 1)[0]
    assert b.gate("AND", x, Builder.ZERO) == Builder.ZERO
    assert b.gate("AND", x, Builder.ONE) == x
    assert b.gate("XOR", x, x) == Builder.ZERO
    assert b.gate("MUX", Builder.ZERO, x, Builder.ONE) == x
    y = b.gate("XOR", x, Builder.ONE)
    assert b.ops == [KINDS["NOT"].opcode] and y == 3
