"""Build a suite's systems from its specs, and its sweep units (one Sweep per sweep, system and site)."""

from __future__ import annotations

from dataclasses import dataclass

from circuits import NetlistError
from networks import NetworkError
from testbed.compare import Sweep, per_bit_sweeps
from testbed.errors import SuiteError
from testbed.kinds import SYSTEM_KINDS, BuildContext
from testbed.suite import Suite


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


def build_systems(suite: Suite, progress: bool = True, allow_code: bool = False) -> dict:
    """Systems by name, built kind by kind in the kinds' order (circuits and classifiers, then networks on their
    multipliers), then each kind's second pass (circuits whose operands are recorded from a network). Systems
    whose tool or source is missing are skipped with a note in suite.notes. Errors become SuiteError naming the
    system."""
    ctx = BuildContext(suite.seed, suite.notes, progress, allow_code)
    specs = list(suite.systems.values())
    for step, order in (("build", sorted(specs, key=lambda s: SYSTEM_KINDS[s.kind].order)), ("finish", specs)):
        for spec in order:
            try:
                system = getattr(SYSTEM_KINDS[spec.kind], step)(spec, ctx)
            except (NetlistError, NetworkError) as exc:
                raise SuiteError(f"{suite.path}: systems.{spec.name}: {exc}") from None
            if system is not None:
                ctx.systems[spec.name] = system
    return ctx.systems


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
                for k, sweep in enumerate(per_bit_sweeps(system, spec.levels, suite.seed, f"{spec.name}/", **opts)):
                    units[sweep.label] = Unit(sweep.label, spec.name, sys_name, sweep.site, k, sweep)
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
