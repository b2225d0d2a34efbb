"""Verilog reads no host file and is never simulated silently wrong (issue 21, items 4 and 7): absolute or
escaping `include / $readmemh paths are refused naming file and line; files beside the Verilog file work
(an include and a ROM image, checked against their contents); Yosys runs confined to that folder (a symlink
out of it is not followed); conflicting drivers, tri-states and an ambiguous top are refused naming the net or
the modules. Driven through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.hostile import cli, refused, tree

SUITE = """
[suite]
name = "verilog"
[defaults]
max_trials = 2
refine = 0
budget = 0
[systems.dut]
kind = "circuit"
circuit = "verilog"
path = "design/dut.v"
operands = "exhaustive"
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [1e-3, 1e-1]
sites = {dut = "gate"}
"""
ROM = [0x3C, 0xA5, 0x0F, 0x81]
GOOD = {
    "dut.v": '`include "defs.vh"\nmodule dut(input [1:0] a, output [7:0] y);\n  reg [7:0] mem [0:3];\n'
             '  initial $readmemh("rom.hex", mem);\n  assign y = mem[a] ^ `MASK;\nendmodule\n',
    "defs.vh": "`define MASK 8'h11\n",
    "rom.hex": "\n".join(f"{v:02x}" for v in ROM) + "\n",
}


def _world(tmp_path: Path, files: dict) -> Path:
    require_tool("yosys")
    (tmp_path / "design").mkdir()
    for name, text in files.items():
        (tmp_path / "design" / name).write_text(text)
    (tmp_path / "s.toml").write_text(SUITE)
    return tmp_path


def _run(work: Path):
    return cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=work)


def test_files_beside_the_verilog_file_are_read(tmp_path):
    """The include and the ROM image beside dut.v both reach the logic: the netlist computes ROM[a] ^ 0x11
    for every a (the oracle: the files' contents)."""
    import numpy as np

    import circuits

    work = _world(tmp_path, GOOD)
    result = _run(work)
    assert result.returncode == 0, result.stderr[-2000:]
    net = circuits.generator("verilog")(path=str(work / "design" / "dut.v"))
    a = np.arange(4)
    assert list(circuits.simulate(net, a=a)["y"]) == [v ^ 0x11 for v in ROM]


SECRET = "SECRET-CONTENT"


@pytest.mark.parametrize("case, text, needle", [
    ("absolute include", '`include "{secret}"\nmodule dut(input a, output y); assign y = a; endmodule\n',
     "dut.v:1: `include"),
    ("include out of the folder", '`include "../outside/secret.vh"\nmodule dut(input a, output y); '
     'assign y = a; endmodule\n', "dut.v:1"),
    ("include built from a macro", '`define F "{secret}"\n`include `F\nmodule dut(input a, output y); '
     'assign y = a; endmodule\n', "dut.v:2: `include must name its file"),
    ("absolute readmemh", 'module dut(input [1:0] a, output [7:0] y);\n  reg [7:0] mem [0:3];\n'
     '  initial $readmemh("{secret}", mem);\n  assign y = mem[a];\nendmodule\n', "dut.v:3: $readmemh"),
])
def test_host_files_are_not_read(tmp_path, case, text, needle):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.vh"
    secret.write_text(f"`define LEAK \"{SECRET}\"\n")
    work = _world(tmp_path, {"dut.v": text.format(secret=secret)})
    before = tree(work)
    err = refused(_run(work), needle)
    assert SECRET not in err and tree(work) == before


def test_yosys_is_confined_to_the_folder(tmp_path):
    """A relative include that is a symlink out of the folder passes the text check; the sandbox stops it."""
    from circuits.sandbox import available

    if not available():
        pytest.skip("no Landlock in this kernel: only the text check applies")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.vh").write_text("`define MASK 8'h11\n")
    work = _world(tmp_path, {"dut.v": GOOD["dut.v"], "rom.hex": GOOD["rom.hex"]})
    (work / "design" / "defs.vh").symlink_to(outside / "secret.vh")
    refused(_run(work), "dut.v", "defs.vh")


@pytest.mark.parametrize("case, text, needle", [
    ("two drivers", "module dut(input a, input b, output y);\n  assign y = a;\n  assign y = b;\nendmodule\n",
     "several conflicting drivers"),
    ("tri-state", "module dut(input a, input en, output y);\n  assign y = en ? a : 1'bz;\nendmodule\n",
     "tri-state"),
    ("two tops", "module dut(input a, output y); assign y = a; endmodule\n"
     "module other(input a, output y); assign y = ~a; endmodule\n", "several top-level modules (dut, other)"),
    ("undriven output", "module dut(input a, output y, output z);\n  assign y = a;\nendmodule\n", "dut.v"),
])
def test_designs_yosys_would_simulate_wrong_are_refused(tmp_path, case, text, needle):
    work = _world(tmp_path, {"dut.v": text})
    before = tree(work)
    refused(_run(work), needle)
    assert tree(work) == before


BIG = """module dut(input [15:0] a, output [15:0] y);
  genvar i;
  wire [15:0] t [0:200000];
  assign t[0] = a;
  generate for (i = 0; i < 200000; i = i + 1) begin : g
    assign t[i+1] = t[i] ^ {t[i][14:0], t[i][15]};
  end endgenerate
  assign y = t[200000];
endmodule
"""


def _yosys_pids(marker: str) -> list[int]:
    """Processes whose environment holds `marker` (our TMPDIR): the Yosys of this test and its children."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("limit, needle", [({"TESTBED_YOSYS_TIMEOUT": "3"}, "longer than 3 s"),
                                           ({"TESTBED_YOSYS_MEMORY": "150"}, "150 MiB")])
def test_yosys_runs_within_time_and_memory_limits(tmp_path, limit, needle):
    work = _world(tmp_path, {"dut.v": BIG})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = cli("run", "s.toml", "--out", "run", cwd=work, env={**limit, "TMPDIR": str(tmp)})
    refused(result, "dut.v", needle)
    assert not list(tmp.iterdir()) and not _yosys_pids(str(tmp))  # no temporary folder, no Yosys left


def test_yosys_ends_with_the_runner_and_leaves_no_temporary_folder(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.hostile import CLI_MODULE, ROOT

    work = _world(tmp_path, {"dut.v": BIG})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    runner = subprocess.Popen([sys.executable, "-m", CLI_MODULE, "run", "s.toml", "--out", "run"], cwd=work,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(_yosys_pids(str(tmp))) < 2 and time.monotonic() < deadline:  # the runner and Yosys
        time.sleep(0.2)
    assert len(_yosys_pids(str(tmp))) >= 2, "Yosys never started"
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    time.sleep(0.5)
    assert runner.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert not _yosys_pids(str(tmp)) and not list(tmp.iterdir())
