"""`testbed report`: report.html (self-contained), report.md with PNG figures, from a run's summary.json.

With two directories the report compares the runs side by side (break-down levels and gaps of units that
share a label, and figures overlaying both runs), written into the first directory as comparison.html/md.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

from reports import figures
from reports import methods as cost_axis
from reports.errors import ReportError
from testbed.escape import html_text, md_fence
from testbed.escape import md_text as md_escape
from testbed.files import real_dir, write_atomic
from testbed.summary import (
    confidence_text,
    fmt,
    interval_text,
    population_text,
    short,
    sign_text,
    system_section,
    unit_baselines,
)


def question(summary: dict) -> str:
    """The report's opening: the question, and how the table below answers it (with the run's thresholds)."""
    t = summary["thresholds"]
    return ("Artificial neural networks usually tolerate some noise, while digital circuits do not. What is the "
            "difference? Each system below meets the same injected noise; the table gives the noise level where "
            "it breaks down by one criterion for every world: its output (a circuit's result word, a network's or "
            "classifier's predicted class) differs from its own noise-free output in more than "
            f"{100 * t.get('disagreement', 1 - t['circuit_exact_rate']):g}% of evaluations. The net accuracy drop "
            f"({100 * t['network_accuracy_drop']:g} point under noise-free: inputs lost minus inputs gained) is a "
            "secondary task metric, marked as such. Each level comes with its interval from a dose-response fit, "
            "and the tolerance gaps between them (decades of probability, or bits of SNR). A population (one "
            "member per training seed) is given first as the mean over its members with an interval that covers "
            "the spread between them, its members beside it; a sign is decided only where that interval excludes "
            "zero.")


def load(directory) -> dict:
    from testbed.errors import StoreError
    from testbed.store import Store, read_summary

    try:
        summary = read_summary(directory)
        store = Store.open(directory)
    except StoreError as exc:
        raise ReportError(str(exc)) from None
    summary["suite_text"] = store.suite_text()
    summary["meta"] = store.meta()
    store.close()
    return summary


def headline(summary: dict) -> list[dict]:
    """The headline rows: each break-down level with its interval, then each gap; all from summary.json."""
    rows = []
    for sw in summary["sweeps"]:
        if sw["per_bit"]:
            continue
        unit = sw["axis"]["unit"]
        for pop in sw.get("populations", []):
            p = pop["population"]
            rows.append({"sweep": sw["name"], "what": f"population break-down of {short(pop['label'])}", "unit": unit,
                         "value": p["level"], "lo": p["lo"], "hi": p["hi"], "censored": "",
                         "error_snr": p["error_snr_bits"],
                         "note": f"{p['covers']}; members: " + "; ".join(
                             f"{pop['key']} {m[pop['key']]}: {interval_text(m['breakdown'])}" for m in pop["members"])})
        for g in sw.get("population_gaps", []):
            rows.append({"sweep": sw["name"], "what": f"population gap {g['framing']}: {short(g['population'])} vs "
                         f"{short(g['against'])}", "unit": g["unit"], "value": g["value"], "lo": g["lo"],
                         "hi": g["hi"], "censored": "", "error_snr": None,
                         "note": f"{g['verdict']} ({'paired' if g['paired'] else 'Welch'}; covers {g['covers']})"
                                 + (f"; {DERIVED}" if g["framing"] == "per task" and g["unit"] == "decades" else "")})
        for u in sw["units"]:
            b = u["breakdown"]
            closed = u.get("closed_form")
            check = f"a check of the estimator: closed form {closed['formula']} gives {fmt(closed['level'])}; " \
                if closed else ""
            rows.append({"sweep": sw["name"], "what": f"break-down of {u['system']}@{u['site']}", "unit": unit,
                         "value": b["level"], "lo": b["lo"], "hi": b["hi"], "censored": b.get("censored") or "",
                         "error_snr": b["error_snr_bits"], "note": check + _breakdown_note(b, sw)})
            for name, d in unit_baselines(u).items():
                rows.append({"sweep": sw["name"], "what": f"break-down of the same products, {name} ({u['system']})",
                             "unit": unit, "value": d["level"], "lo": d["lo"], "hi": d["hi"],
                             "censored": d.get("censored") or "", "error_snr": d["error_snr_bits"],
                             "note": _breakdown_note(d, sw)})
            for name, d in u.get("secondary", {}).items():
                rows.append({"sweep": sw["name"], "what": f"secondary task metric, {name} ({u['system']})",
                             "unit": unit, "value": d["level"], "lo": d["lo"], "hi": d["hi"],
                             "censored": d.get("censored") or "", "error_snr": d["error_snr_bits"],
                             "note": _breakdown_note(d, sw)})
        units = {u["label"]: u for u in sw["units"]}
        for g in sw["gaps"]:
            lv = g["level"]
            rows.append({"sweep": sw["name"], "what": f"gap {g['framing']}: {g['network'].split('/', 1)[1]} vs "
                         f"{g['against'].split('/', 1)[1]}", "unit": lv["unit"], "value": lv["value"], "lo": lv["lo"],
                         "hi": lv["hi"], "censored": lv.get("censored") or "", "error_snr": g["error_snr"]["value"],
                         "note": (f"bound ({lv['censored']})" if lv.get("censored") else sign_text(lv))
                         + (f"; {derived_text(g, units)}" if g["framing"] == "per task"
                            and lv["unit"] == "decades" else "")})
    return rows


DERIVED = "derived, not a finding: per-operation gap + log10(multiplies per input)"  # on the decades axis


def derived_text(g: dict, units: dict) -> str:
    """The per-task gap is arithmetic on the per-operation one: say so, with the multiplies per input."""
    m = units.get(g["network"], {}).get("multiplies_per_input")
    return DERIVED + (f" (log10 {fmt(m)} = {fmt(math.log10(m))})" if m else "")


def _breakdown_note(b: dict, sweep: dict) -> str:
    """A break-down's bound, or its interval width on the severity axis (and whether the trial budget ran out)."""
    bound = {"above": "not reached in the levels swept (a lower bound on the level's severity)",
             "below": "broken already at the first level (a bound)"}
    if b.get("censored"):
        return bound.get(b["censored"], b["censored"])
    width = f"width {fmt(b.get('width'))} ({sweep['axis']['gap_unit']})" if b.get("width") is not None else ""
    return width + ("; budget reached" if b.get("budget_reached") else "")


