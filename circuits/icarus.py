"""Icarus Verilog as the independent oracle of timed simulation: the same streams through event-driven Verilog.

The netlist is exported with transport delays (circuits.yosys.to_verilog(delays=...), one Verilog time unit per
tick) and a testbench applies, per stream, its previous vector, waits until everything settled, then applies the
stream's elements every C ticks and samples the outputs T ticks after each with $strobe (the values at the end
of that time step: every transition at or before T). C = T (continuous) or the settling time (settled).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from circuits.errors import NetlistError
from circuits.netlist import Netlist
from circuits.timing import gate_delays, static_timing
from circuits.yosys import to_verilog


def icarus_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def _testbench(netlist: Netlist, n_streams: int, n: int, period: int, cycle: int, settle: int, folder: Path) -> str:
    ins, outs = netlist.inputs, netlist.outputs
    rows = n_streams * (n + 1)
    decl = "\n".join(f"  reg [{w - 1}:0] {b}__mem [0:{rows - 1}]; reg [{w - 1}:0] {b};" for b, w in ins.items())
    decl += "\n" + "\n".join(f"  wire [{len(nets) - 1}:0] {b};" for b, nets in outs.items())
    load = "\n".join(f'    $readmemh("{folder}/{b}.hex", {b}__mem);' for b in ins)
    apply = " ".join(f"{b} = {b}__mem[tb__s * {n + 1} + tb__k];" for b in ins)
    ports = ", ".join(f".{b}({b})" for b in [*ins, *outs])
    fmt = " ".join(["%h"] * len(outs))
    rest = f" #{cycle - period};" if cycle > period else ""
    return f"""`timescale 1ns/1ns
module tb;
{decl}
  integer tb__s, tb__k;
  dut u({ports});
  initial begin
{load}
    for (tb__s = 0; tb__s < {n_streams}; tb__s = tb__s + 1) begin
      tb__k = 0; {apply} #{settle};
      for (tb__k = 1; tb__k <= {n}; tb__k = tb__k + 1) begin
        {apply} #{period}; $strobe("{fmt}", {", ".join(outs)});{rest}
      end
    end
  end
endmodule
"""


def icarus_timed(netlist: Netlist, operands: dict, period: int, delays="unit", clocking: str = "continuous",
                 previous: dict | None = None) -> tuple[dict[str, np.ndarray], float]:
    """Outputs of Icarus on operand streams {bus: (streams, n) unsigned ints} with previous {bus: (streams,)}
    (default 0), period and delays in whole delay units (ticks); returns ({bus: (streams, n) unsigned
    samples}, seconds vvp ran). Output bits wired straight to an input bit are refused (Icarus would sample the
    next element there)."""
    if not icarus_available():
        raise NetlistError("iverilog and vvp are not on PATH (Debian: apt-get install iverilog)")
    direct = [f"{b}[{k}]" for b, nets in netlist.outputs.items() for k, net in enumerate(nets)
              if 2 <= net < netlist.first_gate_net]
    if direct:
        raise NetlistError(f"netlist {netlist.name!r}: output bits {', '.join(direct)} are wired to inputs")
    d = gate_delays(netlist, delays)
    if not np.all(d == np.round(d)):
        raise NetlistError(f"netlist {netlist.name!r}: Icarus export needs whole-unit delays")
    latest = static_timing(netlist, d).latest[netlist.first_gate_net:]
    settle = int(latest.max()) + 1 if len(latest) else 1
    cycle = period if clocking == "continuous" else max(period, settle)
    streams = {b: np.atleast_2d(np.asarray(v)) for b, v in operands.items()}
    n_streams, n = next(iter(streams.values())).shape
    previous = previous or {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for b in netlist.inputs:
            prev = np.broadcast_to(np.asarray(previous.get(b, 0)), (n_streams,))
            rows = np.concatenate([prev[:, None], streams[b]], axis=1).reshape(-1)
            (folder / f"{b}.hex").write_text("\n".join(f"{int(v):x}" for v in rows) + "\n")
        (folder / "dut.v").write_text(to_verilog(netlist, "dut", delays=d.astype(np.int64)))
        (folder / "tb.v").write_text(_testbench(netlist, n_streams, n, period, cycle, settle, folder))
        build = subprocess.run(["iverilog", "-o", str(folder / "sim"), str(folder / "tb.v"), str(folder / "dut.v")],
                               capture_output=True, text=True)
        if build.returncode:
            raise NetlistError(f"netlist {netlist.name!r}: iverilog failed: {(build.stderr or build.stdout).strip()}")
        t0 = time.perf_counter()
        run = subprocess.run(["vvp", "-n", str(folder / "sim")], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    words = run.stdout.split()
    if len(words) != n_streams * n * len(netlist.outputs):
        raise NetlistError(f"Icarus printed {len(words)} values, expected {n_streams * n * len(netlist.outputs)}")
    if any(set(w.lower()) - set("0123456789abcdef") for w in words):
        raise NetlistError(f"netlist {netlist.name!r}: Icarus sampled undefined (x/z) output values")
    values = np.array([int(w, 16) for w in words], dtype=object).reshape(n_streams, n, len(netlist.outputs))
    return {b: values[:, :, i].astype(np.int64) for i, b in enumerate(netlist.outputs)}, seconds
