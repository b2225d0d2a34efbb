"""Yosys import, Verilog export checked in Icarus Verilog, and the JSON loader under malformed input."""

import json
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circuits as c
from circuits import NetlistError
from circuits.yosys import from_verilog, from_yosys_json, to_verilog
from tests.conftest import require_tool

MUL_V = "module mul8(input [7:0] a, input [7:0] b, output [15:0] p);\n  assign p = a * b;\nendmodule\n"


def test_yosys_multiplier_simulates_exactly(tmp_path):
    require_tool("yosys")
    src = tmp_path / "mul8.v"
    src.write_text(MUL_V)
    net = from_verilog(src)
    assert net.inputs == {"a": 8, "b": 8} and 250 < net.n_gates < 450
    for ins, outs in c.exhaustive(net):
        np.testing.assert_array_equal(outs["p"], ins["a"] * ins["b"])


def test_yosys_rejects_sequential_and_reports_syntax_errors(tmp_path):
    require_tool("yosys")
    seq = tmp_path / "reg.v"
    seq.write_text("module r(input clk, input d, output reg q);\n always @(posedge clk) q <= d;\nendmodule\n")
    with pytest.raises(NetlistError, match="is sequential"):
        from_verilog(seq)
    bad = tmp_path / "bad.v"
    bad.write_text("module b(input a, output y);\n assign y = ;\nendmodule\n")
    with pytest.raises(NetlistError, match=r"bad\.v: yosys failed"):
        from_verilog(bad)


@pytest.mark.parametrize("net", [c.multiplier(5, 4, "wallace", signed=True), c.booth_multiplier(8),
                                 c.kogge_stone_adder(6), c.tmr(c.multiplier(3))], ids=lambda n: n.name)
def test_verilog_export_matches_simulator_in_icarus(tmp_path, net):
    require_tool("iverilog", "vvp")
    rng = np.random.default_rng(0)
    ops = {bus: rng.integers(0, 1 << w, 300) for bus, w in net.inputs.items()}
    unsigned = c.Netlist(net.inputs, net.ops, net.args, net.outputs, net.gate_names, net.name, signed=False)
    expected = c.simulate(unsigned, **ops)
    (tmp_path / "dut.v").write_text(to_verilog(net, "dut"))
    for bus, vals in ops.items():
        (tmp_path / f"{bus}.hex").write_text("\n".join(f"{int(v):x}" for v in vals) + "\n")
    decl = "\n".join(f"  reg [{w - 1}:0] {b}_mem [0:299]; reg [{w - 1}:0] {b};" for b, w in net.inputs.items())
    decl += "\n" + "\n".join(f"  wire [{len(n) - 1}:0] {b};" for b, n in net.outputs.items())
    load = "\n".join(f'    $readmemh("{tmp_path}/{b}.hex", {b}_mem);' for b in net.inputs)
    assign = " ".join(f"{b} = {b}_mem[i];" for b in net.inputs)
    ports = ", ".join(f".{b}({b})" for b in [*net.inputs, *net.outputs])
    (out,) = net.outputs
    tb = f"""module tb;
{decl}
  integer i;
  dut u({ports});
  initial begin
{load}
    for (i = 0; i < 300; i = i + 1) begin {assign} #1 $display("%0d", {out}); end
  end
endmodule
"""
    (tmp_path / "tb.v").write_text(tb)
    subprocess.run(["iverilog", "-o", str(tmp_path / "sim"), str(tmp_path / "tb.v"), str(tmp_path / "dut.v")],
                   check=True, capture_output=True)
    run = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], check=True, capture_output=True, text=True)
    got = [int(x) for x in run.stdout.split()]
    assert got == expected[out].tolist()


def _json(tmp_path, doc):
    path = tmp_path / "n.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _module(cells, ports=None):
    ports = ports or {"a": {"direction": "input", "bits": [2, 3]}, "y": {"direction": "output", "bits": [4]}}
    return {"modules": {"m": {"attributes": {"top": "00000000000000000000000000000001"}, "ports": ports,
                              "cells": cells}}}


def test_json_loader_reads_gates_constants_and_four_input_cells(tmp_path):
    cells = {"u1": {"type": "$_AOI4_", "connections": {"A": [2], "B": [3], "C": [2], "D": ["1"], "Y": [4]}}}
    ports = {"a": {"direction": "input", "bits": [2, 3]}, "y": {"direction": "output", "bits": [4, "1", 2]}}
    net = from_yosys_json(_json(tmp_path, _module(cells, ports)))
    out = c.simulate(net, a=np.arange(4))["y"]
    # y[0] = ~((a0 & a1) | a0), y[1] = 1, y[2] = a0
    assert out.tolist() == [0b011, 0b110, 0b011, 0b110]


