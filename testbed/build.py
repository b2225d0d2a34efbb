"""Build a suite's systems from its specs, and its sweep units (one Sweep per sweep, system and site)."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass

import circuits
from circuits import NetlistError
from circuits.hardening import apply_hardening
from networks import IntegerEngine, Multiplier, NetworkError, export, load_model, size_report, trained_model
from networks import data as datasets
from testbed.classifier import CLASSIFIERS, ClassifierSystem
from testbed.compare import Sweep
from testbed.errors import SuiteError
from testbed.noise import bitflip
from testbed.suite import ENTRY_POINT, CircuitSpec, ClassifierSpec, NetworkSpec, Suite
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
    layer: str | None = None


def _harden(base, spec: str, name: str):
    """The netlist hardened as `spec` says, named `name`, and the facts a report shows (spec, base gates, gates
    added, overhead)."""
    hardened = apply_hardening(base, spec)
    hardened.netlist.name = name
    return hardened.netlist, {"spec": spec, "base_gates": base.n_gates, "gates_added": hardened.gates_added,
                              "overhead": hardened.overhead}


def build_netlist(spec: CircuitSpec):
    """The netlist of a circuit spec (through the circuit registry) with its hardening applied, its hardening
    facts, and the exact function it computes or approximates (None when the registry does not know it)."""
    generator = circuits.generator(spec.circuit)
    net, facts = _harden(generator(**spec.params), spec.harden, spec.name)
    return net, facts, generator.intended(**spec.params)


def _classifier(spec: ClassifierSpec) -> ClassifierSystem:
    ds = datasets.load(spec.dataset)
    compiled = CLASSIFIERS[spec.model](ds, spec)
    net, facts = _harden(compiled.netlist, spec.harden, spec.name)
    return ClassifierSystem(dataclasses.replace(compiled, netlist=net), ds, spec.name, spec.model, facts)


def _model(spec: NetworkSpec, ds, progress: bool, allow_code: bool):
    """The float model of a network spec: loaded from its file, built by its entry point (only when code is
    allowed), or trained (cached) from its config."""
    if spec.model is None:
        return trained_model(spec.config, progress=progress)[0]
    if not ENTRY_POINT.fullmatch(spec.model):
        return load_model(spec.model, spec.config if spec.state_dict else None, ds)
    if not allow_code:
        raise SuiteError(f"systems.{spec.name}.model: {spec.model!r} is Python code; running a suite runs no code "
                         "unless you pass --allow-code")
    module, _, function = spec.model.partition(":")
    try:
        return getattr(importlib.import_module(module), function)()
    except (ImportError, AttributeError) as exc:
        raise SuiteError(f"systems.{spec.name}.model: cannot import {spec.model!r} ({exc})") from None


def _network(spec: NetworkSpec, netlist, progress: bool, allow_code: bool = False) -> NetworkSystem:
    ds = datasets.from_npz(spec.data) if spec.data else datasets.load(spec.config.dataset)
    model = _model(spec, ds, progress, allow_code)
    imodel = export(model, ds.x_train, act_bits=spec.act_bits, weight_bits=spec.weight_bits)
    mag = netlist.inputs.get("b", 8) if netlist is not None else 8
    # the element's adder: the model's accumulator width, and the activation's sign where a layer takes signed inputs
    options = {"acc_bits": imodel.acc_bits, "signed_a": any(lay.signed_input for lay in imodel.layers)} \
        if spec.mode == "pe" else {}
    multiplier = Multiplier(spec.mode, netlist, imodel.act_bits, mag, arithmetic=spec.arithmetic, **options)
    size = size_report(model) if spec.model is None and spec.config.quant != "float" else None
    return NetworkSystem(IntegerEngine(imodel, multiplier), ds, spec.name, runs_on=spec.multiplier, size=size)


def build_systems(suite: Suite, progress: bool = True, allow_code: bool = False) -> dict:
    """Systems by name: circuits first, then networks (trained or loaded from the model cache), then
    circuits whose operands are recorded from a network. Optional circuits whose tool is missing are skipped
    (with a note in suite.notes). Errors become SuiteError naming the system."""
    systems: dict = {}
    nets: dict = {}
    hardening: dict = {}
    intended: dict = {}
    specs = suite.systems
    order = ([s for s in specs.values() if isinstance(s, CircuitSpec | ClassifierSpec)] +
             [s for s in specs.values() if isinstance(s, NetworkSpec)])
    for spec in order:
        try:
            if isinstance(spec, ClassifierSpec):
                systems[spec.name] = _classifier(spec)
            elif isinstance(spec, CircuitSpec):
                if spec.optional and not circuits.generator(spec.circuit).available():
                    suite.notes.append(f"systems.{spec.name} skipped: its tool is not installed")
                    continue
                nets[spec.name], hardening[spec.name], intended[spec.name] = build_netlist(spec)
                if spec.operands != "recorded":
                    systems[spec.name] = CircuitSystem(nets[spec.name], spec.operands, spec.n_vectors, suite.seed,
                                                       spec.name, hardening[spec.name], intended[spec.name])
            elif spec.multiplier is not None and spec.multiplier not in nets:
                suite.notes.append(f"systems.{spec.name} skipped: its multiplier {spec.multiplier} was skipped")
            else:
                systems[spec.name] = _network(spec, nets.get(spec.multiplier), progress, allow_code)
        except (NetlistError, NetworkError) as exc:
            raise SuiteError(f"{suite.path}: systems.{spec.name}: {exc}") from None
    for spec in specs.values():
        if isinstance(spec, CircuitSpec) and spec.operands == "recorded" and spec.name in nets:
            source = systems.get(spec.recorded_from)
            if source is None:
                suite.notes.append(f"systems.{spec.name} skipped: recorded:{spec.recorded_from} was skipped")
                continue
            systems[spec.name] = CircuitSystem(nets[spec.name], source.operand_histogram, spec.n_vectors,
                                               suite.seed, spec.name, hardening[spec.name], intended[spec.name])
    return systems


def build_units(suite: Suite, systems: dict) -> dict[str, Unit]:
    """Sweep units by label 'SWEEP/SYSTEM@SITE' (per-bit units: 'SWEEP/SYSTEM@SITE[bit K]')."""
    units: dict[str, Unit] = {}
    for spec in suite.sweeps:
        opts = dict(spec.options)
        for sys_name, site in spec.sites.items():
            system = systems.get(sys_name)
            if system is None:
                suite.notes.append(f"sweep {spec.name}: {sys_name} not run (skipped system)")
                continue
            if spec.per_bit:
                site = system.word_site
                for k in range(system.word_width):
                    label = f"{spec.name}/{sys_name}@{site}[bit {k}]"
                    noise = bitflip(0.0, bits=(k,))
                    units[label] = Unit(label, spec.name, sys_name, site, k,
                                        Sweep(system, site, noise, spec.levels, seed=suite.seed, label=label, **opts))
                continue
            label = f"{spec.name}/{sys_name}@{site}"
            units[label] = Unit(label, spec.name, sys_name, site, None,
                                Sweep(system, site, spec.noise, spec.levels, seed=suite.seed, label=label, **opts))
            for layer in getattr(system, "layer_names", []) if spec.per_layer and "@" not in site else []:
                at = f"{site}@{layer}"
                label = f"{spec.name}/{sys_name}@{at}"
                units[label] = Unit(label, spec.name, sys_name, at, None,
                                    Sweep(system, at, spec.noise, spec.levels, seed=suite.seed, label=label, **opts),
                                    layer)
    return units
