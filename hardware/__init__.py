"""The hardware room: the datapath a network runs on, in the loop of its integer engine: the multiplier family
(exact, a netlist's table, the netlist at gate level, the processing element with its accumulator adder) and
their bit-plane kernels. Sits below networks' engine and imports only public names of circuits."""

from hardware import gatemac, pe
from hardware.errors import HardwareError
from hardware.multipliers import (
    ARITHMETICS,
    MODES,
    ExactMultiplier,
    GateMultiplier,
    Multiplier,
    ProcessingElement,
    TableMultiplier,
)
from hardware.pe import GATE_SITES, TIMED_PARTS, GateSite, Part
from hardware.tables import EXACT_FLOAT, exact_accumulate

__all__ = ["ARITHMETICS", "EXACT_FLOAT", "GATE_SITES", "MODES", "TIMED_PARTS", "ExactMultiplier",
           "GateMultiplier", "GateSite", "HardwareError", "Multiplier", "Part", "ProcessingElement", "TableMultiplier",
           "exact_accumulate", "gatemac", "pe"]
