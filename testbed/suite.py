"""Suite files (TOML): the schema, validation that reports every problem at once, and the frozen specs it
parses a suite into (building consumes specs, never the raw tables).

Schema (unknown keys are errors; paths are relative to the suite file):

  [suite]     name (str), seed (int >= 0), description (str)
  [defaults]  min_trials, max_trials (int >= 1), margin (0..0.5), refine (int >= 0), confidence (0.5..0.999),
              target_width (break-down interval width sought, severity units: decades for bit flips, bits of
              SNR for additive noise; default per noise kind 0.1 / 0.25), budget (trials per sweep unit for
              the sequential design; 0 turns it off; default 300)
  [systems.NAME]  kind = "circuit" | "network"
     circuit: circuit = a name of the circuit registry (`testbed list`) and that generator's parameters
              (e.g. width, m, form, signed; path, top for verilog / yosys_json); harden = "none" | "tmr" |
              "dwc" | "cone:K" | "block:PREFIX" | "sensitivity:F" (circuits.hardening; tmr = true is an alias);
              operands = "exhaustive" | "random" | "recorded:NET"; n_vectors (int);
              optional (bool: skip with a note when the circuit's tool, e.g. Yosys, is missing)
     classifier: model = "tree" | "forest" | "bnn" | "imlp" (testbed.classifier), dataset, bits (input bits), max_depth,
              n_trees, hidden, epochs, seed, harden: a classifier compiled to gates (sites as a circuit's)
     network: dataset, arch, hidden (list), quant, bits, lam, seed, backward, epochs (see networks.ModelConfig);
              weight_bits (8), act_bits (8), multiplier (a circuit system), mode = "exact" | "lut" | "gates"
              (default: gates with a multiplier, else exact); model = a saved model instead of training one (a
              torch.export archive, or with arch/hidden a state_dict of that built-in architecture; loaded
              without unpickling code), or "module:function" returning an nn.Module (runs code: only with
              `testbed run --allow-code`); data = an .npz file with x_test, y_test and optionally x_calib
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
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from circuits import GENERATORS, NetlistError
from circuits.hardening import parse_hardening
from hardware import ARITHMETICS, MODES
from networks import ModelConfig, NetworkError
from testbed.errors import NoiseError, SuiteError, TestbedError
from testbed.noise import KINDS, make_noise
from testbed.sites import site_named

TOP_KEYS = {"suite", "defaults", "systems", "sweeps"}
SUITE_KEYS = {"name": str, "seed": int, "description": str}
DEFAULT_KEYS = {"min_trials": int, "max_trials": int, "margin": float, "refine": int, "confidence": float,
                "target_width": float, "budget": int}
CIRCUIT_KEYS = {"kind": str, "circuit": str, "tmr": bool, "harden": str, "operands": str, "n_vectors": int,
                "optional": bool}
NETWORK_KEYS = {"kind": str, "dataset": str, "arch": str, "hidden": list, "quant": str, "bits": int, "lam": float,
                "seed": int, "backward": str, "epochs": int, "weight_bits": int, "act_bits": int, "multiplier": str,
                "mode": str, "model": str, "data": str, "arithmetic": str}
ENTRY_POINT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # module:function, allowed only with --allow-code
CLASSIFIER_KEYS = {"kind": str, "model": str, "dataset": str, "bits": int, "max_depth": int, "n_trees": int,
                   "hidden": list, "epochs": int, "seed": int, "harden": str}
WORLD_OF_KIND = {"circuit": "circuit", "network": "network", "classifier": "circuit"}  # whose sites a kind has
MODEL_KEYS = ("dataset", "arch", "quant", "bits", "lam", "seed", "backward", "epochs")
SWEEP_KEYS = {"name": str, "noise": str, "levels": (list, dict), "sites": dict, "per_bit": bool, "per_layer": bool,
              **DEFAULT_KEYS}
DEFAULTS = {"min_trials": 2, "max_trials": 8, "margin": 0.01, "refine": 3, "confidence": 0.95,
            "target_width": None, "budget": 300}
MAX_VECTORS = 1 << 24


@dataclass(frozen=True)
class CircuitSpec:
    """A circuit system: a registered generator with its parameters (file paths resolved)."""

    name: str
    circuit: str
    params: dict
    harden: str = "none"  # a circuits.hardening spec: none, tmr, dwc, cone:K, block:PREFIX, sensitivity:F
    operands: str = "exhaustive"  # exhaustive | random | recorded
    recorded_from: str | None = None  # the network whose operands are recorded
    n_vectors: int = 65536
    optional: bool = False
    kind = "circuit"


@dataclass(frozen=True)
class NetworkSpec:
    """A network system: the model to train (or load from the cache), its integer export and its multiplier."""

    name: str
    config: ModelConfig
    weight_bits: int = 8
    act_bits: int = 8
    multiplier: str | None = None
    mode: str = "exact"
    model: str | None = None  # a saved model (path) or an entry point module:function; None: train config
    state_dict: bool = False  # model is a state_dict of config's built-in architecture (arch given)
    data: str | None = None  # an .npz test set (path) instead of config.dataset
    arithmetic: str = "sign-magnitude"  # of the multiplier (hardware.ARITHMETICS); twos-complement: a signed one
    kind = "network"


@dataclass(frozen=True)
class ClassifierSpec:
    """A netlist classifier: a model of testbed.classifier.CLASSIFIERS trained on the data set and compiled to
    gates (inputs quantized to `bits` bits), optionally hardened."""

    name: str
    model: str
    dataset: str = "digits"
    bits: int = 4
    max_depth: int | None = None
    n_trees: int = 10
    hidden: tuple = (128,)
    epochs: int = 60
    seed: int = 0
    harden: str = "none"
    kind = "classifier"


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
    systems: dict  # name -> CircuitSpec | NetworkSpec
    sweeps: tuple
    notes: list = field(default_factory=list)  # what building skipped, and why

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


class _Problems:
    def __init__(self, path):
        self.path, self.items = path, []

    def add(self, where: str, msg: str) -> None:
        self.items.append(f"{self.path}: {where}: {msg}")

    def check_keys(self, table, allowed: dict, where: str) -> None:
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


def load_suite(path) -> Suite:
    """Read and validate a suite file; raise SuiteError listing every problem (one per line)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SuiteError(f"{path}: no such suite file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite file ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SuiteError(f"{path}: not valid TOML ({type(exc).__name__}: {str(exc)[:200]})") from None
    p = _Problems(path)
    for key in doc:
        if key not in TOP_KEYS:
            p.add(key, f"unknown table (allowed: {', '.join(sorted(TOP_KEYS))})")
    meta = doc.get("suite", {})
    p.check_keys(meta, SUITE_KEYS, "suite")
    meta = meta if isinstance(meta, dict) else {}
    seed = meta.get("seed", 0)
    if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed < 2 ** 63:
        p.add("suite.seed", f"must be in 0..2^63-1, got {seed}")
    defaults = dict(DEFAULTS)
    user_defaults = doc.get("defaults", {})
    p.check_keys(user_defaults, DEFAULT_KEYS, "defaults")
    if isinstance(user_defaults, dict):
        _check_options(p, user_defaults, "defaults")
        defaults.update({k: v for k, v in user_defaults.items() if k in DEFAULT_KEYS})
    tables = doc.get("systems")
    if not isinstance(tables, dict) or not tables:
        p.add("systems", "missing: at least one [systems.NAME] table is required")
        tables = {}
    systems = {}
    for name, table in tables.items():
        spec = _system(p, name, table, tables, path.parent)
        if spec is not None:
            systems[name] = spec
    sweeps_raw = doc.get("sweeps")
    sweeps = []
    if not isinstance(sweeps_raw, list) or not sweeps_raw:
        p.add("sweeps", "missing: at least one [[sweeps]] table is required")
        sweeps_raw = []
    names = set()
    for i, sw in enumerate(sweeps_raw):
        spec = _sweep(p, i, sw, tables, systems, defaults)
        if spec is not None:
            if spec.name in names:
                p.add(f"sweeps[{i}].name", f"duplicate sweep name {spec.name!r}")
            names.add(spec.name)
            sweeps.append(spec)
    p.raise_if_any()
    return Suite(path, text, str(meta.get("name", path.stem)), int(seed), str(meta.get("description", "")),
                 systems, tuple(sweeps))


def _check_options(p: _Problems, table: dict, where: str) -> None:
    ranges = {"min_trials": (1, 1000), "max_trials": (1, 1000), "margin": (1e-6, 0.5), "refine": (0, 20),
              "confidence": (0.5, 0.999), "target_width": (1e-3, 100), "budget": (0, 1_000_000)}
    for key, (lo, hi) in ranges.items():
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


def _system(p: _Problems, name: str, table, tables: dict, base: Path):
    where = f"systems.{name}"
    if _name_problem(name):
        p.add(where, _name_problem(name))
        return None
    if not isinstance(table, dict):
        p.add(where, "must be a table")
        return None
    kind = table.get("kind")
    if kind == "circuit":
        return _circuit(p, where, name, table, tables, base)
    if kind == "network":
        return _network(p, where, name, table, tables, base)
    if kind == "classifier":
        return _classifier(p, where, name, table)
    p.add(f"{where}.kind", f"must be one of {', '.join(WORLD_OF_KIND)}, got {kind!r}")
    return None


def _circuit(p: _Problems, where: str, name: str, table: dict, tables: dict, base: Path) -> CircuitSpec | None:
    before = len(p.items)
    circ = table.get("circuit")
    gen = GENERATORS.get(circ) if isinstance(circ, str) else None
    if gen is None:
        p.add(f"{where}.circuit", f"unknown circuit {circ!r} (allowed: {', '.join(GENERATORS)})")
        p.check_keys({k: v for k, v in table.items() if k in CIRCUIT_KEYS}, CIRCUIT_KEYS, where)
        return None
    p.check_keys({k: v for k, v in table.items() if k in CIRCUIT_KEYS}, CIRCUIT_KEYS, where)
    params = {k: v for k, v in table.items() if k not in CIRCUIT_KEYS}
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
        other = tables.get(recorded_from)
        if not (isinstance(other, dict) and other.get("kind") == "network"):
            p.add(f"{where}.operands", f"{ops!r} does not name a network system")
        ops = "recorded"
    elif isinstance(ops, str) and ops not in ("exhaustive", "random"):
        p.add(f"{where}.operands", f"must be exhaustive, random or recorded:NETWORK, got {ops!r}")
    harden = table.get("harden", "tmr" if table.get("tmr") else "none")
    if "harden" in table and "tmr" in table:
        p.add(f"{where}.tmr", "give harden or tmr (an alias of harden = \"tmr\"), not both")
    elif isinstance(harden, str):
        try:
            parse_hardening(harden)
        except NetlistError as exc:
            p.add(f"{where}.harden", str(exc))
    n_vectors = table.get("n_vectors", 65536)
    if isinstance(n_vectors, int) and not 1 <= n_vectors <= MAX_VECTORS:
        p.add(f"{where}.n_vectors", f"must be in 1..{MAX_VECTORS}, got {n_vectors}")
    if len(p.items) > before:
        return None
    return CircuitSpec(name, circ, params, harden, ops, recorded_from, n_vectors, table.get("optional", False))


def _check_sizes(p: _Problems, where: str, table: dict, ranges, layers: int, width: int) -> None:
    """Integer keys within their ranges, and `hidden` a list of 1..layers widths in 1..width."""
    for key, lo, hi in ranges:
        v = table.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
            p.add(f"{where}.{key}", f"must be in {lo}..{hi}, got {v}")
    hidden = table.get("hidden")
    if isinstance(hidden, list) and not (0 < len(hidden) <= layers and all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= width for h in hidden)):
        p.add(f"{where}.hidden", f"must be a list of 1..{layers} integers in 1..{width}, got {hidden!r}")


