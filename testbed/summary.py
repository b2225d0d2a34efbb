"""summary.json: every number of a finished run that the headline, `testbed show` and reports need, and the text
both render from it (one renderer of break-downs, gaps and confidence levels, and each system's report section).

Per system: its detail, its kind and whether it belongs in the rate view. Per sweep: each unit's curve (task
metric with its interval, error SNR, the information view), its break-down level and its baselines by name (for
networks "exact digital": an exact digital computation of the same products, which fails whenever one product is
wrong). Gaps: each network against each circuit of the sweep (framing 'per operation' when the circuit is the
network's own multiplier) and against its baselines ('per task'), on the noise-level axis and on the error-SNR
axis. Every system's primary break-down is one criterion (disagreement with its own noise-free output in 1% of
evaluations); a network's or classifier's net accuracy drop is a secondary task metric ("secondary"). Per
population (testbed.kinds.population): its members' break-downs and the population's (testbed.pooling), and the
populations' gaps with sign verdicts. `methods` (testbed.methods): every network at a gate site on one cost axis
(tolerance, clean accuracy, gates per multiply, energy, per-operation gap, gain over plain training, Pareto front).
The run's settings (testbed.settings) and thresholds. Per sweep that relates break-downs to label entropy, its rate
fit (`rate_fit`, testbed.rate.rate_fits).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
from pathlib import Path

import numpy as np

from testbed.files import write_atomic
from testbed.settings import percent
from testbed.stats import population_breakdown
from testbed.store import SUMMARY, json_safe

# Reports read this module: what it imports at the top stays light (no networks, no torch); building a summary
# imports the comparator, the sites and the system kinds where it needs them.


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


def _energy_at(curve: list[dict], noise, b) -> dict | None:
    """The dynamic energy per operation relative to nominal at a break-down level and at its interval's ends
    (interpolated on the severity axis between the levels swept; None where the curve did not measure it or
    the end is open), or None when the noise measured no energy."""
    pts = [(noise.severity(p["level"]), p["energy_ratio"]) for p in curve if "energy_ratio" in p]
    pts = sorted((x, e) for x, e in pts if math.isfinite(x))
    if not pts:
        return None
    xs, es = [x for x, _ in pts], [e for _, e in pts]

    def at(level):
        if level is None or not math.isfinite(level):
            return None
        x = noise.severity(level)
        return float(np.interp(x, xs, es)) if xs[0] <= x <= xs[-1] else None

    ends = sorted(e for e in (at(b.lo), at(b.hi)) if e is not None)
    return {"value": at(b.level), "lo": ends[0] if len(ends) == 2 else None,
            "hi": ends[-1] if len(ends) == 2 else None}


def _population_energy(pop: dict, entries: list[dict], confidence: float) -> None:
    """Add a population's breakdown_energy where its members measured energy (the timing kinds): the members'
    mean energy per operation relative to nominal at their own break-downs, with a Student-t interval over
    members (NaN ends where a member has none)."""
    by_label = {e["label"]: e for e in entries}
    values = [(by_label[m["label"]].get("breakdown_energy") or {}).get("value") for m in pop["members"]]
    if all(v is None for v in values):
        return
    e = population_breakdown([math.nan if v is None else v for v in values], None, confidence)
    pop["breakdown_energy"] = {"value": _finite(e.mean), "lo": _finite(e.lo), "hi": _finite(e.hi),
                               "covers": e.covers}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _axis(noise) -> dict:
    """How reports and `show` present a sweep's levels (from the noise model, so they compare no kinds)."""
    return {"label": noise.level_name, "log": noise.log_axis, "unit": noise.level_unit,
            "more_noise_is_higher": noise.more_noise_is_higher, "gap_unit": noise.gap_axis.unit}