def answer(summary: dict) -> tuple[list[str], list[dict]]:
    """The headline's answer: one sentence per population (its break-down over members and its gaps with their
    verdicts), then one table row per network of each sweep (members included): where its multiplier (the circuit
    it runs on) and the network break down, the per-operation and per-task gaps with their intervals, and whether
    each interval excludes zero; a sentence on the sign only for a network that is no population's member."""
    sentences, rows = [], []
    for sw in summary["sweeps"]:
        if sw["per_bit"]:
            continue
        units = {u["label"]: u for u in sw["units"]}
        members = {m["system"] for pop in sw.get("populations", []) for m in pop["members"]}
        for pop in sw.get("populations", []):
            gaps = [g for g in sw.get("population_gaps", []) if g["population"] == pop["label"]]
            sentences.append(
                f"{sw['name']}: population {short(pop['label'])} breaks at "
                f"{population_text(pop['population'], sw['axis']['gap_unit'])} {sw['axis']['unit']} "
                f"({pop['population']['covers']})" + "".join(
                    f"; gap {g['framing']} vs {short(g['against'])}: {fmt(g['value'])} [{fmt(g['lo'])}, "
                    f"{fmt(g['hi'])}] {g['unit']}, {g['verdict']}" for g in gaps) + ".")
        for n in (u for u in sw["units"] if u.get("clean_accuracy") is not None and u.get("layer") is None):
            gaps = {g["framing"]: g for g in sw["gaps"] if g["network"] == n["label"]}
            op, task = gaps.get("per operation"), gaps.get("per task")
            circuit = units.get(op["against"]) if op else None
            row = {"sweep": sw["name"], "network": n["system"], "site": n["site"], "unit": sw["axis"]["unit"],
                   "network_breaks": interval_text(n["breakdown"]),
                   "circuit": circuit["system"] if circuit else "-",
                   "circuit_breaks": interval_text(circuit["breakdown"]) if circuit else "-",
                   "per_operation": interval_text(op["level"]) if op else "-",
                   "per_operation_sign": sign_text(op["level"]) if op else "",
                   "per_task": interval_text(task["level"]) if task else "-",
                   "per_task_sign": sign_text(task["level"]) if task else ""}
            rows.append(row)
            if op and n["system"] not in members:  # a member's sign is no claim: its population's is
                lv = op["level"]
                verdict = ("more" if (lv["value"] or 0) > 0 else "less") + " tolerant per operation than its multiplier"
                decided = {True: f"{verdict} (the interval excludes zero)", False: "not decided: the interval "
                           "includes zero", None: "only a bound: a break-down lies outside the levels swept"}
                sentences.append(f"{sw['name']}: {n['system']} breaks at {row['network_breaks']} {row['unit']}, "
                                 f"{row['circuit']} at {row['circuit_breaks']}; gap {row['per_operation']} "
                                 f"{lv['unit']}: {decided[lv.get('excludes_zero')]}.")
    return sentences, rows


def rate_verdict(points: list[dict]) -> str:
    """In words: does the break-down error SNR follow the task's rate? A least-squares line through the points
    (slope 1 and intercept 0 would be y = x), and the mean distance from y = x."""
    import numpy as np

    x = np.array([p["rate"] for p in points], float)
    y = np.array([p["snr"] for p in points], float)
    slope, intercept = np.polyfit(x, y, 1)
    off = float(np.mean(y - x))
    held = abs(slope - 1) < 0.5 and abs(off) < 1.0
    return (f"break-down error SNR = {slope:.2f} x rate {intercept:+.2f} bits over {len(points)} points; on average "
            f"{off:+.2f} bits from y = x, so the relation {'roughly holds' if held else 'does not hold'} here "
            "(|slope - 1| < 0.5 and mean distance < 1 bit taken as holding).")


