"""The circuit kind: a registered circuit generator with its parameters, optionally hardened, under an operand
set (exhaustive, random, or recorded from a network's multiplies)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import circuits
from circuits import GENERATORS, NetlistError, static_timing
from circuits.hardening import apply_hardening, parse_hardening
from circuits.registry import REQUIRED
from testbed.kinds.base import BuildContext, Problems, SystemKind, num, refers_to
from testbed.kinds.population import resolve
from testbed.settings import SETTINGS
from testbed.systems import CircuitSystem

MAX_VECTORS = 1 << 24
KEYS = {"kind": str, "circuit": str, "tmr": bool, "harden": str, "operands": str, "n_vectors": int, "optional": bool}


@dataclass(frozen=True)
class CircuitSpec:
    """A circuit system: a registered generator with its parameters (file paths resolved)."""

    name: str
    circuit: str
    params: dict
    harden: str = "none"  # a circuits.hardening spec: none, tmr, dwc, cone:K, block:PREFIX, sensitivity:F
    operands: str = "exhaustive"  # exhaustive | random | recorded
    recorded_from: str | None = None  # the network whose operands are recorded
    n_vectors: int = SETTINGS.n_vectors
    optional: bool = False
    kind = "circuit"


def harden(base, spec: str, name: str):
    """The netlist hardened as `spec` says, named `name`, and the facts a report shows (spec, base gates, gates
    added, overhead)."""
    hardened = apply_hardening(base, spec)
    hardened.netlist.name = name
    return hardened.netlist, {"spec": spec, "base_gates": base.n_gates, "gates_added": hardened.gates_added,
                              "overhead": hardened.overhead}


def check_harden(p: Problems, where: str, spec) -> None:
    if isinstance(spec, str):
        try:
            parse_hardening(spec)
        except NetlistError as exc:
            p.add(f"{where}.harden", str(exc))


LIST_WIDTH = 8  # the width a required integer parameter takes in `testbed list`'s critical path delays


def _default_delay(gen) -> str:
    """'; D = u / c' (static timing, unit and cells delays) of a generator's netlist with its defaults, its
    required integer parameters at LIST_WIDTH; '' for one that reads a file or needs other parameters."""
    required = [k for k, p in gen.params.items() if p.default is REQUIRED]
    if gen.reads_file or any(gen.params[k].type is not int for k in required):
        return ""
    values = {k: LIST_WIDTH for k in required}
    if gen.problems(values):
        return ""
    net = gen(**values)
    at = f" at {', '.join(f'{k} {v}' for k, v in values.items())}" if values else ""
    return f"; D{at} = {static_timing(net).D:g} / {static_timing(net, 'cells').D:g}"


def build_netlist(spec: CircuitSpec):
    """The netlist of a circuit spec (through the circuit registry) with its hardening applied, its hardening
    facts, and the exact function it computes or approximates (None when the registry does not know it)."""
    generator = circuits.generator(spec.circuit)
    net, facts = harden(generator(**spec.params), spec.harden, spec.name)
    return net, facts, generator.intended(**spec.params)


class Circuit(SystemKind):
    """circuit = a name of the circuit registry (`testbed list`) and that generator's parameters (e.g. width, m,
    form, signed; path, top for verilog / yosys_json); harden = "none" | "tmr" | "dwc" | "cone:K" | "block:PREFIX"
    | "sensitivity:F" (circuits.hardening; tmr = true is an alias); operands = "exhaustive" | "random" |
    "recorded:NET"; n_vectors (int); optional (bool: skip with a note when the circuit's tool, e.g. Yosys, is
    missing)."""

    name, site_world, provides = "circuit", "circuit", frozenset({"multiplier"})

    @classmethod
    def parse(cls, p, where, name, table, tables, base: Path):
        before = len(p.items)
        circ = table.get("circuit")
        gen = GENERATORS.get(circ) if isinstance(circ, str) else None
        if gen is None:
            p.add(f"{where}.circuit", f"unknown circuit {circ!r} (allowed: {', '.join(GENERATORS)})")
        p.check_keys({k: v for k, v in table.items() if k in KEYS}, KEYS, where)
        if gen is None:
            return None
        params = {k: v for k, v in table.items() if k not in KEYS}
        for key, why in gen.problems(params).items():
            p.add(f"{where}.{key}", why)
        for key, param in gen.params.items():
            if param.type is Path and isinstance(params.get(key), str):
                file = base / params[key]
                if not file.is_file():
                    p.add(f"{where}.{key}", f"no such file {file}")
                params[key] = str(file)
        ops = table.get("operands", "exhaustive")
        recorded_from = None
        if isinstance(ops, str) and ops.startswith("recorded:"):
            recorded_from = ops.split(":", 1)[1]
            if not refers_to(tables, recorded_from, "operands"):
                p.add(f"{where}.operands", f"{ops!r} does not name a network system")
            ops = "recorded"
        elif isinstance(ops, str) and ops not in ("exhaustive", "random"):
            p.add(f"{where}.operands", f"must be exhaustive, random or recorded:NETWORK, got {ops!r}")
        hard = table.get("harden", "tmr" if table.get("tmr") else "none")
        if "harden" in table and "tmr" in table:
            p.add(f"{where}.tmr", "give harden or tmr (an alias of harden = \"tmr\"), not both")
        else:
            check_harden(p, where, hard)
        n_vectors = table.get("n_vectors", SETTINGS.n_vectors)
        if isinstance(n_vectors, int) and not 1 <= n_vectors <= MAX_VECTORS:
            p.add(f"{where}.n_vectors", f"must be in 1..{MAX_VECTORS}, got {n_vectors}")
        if len(p.items) > before:
            return None
        return CircuitSpec(name, circ, params, hard, ops, recorded_from, n_vectors, table.get("optional", False))

    @classmethod
    def build(cls, spec: CircuitSpec, ctx: BuildContext):
        if spec.optional and not circuits.generator(spec.circuit).available():
            ctx.notes.append(f"systems.{spec.name} skipped: its tool is not installed")
            return None
        ctx.netlists[spec.name] = build_netlist(spec)
        if spec.operands == "recorded":
            return None  # in finish(), once the network it records has been built
        net, facts, intended = ctx.netlists[spec.name]
        return CircuitSystem(net, spec.operands, spec.n_vectors, ctx.seed, spec.name, facts, intended)

    @classmethod
    def finish(cls, spec: CircuitSpec, ctx: BuildContext):
        if spec.operands != "recorded" or spec.name not in ctx.netlists:
            return None
        source = ctx.systems.get(resolve(spec.recorded_from, ctx.populations))
        if source is None:
            ctx.notes.append(f"systems.{spec.name} skipped: recorded:{spec.recorded_from} was skipped")
            return None
        net, facts, intended = ctx.netlists[spec.name]
        return CircuitSystem(net, source.operand_histogram, spec.n_vectors, ctx.seed, spec.name, facts, intended)

    @classmethod
    def catalog(cls):
        return ["circuits (D: the critical path delay with default parameters, unit / cells delays):"] + [
            f"  {name:<24} {gen.summary}; {', '.join(gen.params)}{_default_delay(gen)}"
            for name, gen in GENERATORS.items()]

    @classmethod
    def section(cls, name, d):
        return {"title": f"{name} (circuit)", "items": [
            f"{d['gates']} gates, logic depth {d['depth']} (noise-free run on the {d.get('engine')} engine); inputs "
            f"{json.dumps(d['inputs'])}, outputs {json.dumps(d['outputs'])}",
            f"operands: {d['operands']} ({d['vectors']} vectors); output entropy {num(d['output_entropy_bits'])} bits",
            *([f"critical path delay D = {num(d['timing']['D_unit'])} (unit delays), {num(d['timing']['D_cells'])} "
               "(cells delays, tau)"] if d.get("timing") else []),
            f"single stuck-at coverage {num(100 * d['fault_coverage'])}% of {d['faults']} faults "
            f"({d['undetected_faults']} undetected) over {d['campaign_vectors']} vectors; sensitivity "
            f"S = {num(d['sensitivity_S'])}"]}