def build_summary(suite, units: dict, meta: dict) -> dict:
    from testbed.compare import baseline_label, gap
    from testbed.kinds import SYSTEM_KINDS
    from testbed.methods import methods_table
    from testbed.pooling import population_entries, population_gaps
    from testbed.rate import rate_fits
    from testbed.sites import site_named

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
            energy = _energy_at(entry["curve"], spec.noise, b)
            if energy is not None:
                entry["breakdown_energy"] = energy
            site = site_named(u.site)
            gates = sw.system.gates_per_evaluation(site) if site.gate_level else None
            if gates and u.layer is None and spec.noise.per_element_probability:
                # the fault budget: expected faulty gates per evaluation at break-down (p per gate times gates)
                ends = {k: getattr(b, k) * gates for k in ("level", "lo", "hi")}
                entry["fault_budget"] = {"gates": gates, **ends}
            if not spec.per_bit:
                entry.update(sw.system.summary_fields())
                closed = sw.system.closed_form(spec.noise, u.site)
                if closed:  # the row is a check of the estimator, not a finding
                    entry["closed_form"] = closed
                entry["baselines"] = {}
                for name, (metric, threshold) in sw.system.baselines.items():
                    baseline = sw.breakdown(metric, threshold)
                    entry["baselines"][name] = baseline.to_dict()
                    breakdowns[baseline_label(u.label, name)] = baseline
                entry["secondary"] = {name: sw.breakdown(metric, threshold).to_dict()
                                      for name, (metric, threshold) in sw.system.secondary.items()}
            entries.append(entry)
        gaps = []
        if not spec.per_bit:
            references = [e for e in entries if systems[e["label"]].is_reference]
            for n in (e for e in entries if not systems[e["label"]].is_reference and e["layer"] is None):
                system = systems[n["label"]]
                pairs = [(c["label"], "per operation" if c["system"] == system.runs_on else "versus circuit")
                         for c in references]
                pairs += [(baseline_label(n["label"], name), "per task") for name in system.baselines]
                for other, framing in pairs:
                    level_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise)
                    snr_gap = gap(breakdowns[n["label"]], breakdowns[other], spec.noise, axis="error_snr")
                    gaps.append({"network": n["label"], "against": other, "framing": framing,
                                 "level": level_gap.to_dict(), "error_snr": snr_gap.to_dict()})
        pops = population_entries(suite.populations, entries, spec.noise, spec.options["confidence"]) \
            if not spec.per_bit else []
        for pop in pops:
            _population_energy(pop, entries, spec.options["confidence"])
        by_name = {u.system: u.sweep.system for u in mine}
        pop_gaps = population_gaps(pops, entries, by_name, spec.noise, spec.options["confidence"])
        sweeps.append({"name": spec.name, "noise": spec.noise.kind, "dist": spec.noise.params.get("dist"),
                       "noise_label": spec.noise.label(), "axis": _axis(spec.noise), "per_bit": spec.per_bit,
                       "levels": list(spec.levels), "confidence": spec.options["confidence"],
                       "target_width": spec.options["target_width"] or spec.noise.default_target_width,
                       "budget": spec.options["budget"], "units": entries,
                       "gaps": gaps, "populations": pops, "population_gaps": pop_gaps})
    details = {}
    for u in units.values():
        system = u.sweep.system
        if system.name not in details:
            kind = SYSTEM_KINDS[suite.systems[system.name].kind]
            details[system.name] = {**system.detail(), "kind": kind.name, "rate_view": kind.rate_view}
    out = json_safe({
        "systems": details,
        "suite": suite.name, "description": suite.description, "suite_hash": suite.hash, "seed": suite.seed,
        "code_version": meta.get("code_version"), "created": meta.get("created"), "notes": suite.notes,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "thresholds": {"disagreement": suite.settings.disagreement,
                       "circuit_exact_rate": suite.settings.circuit_exact_rate,
                       "network_accuracy_drop": suite.settings.network_accuracy_drop},
        "settings": dataclasses.asdict(suite.settings),
        "sweeps": sweeps,
        "methods": methods_table(sweeps, details),
    })
    fits = rate_fits(out)
    return json_safe(out | {"rate_fit": fits}) if fits else out


def rate_points(summary: dict) -> list[dict]:
    """For each unit of a system in the rate view (a network: its kind says so) at a word or gate site of its
    products (no layer restriction): the label entropy of its task (the rate R it must deliver, bits) and the error
    SNR at its products at break-down (bits) with that SNR's interval, its data set and input set and its margin
    (None when the summary has none); only from sweeps that hold tasks of at least two different entropies."""
    systems = summary.get("systems", {})
    pts = []
    for sw in summary["sweeps"]:
        rates = {round(systems.get(u["system"], {}).get("label_entropy_bits") or 0, 2) for u in sw["units"]
                 if systems.get(u["system"], {}).get("rate_view")}
        if sw["per_bit"] or len(rates) < 2:
            continue
        for u in sw["units"]:
            d = systems.get(u["system"], {})
            b = u["breakdown"]
            if not d.get("rate_view") or u.get("layer") or b.get("censored") or b["error_snr_bits"] is None:
                continue
            pts.append({"sweep": sw["name"], "noise": sw["noise"], "system": u["system"], "site": u["site"],
                        "rate": d["label_entropy_bits"], "snr": b["error_snr_bits"], "lo": b["error_snr_lo"],
                        "hi": b["error_snr_hi"], "dataset": d.get("dataset"),
                        "input_set": d.get("input_set", d.get("dataset")), "margin": d.get("logit_margin")})
    return pts if len({round(p["rate"], 2) for p in pts}) >= 2 else []


