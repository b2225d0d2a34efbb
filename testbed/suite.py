"""Suite files (TOML): the schema, validation that reports every problem at once, and the frozen specs it
parses a suite into (building consumes specs, never the raw tables).

Schema (unknown keys are errors; paths are relative to the suite file):

  [suite]     name (str), seed (int >= 0), description (str)
  [defaults]  the sweep options of testbed.settings (min_trials, max_trials, margin, refine, confidence,
              target_width, budget; their meaning, defaults and ranges are there)
  [systems.NAME]  kind = a registered system kind (testbed.kinds: circuit, network, classifier) and that
              kind's keys (each kind's class docstring lists them; `testbed list` names what they may refer to);
              seeds = [..] or models = [FILE, ..] make it a population (testbed.kinds.population): one member
              per training seed or model file, named 'NAME[seed S]' / 'NAME[model I]'; a sweep naming NAME
              sweeps every member, and may name one member alone
  [[sweeps]]  name (str), noise = a registered noise kind and its parameters (additive: dist), levels = [..] or
              {log = [lo, hi, n]} or {lin = [lo, hi, n]}, sites = {SYSTEM = SITE, ...}, per_bit (bool:
              bit k of each result word alone, for every k, at each system's word site), per_layer (bool: each
              network site also restricted to each multiply layer in turn, SITE@LAYER; a site may also name one
              layer itself, e.g. "product@1"), and any [defaults] key to override it for this sweep.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from testbed.errors import NoiseError, SuiteError, TestbedError
from testbed.files import read_small_text
from testbed.kinds import SYSTEM_KINDS, Problems, expand, owner, parse_system
from testbed.noise import KINDS, make_noise
from testbed.settings import RANGES, SETTINGS, SWEEP_OPTIONS, Settings
from testbed.sites import site_named

TOP_KEYS = {"suite", "defaults", "systems", "sweeps"}
MAX_SUITE_BYTES, MAX_LEVELS = 1 << 20, 1000  # a suite file's size; levels per sweep
SUITE_KEYS = {"name": str, "seed": int, "description": str}
SWEEP_KEYS = {"name": str, "noise": str, "levels": (list, dict), "sites": dict, "per_bit": bool, "per_layer": bool,
              **SWEEP_OPTIONS}


@dataclass(frozen=True)
class SweepSpec:
    name: str
    noise: object  # a testbed.noise.NoiseModel at the first level
    levels: tuple
    sites: dict
    per_bit: bool
    options: dict
    per_layer: bool = False


@dataclass(frozen=True)
class Suite:
    path: Path
    text: str
    name: str
    seed: int
    description: str
    systems: dict  # name -> the spec its kind parsed (testbed.kinds)
    sweeps: tuple
    notes: list = field(default_factory=list)  # what building skipped, and why
    settings: Settings = SETTINGS  # testbed.settings with the suite's [defaults]
    populations: dict = field(default_factory=dict)  # name -> testbed.kinds.PopulationSpec (its members are systems)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


def load_suite(path) -> Suite:
    """Read and validate a suite file; raise SuiteError listing every problem (one per line)."""
    path = Path(path)
    try:
        text = read_small_text(path, MAX_SUITE_BYTES)
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: cannot read suite file ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SuiteError(f"{path}: not valid TOML ({type(exc).__name__}: {str(exc)[:200]})") from None
    p = Problems(path)
    for key in doc:
        if key not in TOP_KEYS:
            p.add(key, f"unknown table (allowed: {', '.join(sorted(TOP_KEYS))})")
    meta = doc.get("suite", {})
    p.check_keys(meta, SUITE_KEYS, "suite")
    meta = meta if isinstance(meta, dict) else {}
    seed = meta.get("seed", 0)
    if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed < 2 ** 63:
        p.add("suite.seed", f"must be in 0..2^63-1, got {seed}")
    defaults = SETTINGS.sweep_options()
    user_defaults = doc.get("defaults", {})
    p.check_keys(user_defaults, SWEEP_OPTIONS, "defaults")
    if isinstance(user_defaults, dict):
        _check_options(p, user_defaults, "defaults")
        defaults.update({k: v for k, v in user_defaults.items() if k in SWEEP_OPTIONS})
    tables = doc.get("systems")
    if not isinstance(tables, dict) or not tables:
        p.add("systems", "missing: at least one [systems.NAME] table is required")
        tables = {}
    systems, populations = {}, {}
    for name, table in tables.items():
        specs, population = _system(p, name, table, tables, path.parent)
        systems.update(specs)
        if population is not None:
            populations[name] = population
    sweeps_raw = doc.get("sweeps")
    sweeps = []
    if not isinstance(sweeps_raw, list) or not sweeps_raw:
        p.add("sweeps", "missing: at least one [[sweeps]] table is required")
        sweeps_raw = []
    names = set()
    for i, sw in enumerate(sweeps_raw):
        spec = _sweep(p, i, sw, tables, systems, populations, defaults)
        if spec is not None:
            if spec.name in names:
                p.add(f"sweeps[{i}].name", f"duplicate sweep name {spec.name!r}")
            names.add(spec.name)
            sweeps.append(spec)
    p.raise_if_any()
    return Suite(path, text, str(meta.get("name", path.stem)), int(seed), str(meta.get("description", "")),
                 systems, tuple(sweeps), settings=Settings(**defaults), populations=populations)


def _check_options(p: Problems, table: dict, where: str) -> None:
    for key, (lo, hi) in RANGES.items():
        v = table.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not lo <= v <= hi:
            p.add(f"{where}.{key}", f"must be in [{lo}, {hi}], got {v}")
    mn, mx = table.get("min_trials"), table.get("max_trials")
    if isinstance(mn, int) and isinstance(mx, int) and mn > mx:
        p.add(f"{where}.min_trials", f"must be <= max_trials ({mx}), got {mn}")


def _name_problem(name: str) -> str | None:
    """Names become parts of unit labels 'SWEEP/SYSTEM@SITE': they may not hold '/', '@', '|' or '[',
    nor control characters, so labels are unique by construction."""
    if not name or any(ch in name for ch in "/@|[]") or not name.isprintable():
        return "names may not be empty nor hold '/', '@', '|', '[', ']' or control characters"
    return None


def _system(p: Problems, name: str, table, tables: dict, base: Path):
    """The specs of one system table by system name (a population's members, testbed.kinds.population) and its
    population (None for one system)."""
    where = f"systems.{name}"
    if _name_problem(name):
        p.add(where, _name_problem(name))
        return {}, None
    if not isinstance(table, dict):
        p.add(where, "must be a table")
        return {}, None
    kind = _kind(table)
    if kind is None:
        p.add(f"{where}.kind", f"must be one of {', '.join(SYSTEM_KINDS)}, got {table.get('kind')!r}")
        return {}, None
    return parse_system(kind, p, where, name, table, tables, base)


def _kind(table):
    """The registered system kind a system table names (None: not a table, or no such kind)."""
    kind = table.get("kind") if isinstance(table, dict) else None
    return SYSTEM_KINDS.get(kind) if isinstance(kind, str) else None


def _levels(p: Problems, where: str, spec) -> list | None:
    if isinstance(spec, list):
        if not 2 <= len(spec) <= MAX_LEVELS or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       for v in spec):
            p.add(where, f"must list at least two numbers (at most {MAX_LEVELS})")
            return None
        return [float(v) for v in spec]
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("log", "lin"):
        scale, args = next(iter(spec.items()))
        if not (isinstance(args, list) and len(args) == 3
                and all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args)
                and isinstance(args[2], int) and 2 <= args[2] <= MAX_LEVELS
                and (scale == "lin" or (args[0] > 0 and args[1] > 0))):
            p.add(where, f"{{{scale} = [lo, hi, n]}} needs finite numbers lo, hi (> 0 for log) and an integer n "
                         "in 2..1000")
            return None
        lo, hi, n = args
        return (np.logspace(np.log10(lo), np.log10(hi), n) if scale == "log" else np.linspace(lo, hi, n)).tolist()
    p.add(where, "must be a list of levels or {log = [lo, hi, n]} / {lin = [lo, hi, n]}")
    return None


_PARAM_TYPES = {"float": float, "bool": bool, "int": int}  # a noise parameter's annotation -> its TOML type (else str)


def _sweep(p: Problems, i: int, sw, tables: dict, systems: dict, populations: dict,
           defaults: dict) -> SweepSpec | None:
    where = f"sweeps[{i}]"
    if not isinstance(sw, dict):
        p.add(where, "must be a table")
        return None
    before = len(p.items)
    kind = sw.get("noise")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    noise_keys = {f.name: f.type for f in dataclasses.fields(cls) if f.name not in ("level", "bits")} if cls else {}
    p.check_keys(sw, {**SWEEP_KEYS, **{k: _PARAM_TYPES.get(str(t), str) for k, t in noise_keys.items()}}, where)
    _check_options(p, sw, where)
    name = sw.get("name", f"sweep{i}")
    if isinstance(name, str) and _name_problem(name):
        p.add(f"{where}.name", _name_problem(name))
    if cls is None:
        p.add(f"{where}.noise", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    levels = _levels(p, f"{where}.levels", sw.get("levels"))
    noises = []
    if levels is not None and cls is not None:
        try:
            noises = [make_noise(kind, lv, **{k: sw[k] for k in noise_keys if k in sw}) for lv in levels]
        except TestbedError as exc:
            p.add(f"{where}.levels", str(exc))
    sites = sw.get("sites")
    if not isinstance(sites, dict) or not sites:
        p.add(f"{where}.sites", "required: a table SYSTEM = SITE")
        sites = {}
    per_bit = bool(sw.get("per_bit"))
    if per_bit and cls is not None and "bits" not in {f.name for f in dataclasses.fields(cls)}:
        p.add(f"{where}.per_bit", f"applies to noise kinds with bit positions only (not {kind})")
    for sys_name, site in sites.items():
        at = f"{where}.sites.{sys_name}"
        kind = _kind(tables.get(owner(sys_name, populations)))
        if kind is None:
            p.add(at, f"no system named {sys_name!r} (systems: {', '.join(tables)})")
            continue
        try:
            row = site_named(site if isinstance(site, str) else repr(site), kind.site_world)
        except NoiseError as exc:
            p.add(at, str(exc))
            continue
        member = next(iter(expand({sys_name: site}, populations)))  # a population's members share the check
        problem = kind.site_problem(systems[member], row, noises[-1] if noises else None) \
            if systems.get(member) is not None else None
        if problem is not None:
            p.add(at, problem)
    if len(p.items) > before:
        return None
    options = {k: sw.get(k, defaults[k]) for k in SWEEP_OPTIONS}
    return SweepSpec(str(name), noises[0], tuple(levels), expand(sites, populations), per_bit, options,
                     bool(sw.get("per_layer")))