def rate_fit_sentence(f: dict) -> str:
    """One sentence on a rate fit (testbed.rate.rate_fits): the slope of break-down SNR on label entropy with its
    interval, the covariates and what the interval covers; whether the interval excludes zero; the slope without
    the margin (the figure's solid and dashed lines)."""
    conf = f"{100 * f['confidence']:g}%"
    return (f"{f['sweep']}: with the input set and the margin as covariates and a random intercept per task, the "
            f"break-down error SNR changes by {fmt(f['slope'])} bits per bit of label entropy ({conf} interval "
            f"[{fmt(f['lo'])}, {fmt(f['hi'])}], t with {f['df']:g} degrees of freedom, {f['members']} members of "
            f"{f['tasks']} tasks on {f['input_sets']} input sets); the interval "
            f"{'excludes' if f['excludes_zero'] else 'includes'} zero; without the margin as a covariate "
            f"{fmt(f['without_margin']['slope'])} [{fmt(f['without_margin']['lo'])}, {fmt(f['without_margin']['hi'])}] "
            f"(margin and entropy correlate, r = {f['margin_entropy_correlation']:.2f}). It covers {f['covers']}.")


def _systems(summary: dict) -> list[str]:
    return sorted({u["system"] for sw in summary["sweeps"] for u in sw["units"]}
                  | {p["system"] for sw in summary["sweeps"] for p in sw.get("populations", [])})


def _figures(summary: dict, colours: dict, runs=None) -> list[tuple[str, str, bytes]]:
    """(file name, caption, png) in report order."""
    def conf(sweep=None) -> str:
        return confidence_text(summary, sweep)
    out = []
    for i, sw in enumerate(summary["sweeps"]):
        if sw["per_bit"]:
            out.append((f"per_bit_{i}.png", f"Per-bit view ({sw['name']}): which product bits carry the tolerance.",
                        figures.per_bit_figure(sw, colours)))
            continue
        pair = [(n, next((s for s in r["sweeps"] if s["name"] == sw["name"]), None)) for n, r in runs] if runs else None
        pair = [(n, s) for n, s in pair if s is not None] if pair else None
        out.append((f"sweep_{i}.png", f"{sw['name']}: task metric against noise level (bands: {conf(sw)} intervals; "
                    "vertical lines: break-down levels; dotted: the same products computed exactly).",
                    figures.sweep_figure(sw, colours, pair)))
    for i, sw in enumerate(summary["sweeps"]):
        if sw.get("populations"):
            out.append((f"population_{i}.png", f"Populations ({sw['name']}): each member's break-down with its own "
                        f"{conf(sw)} interval (dots), and the population's mean with its {conf(sw)} interval over "
                        "members (diamond), which covers the spread between members drawn by the same recipe.",
                        figures.population_figure(sw, colours)))
        if not sw["per_bit"] and any(u.get("breakdown_energy") for u in sw["units"]):
            out.append((f"energy_{i}.png", f"{sw['name']}: task metric against the dynamic energy per operation "
                        f"relative to nominal (bands: {conf(sw)} intervals; vertical lines: the energy at "
                        "break-down).", figures.energy_figure(sw, colours)))
    for i, sw in enumerate(summary["sweeps"]):
        if any(u.get("layer") is not None for u in sw["units"]):
            out.append((f"per_layer_{i}.png", f"Per-layer view ({sw['name']}): each network's break-down when the "
                        f"noise reaches one multiply layer only (markers, {conf(sw)} intervals), and every layer at "
                        "once (dashed).", figures.per_layer_figure(sw, colours)))
    fits = [f for f in summary.get("rate_fit", []) if "slope" in f]
    rate = [p for p in figures.rate_points(summary) if p["sweep"] not in {f["sweep"] for f in fits}]
    for f in fits:
        pts = [p for p in figures.rate_points(summary) if p["sweep"] == f["sweep"] and p["margin"] is not None]
        index = [sw["name"] for sw in summary["sweeps"]].index(f["sweep"])
        out.append((f"rate_fit_{index}.png", "Rate experiment: " + rate_fit_sentence(f),
                    figures.rate_fit_figure(pts, f)))
    if len({round(p["rate"], 2) for p in rate}) >= 2:
        out.append(("rate.png", "Rate against capacity: " + rate_verdict(rate), figures.rate_figure(rate, colours)))
    budgets = budget_rows(summary)
    if len(budgets) > 1:
        out.append(("fault_budget.png", "Fault budget: expected faulty gates per evaluation at break-down (p per gate "
                    f"times gates evaluated), with {conf()} intervals; triangles: bounds.",
                    figures.budget_figure(budgets, colours)))
    if figures.hardening_points(summary):
        out.append(("pareto.png", "Hardening: each system's break-down level per gate against the gate overhead of "
                    f"its hardening (markers with {conf()} intervals; triangles: bounds).",
                    figures.pareto_figure(summary, colours)))
    if summary.get("methods"):
        out.append(("methods.png", "Methods on one cost axis: break-down log10 p per gate (population mean with its "
                    f"{conf()} interval over members) against gates per multiply and clean accuracy; "
                    + cost_axis.best_sentence(summary), cost_axis.figure(summary)))
    out.append(("error_power.png", "Error-power view: every break-down level on one axis, the SNR of the error "
                "the noise caused at its site.", figures.error_power_figure(summary, colours)))
    for i, sw in enumerate(summary["sweeps"]):
        if not sw["per_bit"]:
            out.append((f"information_{i}.png", f"Information view ({sw['name']}): the rate each task needs against "
                        "the information that survives.", figures.information_figure(sw, colours)))
    return out


