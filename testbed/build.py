"""Build a validated suite's systems and its sweep units (one Sweep per sweep, system and site)."""

from __future__ import annotations

from dataclasses import dataclass

import circuits
from circuits import NetlistError
from circuits.yosys import from_verilog, from_yosys_json, yosys_available
from networks import IntegerEngine, Multiplier, NetworkError, export, size_report, trained_model
from networks import data as datasets
from testbed.compare import Sweep
from testbed.errors import SuiteError
from testbed.noise import NoiseModel
from testbed.suite import Suite, network_config
from testbed.systems import CircuitSystem, NetworkSystem


@dataclass
class Unit:
    """One Sweep of a suite with where it came from."""

    label: str
    sweep_name: str
    system: str
    site: str
    bit: int | None
    sweep: Sweep


def _netlist(name: str, table: dict, suite: Suite):
    kind = table["circuit"]
    base = suite.path.parent
    if kind == "multiplier":
        net = circuits.multiplier(table["width"], table.get("m"), table.get("form", "array"),
                                  table.get("signed", False))
    elif kind == "truncated_multiplier":
        net = circuits.truncated_multiplier(table["width"], table.get("k", table["width"] - 2))
    elif kind == "broken_array_multiplier":
        net = circuits.broken_array_multiplier(table["width"], table.get("hbl", 2), table.get("vbl", table["width"]))
    elif kind == "ripple_carry_adder":
        net = circuits.ripple_carry_adder(table["width"])
    elif kind == "kogge_stone_adder":
        net = circuits.kogge_stone_adder(table["width"])
    elif kind == "verilog":
        net = from_verilog(base / table["path"], table.get("top"))
    else:
        net = from_yosys_json(base / table["path"], table.get("top"))
    if table.get("tmr"):
        net = circuits.tmr(net)
    net.name = name
    return net


def build_systems(suite: Suite, progress: bool = True) -> dict:
    """Systems by name: circuits first, then networks (trained or loaded from the model cache), then
    circuits whose operands are recorded from a network. Optional Verilog systems are skipped (with a
    note in suite.notes) when Yosys is missing. Errors become SuiteError naming the system."""
    systems: dict = {}
    nets: dict = {}
    tables = suite.systems
    order = ([n for n, t in tables.items() if t["kind"] == "circuit"] +
             [n for n, t in tables.items() if t["kind"] == "network"])
    for name in order:
        table = tables[name]
        where = f"{suite.path}: systems.{name}"
        try:
            if table["kind"] == "circuit":
                if table["circuit"] == "verilog" and not yosys_available() and table.get("optional"):
                    suite.notes.append(f"systems.{name} skipped: yosys is not installed")
                    continue
                nets[name] = _netlist(name, table, suite)
                if not str(table.get("operands", "exhaustive")).startswith("recorded:"):
                    systems[name] = CircuitSystem(nets[name], table.get("operands", "exhaustive"),
                                                  table.get("n_vectors", 65536), suite.seed, name)
            else:
                config = network_config(table)
                model, _ = trained_model(config, progress=progress)
                ds = datasets.load(config.dataset)
                imodel = export(model, ds.x_train, act_bits=table.get("act_bits", 8),
                                weight_bits=table.get("weight_bits", 8))
                mult_name = table.get("multiplier")
                if mult_name is not None and mult_name not in nets:
                    suite.notes.append(f"systems.{name} skipped: its multiplier {mult_name} was skipped")
                    continue
                mode = table.get("mode", "gates" if mult_name else "exact")
                netlist = nets.get(mult_name)
                mag = netlist.inputs.get("b", 8) if netlist is not None else 8
                multiplier = Multiplier(mode, netlist, imodel.act_bits, mag)
                system = NetworkSystem(IntegerEngine(imodel, multiplier), ds, name)
                system.multiplier_name = mult_name
                system.size = size_report(model) if config.quant != "float" else None
                systems[name] = system
        except (NetlistError, NetworkError) as exc:
            raise SuiteError(f"{where}: {exc}") from None
    for name, table in tables.items():
        ops = str(table.get("operands", ""))
        if table["kind"] == "circuit" and ops.startswith("recorded:") and name in nets:
            source = systems.get(ops.split(":", 1)[1])
            if source is None:
                suite.notes.append(f"systems.{name} skipped: {ops} was skipped")
                continue
            systems[name] = CircuitSystem(nets[name], source.operand_histogram, table.get("n_vectors", 65536),
                                          suite.seed, name)
    return systems


def build_units(suite: Suite, systems: dict) -> dict[str, Unit]:
    """Sweep units by label 'SWEEP/SYSTEM@SITE' (per-bit units: 'SWEEP/SYSTEM@SITE[bit K]')."""
    units: dict[str, Unit] = {}
    for spec in suite.sweeps:
        opts = {k: spec.options[k] for k in ("min_trials", "max_trials", "margin", "refine", "confidence")}
        for sys_name, site in spec.sites.items():
            system = systems.get(sys_name)
            if system is None:
                suite.notes.append(f"sweep {spec.name}: {sys_name} not run (skipped system)")
                continue
            if spec.per_bit:
                site = "product" if system.world == "network" else "output"
                width = system.engine.multiplier.out_bits if system.world == "network" else system.width
                for k in range(width):
                    label = f"{spec.name}/{sys_name}@{site}[bit {k}]"
                    noise = NoiseModel("bitflip", 0.0, bits=(k,))
                    units[label] = Unit(label, spec.name, sys_name, site, k,
                                        Sweep(system, site, noise, spec.levels, seed=suite.seed, label=label, **opts))
                continue
            label = f"{spec.name}/{sys_name}@{site}"
            units[label] = Unit(label, spec.name, sys_name, site, None,
                                Sweep(system, site, spec.noise, spec.levels, seed=suite.seed, label=label, **opts))
    return units
