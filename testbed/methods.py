"""The methods table of summary.json (`methods`): every way of making a network tolerate its own hardware on one
cost axis, one row per network (a population, or a single network) at a gate site under a per-gate probability.

A row's method is what was done to the network: its training ('plain', or the fault-aware variant its detail
names), range restriction (bounds on its ReLU outputs, networks.ranges) and the hardening of its multiplier
(circuits.hardening: full or selective TMR). Per row: tolerance (break-down p per gate: the population's mean
on log10 p with its t interval over members, or a single network's own interval), clean accuracy (members'
mean, with their range), cost in gates (gates evaluated per multiply: the site's gates per input over the
multiplies per input, so a hardened multiplier counts its hardened netlist), the dynamic energy per operation at
break-down where the noise measured it, the per-operation gap against the network's own multiplier (with its
interval and verdict: "decided" only where the interval excludes zero), and the gain over the plain row of the
same task (same data set and layer shapes, plain training, no range restriction, unhardened multiplier, same
sweep and site; paired by seed where both are populations of the same seeds). `front`: whether the row is on the
Pareto front of its task (no other row has at least its tolerance, at most its gates per multiply and at least
its clean accuracy, and is better in one of them).
"""

from __future__ import annotations

import math

import numpy as np

from testbed.stats import population_gap


def _log10(v) -> float | None:
    return math.log10(v) if v is not None and v > 0 and math.isfinite(v) else None


def _verdict(lo, hi) -> str:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "undecided"
    return "decided (>0)" if lo > 0 else "decided (<0)" if hi < 0 else "undecided"


def _method(detail: dict, systems: dict) -> dict:
    """training, range_restriction, hardening (the multiplier's spec) and a label joining those that are not plain."""
    training = detail.get("training") or "plain"
    if isinstance(training, dict):
        training = training.get("label") or training.get("kind") or "plain"
    bounded = any(lay.get("range_bound") is not None for lay in detail.get("layers", []))
    hard = (systems.get(detail.get("multiplier") or "", {}).get("hardening") or {}).get("spec", "none")
    parts = [training] if training != "plain" else []
    parts += ["range restriction"] if bounded else []
    parts += [f"{hard} multiplier"] if hard != "none" else []
    return {"label": " + ".join(parts) or "plain", "training": training, "range_restriction": bounded,
            "hardening": hard}


def _task(detail: dict) -> str:
    """What makes two rows the same task and architecture: the data set and every layer's weight shape."""
    return f"{detail.get('dataset')} {[tuple(lay['shape']) for lay in detail.get('layers', [])]}"


def _units_of(sweep: dict, members: list[str], site: str) -> list[dict]:
    by = {(u["system"], u["site"]): u for u in sweep["units"] if u.get("layer") is None and u.get("bit") is None}
    return [by[(m, site)] for m in members if (m, site) in by]


def _row(sweep: dict, name: str, units: list[dict], tol: dict, severities: list, seeds: list, gap: dict | None,
         detail: dict, systems: dict) -> dict:
    acc = [u["clean_accuracy"] for u in units if u.get("clean_accuracy") is not None]
    gates = [u["fault_budget"]["gates"] / u["multiplies_per_input"] for u in units
             if u.get("fault_budget") and u.get("multiplies_per_input")]
    energy = [u["breakdown_energy"]["value"] for u in units
              if (u.get("breakdown_energy") or {}).get("value") is not None]
    return {"sweep": sweep["name"], "system": name, "site": units[0]["site"], "task": _task(detail),
            "method": _method(detail, systems), "multiplier": units[0].get("multiplier"), "members": len(units),
            "tolerance": tol, "clean_accuracy": float(np.mean(acc)) if acc else None,
            "clean_accuracy_range": [min(acc), max(acc)] if acc else None,
            "gates_per_multiply": float(np.mean(gates)) if gates else None,
            "energy_ratio": float(np.mean(energy)) if energy else None,
            "per_operation_gap": gap, "_severities": severities, "_seeds": seeds}