@pytest.mark.parametrize("doc,fragment", [
    ("{not json", "not valid JSON"),
    ({"nomodules": 1}, "no 'modules' object"),
    (_module({"u1": {"type": "$_DFF_P_", "connections": {"C": [2], "D": [3], "Q": [4]}}}), "is sequential"),
    (_module({"u1": {"type": "$add", "connections": {"A": [2], "B": [3], "Y": [4]}}}), "unsupported type $add"),
    (_module({"u1": {"type": "$_AND_", "connections": {"A": [2], "Y": [4]}}}), "port B must connect exactly one"),
    (_module({"u1": {"type": "$_AND_", "connections": {"A": [2], "B": ["x"], "Y": [4]}}}), "bit 'x' is undefined"),
    (_module({"u1": {"type": "$_NOT_", "connections": {"A": [9], "Y": [4]}}}), "net 9 read by gate 'u1' is undriven"),
    (_module({"u1": {"type": "$_NOT_", "connections": {"A": [5], "Y": [4]}},
              "u2": {"type": "$_NOT_", "connections": {"A": [4], "Y": [5]}}}), "combinational cycle"),
    (_module({"u1": {"type": "$_NOT_", "connections": {"A": [2], "Y": [4]}},
              "u2": {"type": "$_NOT_", "connections": {"A": [3], "Y": [4]}}}), "net 4 is driven twice"),
])
def test_json_loader_names_the_culprit(tmp_path, doc, fragment):
    with pytest.raises(NetlistError, match=fragment.replace("$", r"\$")):
        from_yosys_json(_json(tmp_path, doc))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 12) | st.sampled_from(
    ["0", "1", "x", "input", "output", "$_AND_", "$_NOT_", "$_MUX_", "$_DFF_P_", "A", "B", "Y", "S"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["modules", "m", "ports", "cells", "bits", "direction", "type", "connections", "A", "B", "Y", "S",
         "attributes", "top", "a", "y", "u1"]), inner, max_size=5), max_leaves=30)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(doc=json_values)
def test_json_loader_fuzzed_raises_only_netlist_error(tmp_path, doc):
    try:
        net = from_yosys_json(_json(tmp_path, doc))
    except NetlistError as exc:
        assert str(exc)
    else:
        assert isinstance(net, c.Netlist)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(cells=st.dictionaries(st.sampled_from(["u1", "u2", "u3"]), st.fixed_dictionaries({
    "type": st.sampled_from(["$_AND_", "$_OR_", "$_NOT_", "$_MUX_", "$_XOR_", "$_AOI3_", "$_OAI4_", "$_BUF_"]),
    "connections": st.dictionaries(st.sampled_from("ABCDSY"), st.lists(st.integers(2, 7) | st.sampled_from(
        ["0", "1"]), min_size=1, max_size=2), max_size=6)}), max_size=3))
def test_json_loader_fuzzed_cells(tmp_path, cells):
    try:
        from_yosys_json(_json(tmp_path, _module(cells)))
    except NetlistError as exc:
        assert "module m" in str(exc)


MUL4_V = "module mul4(input [3:0] a, input [3:0] b, output [7:0] p);\n  assign p = a * b;\nendmodule\n"


@pytest.mark.parametrize("top", ["mul4; exec -- touch PWNED;", "mul4\nexec -- touch PWNED", "mul4 ;exec -- touch PWNED",
                                 "-top", "", "4mul", 4])
def test_yosys_top_injection_is_rejected(tmp_path, monkeypatch, top):
    require_tool("yosys")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mul4.v").write_text(MUL4_V)
    with pytest.raises(NetlistError, match="is not a Verilog identifier"):
        from_verilog(tmp_path / "mul4.v", top)
    assert not list(tmp_path.rglob("PWNED"))


def test_yosys_path_with_control_characters_is_rejected(tmp_path, monkeypatch):
    require_tool("yosys")
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "a.v\nexec\t--\ttouch\tPWNED"
    src.write_text(MUL4_V)
    with pytest.raises(NetlistError, match="control characters") as err:
        from_verilog(src)
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize("name", ["-lib", "-p", "mul 4;x.v", "q'\"uote.v"])
def test_yosys_odd_file_names_are_read_as_files(tmp_path, monkeypatch, name):
    """Names that look like options or hold separators are only ever file names: the right circuit comes back."""
    require_tool("yosys")
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(MUL4_V)
    net = from_verilog(name, "mul4")
    assert net.inputs == {"a": 4, "b": 4}
    for ins, outs in c.exhaustive(net):
        np.testing.assert_array_equal(outs["p"], ins["a"] * ins["b"])
