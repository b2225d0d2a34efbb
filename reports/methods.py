"""The cost-axis section of a report: the methods table of summary.json (testbed.methods) as rows, the sentence on
which method buys the most tolerance per unit of cost, and the Pareto figure (tolerance against gates per multiply
and against clean accuracy)."""

from __future__ import annotations

import math

from reports.figures import _png, palette, plt
from testbed.summary import fmt

TITLE = "Methods on one cost axis: tolerance (break-down p per gate) against gates per multiply and clean accuracy"
COLUMNS = (("sweep", "sweep"), ("system", "network"), ("method", "method"), ("members", "members"),
           ("tolerance", "break-down log10 p per gate [interval]"), ("p", "p per gate"),
           ("accuracy", "clean accuracy (%)"), ("gates", "gates per multiply"), ("energy", "energy per operation"),
           ("gain", "gain over plain (decades)"), ("gap", "gap per operation (decades)"), ("front", "Pareto front"))
FREE_GATES = 0.01  # a method adding under 1% gates per multiply adds none
MARKERS = "os^v"  # one per task (data set and architecture)
ACCURACY_POINTS = 0.5  # a method within half a point of plain training's clean accuracy keeps it


def _interval(d: dict | None, value: str = "value") -> str:
    if not d or d.get(value) is None:
        return "-"
    ends = f" [{fmt(d.get('lo'))}, {fmt(d.get('hi'))}]" if d.get("lo") is not None else ""
    verdict = f" {d['verdict']}" if d.get("verdict") else ""
    return f"{fmt(d[value])}{ends}{verdict}"


def rows(summary: dict) -> list[dict]:
    """One text row per entry of summary.json's `methods`."""
    out = []
    for m in summary.get("methods", []):
        acc = m.get("clean_accuracy")
        out.append({"sweep": m["sweep"], "system": f"{m['system']}@{m['site']}", "method": m["method"]["label"],
                    "members": m["members"], "tolerance": _interval(m["tolerance"], "log10_p"),
                    "p": m["tolerance"].get("p"), "accuracy": None if acc is None else 100 * acc,
                    "gates": m.get("gates_per_multiply"), "energy": m.get("energy_ratio"),
                    "gain": _interval(m.get("gain")), "gap": _interval(m.get("per_operation_gap")),
                    "front": "yes" if m.get("front") else "no"})
    return out


def _cost(m: dict, plain: dict) -> tuple[float, float]:
    """(gate ratio over plain, clean accuracy change in points) of a method row."""
    ratio = (m["gates_per_multiply"] or math.nan) / (plain["gates_per_multiply"] or math.nan)
    return ratio, 100 * ((m.get("clean_accuracy") or math.nan) - (plain.get("clean_accuracy") or math.nan))


def best_sentence(summary: dict) -> str:
    """Which method buys the most tolerance per unit of cost, in one sentence. Only gains over plain training
    decided above zero count. Methods that add no gates per multiply (under 1%) and keep clean accuracy within
    half a point are free in both costs and rank first, by gain; the others rank by decades of gain per
    doubling of gates per multiply (gain / log2 of the gate ratio), and last those that add no gates but lose
    more than half a point of accuracy."""
    methods = summary.get("methods", [])
    plain = {(m["sweep"], m["task"], m["site"]): m for m in methods if m["method"]["label"] == "plain"}
    scored = []
    for m in methods:
        g, base = m.get("gain"), plain.get((m["sweep"], m["task"], m["site"]))
        if not g or base is None or g.get("verdict") != "decided (>0)":
            continue
        ratio, dacc = _cost(m, base)
        free = ratio - 1 < FREE_GATES and dacc >= -ACCURACY_POINTS
        # no added gates but more than half a point of accuracy lost: not free, and ranked after every gate cost
        per_doubling = g["value"] / math.log2(ratio) if ratio - 1 >= FREE_GATES else -math.inf
        scored.append(((free, g["value"] if free else per_doubling), m, ratio, dacc, per_doubling))
    if not scored:
        return ("No method's gain in break-down p per gate over plain training is decided above zero"
                + (" in this run." if methods else ": the run has no methods table."))
    _, m, ratio, dacc, per = max(scored, key=lambda s: s[0])
    g = m["gain"]
    cost = "no added gates per multiply" if ratio - 1 < FREE_GATES else \
        f"{fmt(ratio)} times the gates per multiply ({fmt(per)} decades per doubling of gates)"
    return (f"Most tolerance per unit of cost ({m['sweep']}, {m['site']}): {m['method']['label']} ({m['system']}), "
            f"+{fmt(g['value'])} decades [{fmt(g['lo'])}, {fmt(g['hi'])}] of break-down p per gate over plain "
            f"training ({g['against']}) for {cost} and {fmt(dacc)} points of clean accuracy.")


def figure(summary: dict) -> bytes:
    """Two panels: break-down log10 p per gate (with its interval) against gates per multiply and against clean
    accuracy; one colour per method, one marker per task (filled: on its task's Pareto front, joined by a dashed
    line; hollow: off it)."""
    methods = [m for m in summary.get("methods", []) if m["tolerance"].get("log10_p") is not None]
    colours = palette(m["method"]["label"] for m in methods)
    tasks = list(dict.fromkeys((m["sweep"], m["task"]) for m in methods))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, xkey, xlabel in ((axes[0], "gates_per_multiply", "gates evaluated per multiply"),
                             (axes[1], "clean_accuracy", "clean accuracy (%)")):
        def x_of(m, xkey=xkey):
            return None if m.get(xkey) is None else 100 * m[xkey] if xkey == "clean_accuracy" else m[xkey]
        for m in methods:
            x, t = x_of(m), m["tolerance"]
            if x is None:
                continue
            colour = colours[m["method"]["label"]]
            err = [[t["log10_p"] - t["lo"]], [t["hi"] - t["log10_p"]]] if t.get("lo") is not None else None
            ax.errorbar([x], [t["log10_p"]], yerr=err, fmt=MARKERS[tasks.index((m["sweep"], m["task"])) % 4],
                        capsize=3, color=colour, mfc=colour if m.get("front") else "none",
                        label=f"{m['system']}: {m['method']['label']}" if ax is axes[0] else None)
        for task in tasks:
            front = sorted((x_of(m), m["tolerance"]["log10_p"]) for m in methods
                           if (m["sweep"], m["task"]) == task and m.get("front") and x_of(m) is not None)
            if len(front) > 1:
                ax.plot(*zip(*front, strict=True), color="#888888", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("break-down log10 p per gate (higher: more tolerant)")
    if methods:
        axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.18), ncol=2)
    fig.suptitle("methods on one cost axis (filled: Pareto front of its task; bars: intervals)")
    return _png(fig)
