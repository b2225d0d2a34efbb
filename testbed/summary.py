"""summary.json: every number of a finished run that the headline, `testbed show` and reports need.

Per sweep: each unit's curve (task metric with its interval, error SNR, the information view) and its
break-down level; for networks also the per-task baseline (an exact digital computation of the same
products, which fails whenever one product is wrong). Gaps: each network against each circuit of the
sweep (framing 'per operation' when the circuit is the network's own multiplier) and against its exact
digital baseline ('per task'), on the noise-level axis and on the error-SNR axis.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from testbed.compare import gap
from testbed.sites import gate_level, site_named  # noqa: F401 (gate_level: asked by reports, readers of a summary)
from testbed.store import SUMMARY, json_safe
from testbed.systems import CIRCUIT_THRESHOLD, NETWORK_DROP


def _curve(unit) -> list[dict]:
    sweep = unit.sweep
    system = sweep.system
    out = []
    for p in sweep.curve():
        value, lo, hi = p[sweep.metric]
        out.append({"level": p["level"], "value": value, "lo": lo, "hi": hi, "error_snr_bits": p["error_snr_bits"],
                    "trials": p["trials"], "samples": p["samples"], "required_bits": system.required_rate_bits,
                    **system.curve_point(p)})
    return out


def _axis(noise) -> dict:
    """How reports and `show` present a sweep's levels (from the noise model, so they compare no kinds)."""
    return {"label": noise.level_name, "log": noise.log_axis, "unit": noise.level_unit,
            "more_noise_is_higher": noise.more_noise_is_higher, "gap_unit": noise.gap_axis.unit}


def build_summary(suite, units: dict, meta: dict) -> dict:
    sweeps = []
    for spec in suite.sweeps:
        mine = [u for u in units.values() if u.sweep_name == spec.name]
        entries, breakdowns, systems = [], {}, {}
        for u in mine:
            sw = u.sweep
            b = sw.breakdown()
            breakdowns[u.label] = b
            systems[u.label] = sw.system
            entry = {"label": u.label, "system": u.system, "site": u.site, "bit": u.bit, "layer": u.layer,
                     "world": sw.system.world,
                     "metric": sw.metric, "threshold": sw.threshold, "breakdown": b.to_dict(), "curve": _curve(u)}
            site = site_named(u.site)
            gates = sw.system.gates_per_evaluation(site) if site.gate_level else None
            if gates and u.layer is None and spec.noise.per_element_probability:
                # the fault budget: expected faulty gates per evaluation at break-down (p per gate times gates)
                ends = {k: getattr(b, k) * gates for k in ("level", "lo", "hi")}
                entry["fault_budget"] = {"gates": gates, **ends}
            if not spec.per_bit:
                entry.update(sw.system.summary_fields())
                for suffix, (metric, threshold) in sw.system.baselines.items():
                    baseline = sw.breakdown(metric, threshold)
                    entry["exact_digital_breakdown"] = baseline.to_dict()
                    breakdowns[u.label + suffix] = baseline
            entries.append(entry)
        gaps = []
        if not spec.per_bit:
            references = [e for e in entries if systems[e["label"]].is_reference]
            for n in (e for e in entries if not systems[e["label"]].is_reference and e["layer"] is None):
                system = systems[n["label"]]
                pairs = [(c["label"], "per operation" if c["system"] == system.runs_on else "versus circuit")
                         for c in references]
                pairs += [(n["label"] + suffix, "per task") for suffix in system.baselines]
                for other, framing in pairs:
                    level_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise,
                                    confidence=spec.options["confidence"])
                    snr_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise, axis="error_snr")
                    gaps.append({"network": n["label"], "against": other, "framing": framing,
                                 "level": level_gap.to_dict(), "error_snr": snr_gap.to_dict()})
        sweeps.append({"name": spec.name, "noise": spec.noise.kind, "dist": spec.noise.params.get("dist"),
                       "noise_label": spec.noise.label(), "axis": _axis(spec.noise), "per_bit": spec.per_bit,
                       "levels": list(spec.levels), "confidence": spec.options["confidence"],
                       "target_width": spec.options["target_width"] or spec.noise.default_target_width,
                       "budget": spec.options["budget"], "units": entries,
                       "gaps": gaps})
    details = {}
    for u in units.values():
        system = u.sweep.system
        if system.name not in details:
            details[system.name] = system.detail()
    return json_safe({
        "systems": details,
        "suite": suite.name, "description": suite.description, "suite_hash": suite.hash, "seed": suite.seed,
        "code_version": meta.get("code_version"), "created": meta.get("created"), "notes": suite.notes,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "thresholds": {"circuit_exact_rate": CIRCUIT_THRESHOLD, "network_accuracy_drop": NETWORK_DROP},
        "sweeps": sweeps,
    })


def write_summary(directory, summary: dict) -> Path:
    path = Path(directory) / SUMMARY
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(summary, fh, indent=1, allow_nan=False)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; a summary is as readable as the rest of the run
    os.replace(tmp, path)
    return path