def _detail_figures(summary: dict) -> list[tuple[str, str, bytes]]:
    out, seen = [], set()
    for i, sw in enumerate(summary["sweeps"]):
        if sw["per_bit"]:
            continue
        for j, u in enumerate(sw["units"]):
            if "ber_per_bit" in u["curve"][0] and (u["system"], "ber") not in seen:
                seen.add((u["system"], "ber"))
                out.append((f"ber_{i}_{j}.png", f"{u['system']}: bit-error rate per output bit ({sw['name']}).",
                            figures.ber_heatmap(u, sw["axis"])))
            if "confusion" in u["curve"][0] and (u["system"], "cm") not in seen and u["breakdown"]["level"] is not None:
                seen.add((u["system"], "cm"))
                out.append((f"confusion_{i}_{j}.png", f"{u['system']}: confusion matrix at the level nearest its "
                            f"break-down ({sw['name']}).", figures.confusion_figure(u)))
    return out


ANSWER_COLUMNS = (("sweep", "noise (same for both)"), ("circuit", "circuit"), ("circuit_breaks", "circuit breaks at"),
                  ("network", "network"), ("network_breaks", "network breaks at"),
                  ("per_operation", "gap per operation"), ("per_operation_sign", ""), ("per_task", "gap per task"),
                  ("per_task_sign", ""))


def _answer_html(sentences, rows) -> str:
    head = "".join(f"<th>{html_text(t)}</th>" for _, t in ANSWER_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html_text(str(r[k]))}</td>" for k, _ in ANSWER_COLUMNS) + "</tr>"
                   for r in rows)
    text = "".join(f"<p>{html_text(s)}</p>" for s in sentences)
    return f"{text}<table class='headline'><tr>{head}</tr>{body}</table>" if rows else ""


def _answer_md(sentences, rows) -> list[str]:
    if not rows:
        return []
    out = [*sentences, "", "| " + " | ".join(t or "excludes 0?" for _, t in ANSWER_COLUMNS) + " |",
           "|" + "---|" * len(ANSWER_COLUMNS)]
    out += ["| " + " | ".join(md_escape(str(r[k])) for k, _ in ANSWER_COLUMNS) + " |" for r in rows]
    return out + [""]


def _headline_html(rows) -> str:
    cells = ["<table class='breakdowns'><tr><th>sweep</th><th>quantity</th><th>value</th><th>interval</th>"
             "<th>unit</th><th>error SNR (bits)</th><th>note</th></tr>"]
    for r in rows:
        note = r.get("note", "")
        cells.append(f"<tr><td>{html_text(r['sweep'])}</td><td>{html_text(r['what'])}</td>"
                     f"<td class='v'>{html_text(fmt(r['value']))}</td><td>[{html_text(fmt(r['lo']))}, "
                     f"{html_text(fmt(r['hi']))}]</td><td>{html_text(r['unit'])}</td>"
                     f"<td>{html_text(fmt(r['error_snr']))}</td><td>{html_text(note)}</td></tr>")
    return "\n".join(cells) + "</table>"


def arithmetic_rows(summary: dict) -> list[dict]:
    """One row per circuit whose exact function is known: gates, hardening overhead, its errors against that
    function (EP, MAE, WCE, MRED) and, for each network running on it, the noise-free accuracy and the
    break-down under gate faults (mac-gate sites)."""
    from testbed.summary import gate_level

    systems = summary.get("systems", {})
    gate_units = {u["system"]: u for sw in summary["sweeps"] if not sw["per_bit"] for u in sw["units"]
                  if gate_level(u["site"])}
    rows = []
    for name, d in systems.items():
        err = d.get("error_vs_exact")
        if not err:
            continue
        nets = [(n, nd) for n, nd in systems.items() if nd.get("multiplier") == name] or [(None, None)]
        for net, nd in nets:
            unit = gate_units.get(net) if net else None
            rows.append({"circuit": name, "gates": d["gates"], "overhead": (d.get("hardening") or {}).get("overhead"),
                         "ep": err["ep"], "mae": err["mae"], "wce": err["wce"], "mred": err["mred"],
                         "network": net or "-", "accuracy": nd["clean_accuracy"] if nd else None,
                         "network_breaks": interval_text(unit["breakdown"]) if unit else "-"})
    return rows


def _members(sw: dict) -> set[str]:
    """The systems of a sweep that are members of its populations."""
    return {m["system"] for pop in sw.get("populations", []) for m in pop["members"]}