def _rows_of_sweep(sweep: dict, details: dict) -> list[dict]:
    from testbed.summary import gate_level

    rows, pooled = [], set()
    for pop in sweep.get("populations", []):
        if not gate_level(pop["site"]) or "@" in pop["site"]:
            continue
        names = [m["system"] for m in pop["members"]]
        units = _units_of(sweep, names, pop["site"])
        if not units or units[0].get("world") != "network":
            continue
        pooled.update(names)
        p = pop["population"]
        tol = {"log10_p": p["severity"], "lo": p["severity_lo"], "hi": p["severity_hi"], "p": p["level"],
               "covers": p["covers"]}
        g = next((g for g in sweep.get("population_gaps", []) if g["population"] == pop["label"]
                  and g["framing"] == "per operation"), None)
        gap = {k: g[k] for k in ("value", "lo", "hi", "verdict", "covers")} if g else None
        sev = [m["breakdown"].get("severity") if not m["breakdown"].get("censored") else None
               for m in pop["members"]]
        rows.append(_row(sweep, pop["system"], units, tol, sev, [m.get("seed") for m in pop["members"]], gap,
                         details.get(names[0], {}), details))
    for u in sweep["units"]:
        if (u["system"] in pooled or u.get("world") != "network" or not gate_level(u["site"])
                or u.get("layer") is not None or u.get("bit") is not None):
            continue
        b = u["breakdown"]
        tol = {"log10_p": _log10(b["level"]), "lo": _log10(b["lo"]), "hi": _log10(b["hi"]), "p": b["level"],
               "covers": "fault draws and inputs of this one network (its dose-response fit)"}
        g = next((g["level"] for g in sweep.get("gaps", []) if g["network"] == u["label"]
                  and g["framing"] == "per operation"), None)
        gap = {"value": g["value"], "lo": g["lo"], "hi": g["hi"], "verdict": _verdict(g["lo"], g["hi"]),
               "covers": "the network's and its multiplier's fits"} if g else None
        rows.append(_row(sweep, u["system"], [u], tol, [None if b.get("censored") else tol["log10_p"]], [None], gap,
                         details.get(u["system"], {}), details))
    return rows


def _gain(row: dict, plain: dict, confidence: float) -> dict | None:
    """The row's tolerance over the plain row's, in decades of p per gate: paired by seed where the members
    share them, else Welch over members; a single network against a single network gets no interval."""
    a, b = row["_severities"], plain["_severities"]
    if any(v is None for v in a + b):
        return None
    paired = len(a) == len(b) and None not in row["_seeds"] and row["_seeds"] == plain["_seeds"]
    g = population_gap(a, b, paired, confidence)
    value = g.value
    lo, hi = (None, None) if not math.isfinite(g.lo) else (g.lo, g.hi)
    return {"value": value, "lo": lo, "hi": hi, "verdict": g.verdict, "paired": paired, "against": plain["system"]}


def _front(rows: list[dict]) -> None:
    """Mark each row on the Pareto front of its (sweep, site, task): tolerance up, gates per multiply down,
    clean accuracy up."""
    def key(r):
        t = r["tolerance"]["log10_p"]
        return (t if t is not None else -math.inf, -(r["gates_per_multiply"] or math.inf),
                r["clean_accuracy"] if r["clean_accuracy"] is not None else -math.inf)
    def group(r):
        return r["sweep"], r["site"], r["task"]
    for r in rows:
        k = key(r)
        r["front"] = not any(all(o >= s for o, s in zip(key(o_), k, strict=True)) and key(o_) != k
                             for o_ in rows if o_ is not r and group(o_) == group(r))


def methods_table(sweeps: list[dict], details: dict) -> list[dict]:
    """The `methods` rows of summary.json (see the module docstring), in sweep order."""
    rows = []
    for sw in sweeps:
        if sw["per_bit"] or sw["axis"]["gap_unit"] != "decades":
            continue
        mine = _rows_of_sweep(sw, details)
        for r in mine:
            plain = next((o for o in mine if o["method"]["label"] == "plain" and o["task"] == r["task"]
                          and o["site"] == r["site"]), None)
            r["gain"] = _gain(r, plain, sw["confidence"]) if plain is not None and plain is not r else None
        _front(mine)
        rows += mine
    for r in rows:
        del r["_severities"], r["_seeds"]
    return rows
