"""Suite files (TOML): the schema, validation that reports every problem at once, and building systems.

Schema (unknown keys are errors; paths are relative to the suite file):

  [suite]     name (str), seed (int >= 0), description (str)
  [defaults]  min_trials, max_trials (int >= 1), margin (0..0.5), refine (int >= 0), confidence (0.5..0.999)
  [systems.NAME]  kind = "circuit" | "network"
     circuit: circuit = one of testbed.catalog.CIRCUITS; width, m, form, signed, k, hbl, vbl (generators);
              path, top (verilog / yosys_json); tmr (bool); operands = "exhaustive" | "random" | "recorded:NET";
              n_vectors (int); optional (bool: skip with a note when Yosys is missing)
     network: dataset, arch, hidden (list), quant, bits, lam, seed, backward (see networks.ModelConfig);
              weight_bits (8), act_bits (8), multiplier (a circuit system), mode = "exact" | "lut" | "gates"
  [[sweeps]]  name (str), noise = "bitflip" | "stuck_at" | "additive", dist, levels = [..] or
              {log = [lo, hi, n]} or {lin = [lo, hi, n]}, sites = {SYSTEM = SITE, ...}, per_bit (bool:
              bit k of each product alone, for every k, at the network systems' product site), and any
              [defaults] key to override it for this sweep.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from testbed.catalog import CIRCUITS, FILE_CIRCUITS
from testbed.errors import SuiteError
from testbed.noise import CIRCUIT_SITES, DISTS, KINDS, NETWORK_SITES, NoiseModel

TOP_KEYS = {"suite", "defaults", "systems", "sweeps"}
SUITE_KEYS = {"name": str, "seed": int, "description": str}
DEFAULT_KEYS = {"min_trials": int, "max_trials": int, "margin": float, "refine": int, "confidence": float}
CIRCUIT_KEYS = {"kind": str, "circuit": str, "width": int, "m": int, "form": str, "signed": bool, "k": int,
                "hbl": int, "vbl": int, "path": str, "top": str, "tmr": bool, "operands": str, "n_vectors": int,
                "optional": bool}
NETWORK_KEYS = {"kind": str, "dataset": str, "arch": str, "hidden": list, "quant": str, "bits": int, "lam": float,
                "seed": int, "backward": str, "epochs": int, "weight_bits": int, "act_bits": int, "multiplier": str,
                "mode": str}
SWEEP_KEYS = {"name": str, "noise": str, "dist": str, "levels": (list, dict), "sites": dict, "per_bit": bool,
              **DEFAULT_KEYS}
DEFAULTS = {"min_trials": 2, "max_trials": 8, "margin": 0.01, "refine": 3, "confidence": 0.95}


@dataclass
class SweepSpec:
    name: str
    noise: NoiseModel
    levels: list
    sites: dict
    per_bit: bool
    options: dict


@dataclass
class Suite:
    path: Path
    text: str
    name: str
    seed: int
    description: str
    systems: dict  # name -> raw table
    sweeps: list
    notes: list = field(default_factory=list)

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
            if not ok:
                names = " or ".join(t.__name__ for t in types)
                self.add(f"{where}.{key}", f"must be {names}, got {type(value).__name__} {value!r}")

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
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML ({exc})") from None
    p = _Problems(path)
    for key in doc:
        if key not in TOP_KEYS:
            p.add(key, f"unknown table (allowed: {', '.join(sorted(TOP_KEYS))})")
    meta = doc.get("suite", {})
    p.check_keys(meta, SUITE_KEYS, "suite")
    seed = meta.get("seed", 0) if isinstance(meta, dict) else 0
    if isinstance(seed, int) and not isinstance(seed, bool) and seed < 0:
        p.add("suite.seed", f"must be >= 0, got {seed}")
    defaults = dict(DEFAULTS)
    user_defaults = doc.get("defaults", {})
    p.check_keys(user_defaults, DEFAULT_KEYS, "defaults")
    if isinstance(user_defaults, dict):
        _check_options(p, user_defaults, "defaults")
        defaults.update({k: v for k, v in user_defaults.items() if k in DEFAULT_KEYS})
    systems = doc.get("systems")
    if not isinstance(systems, dict) or not systems:
        p.add("systems", "missing: at least one [systems.NAME] table is required")
        systems = {}
    for name, table in systems.items():
        _check_system(p, name, table, systems, path.parent)
    sweeps_raw = doc.get("sweeps")
    sweeps = []
    if not isinstance(sweeps_raw, list) or not sweeps_raw:
        p.add("sweeps", "missing: at least one [[sweeps]] table is required")
        sweeps_raw = []
    names = set()
    for i, sw in enumerate(sweeps_raw):
        spec = _check_sweep(p, i, sw, systems, defaults)
        if spec is not None:
            if spec.name in names:
                p.add(f"sweeps[{i}].name", f"duplicate sweep name {spec.name!r}")
            names.add(spec.name)
            sweeps.append(spec)
    p.raise_if_any()
    return Suite(path, text, str(meta.get("name", path.stem)), int(seed), str(meta.get("description", "")),
                 systems, sweeps)


def _check_options(p: _Problems, table: dict, where: str) -> None:
    ranges = {"min_trials": (1, 1000), "max_trials": (1, 1000), "margin": (1e-6, 0.5), "refine": (0, 20),
              "confidence": (0.5, 0.999)}
    for key, (lo, hi) in ranges.items():
        v = table.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not lo <= v <= hi:
            p.add(f"{where}.{key}", f"must be in [{lo}, {hi}], got {v}")
    mn, mx = table.get("min_trials"), table.get("max_trials")
    if isinstance(mn, int) and isinstance(mx, int) and mn > mx:
        p.add(f"{where}.min_trials", f"must be <= max_trials ({mx}), got {mn}")


def _check_system(p: _Problems, name: str, table, systems: dict, base: Path) -> None:
    where = f"systems.{name}"
    if not isinstance(table, dict):
        p.add(where, "must be a table")
        return
    kind = table.get("kind")
    if kind not in ("circuit", "network"):
        p.add(f"{where}.kind", f"must be 'circuit' or 'network', got {kind!r}")
        return
    if kind == "circuit":
        p.check_keys(table, CIRCUIT_KEYS, where)
        circ = table.get("circuit")
        if circ not in CIRCUITS:
            p.add(f"{where}.circuit", f"unknown circuit {circ!r} (allowed: {', '.join(CIRCUITS)})")
        for key, lo in (("width", 1), ("m", 1), ("k", 0), ("hbl", 0), ("vbl", 0)):
            v = table.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= 32:
                p.add(f"{where}.{key}", f"must be in {lo}..32, got {v}")
        if circ in CIRCUITS and circ not in FILE_CIRCUITS and "width" not in table:
            p.add(f"{where}.width", "required: an integer >= 1")
        if table.get("form", "array") not in ("array", "wallace", "dadda"):
            p.add(f"{where}.form", f"must be array, wallace or dadda, got {table.get('form')!r}")
        if circ in FILE_CIRCUITS:
            path = table.get("path")
            if not isinstance(path, str):
                p.add(f"{where}.path", "required: the file of the circuit")
            elif not (base / path).is_file():
                p.add(f"{where}.path", f"no such file {base / path}")
        ops = table.get("operands", "exhaustive")
        if isinstance(ops, str) and not (ops in ("exhaustive", "random") or ops.startswith("recorded:")):
            p.add(f"{where}.operands", f"must be exhaustive, random or recorded:NETWORK, got {ops!r}")
        elif isinstance(ops, str) and ops.startswith("recorded:"):
            other = systems.get(ops.split(":", 1)[1])
            if not (isinstance(other, dict) and other.get("kind") == "network"):
                p.add(f"{where}.operands", f"{ops!r} does not name a network system")
    else:
        p.check_keys(table, NETWORK_KEYS, where)
        mult = table.get("multiplier")
        mode = table.get("mode", "exact" if mult is None else "gates")
        if mode not in ("exact", "lut", "gates"):
            p.add(f"{where}.mode", f"must be exact, lut or gates, got {mode!r}")
        if mult is not None:
            other = systems.get(mult)
            if not (isinstance(other, dict) and other.get("kind") == "circuit"):
                p.add(f"{where}.multiplier", f"{mult!r} does not name a circuit system")
        elif mode != "exact":
            p.add(f"{where}.multiplier", f"required for mode {mode!r}: a circuit system")
        for key, lo, hi in (("weight_bits", 2, 16), ("act_bits", 1, 16), ("bits", 1, 16)):
            v = table.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and not lo <= v <= hi:
                p.add(f"{where}.{key}", f"must be in {lo}..{hi}, got {v}")
        hidden = table.get("hidden")
        if isinstance(hidden, list) and not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1
                                                for h in hidden):
            p.add(f"{where}.hidden", f"must be a list of positive integers, got {hidden!r}")
        try:
            network_config(table)
        except Exception as exc:  # noqa: BLE001 (the message is reported as a problem of this table)
            p.add(where, str(exc))


def _levels(p: _Problems, where: str, spec) -> list | None:
    if isinstance(spec, list):
        if len(spec) < 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
            p.add(where, "must list at least two numbers")
            return None
        return [float(v) for v in spec]
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("log", "lin"):
        scale, args = next(iter(spec.items()))
        if not (isinstance(args, list) and len(args) == 3 and all(isinstance(a, (int, float)) for a in args)
                and isinstance(args[2], int) and args[2] >= 2 and (scale == "lin" or (args[0] > 0 and args[1] > 0))):
            p.add(where, f"{{{scale} = [lo, hi, n]}} needs numbers lo, hi (> 0 for log) and an integer n >= 2")
            return None
        lo, hi, n = args
        return (np.logspace(np.log10(lo), np.log10(hi), n) if scale == "log" else np.linspace(lo, hi, n)).tolist()
    p.add(where, "must be a list of levels or {log = [lo, hi, n]} / {lin = [lo, hi, n]}")
    return None


def _check_sweep(p: _Problems, i: int, sw, systems: dict, defaults: dict) -> SweepSpec | None:
    where = f"sweeps[{i}]"
    if not isinstance(sw, dict):
        p.add(where, "must be a table")
        return None
    before = len(p.items)
    p.check_keys(sw, SWEEP_KEYS, where)
    _check_options(p, sw, where)
    name = sw.get("name", f"sweep{i}")
    kind = sw.get("noise")
    if kind not in KINDS:
        p.add(f"{where}.noise", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    dist = sw.get("dist", "gaussian")
    if dist not in DISTS:
        p.add(f"{where}.dist", f"must be one of {', '.join(DISTS)}, got {dist!r}")
    levels = _levels(p, f"{where}.levels", sw.get("levels"))
    if levels is not None and kind in KINDS and dist in DISTS:
        for lv in levels:
            try:
                NoiseModel(kind, lv, dist)
            except Exception as exc:  # noqa: BLE001
                p.add(f"{where}.levels", str(exc))
                break
    sites = sw.get("sites")
    if not isinstance(sites, dict) or not sites:
        p.add(f"{where}.sites", "required: a table SYSTEM = SITE")
        sites = {}
    for sys_name, site in sites.items():
        table = systems.get(sys_name)
        if not isinstance(table, dict) or table.get("kind") not in ("circuit", "network"):
            p.add(f"{where}.sites.{sys_name}", f"no system named {sys_name!r} (systems: {', '.join(systems)})")
            continue
        allowed = CIRCUIT_SITES if table["kind"] == "circuit" else NETWORK_SITES
        if site not in allowed:
            p.add(f"{where}.sites.{sys_name}", f"site {site!r} does not exist for a {table['kind']} "
                                               f"(allowed: {', '.join(allowed)})")
        elif site == "mac-gate" and table.get("mode", "gates" if table.get("multiplier") else "exact") == "exact":
            p.add(f"{where}.sites.{sys_name}", "site 'mac-gate' needs a network with a multiplier netlist "
                                               "(mode gates, or lut for stuck_at)")
        elif site == "mac-gate" and kind == "bitflip" and table.get("mode") == "lut":
            p.add(f"{where}.sites.{sys_name}", "transient gate flips need mode 'gates' (a lookup table holds "
                                               "only permanent faults)")
        elif kind == "additive" and site in ("gate", "mac-gate"):
            p.add(f"{where}.sites.{sys_name}", f"site {site!r} holds single bits: additive noise cannot be "
                                               "realised there (allowed: bitflip, stuck_at)")
    if sw.get("per_bit") and kind != "bitflip":
        p.add(f"{where}.per_bit", "applies to bitflip sweeps only")
    if len(p.items) > before:
        return None
    options = {k: sw.get(k, defaults[k]) for k in DEFAULT_KEYS}
    return SweepSpec(str(name), NoiseModel(kind, levels[0], dist), levels, dict(sites), bool(sw.get("per_bit")),
                     options)


def network_config(table: dict):
    """The networks.ModelConfig of a network system table."""
    from networks.train import ModelConfig

    keys = ("dataset", "arch", "quant", "bits", "lam", "seed", "backward", "epochs")
    kwargs = {k: table[k] for k in keys if k in table}
    if "hidden" in table:
        kwargs["hidden"] = tuple(table["hidden"])
    return ModelConfig(**kwargs)
