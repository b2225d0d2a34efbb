"""Registry entries for circuits read from files: Verilog through Yosys, and Yosys JSON netlists."""

from __future__ import annotations

from pathlib import Path

from circuits.registry import Param, circuit
from circuits.yosys import from_verilog, from_yosys_json, yosys_available

_TOP = Param(str, None, help="module name (default: the top module)")


@circuit("verilog", "a combinational Verilog module synthesized by Yosys", available=yosys_available,
         path=Param(Path, help="the Verilog file"), top=_TOP)
def verilog(path, top=None):
    return from_verilog(path, top)


@circuit("yosys_json", "a Yosys write_json netlist", path=Param(Path, help="the JSON file"), top=_TOP)
def yosys_json(path, top=None):
    return from_yosys_json(path, top)