def budget_rows(summary: dict) -> list[dict]:
    """One row per population and per other unit with a fault budget (gate sites under a per-gate probability):
    gates evaluated per sample (a population's members' range), noise-free accuracy (its members' mean), the
    break-down p per gate and p times gates, the expected faulty gates per evaluation that the logic survives,
    with intervals (a population's over its members; bounds when censored)."""
    systems = summary.get("systems", {})
    rows = []
    for sw in summary["sweeps"]:
        if sw["per_bit"]:
            continue
        for pop in sw.get("populations", []):
            fb = pop.get("fault_budget")
            if not fb:
                continue
            accs = [systems.get(m["system"], {}).get("clean_accuracy") for m in pop["members"]]
            depths = [systems.get(m["system"], {}).get("depth") for m in pop["members"]]
            gates = fb["gates_min"] if fb["gates_min"] == fb["gates_max"] else \
                f"{fmt(fb['gates_min'])}-{fmt(fb['gates_max'])}"
            budget = {"level": fb["level"], "lo": fb["lo"], "hi": fb["hi"], "censored": ""}
            rows.append({"sweep": sw["name"], "system": f"{short(pop['label'])} ({len(accs)} members)",
                         "gates": gates, "depth": max(depths) if None not in depths else None,
                         "accuracy": sum(accs) / len(accs) if None not in accs else None,
                         "breaks": interval_text(pop["population"]), "budget": interval_text(budget),
                         "_budget": budget, "_colour": pop["system"], "_gates": fb["gates_mean"]})
        members = _members(sw)
        for u in sw["units"]:
            fb = u.get("fault_budget")
            if not fb or u["system"] in members:
                continue
            d = systems.get(u["system"], {})
            budget = {"level": fb["level"], "lo": fb["lo"], "hi": fb["hi"], "censored": u["breakdown"].get("censored")}
            rows.append({"sweep": sw["name"], "system": f"{u['system']}@{u['site']}", "gates": fb["gates"],
                         "depth": d.get("depth"), "accuracy": u.get("clean_accuracy"),
                         "breaks": interval_text(u["breakdown"]), "budget": interval_text(budget),
                         "_budget": budget, "_colour": u["system"], "_gates": fb["gates"]})
    return rows


def _plain_of(name: str, candidates, systems: dict) -> str | None:
    """The plain netlist swept beside hardened system `name`: a candidate with the hardened one's base gate count
    and no hardening (None: none)."""
    base = systems[name]["hardening"]["base_gates"]
    return next((v for v in candidates if systems.get(v, {}).get("gates") == base
                 and (systems[v].get("hardening") or {}).get("spec", "none") == "none"), None)


def _hardened(name: str, systems: dict) -> bool:
    return (systems.get(name, {}).get("hardening") or {}).get("spec", "none") != "none"


def hardening_rows(summary: dict) -> list[dict]:
    """One row per hardened system (or population) of a sweep at a gate site whose plain netlist (a system of the
    sweep with the hardened one's base gate count and no hardening; for a population, the plain member of the same
    seed) was swept beside it: the gain per gate (break-down p per gate, hardened over plain; for populations
    10^(the paired population gap) with its interval over members) and the gain in fault budget (that times the
    gate ratio, which counts the added gates)."""
    from testbed.summary import gate_level

    systems = summary.get("systems", {})
    rows = []
    for sw in summary["sweeps"]:
        if sw["per_bit"]:
            continue
        units = [u for u in sw["units"] if gate_level(u["site"]) and u.get("layer") is None]
        members = _members(sw)
        for u in units:
            if u["system"] in members or not _hardened(u["system"], systems):
                continue
            plain = next((v for v in units if v["system"] == _plain_of(u["system"], [w["system"] for w in units],
                                                                         systems)), None)
            if plain is None or u["breakdown"].get("censored") or plain["breakdown"].get("censored"):
                continue
            per_gate = u["breakdown"]["level"] / plain["breakdown"]["level"]
            ratio = systems[u["system"]]["gates"] / systems[u["system"]]["hardening"]["base_gates"]
            rows.append({"sweep": sw["name"], "system": u["system"], "plain": plain["system"],
                         "hardening": systems[u["system"]]["hardening"]["spec"], "gate_ratio": ratio,
                         "per_gate": per_gate, "per_gate_lo": None, "per_gate_hi": None, "budget": per_gate * ratio})
        rows += _population_hardening(sw, systems)
    return rows


def _population_hardening(sw: dict, systems: dict) -> list[dict]:
    """hardening_rows for populations: a hardened population against the population whose member of each seed
    is that member's plain netlist; the gain per gate from their paired population gap (decades)."""
    pops = {p["label"]: p for p in sw.get("populations", [])}
    rows = []
    for label, pop in pops.items():
        names = [m["system"] for m in pop["members"]]
        if not all(_hardened(n, systems) for n in names):
            continue
        for other in pops.values():
            if other is pop or other["site"] != pop["site"] or other["key"] != pop["key"]:
                continue
            plain = {m[other["key"]]: m["system"] for m in other["members"]}
            if [m[pop["key"]] for m in pop["members"]] != list(plain) or any(
                    _plain_of(m["system"], [plain[m[pop["key"]]]], systems) is None for m in pop["members"]):
                continue
            gap = next((g for g in sw.get("population_gaps", []) if {g["population"], g["against"]}
                        == {label, other["label"]} and g["paired"]), None)
            if gap is None or any(not isinstance(gap.get(k), (int, float)) or not math.isfinite(gap[k])
                                  for k in ("value", "lo", "hi")):
                continue
            sign = 1 if gap["population"] == label else -1
            ends = sorted(10 ** (sign * gap[k]) for k in ("lo", "hi"))
            ratio = sum(systems[n]["gates"] / systems[n]["hardening"]["base_gates"] for n in names) / len(names)
            per_gate = 10 ** (sign * gap["value"])
            rows.append({"sweep": sw["name"], "system": f"{pop['system']} ({len(names)} members)",
                         "plain": other["system"], "hardening": systems[names[0]]["hardening"]["spec"],
                         "gate_ratio": ratio, "per_gate": per_gate, "per_gate_lo": ends[0], "per_gate_hi": ends[1],
                         "budget": per_gate * ratio, "verdict": gap["verdict"]})
    return rows


