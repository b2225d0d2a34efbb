"""Gate-level digital circuits: netlists, generators, Yosys import/Verilog export, a Numba bit-parallel
simulator with fault injection, single stuck-at fault campaigns and arithmetic error metrics."""

from circuits.errors import NetlistError
from circuits.gates import KINDS
from circuits.generators import (
    broken_array_multiplier,
    kogge_stone_adder,
    multiplier,
    ripple_carry_adder,
    tmr,
    truncated_multiplier,
)
from circuits.netlist import Netlist, from_gates
from circuits.simulate import exhaustive, simulate, simulate_planes

__all__ = [
    "KINDS", "Netlist", "NetlistError", "broken_array_multiplier", "exhaustive", "from_gates", "kogge_stone_adder",
    "multiplier", "ripple_carry_adder", "simulate", "simulate_planes", "tmr", "truncated_multiplier",
]