def _network(p: _Problems, where: str, name: str, table: dict, tables: dict, base: Path) -> NetworkSpec | None:
    before = len(p.items)
    p.check_keys(table, NETWORK_KEYS, where)
    mult = table.get("multiplier")
    mode = table.get("mode", "exact" if mult is None else "gates")
    if mode not in MODES:
        p.add(f"{where}.mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if mult is not None:
        other = tables.get(mult)
        if not (isinstance(other, dict) and other.get("kind") == "circuit"):
            p.add(f"{where}.multiplier", f"{mult!r} does not name a circuit system")
    elif mode != "exact":
        p.add(f"{where}.multiplier", f"required for mode {mode!r}: a circuit system")
    if table.get("arithmetic", ARITHMETICS[0]) not in ARITHMETICS:
        p.add(f"{where}.arithmetic", f"must be one of {', '.join(ARITHMETICS)}, got {table['arithmetic']!r}")
    _check_sizes(p, where, table, (("weight_bits", 2, 16), ("act_bits", 1, 16), ("bits", 1, 16),
                                   ("epochs", 1, 100_000)), layers=16, width=4096)
    files = {}
    for key in ("model", "data"):
        value = table.get(key)
        if isinstance(value, str) and not (key == "model" and ENTRY_POINT.fullmatch(value)):
            files[key] = base / value
            if not files[key].is_file():
                p.add(f"{where}.{key}", f"no such file {files[key]}")
    if len(p.items) > before:
        return None
    kwargs = {k: table[k] for k in MODEL_KEYS if k in table}
    if "hidden" in table:
        kwargs["hidden"] = tuple(table["hidden"])
    try:
        config = ModelConfig(**kwargs)
    except NetworkError as exc:
        p.add(where, str(exc))
        return None
    model = str(files["model"]) if "model" in files else table.get("model")
    return NetworkSpec(name, config, table.get("weight_bits", 8), table.get("act_bits", 8), mult, mode, model,
                       "model" in files and "arch" in table, str(files["data"]) if "data" in files else None,
                       table.get("arithmetic", ARITHMETICS[0]))


def _classifier(p: _Problems, where: str, name: str, table: dict) -> ClassifierSpec | None:
    from networks.data import DATASETS
    from testbed.classifier import CLASSIFIERS

    before = len(p.items)
    p.check_keys(table, CLASSIFIER_KEYS, where)
    if table.get("model") not in CLASSIFIERS:
        p.add(f"{where}.model", f"must be one of {', '.join(CLASSIFIERS)}, got {table.get('model')!r}")
    if table.get("dataset", "digits") not in DATASETS:
        p.add(f"{where}.dataset", f"must be one of {', '.join(DATASETS)}, got {table.get('dataset')!r}")
    _check_sizes(p, where, table, (("bits", 1, 8), ("max_depth", 1, 64), ("n_trees", 1, 200), ("epochs", 1, 10_000)),
                 layers=4, width=1024)
    if isinstance(table.get("harden"), str):
        try:
            parse_hardening(table["harden"])
        except NetlistError as exc:
            p.add(f"{where}.harden", str(exc))
    if len(p.items) > before:
        return None
    kwargs = {k: table[k] for k in ("dataset", "bits", "max_depth", "n_trees", "epochs", "seed", "harden")
              if k in table}
    return ClassifierSpec(name, table["model"], hidden=tuple(table.get("hidden", (128,))), **kwargs)


def _levels(p: _Problems, where: str, spec) -> list | None:
    if isinstance(spec, list):
        if len(spec) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            p.add(where, "must list at least two numbers")
            return None
        return [float(v) for v in spec]
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("log", "lin"):
        scale, args = next(iter(spec.items()))
        if not (isinstance(args, list) and len(args) == 3
                and all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args)
                and isinstance(args[2], int) and 2 <= args[2] <= 1000
                and (scale == "lin" or (args[0] > 0 and args[1] > 0))):
            p.add(where, f"{{{scale} = [lo, hi, n]}} needs finite numbers lo, hi (> 0 for log) and an integer n "
                         "in 2..1000")
            return None
        lo, hi, n = args
        return (np.logspace(np.log10(lo), np.log10(hi), n) if scale == "log" else np.linspace(lo, hi, n)).tolist()
    p.add(where, "must be a list of levels or {log = [lo, hi, n]} / {lin = [lo, hi, n]}")
    return None


