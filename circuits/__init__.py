"""Gate-level digital circuits: netlists, generators, Yosys import/Verilog export, a Numba bit-parallel
simulator with fault injection, single stuck-at fault campaigns, arithmetic error metrics, and gate delays with
static timing and a timed (transport-delay) simulator of operand streams."""

import circuits.jitcache  # noqa: F401 (first: Numba caches only in private folders, before any kernel exists)

# isort: split
from circuits import hardening, imported, mac  # noqa: F401 (registers the file circuits and the MAC)
from circuits.bitplanes import MASKS, transpose64, transpose_fields
from circuits.errors import NetlistError
from circuits.faults import GateFaultPlan, GateFaults, GateMasks
from circuits.gates import KINDS
from circuits.generators import (
    broken_array_multiplier,
    kogge_stone_adder,
    multiplier,
    ripple_carry_adder,
    tmr,
    truncated_multiplier,
)
from circuits.layout import WORDS
from circuits.netlist import Netlist, from_gates
from circuits.registry import GENERATORS, Param, circuit, generator
from circuits.signed import booth_multiplier
from circuits.simulate import exhaustive, simulate, simulate_planes
from circuits.sparse import (
    flip_keys,
    flip_sites,
    simulate_touched,
    simulate_touched_pairs,
    sparse_pays_off,
    touched_vectors,
)
from circuits.timed import Timed, timed_simulate
from circuits.timing import StaticTiming, dynamic_energy, gate_delays, static_timing
from circuits.timing_faults import TimingPlan, TimingReport

__all__ = [
    "GENERATORS", "KINDS", "MASKS", "WORDS", "GateFaultPlan", "GateFaults", "GateMasks", "Netlist", "NetlistError",
    "Param", "booth_multiplier", "broken_array_multiplier", "circuit", "exhaustive", "from_gates", "generator",
    "kogge_stone_adder", "multiplier", "ripple_carry_adder", "simulate", "simulate_planes", "tmr", "transpose64",
    "transpose_fields",
    "truncated_multiplier", "hardening", "mac", "StaticTiming", "Timed", "dynamic_energy", "gate_delays",
    "static_timing", "timed_simulate", "flip_keys", "flip_sites", "simulate_touched", "sparse_pays_off",
    "simulate_touched_pairs", "touched_vectors",
    "TimingPlan", "TimingReport",
]