HARDENING_TITLE = "Hardening: gain per gate (primary) and in fault budget (counts the added gates again)"
HARDENING_COLUMNS = (("sweep", "sweep"), ("system", "hardened"), ("plain", "plain"), ("hardening", "hardening"),
                     ("gate_ratio", "gates, hardened / plain"), ("per_gate", "gain per gate (break-down p ratio)"),
                     ("per_gate_lo", "its interval from"), ("per_gate_hi", "to"),
                     ("budget", "gain in fault budget"))


def timing_rows(summary: dict) -> list[dict]:
    """One row per circuit unit and per network population whose noise measured energy (the timing kinds): its
    break-down with the interval, the dynamic energy per operation relative to nominal there, and the per-bit error
    profile at the first level swept past the break-down (the three output bits with the highest error rate). A
    population's row gives the members' mean break-down with its t interval over members (as the populations
    table) and the members' mean energy at their own break-downs with a t interval over members; its members get no
    rows of their own."""
    rows = []
    for sw in summary["sweeps"]:
        if sw["per_bit"]:
            continue
        in_pops = set()
        for pop in sw.get("populations", []):
            in_pops |= {m["label"] for m in pop["members"]}
            e = pop.get("breakdown_energy")
            if e is None:
                continue
            b = pop["population"]
            rows.append({"sweep": sw["name"], "system": f"{pop['system']}@{pop['site']}", "axis": sw["axis"]["label"],
                         "breaks": population_text(b), "energy": f"{interval_text(e)} (members' mean)",
                         "profile": "-", "_b": {"censored": b.get("level") is None}, "_energy": e,
                         "_covers": b["covers"]})
        for u in sw["units"]:
            energy = u.get("breakdown_energy")
            if energy is None or u["label"] in in_pops:
                continue
            b = u["breakdown"]
            rows.append({"sweep": sw["name"], "system": f"{u['system']}@{u['site']}", "axis": sw["axis"]["label"],
                         "breaks": interval_text(b), "energy": interval_text(
                             {"level": energy["value"], "lo": energy["lo"], "hi": energy["hi"]}),
                         "profile": _bit_profile(u, sw), "_b": b, "_energy": energy})
    return rows


def _bit_profile(unit: dict, sweep: dict) -> str:
    """The output bits with the highest error rates at the first level swept past the break-down ('-' when none
    is, or the curve has no per-bit rates)."""
    level = unit["breakdown"]["level"]
    past = [p for p in unit["curve"] if "ber_per_bit" in p and level is not None
            and (p["level"] > level) == sweep["axis"]["more_noise_is_higher"] and p["level"] != level]
    if not past:
        return "-"
    p = past[0]
    top = sorted(range(len(p["ber_per_bit"])), key=lambda i: -p["ber_per_bit"][i])[:3]
    return f"at {fmt(p['level'])}: " + ", ".join(f"bit {i} {fmt(p['ber_per_bit'][i])}" for i in top)


def timing_sentences(rows: list[dict]) -> list[str]:
    """One sentence per timing row: how far the level can go before the system breaks, and the energy there."""
    out = []
    for r in rows:
        b = r["_b"]
        reach = f"{r['axis']} {r['breaks']}" + (" (a bound)" if b.get("censored") else "")
        covers = f" (interval: {r['_covers']})" if r.get("_covers") else ""
        out.append(f"{r['sweep']}: {r['system']} works down to {reach}{covers}, where its dynamic energy per "
                   f"operation is {r['energy']} of nominal.")
    return out


TIMING_TITLE = "Timing: how far the clock period and the supply can drop, and the energy per operation there"
TIMING_COLUMNS = (("sweep", "sweep"), ("system", "system@site"), ("axis", "level"), ("breaks", "break-down"),
                  ("energy", "energy per operation at break-down (relative to nominal)"),
                  ("profile", "per-bit error rates past break-down (highest three)"))
BUDGET_COLUMNS = (("sweep", "sweep"), ("system", "system@site"), ("gates", "gates per evaluation"),
                  ("depth", "logic depth"), ("accuracy", "noise-free accuracy"), ("breaks", "break-down p per gate"),
                  ("budget", "fault budget: faulty gates per evaluation at break-down"))


