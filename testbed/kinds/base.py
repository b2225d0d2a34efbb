"""The system-kind contract: one registered class per kind of system a suite can name (`kind = "..."` in a
[systems.NAME] table). A kind owns its TOML keys, the parsing and validation of its table into a frozen spec,
building the system from that spec, its lines in `testbed list` and its section of the report. Suite parsing,
building, the catalog and reports iterate SYSTEM_KINDS; nothing else branches on a system's kind.

A subclass registers itself when it is defined (name it, and define parse, build, catalog and section);
the check runs at definition, so a kind missing a method fails on import, not in the middle of a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from circuits import NetlistError
from networks import NetworkError
from testbed.errors import SuiteError, TestbedError

SYSTEM_KINDS: dict[str, type[SystemKind]] = {}  # TOML kind -> its class, in registration order


class Problems:
    """Every problem of one suite file, collected so that validation reports them all at once."""

    def __init__(self, path):
        self.path, self.items = path, []

    def add(self, where: str, msg: str) -> None:
        self.items.append(f"{self.path}: {where}: {msg}")

    def check_keys(self, table, allowed: dict, where: str) -> None:
        """Unknown keys and values of the wrong type (allowed: key -> type or tuple of types)."""
        if not isinstance(table, dict):
            self.add(where, f"must be a table, got {type(table).__name__}")
            return
        for key, value in table.items():
            if key not in allowed:
                self.add(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
                continue
            want = allowed[key]
            types = want if isinstance(want, tuple) else (want,)
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if float in types and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if float in types and isinstance(value, float) and not math.isfinite(value):
                ok = False
            if not ok:
                names = " or ".join(t.__name__ for t in types)
                self.add(f"{where}.{key}", f"must be {'a finite ' if float in types else ''}{names}, "
                                           f"got {type(value).__name__} {value!r}")

    def raise_if_any(self) -> None:
        if self.items:
            raise SuiteError("\n".join(self.items) if len(self.items) > 1 else self.items[0])


def check_sizes(p: Problems, where: str, table: dict, ranges, layers: int, width: int) -> None:
    """Integer keys within their ranges ((key, lo, hi), ...), and `hidden` a list of 1..layers widths in 1..width."""
    for key, lo, hi in ranges:
        v = table.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
            p.add(f"{where}.{key}", f"must be in {lo}..{hi}, got {v}")
    hidden = table.get("hidden")
    if isinstance(hidden, list) and not (0 < len(hidden) <= layers and all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= width for h in hidden)):
        p.add(f"{where}.hidden", f"must be a list of 1..{layers} integers in 1..{width}, got {hidden!r}")


def task_dataset(p: Problems, where: str, table: dict) -> str | None:
    """The data set a system table's `dataset` (default digits) and `task` (networks.tasks) keys name: the data
    set itself, or the task's name on it; None after adding the problem (naming the task's key) to p."""
    from networks import tasks

    dataset = table.get("dataset", "digits")
    if "task" not in table:
        return dataset
    try:
        return tasks.parse(table["task"], dataset).dataset_name(dataset)
    except tasks.TaskError as exc:
        p.add(f"{where}.task" + (f".{exc.field}" if exc.field else ""), str(exc))
        return None


def refers_to(tables: dict, name, capability: str) -> bool:
    """Does `name` name a system table whose kind provides `capability` (e.g. "multiplier", "operands")?"""
    table = tables.get(name) if isinstance(name, str) else None
    kind = table.get("kind") if isinstance(table, dict) else None
    return isinstance(kind, str) and kind in SYSTEM_KINDS and capability in SYSTEM_KINDS[kind].provides


def num(v) -> str:
    """A number as report and catalog text show it: 3 significant digits, '-' for none."""
    return "-" if v is None else f"{v:.3g}"


@dataclass
class BuildContext:
    """What building a suite's systems shares: the suite seed, its notes (what was skipped, and why), the
    options of the run, the netlists built so far (system name -> (netlist, hardening facts, intended function))
    and the systems built so far (by name)."""

    seed: int
    notes: list
    progress: bool = True
    allow_code: bool = False
    populations: dict = field(default_factory=dict)  # population name -> testbed.kinds.population.PopulationSpec
    netlists: dict = field(default_factory=dict)
    systems: dict = field(default_factory=dict)


class SystemKind:
    """One kind of system (see the module docstring). Class attributes: name (the TOML kind), site_world (whose
    sites its systems have, testbed.sites: "circuit" or "network"), order (kinds of lower order are built first:
    a network needs its multiplier's netlist), provides (what other systems may name it for: "multiplier",
    "operands"), rate_view (its units belong in the rate-against-capacity figure: a task rate in bits and the
    error SNR at its products), population_keys (the keys that make its table a population: "seeds" when it
    has a training `seed`, "models" when it has a `model` file; testbed.kinds.population)."""

    name = ""
    site_world = ""
    order = 0
    provides: frozenset = frozenset()
    rate_view = False
    population_keys: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [m for m in ("parse", "build", "catalog", "section") if getattr(cls, m) is getattr(SystemKind, m)]
        if not cls.name or not cls.site_world or missing:
            raise TypeError(f"system kind {cls.__name__}: needs name, site_world and "
                            f"{', '.join(missing) or 'its methods'}")
        SYSTEM_KINDS[cls.name] = cls

    @classmethod
    def parse(cls, p: Problems, where: str, name: str, table: dict, tables: dict, base: Path):
        """The frozen spec of one [systems.NAME] table (its `kind` attribute is this kind's name), or None after
        adding every problem to p. tables: every system table of the suite (for references); base: the suite's
        folder (file paths are relative to it)."""
        raise NotImplementedError

    @classmethod
    def build(cls, spec, ctx: BuildContext):
        """The system of a spec, or None when it is skipped (with a note in ctx.notes) or built in finish()."""
        raise NotImplementedError

    @classmethod
    def finish(cls, spec, ctx: BuildContext):
        """A second pass, after every kind has built: the system of a spec that needed another system (None
        otherwise)."""
        return None

    @classmethod
    def site_problem(cls, spec, site, noise) -> str | None:
        """Why this system's site cannot hold the noise (None: it can)."""
        if noise is None:
            return None
        try:
            noise.plan(site)
        except (TestbedError, NetworkError, NetlistError) as exc:
            return str(exc)
        return None

    @classmethod
    def catalog(cls) -> list[str]:
        """The lines of `testbed list` for this kind."""
        raise NotImplementedError

    @classmethod
    def section(cls, name: str, detail: dict) -> dict:
        """The report's section of one system from its summary.json detail: {"title": str, "items": [str],
        "table": {"columns": [str], "rows": [[...]]} or None, "after": [str]}, all plain text."""
        raise NotImplementedError