def gate_level(site: str) -> bool:
    """Whether a unit's site (SITE or SITE@LAYER) puts noise on gates (testbed.sites), for readers of a summary."""
    from testbed.sites import gate_level as at_gates

    return at_gates(site)


def unit_baselines(unit: dict) -> dict:
    """A unit's baseline break-downs by name ("exact digital": the same products computed exactly); summaries
    written before baselines were keyed by name hold the one "exact_digital_breakdown"."""
    if "baselines" in unit:
        return unit["baselines"] or {}
    old = unit.get("exact_digital_breakdown")
    return {"exact digital": old} if old else {}


def fmt(v) -> str:
    """How every number appears in `show` and the report (3 significant digits; 'inf', '-' for none)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.3g}"


def sign_text(g: dict) -> str:
    """Whether a gap's interval excludes zero, or why it has none (a censored break-down: a bound)."""
    return {True: "excludes 0", False: "includes 0"}.get(
        g.get("excludes_zero"), "bound" if g.get("censored") else "no interval")


def interval_text(d: dict) -> str:
    """A break-down or gap in short: value [lo, hi], or a bound ("> 0.1", "x (bound)") when censored."""
    if d.get("censored"):
        if d.get("unit"):  # a gap of a censored break-down: only a bound
            return f"{fmt(d['value'])} (bound)"
        return f"> {fmt(d['lo'])}" if d.get("hi") is None else f"< {fmt(d['hi'])}"
    return f"{fmt(d['value'] if 'value' in d else d['level'])} [{fmt(d['lo'])}, {fmt(d['hi'])}]"


def level_text(b: dict) -> str:
    """A break-down level in full: value [lo, hi] with its width (and whether the trial budget ran out), or a bound
    when censored ("> 0.1": not reached within the levels swept; "< 1e-10": failed already at the first)."""
    if b.get("censored"):
        return interval_text(b)
    width = f", width {fmt(b['width'])}" if b.get("width") is not None else ""
    return f"{interval_text(b)}{width}{' budget reached' if b.get('budget_reached') else ''}"


def gap_text(g: dict) -> str:
    """A gap in full: value unit [lo, hi] and its sign, or a bound naming the censored break-downs."""
    if g.get("censored"):
        return f"{fmt(g['value'])} {g['unit']} (bound: {g['censored']})"
    return f"{fmt(g['value'])} {g['unit']} [{fmt(g['lo'])}, {fmt(g['hi'])}] {sign_text(g)}"


def short(label: str) -> str:
    """A unit label without its sweep: 'SYSTEM@SITE'."""
    return label.split("/", 1)[1] if "/" in label else label


def population_text(p: dict, unit: str = "") -> str:
    """A population's break-down: mean [lo, hi] over its members and their spread (sd on the severity axis)."""
    sd = f", sd {fmt(p.get('severity_sd'))} {unit}".rstrip() if p.get("severity_sd") is not None else ""
    return f"{fmt(p['level'])} [{fmt(p['lo'])}, {fmt(p['hi'])}] ({p['members']} members{sd})"


def population_gap_text(g: dict) -> str:
    """A population gap: value unit [lo, hi], its verdict and how it was paired."""
    how = "paired" if g["paired"] else "Welch"
    ends = f"[{fmt(g['lo'])}, {fmt(g['hi'])}]"
    return f"{fmt(g['value'])} {g['unit']} {ends} {g['verdict']} ({how}; covers {g['covers']})"


def confidence_text(summary: dict, sweep: dict | None = None) -> str:
    """The confidence of one sweep's intervals, or of every sweep's ("90%", or "90%/95%" when they differ), as
    captions write it."""
    levels = [sweep] if sweep is not None else summary["sweeps"]
    return "/".join(dict.fromkeys(percent(sw["confidence"]) for sw in levels))


def system_section(name: str, detail: dict) -> dict:
    """The report's section of one system of summary.json, as its kind renders it (testbed.kinds.SystemKind.section;
    summaries written before kinds were recorded name it as "world"); an unknown kind gets a bare title."""
    from testbed.kinds import SYSTEM_KINDS

    kind = SYSTEM_KINDS.get(detail.get("kind") or detail.get("world"))
    return kind.section(name, detail) if kind else {"title": name, "items": []}


def write_summary(directory, summary: dict) -> Path:
    return write_atomic(Path(directory) / SUMMARY, json.dumps(summary, indent=1, allow_nan=False))