def _table_html(title: str, css: str, columns, rows) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html_text(t)}</th>" for _, t in columns)
    body = "".join("<tr>" + "".join(f"<td>{html_text(fmt(r[k]))}</td>"
                                    for k, _ in columns) + "</tr>" for r in rows)
    return f"<h2>{html_text(title)}</h2><table class='{css}'><tr>{head}</tr>{body}</table>"


def _table_md(title: str, columns, rows) -> list[str]:
    if not rows:
        return []
    out = [f"## {title}", "", "| " + " | ".join(t for _, t in columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(md_escape(fmt(r[k])) for k, _ in columns) + " |"
            for r in rows]
    return out + [""]


ARITHMETIC_TITLE = "Arithmetic: errors against the exact function, and the networks on each circuit"
BUDGET_TITLE = "Fault budget (secondary axis): how many faulty gates per evaluation each piece of logic survives"
BUDGET_NOTE = ("The primary axis of comparisons on one substrate is the break-down probability per gate. The fault "
               "budget (p per gate times gates per evaluation) is secondary: it rewards size, since at the same "
               "tolerance per gate a design with more gates survives more faulty gates per evaluation; it answers "
               "what a bigger design buys, not which logic tolerates a faulty gate better.")
ARITHMETIC_COLUMNS = (("circuit", "circuit"), ("gates", "gates"), ("overhead", "hardening overhead"),
                      ("ep", "EP"), ("mae", "MAE"), ("wce", "WCE"), ("mred", "MRED"), ("network", "network on it"),
                      ("accuracy", "noise-free accuracy"), ("network_breaks", "network breaks at (p per gate)"))


def _detail_html(summary: dict) -> str:
    """Each system's section, as its kind lays it out (testbed.summary.system_section), escaped."""
    parts = []
    for name, d in summary.get("systems", {}).items():
        sec = system_section(name, d)
        items = "".join(f"<li>{html_text(t)}</li>" for t in sec["items"])
        table = sec.get("table")
        if table:
            head = "".join(f"<th>{html_text(c)}</th>" for c in table["columns"])
            body = "".join("<tr>" + "".join(f"<td>{html_text(str(v))}</td>" for v in row) + "</tr>"
                           for row in table["rows"])
            table = f"<table><tr>{head}</tr>{body}</table>"
        after = "".join(f"<p>{html_text(t)}</p>" for t in sec.get("after", []))
        parts.append(f"<h3>{html_text(sec['title'])}</h3><ul>{items}</ul>{table or ''}{after}")
    return "\n".join(parts)


def _confidence_note(summary: dict) -> str:
    levels = ", ".join(f"{sw['name']} {confidence_text(summary, sw)}" for sw in summary["sweeps"])
    return (f"Intervals are at each sweep's confidence level: {levels}. Break-down levels are estimated by a "
            "dose-response fit (a quasi-binomial GLM with complementary log-log link of each trial's failure rate "
            "against log noise level, or SNR, over the trials near the threshold; delta-method interval), with "
            "trials placed near the crossing until the interval reaches the sweep's target width or its trial "
            "budget ('budget reached'). Gap intervals combine the two break-downs' standard errors as if "
            "independent (conservative where they share draws). A network's intervals are conditional on its test "
            "set. Bounds ('> x', '< x') mark break-downs outside the levels swept.")


CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem;line-height:1.4}
img{max-width:100%;height:auto}table{border-collapse:collapse;font-size:.85rem;display:block;overflow-x:auto}
td,th{border:1px solid #bbb;padding:.2rem .4rem}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem}
@media print{figure{break-inside:avoid}}"""


def _write(directory: Path, stem: str, title: str, summary: dict, rows, figs, detail_figs) -> dict:
    fig_dir = real_dir(directory / "figures")
    for name, _, png in figs + detail_figs:
        write_atomic(fig_dir / name, png)

    def img(name, caption, png):
        data = base64.b64encode(png).decode()
        return f"<figure><img alt='{html_text(caption)}' src='data:image/png;base64,{data}'>" \
               f"<figcaption>{html_text(caption)}</figcaption></figure>"
    repro = (f"<p>suite {html_text(summary['suite'])} (hash {html_text(summary['suite_hash'])}), seed "
             f"{html_text(summary['seed'])}, code "
             f"{html_text(str(summary['code_version']))}, created {html_text(str(summary.get('created')))}; "
             f"machine {html_text(json.dumps(summary['machine']))}</p><p>Rerun: <code>testbed run SUITE --out DIR"
             f"</code> with the suite below.</p><pre>{html_text(summary.get('suite_text', ''))}</pre>")
    notes = "".join(f"<li>{html_text(n)}</li>" for n in summary.get("notes", []))
    sentences, answer_rows = answer(summary) if stem == "report" else ([], [])
    body = [f"<h1>{html_text(title)}</h1><p>{html_text(question(summary))}</p>",
            f"<p>{html_text(summary.get('description', ''))}</p>", "<h2>Headline</h2>",
            _answer_html(sentences, answer_rows), f"<p>{html_text(_confidence_note(summary))}</p>",
            "<h2>Every break-down and gap</h2>", _headline_html(rows),
            f"<ul>{notes}</ul>" if notes else "", "<h2>Figures</h2>", *[img(*f) for f in figs],
            _table_html(TIMING_TITLE, "timing", TIMING_COLUMNS, timing_rows(summary)),
            "".join(f"<p>{html_text(t)}</p>" for t in timing_sentences(timing_rows(summary))),
            _table_html(BUDGET_TITLE, "budget", BUDGET_COLUMNS, budget_rows(summary)),
            f"<p>{html_text(BUDGET_NOTE)}</p>" if budget_rows(summary) else "",
            _table_html(HARDENING_TITLE, "hardening", HARDENING_COLUMNS, hardening_rows(summary)),
            _table_html(cost_axis.TITLE, "methods", cost_axis.COLUMNS, cost_axis.rows(summary)),
            f"<p>{html_text(cost_axis.best_sentence(summary))}</p>" if summary.get("methods") else "",
            _table_html(ARITHMETIC_TITLE, "arithmetic", ARITHMETIC_COLUMNS, arithmetic_rows(summary)),
            "<h2>Systems</h2>", _detail_html(summary), *[img(*f) for f in detail_figs],
            "<h2>Reproduce</h2>", repro]
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>{html_text(title)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>")
    html_path = write_atomic(directory / f"{stem}.html", page)
    md = [f"# {md_escape(title)}", "", question(summary), "", "## Headline", "", *_answer_md(sentences, answer_rows),
          md_escape(_confidence_note(summary)), "", "## Every break-down and gap", "",
          "| sweep | quantity | value | interval | unit | error SNR (bits) | note |",
          "|---|---|---|---|---|---|---|"]
    md += ["| " + " | ".join(md_escape(v) for v in (r["sweep"], r["what"], fmt(r["value"]),
                                                     f"[{fmt(r['lo'])}, {fmt(r['hi'])}]", r["unit"],
                                                     fmt(r["error_snr"]), r.get("note", ""))) + " |" for r in rows]
    md += ["", *_table_md(TIMING_TITLE, TIMING_COLUMNS, timing_rows(summary)),
           *[f"{md_escape(t)}\n" for t in timing_sentences(timing_rows(summary))],
           *_table_md(BUDGET_TITLE, BUDGET_COLUMNS, budget_rows(summary)),
           *([md_escape(BUDGET_NOTE), ""] if budget_rows(summary) else []),
           *_table_md(HARDENING_TITLE, HARDENING_COLUMNS, hardening_rows(summary)),
           *_table_md(cost_axis.TITLE, cost_axis.COLUMNS, cost_axis.rows(summary)),
           *([md_escape(cost_axis.best_sentence(summary)), ""] if summary.get("methods") else []),
           *_table_md(ARITHMETIC_TITLE, ARITHMETIC_COLUMNS, arithmetic_rows(summary)), "## Figures", ""]
    md += [f"![{md_escape(c)}](figures/{n})\n\n{md_escape(c)}\n" for n, c, _ in figs + detail_figs]
    md += ["## Reproduce", "",
           md_escape(f"suite {summary['suite']} (hash {summary['suite_hash']}), seed {summary['seed']}, "
                     f"code {summary['code_version']}, machine {json.dumps(summary['machine'])}"), "",
           *md_fence(summary.get("suite_text", "").rstrip(), "toml"), ""]
    md_path = write_atomic(directory / f"{stem}.md", "\n".join(md))
    return {"html": html_path, "md": md_path}


def write_report(dirs) -> dict:
    """Write the report of one run, or the comparison of two (into FIRST/comparison/, so the first run's own
    report and figures stay as they are)."""
    if len(dirs) not in (1, 2):
        raise ReportError(f"report takes one results directory or two to compare, got {len(dirs)}")
    summaries = [load(d) for d in dirs]
    try:
        return _write_all(dirs, summaries)
    except OSError as exc:  # full disk, file-size limit, read-only archive, a symlink where a file belongs
        where = getattr(exc, "filename", None) or dirs[0]
        raise ReportError(f"{where}: cannot write the report ({exc.strerror or exc}); the previous report, "
                          "if any, is left whole") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise ReportError(f"{Path(dirs[0]) / 'summary.json'}: malformed summary ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from None


def _write_all(dirs, summaries) -> dict:
    colours = figures.palette(s for summary in summaries for s in _systems(summary))
    first = Path(dirs[0])
    if len(dirs) == 1:
        summary = summaries[0]
        return _write(first, "report", f"Robustness report: {summary['suite']}", summary, headline(summary),
                      _figures(summary, colours), _detail_figures(summary))
    a, b = summaries
    runs = [(Path(dirs[0]).name, a), (Path(dirs[1]).name, b)]
    rows = []
    for name, s in runs:
        rows += [dict(r, sweep=f"{name}: {r['sweep']}") for r in headline(s)]
    place = real_dir(first / "comparison")
    return _write(place, "comparison", f"Comparison: {runs[0][0]} vs {runs[1][0]}", a, rows,
                  _figures(a, colours, runs), [])


def report_cli(dirs) -> int:
    paths = write_report(dirs)
    print(f"report: {paths['html']}\nmarkdown: {paths['md']}")
    return 0