def _sweep(p: _Problems, i: int, sw, tables: dict, systems: dict, defaults: dict) -> SweepSpec | None:
    where = f"sweeps[{i}]"
    if not isinstance(sw, dict):
        p.add(where, "must be a table")
        return None
    before = len(p.items)
    kind = sw.get("noise")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    noise_keys = {f.name: f.type for f in dataclasses.fields(cls) if f.name not in ("level", "bits")} if cls else {}
    p.check_keys(sw, {**SWEEP_KEYS, **{k: str for k in noise_keys}}, where)
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
        table = tables.get(sys_name)
        if not isinstance(table, dict) or table.get("kind") not in WORLD_OF_KIND:
            p.add(at, f"no system named {sys_name!r} (systems: {', '.join(tables)})")
            continue
        try:
            row = site_named(site if isinstance(site, str) else repr(site), WORLD_OF_KIND[table["kind"]])
        except NoiseError as exc:
            p.add(at, str(exc))
            continue
        if systems.get(sys_name) is not None:
            _check_site(p, at, systems[sys_name], row, noises[-1] if noises else None)
    if len(p.items) > before:
        return None
    options = {k: sw.get(k, defaults[k]) for k in DEFAULT_KEYS}
    return SweepSpec(str(name), noises[0], tuple(levels), dict(sites), per_bit, options, bool(sw.get("per_layer")))


def _check_site(p: _Problems, at: str, spec, site, noise=None) -> None:
    """Can this system's site hold this noise? (gate sites of a network need a netlist multiplier that
    realises the noise's gate faults)."""
    multiplier = MODES[spec.mode] if spec.kind == "network" else None
    if site.gate_level and multiplier is not None and not (multiplier.takes_flips or multiplier.takes_stuck):
        p.add(at, f"site {site.name!r} needs a network with a multiplier netlist (mode 'gates', or 'lut' for "
                  "stuck-at faults)")
        return
    if site.gate_level and multiplier is not None and site.part not in multiplier.parts:
        p.add(at, f"site {site.name!r} needs mode 'pe' (a processing element in the loop), got {spec.mode!r}")
        return
    if noise is None:
        return
    try:
        noise.plan(site)
        if site.gate_level and multiplier is not None:
            multiplier.check(noise.gate_faults(1, np.random.default_rng(0)), site.part)
    except (TestbedError, NetworkError, NetlistError) as exc:
        p.add(at, str(exc))
