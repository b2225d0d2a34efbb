"""summary.json: every number of a finished run that the headline, `testbed show` and reports need.

Per sweep: each unit's curve (task metric with its interval, error SNR, the information view) and its
break-down level; for networks also the per-task baseline (an exact digital computation of the same
products, which fails whenever one product is wrong). Gaps: each network against each circuit of the
sweep (framing 'per operation' when the circuit is the network's own multiplier) and against its exact
digital baseline ('per task'), on the noise-level axis and on the error-SNR axis.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from pathlib import Path

from testbed.compare import CIRCUIT_THRESHOLD, gap
from testbed.store import SUMMARY


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _curve(unit) -> list[dict]:
    sweep = unit.sweep
    system = sweep.system
    out = []
    for p in sweep.curve():
        value, lo, hi = p[sweep.metric]
        point = {"level": p["level"], "value": value, "lo": lo, "hi": hi, "error_snr_bits": p["error_snr_bits"],
                 "trials": p["trials"], "samples": p["samples"], "required_bits": system.required_rate_bits}
        if system.world == "circuit":
            point.update(surviving_bits=p["capacity_bits"], ber=p["ber"][0], mred=p["mred"],
                         ber_per_bit=p["ber_per_bit"])
        else:
            point.update(surviving_bits=p["mi_bits"], mi_plugin_bits=p["mi_plugin_bits"],
                         agreement=p["agreement"][0], digital_task_rate=list(p["digital_task_rate"]),
                         confusion=p["confusion"])
        out.append(point)
    return out


def build_summary(suite, units: dict, meta: dict) -> dict:
    sweeps = []
    for spec in suite.sweeps:
        mine = [u for u in units.values() if u.sweep_name == spec.name]
        entries, breakdowns = [], {}
        for u in mine:
            sw = u.sweep
            b = sw.breakdown()
            breakdowns[u.label] = b
            entry = {"label": u.label, "system": u.system, "site": u.site, "bit": u.bit, "world": sw.system.world,
                     "metric": sw.metric, "threshold": sw.threshold, "breakdown": b.to_dict(), "curve": _curve(u)}
            if sw.system.world == "network" and not spec.per_bit:
                entry["clean_accuracy"] = sw.system.clean_accuracy
                entry["multiplier"] = getattr(sw.system, "multiplier_name", None)
                digital = sw.breakdown("digital_task_rate", CIRCUIT_THRESHOLD)
                entry["exact_digital_breakdown"] = digital.to_dict()
                breakdowns[u.label + " (exact digital)"] = digital
            entries.append(entry)
        gaps = []
        if not spec.per_bit:
            for n in (e for e in entries if e["world"] == "network"):
                pairs = [(c["label"], "per operation" if c["system"] == n.get("multiplier") else "versus circuit")
                         for c in entries if c["world"] == "circuit"]
                pairs.append((n["label"] + " (exact digital)", "per task"))
                for other, framing in pairs:
                    level_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise.kind)
                    snr_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise.kind, axis="error_snr")
                    gaps.append({"network": n["label"], "against": other, "framing": framing,
                                 "level": level_gap.to_dict(), "error_snr": snr_gap.to_dict()})
        sweeps.append({"name": spec.name, "noise": spec.noise.kind, "dist": spec.noise.dist, "per_bit": spec.per_bit,
                       "levels": spec.levels, "confidence": spec.options["confidence"], "units": entries,
                       "gaps": gaps})
    details = {}
    for u in units.values():
        system = u.sweep.system
        if system.name not in details:
            details[system.name] = system_detail(system)
    return _clean({
        "systems": details,
        "suite": suite.name, "description": suite.description, "suite_hash": suite.hash, "seed": suite.seed,
        "code_version": meta.get("code_version"), "created": meta.get("created"), "notes": suite.notes,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "thresholds": {"circuit_exact_rate": CIRCUIT_THRESHOLD, "network_accuracy_drop": 0.01},
        "sweeps": sweeps,
    })


def system_detail(system) -> dict:
    """Static facts of a system for the report: circuits their size, depth, single stuck-at fault coverage and
    sensitivity S (exhaustive when inputs <= 20 bits, else 2^16 random vectors); networks their accuracy,
    per-layer weight bits and pruned channels."""
    if system.world == "circuit":
        from circuits.campaign import stuck_at_campaign

        net = system.netlist
        vectors = "exhaustive" if net.n_input_bits <= 20 else 1 << 16
        camp = stuck_at_campaign(net, vectors=vectors, seed=0)
        return {"world": "circuit", "gates": net.n_gates, "depth": net.depth(), "inputs": net.inputs,
                "outputs": net.output_widths, "operands": system.operand_kind, "vectors": int(system.n),
                "output_entropy_bits": system.required_rate_bits, "fault_coverage": camp.coverage,
                "faults": len(camp.sites), "undetected_faults": len(camp.undetected()),
                "sensitivity_S": camp.sensitivity, "campaign_vectors": camp.n_vectors}
    layers = []
    for k, lay in enumerate(system.engine.model.layers):
        layers.append({"layer": k, "kind": lay.kind, "shape": list(lay.weight.shape), "weight_bits": lay.weight_bits,
                       "pruned_channels": int((abs(lay.weight).sum(axis=1) == 0).sum())})
    size = getattr(system, "size", None)
    return {"world": "network", "dataset": system.dataset.name, "test_inputs": int(system.n),
            "clean_accuracy": system.clean_accuracy, "label_entropy_bits": system.required_rate_bits,
            "multiplier": getattr(system, "multiplier_name", None), "mode": system.engine.multiplier.mode,
            "layers": layers, "size": size}


def write_summary(directory, summary: dict) -> Path:
    path = Path(directory) / SUMMARY
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(summary, fh, indent=1)
    os.replace(tmp, path)
    return path
