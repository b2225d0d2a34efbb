"""Verilog in and out: Yosys JSON import, Verilog synthesis through Yosys, structural Verilog export."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from circuits.errors import NetlistError
from circuits.gates import BY_OPCODE, KINDS, render
from circuits.netlist import Netlist, from_gates
from circuits.verilog_scan import check_file_access

# Yosys single-bit cells (simcells.v) as (our kind, Yosys input ports in our operand order).
_CELLS = {
    "$_BUF_": ("BUF", "A"), "$_NOT_": ("NOT", "A"),
    "$_AND_": ("AND", "AB"), "$_NAND_": ("NAND", "AB"), "$_OR_": ("OR", "AB"), "$_NOR_": ("NOR", "AB"),
    "$_XOR_": ("XOR", "AB"), "$_XNOR_": ("XNOR", "AB"), "$_ANDNOT_": ("ANDNOT", "AB"), "$_ORNOT_": ("ORNOT", "AB"),
    "$_MUX_": ("MUX", "ABS"), "$_NMUX_": ("NMUX", "ABS"), "$_AOI3_": ("AOI3", "ABC"), "$_OAI3_": ("OAI3", "ABC"),
}
# Four-input cells become three gates: Y = ~((A op B) op2 (C op D)).
_CELLS4 = {"$_AOI4_": ("AND", "NOR"), "$_OAI4_": ("OR", "NAND")}
_SEQUENTIAL = ("$_DFF", "$_SDFF", "$_DLATCH", "$_SR_", "$_ALDFF", "$_FF_", "$dff", "$adff", "$sdff", "$dlatch",
               "$aldff", "$ff", "$sr", "$mem")


def from_yosys_json(path, top: str | None = None) -> Netlist:
    """Load a gate-level module from Yosys `write_json` output (the top module unless `top` names one)."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO or a device would hang or never end
        raise NetlistError(f"{path}: not a regular file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NetlistError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NetlistError(f"{path}: not valid JSON ({exc})") from None
    try:
        return _parse(doc, top, str(path))
    except NetlistError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # shapes not checked below
        raise NetlistError(f"{path}: malformed Yosys JSON ({type(exc).__name__}: {exc})") from None


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise NetlistError(f"{where}: {what}")


def _parse(doc, top, where) -> Netlist:
    _need(isinstance(doc, dict) and isinstance(doc.get("modules"), dict), where, "no 'modules' object")
    modules = doc["modules"]
    _need(len(modules) > 0, where, "'modules' is empty")
    if top is None:
        tops = [name for name, m in modules.items() if isinstance(m, dict) and isinstance(m.get("attributes"), dict)
                and _truthy(m["attributes"].get("top"))]
        if len(tops) == 1:
            top = tops[0]
        elif len(modules) == 1:
            top = next(iter(modules))
        else:
            raise NetlistError(f"{where}: several modules ({', '.join(modules)}) and none marked top; pass top=")
    _need(top in modules, where, f"no module {top!r} (modules: {', '.join(modules)})")
    mod = modules[top]
    here = f"{where}: module {top}"
    _need(isinstance(mod, dict), here, "is not an object")
    ports, cells = mod.get("ports", {}), mod.get("cells", {})
    _need(isinstance(ports, dict), here, "'ports' is not an object")
    _need(isinstance(cells, dict), here, "'cells' is not an object")
    inputs, outputs = {}, {}
    for pname, port in ports.items():
        _need(isinstance(port, dict) and isinstance(port.get("bits"), list), here, f"port {pname!r} has no bit list")
        direction, bits = port.get("direction"), [_bit(b, f"{here}: port {pname!r}") for b in port["bits"]]
        _need(len(bits) > 0, here, f"port {pname!r} has no bits")
        if direction == "input":
            _need(all(isinstance(b, int) for b in bits), here, f"input port {pname!r} has constant bits")
            inputs[pname] = bits
        elif direction == "output":
            outputs[pname] = bits
        else:
            raise NetlistError(f"{here}: port {pname!r} has direction {direction!r}; only input/output are supported")
    gates = []
    for cname, cell in cells.items():
        at = f"{here}: cell {cname!r}"
        _need(isinstance(cell, dict), at, "is not an object")
        ctype = cell.get("type")
        _need(isinstance(ctype, str), at, "has no type")
        if ctype.startswith(_SEQUENTIAL):
            raise NetlistError(f"{at} of type {ctype} is sequential; only combinational circuits can be simulated")
        conns = cell.get("connections")
        _need(isinstance(conns, dict), at, "has no connections")

        def pin(p, at=at, conns=conns, ctype=ctype):
            bits = conns.get(p)
            _need(isinstance(bits, list) and len(bits) == 1, at, f"({ctype}) port {p} must connect exactly one bit")
            return _bit(bits[0], f"{at} port {p}")

        if ctype in _CELLS or ctype in _CELLS4:
            _need(isinstance(pin("Y"), int), at, f"drives the constant {pin('Y')!r}")
        if ctype in _CELLS:
            kind, pins = _CELLS[ctype]
            gates.append((cname, kind, [pin(p) for p in pins], pin("Y")))
        elif ctype in _CELLS4:
            inner, outer = _CELLS4[ctype]
            t1, t2 = f"{cname}/1", f"{cname}/2"
            gates += [(t1, inner, [pin("A"), pin("B")], t1), (t2, inner, [pin("C"), pin("D")], t2),
                      (cname, outer, [t1, t2], pin("Y"))]
        else:
            raise NetlistError(f"{at} has unsupported type {ctype}; synthesize to single-bit gates "
                               "(synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX)")
    try:
        return from_gates(inputs, gates, outputs, name=top)
    except NetlistError as exc:
        raise NetlistError(f"{here}: {str(exc).removeprefix(f'netlist {top!r}: ')}") from None


def _truthy(value) -> bool:
    if isinstance(value, str):
        return set(value) <= {"0", "1"} and "1" in value
    return bool(value) if isinstance(value, (int, bool)) else False


def _bit(b, where):
    """A Yosys bit: an int net id (>= 2) or the constant strings "0"/"1" ("x"/"z" are rejected)."""
    if isinstance(b, bool) or not isinstance(b, (int, str)):
        raise NetlistError(f"{where}: bit {b!r} is neither a net id nor a constant")
    if isinstance(b, str):
        if b in ("0", "1"):
            return b
        raise NetlistError(f"{where}: bit {b!r} is undefined ('x'/'z' constants cannot be simulated)")
    if b < 2:
        raise NetlistError(f"{where}: net id {b} is below 2 (Yosys numbers nets from 2)")
    return b


def yosys_available() -> bool:
    return shutil.which("yosys") is not None


def from_verilog(path, top: str | None = None) -> Netlist:
    """Synthesize a combinational Verilog module with Yosys to single-bit gates and load it.

    No user string reaches the Yosys script unchecked: `top` must be a simple Verilog identifier, and the
    file is copied into a private folder as `in.v` (Yosys sees only fixed names). Files it reads (`include,
    $readmemh, ...) must be relative paths below the file's own folder (circuits.verilog_scan); Yosys runs there,
    confined to reading that folder (circuits.sandbox), within TESTBED_YOSYS_TIMEOUT seconds (default 600)
    and TESTBED_YOSYS_MEMORY MiB (default 4096). Designs Yosys would simulate silently wrong are refused,
    naming the net or modules: conflicting drivers, tri-state logic, undriven nets, several top modules
    when `top` is not given.
    """
    path = Path(path)
    if top is not None and not (isinstance(top, str) and _IDENTIFIER.fullmatch(top)):
        raise NetlistError(f"{_show(path)}: top = {top!r} is not a Verilog identifier ([A-Za-z_][A-Za-z0-9_$]*)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in str(path)):
        raise NetlistError(f"{_show(path)}: Verilog paths may not contain control characters")
    if not path.is_file():
        raise NetlistError(f"{path}: no such Verilog file")
    if not yosys_available():
        raise NetlistError(f"{path}: yosys is not on PATH (Debian: apt-get install yosys)")
    check_file_access(path)
    with tempfile.TemporaryDirectory(prefix="testbed-yosys-") as tmp:
        if not _SCRIPT_SAFE.fullmatch(tmp):
            raise NetlistError(f"{path}: the temporary folder {tmp!r} has characters a Yosys script cannot hold; "
                               "set TMPDIR to a plain path")
        try:
            shutil.copyfile(path, Path(tmp) / "in.v")
        except OSError as exc:
            raise NetlistError(f"{path}: cannot read ({exc.strerror or exc})") from None
        top_arg = f"-top {top}" if top else "-auto-top"
        script = (f"read_verilog {tmp}/in.v; proc; write_json {tmp}/pre.json; synth -flatten {top_arg}; check -assert; "
                  f"abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX; opt_clean; write_json {tmp}/out.json")
        code, log = run_confined(["yosys", "-q", "-p", script], path, Path(tmp))
        log = log.replace(f"{tmp}/in.v", path.name).replace("in.v", path.name)
        if top is None:
            _one_top(path, Path(tmp) / "pre.json")
        _refuse_silent_wrong(path, log)
        out = Path(tmp) / "out.json"
        if code != 0 or not out.exists():
            lines = [ln for ln in log.splitlines() if ln.strip()]
            msg = next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else "yosys failed")
            raise NetlistError(f"{path}: yosys failed: {msg.strip()}")
        try:
            netlist = from_yosys_json(out, top)
        except NetlistError as exc:
            raise NetlistError(str(exc).replace(str(out), str(path))) from None
    netlist.name = top or netlist.name
    return netlist


def _limit(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    try:
        value = int(text) if text else default
    except ValueError:
        value = 0
    if value < 1:
        raise NetlistError(f"{name}={text!r}: must be a whole number >= 1")
    return value


def run_confined(cmd: list[str], path: Path, tmp: Path) -> tuple[int, str]:
    """Run `cmd` in the folder of `path`, confined (circuits.sandbox: reads below that folder, writes below
    `tmp`), killed with its children past TESTBED_YOSYS_TIMEOUT s or when we are interrupted. Returns
    (exit status, stderr and stdout)."""
    timeout, memory = _limit("TESTBED_YOSYS_TIMEOUT", 600), _limit("TESTBED_YOSYS_MEMORY", 4096)
    folder = path.resolve().parent
    wrapper = [sys.executable, "-I", str(Path(__file__).with_name("sandbox.py")), "--read", str(folder),
               "--write", str(tmp), "--mem", str(memory << 20), "--"]
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(wrapper + cmd, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    start = time.monotonic()
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=min(PROGRESS_S, max(timeout - (time.monotonic() - start), 0)))
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - start
                if elapsed >= timeout:
                    raise NetlistError(f"{path}: yosys ran longer than {timeout} s (set TESTBED_YOSYS_TIMEOUT to "
                                       "allow more)") from None
                print(f"yosys: still synthesizing {path.name} after {elapsed:.0f} s (limit {timeout} s)",
                      file=sys.stderr, flush=True)
    except BaseException:  # the time limit, or we are interrupted: Yosys and its children go too
        _kill(proc)
        raise
    if proc.returncode in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT) or "std::bad_alloc" in err:
        why = f"signal {-proc.returncode}" if proc.returncode < 0 else "std::bad_alloc"
        raise NetlistError(f"{path}: yosys ran out of memory or crashed ({why}) under its limit of {memory} MiB "
                           "(set TESTBED_YOSYS_MEMORY to allow more)")
    return proc.returncode, err + out


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


PROGRESS_S = 10  # a progress line on stderr this often while Yosys runs
_SCRIPT_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")


def _one_top(path: Path, pre: Path) -> None:
    """NetlistError naming them when the design read has several modules that no other instantiates."""
    try:
        modules = json.loads(pre.read_text())["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # Yosys failed before writing it: its own error says why
    used = {cell.get("type") for m in modules.values() for cell in m.get("cells", {}).values()}
    tops = sorted(name for name in modules if name not in used and not name.startswith("$"))
    if len(tops) > 1:
        raise NetlistError(f"{path}: several top-level modules ({', '.join(tops)}); name one with top = \"...\"")


def _refuse_silent_wrong(path: Path, log: str) -> None:
    """NetlistError for what Yosys only warns about but would simulate wrong: conflicting drivers, tri-state
    logic, and the problems `check -assert` found (undriven nets, logic loops)."""
    warnings = [ln.removeprefix("Warning:").strip() for ln in log.splitlines() if ln.startswith("Warning:")]
    for w in warnings:
        if w.startswith("multiple conflicting drivers for"):
            net = w.removeprefix("multiple conflicting drivers for").strip().rstrip(":")
            raise NetlistError(f"{path}: net {net} has several conflicting drivers")
        if "tri-state" in w:
            raise NetlistError(f"{path}: tri-state logic cannot be simulated ({w})")
    if "problems in 'check -assert'" in log:
        raise NetlistError(f"{path}: {warnings[0] if warnings else 'yosys check failed'}")


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _show(path: Path) -> str:
    """A path for a one-line message: control characters escaped."""
    text = str(path)
    return repr(text)[1:-1] if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) else text


def _comment(text: str) -> str:
    """A gate name as a one-line Verilog comment (control characters escaped)."""
    return repr(text)[1:-1]


def to_verilog(netlist: Netlist, module: str | None = None, delays=None) -> str:
    """Structural Verilog (one continuous assignment per gate) that simulates like the netlist.

    delays: integer delay per gate (in Verilog time units) for transport-delay Verilog instead: one
    `always @* n <= #d expr;` per gate (every edge, glitches included, arrives d later)."""
    module = module or "".join(ch if ch.isalnum() else "_" for ch in netlist.name) or "netlist"
    if module[0].isdigit():
        module = "m_" + module
    names = {0: "1'b0", 1: "1'b1"}
    ports = []
    net = 2
    for bus, width in netlist.inputs.items():
        ports.append(f"  input wire [{width - 1}:0] {bus}")
        for k in range(width):
            names[net] = f"{bus}[{k}]"
            net += 1
    for bus, nets in netlist.outputs.items():
        ports.append(f"  output wire [{len(nets) - 1}:0] {bus}")
    lines = [f"module {module} (", ",\n".join(ports), ");"]
    base = netlist.first_gate_net
    for g in range(netlist.n_gates):
        names[base + g] = f"n{base + g}"
        lines.append(f"  {'wire' if delays is None else 'reg'} n{base + g};")
    for g in range(netlist.n_gates):
        kind = BY_OPCODE[int(netlist.ops[g])]
        expr = render(kind, *[names[int(netlist.args[g, i])] for i in range(KINDS[kind].arity)])
        statement = f"assign n{base + g} = " if delays is None else f"always @* n{base + g} <= #{int(delays[g])} "
        lines.append(f"  {statement}{expr};  // {kind} {_comment(netlist.gate_names[g])}")
    for bus, nets in netlist.outputs.items():
        for k, n in enumerate(nets):
            lines.append(f"  assign {bus}[{k}] = {names[int(n)]};")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"
