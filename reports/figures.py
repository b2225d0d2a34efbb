"""Figures of a run (matplotlib, Agg): one colour per system across every figure (Okabe-Ito palette,
colour-blind safe), labelled axes with units, intervals drawn as bands."""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from testbed.summary import rate_points  # noqa: E402, F401 (the rate view's points, shared with the rate fit)

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def palette(names) -> dict:
    return {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(sorted(set(names)))}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _finish(fig, ax, title: str, legend: int = 0) -> bytes:
    """Title, a light grid, the legend (font size `legend`, 0: none) outside the axes at the right; the PNG."""
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return _png(fig)


def _num(v):
    return v if isinstance(v, (int, float)) else (math.inf if v == "inf" else -math.inf if v == "-inf" else math.nan)


def _level_axis(ax, sweep: dict) -> None:
    """The x axis of a sweep's levels, as summary.json describes it."""
    axis = sweep["axis"]
    if axis["log"]:
        ax.set_xscale("log")
    ax.set_xlabel(axis["label"] + (" (log scale)" if axis["log"] else ""))


def sweep_figure(sweep: dict, colours: dict, runs: list[tuple[str, dict]] | None = None) -> bytes:
    """Task metric against noise level for every unit of a sweep (band: interval; vertical line: break-down)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = ["-", "--"]
    for r, (run_name, sw) in enumerate(runs or [("", sweep)]):
        for u in sw["units"]:
            c = colours[u["system"]]
            xs = [p["level"] for p in u["curve"]]
            ax.plot(xs, [p["value"] for p in u["curve"]], styles[r % 2], color=c, marker="o", ms=3,
                    label=f"{u['system']}@{u['site']}: {u['metric'].replace('_', ' ')}" + (f" ({run_name})" if run_name
                                                                                             else ""))
            ax.fill_between(xs, [p["lo"] for p in u["curve"]], [p["hi"] for p in u["curve"]], color=c, alpha=0.15)
            if "digital_task_rate" in u["curve"][0] and r == 0:
                ax.plot(xs, [p["digital_task_rate"][0] for p in u["curve"]], ":", color=c,
                        label=f"{u['system']}: same products, exact digital")
            b = u["breakdown"]
            if b["level"] is not None and not b.get("censored"):
                ax.axvline(b["level"], color=c, lw=1, ls=styles[r % 2], alpha=0.8)
            ax.axhline(u["threshold"], color=c, lw=0.6, ls=":", alpha=0.6)
    _level_axis(ax, sweep)
    ax.set_ylabel("agreement with the noise-free output (fraction)")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, f"{sweep['name']}: {sweep['noise']}", legend=7)


def population_figure(sweep: dict, colours: dict) -> bytes:
    """A dot plot per population of a sweep: each member's break-down (small dots with their own intervals,
    triangles for bounds) and the population's mean with its interval over members (a large marker above them)."""
    pops = sweep["populations"]
    fig, ax = plt.subplots(figsize=(7, 0.8 * len(pops) + 1.4))
    for i, pop in enumerate(pops):
        c = colours.get(pop["system"], colours.get(pop["members"][0]["system"], "#000000"))
        n = len(pop["members"])
        for j, m in enumerate(pop["members"]):
            _mark(ax, i - 0.3 + 0.4 * j / max(n - 1, 1), m["breakdown"], c, horizontal=True)
        p = pop["population"]
        if p["level"] is not None and p["lo"] is not None:
            v = _num(p["level"])
            ax.errorbar([v], [i + 0.25], xerr=[[max(v - _num(p["lo"]), 0)], [max(_num(p["hi"]) - v, 0)]], fmt="D",
                        ms=8, color=c, capsize=5, lw=2)
    ax.set_yticks(range(len(pops)), [f"{p['system']}@{p['site']} ({p['population']['members']} members)"
                                     for p in pops], fontsize=8)
    _level_axis(ax, sweep)
    ax.set_xlabel(f"break-down: {sweep['axis']['label']}" + (" (log scale)" if sweep["axis"]["log"] else ""))
    return _finish(fig, ax, f"{sweep['name']}: populations (diamond: mean over members; dots: members)")


def energy_figure(sweep: dict, colours: dict) -> bytes:
    """Task metric against the dynamic energy per operation relative to nominal, for every unit of a sweep that
    measured it (timing noise), with its interval band and the break-down's energy (vertical line)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for u in sweep["units"]:
        pts = sorted((p["energy_ratio"], p["value"], p["lo"], p["hi"]) for p in u["curve"] if "energy_ratio" in p)
        if not pts:
            continue
        c = colours[u["system"]]
        xs, ys, lo, hi = zip(*pts, strict=True)
        ax.plot(xs, ys, "-", color=c, marker="o", ms=3, label=f"{u['system']}@{u['site']}")
        ax.fill_between(xs, lo, hi, color=c, alpha=0.15)
        e = u.get("breakdown_energy") or {}
        if e.get("value") is not None and not u["breakdown"].get("censored"):
            ax.axvline(e["value"], color=c, lw=1, alpha=0.8)
    ax.set_xlabel("dynamic energy per operation (relative to nominal)")
    ax.set_ylabel("task metric (fraction): exact-output rate / accuracy")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, f"{sweep['name']}: task metric against energy", legend=7)


def error_power_figure(summary: dict, colours: dict) -> bytes:
    """Every break-down level placed on one axis: the SNR (bits) of the error the noise caused at its site."""
    rows = [(sw["name"], u) for sw in summary["sweeps"] if not sw["per_bit"] for u in sw["units"]]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    for i, (_, u) in enumerate(rows):
        b = u["breakdown"]
        v, lo, hi = (_num(b["error_snr_bits"]), _num(b["error_snr_lo"]), _num(b["error_snr_hi"]))
        if math.isfinite(v):
            err = [[max(v - lo, 0) if math.isfinite(lo) else 0], [max(hi - v, 0) if math.isfinite(hi) else 0]]
            ax.errorbar([v], [i], xerr=err, fmt="o", color=colours[u["system"]], capsize=3)
    ax.set_yticks(range(len(rows)), [f"{n}: {u['system']}@{u['site']}" for n, u in rows], fontsize=8)
    ax.set_xlabel("error SNR at the site at break-down (bits)")
    return _finish(fig, ax, "error SNR at each system's noise site at its break-down level")


def _mark(ax, at: float, b: dict, color, label=None, horizontal: bool = False) -> None:
    """A break-down (level, lo, hi, censored) at position `at`: a marker with its interval, or a triangle pointing
    where the bound leaves open (censored). horizontal: the level is on the x axis."""
    v = _num(b["level"])
    if b.get("censored"):
        up = b.get("hi") is None
        marker = (">" if up else "<") if horizontal else ("^" if up else "v")
        xy = ([v], [at]) if horizontal else ([at], [v])
        ax.scatter(*xy, marker=marker, s=50, color=color, label=label)
        return
    err = [[max(v - _num(b["lo"]), 0)], [max(_num(b["hi"]) - v, 0)]]
    if horizontal:
        ax.errorbar([v], [at], xerr=err, fmt="o", color=color, capsize=3, label=label)
    else:
        ax.errorbar([at], [v], yerr=err, fmt="o", color=color, capsize=3, label=label)


def hardening_points(summary: dict) -> list[tuple[str, dict, float]]:
    """(sweep name, unit, gate overhead) for every bracketed break-down of a circuit with a hardening spec, or of
    a network whose multiplier has one, in sweeps that put noise on gates."""
    from testbed.summary import gate_level

    systems = summary.get("systems", {})

    def overhead(unit):
        name = unit.get("multiplier") or unit["system"]
        hard = systems.get(name, {}).get("hardening")
        return hard["overhead"] if hard else None
    specs = {d["hardening"]["spec"] for d in systems.values() if d.get("hardening")}
    if len(specs) < 2:
        return []
    return [(sw["name"], u, overhead(u)) for sw in summary["sweeps"] if not sw["per_bit"] for u in sw["units"]
            if gate_level(u["site"]) and overhead(u) is not None]


def pareto_figure(summary: dict, colours: dict) -> bytes:
    """Break-down level against gate overhead of the hardening (gates added / gates of the plain netlist), one
    marker per system, with its interval; bounds as triangles. Full TMR is the rightmost reference."""
    points = hardening_points(summary)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for sweep, u, x in points:
        spec = summary["systems"].get(u.get("multiplier") or u["system"], {}).get("hardening", {}).get("spec", "")
        _mark(ax, x, u["breakdown"], colours[u["system"]], f"{sweep}: {u['system']}@{u['site']} ({spec})")
    ax.set_yscale("log")
    ax.set_xlabel("gate overhead of the hardening (gates added / gates of the plain netlist)")
    ax.set_ylabel("break-down flip probability per gate")
    return _finish(fig, ax, "hardening: break-down level against gate overhead", legend=6)


def per_layer_figure(sweep: dict, colours: dict) -> bytes:
    """Break-down level of each network when only one layer takes the noise, per layer, beside the level when
    every layer does (dashed line)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    layered = [u for u in sweep["units"] if u.get("layer") is not None]
    names = list(dict.fromkeys(u["layer"] for u in layered))
    for system in dict.fromkeys(u["system"] for u in layered):
        c = colours[system]
        mine = [u for u in layered if u["system"] == system]
        for u in mine:
            _mark(ax, names.index(u["layer"]), u["breakdown"], c)
        whole = next((u for u in sweep["units"] if u["system"] == system and u.get("layer") is None
                      and u["site"] == mine[0]["site"].split("@")[0]), None)
        if whole is not None:
            ax.axhline(_num(whole["breakdown"]["level"]), color=c, ls="--", lw=1, label=f"{system}: every layer")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    if sweep["axis"]["log"]:
        ax.set_yscale("log")
    ax.set_xlabel("multiply layer (module path) taking the noise alone")
    ax.set_ylabel(f"break-down: {sweep['axis']['label']}")
    return _finish(fig, ax, f"per-layer view: {sweep['name']}", legend=7)


def rate_figure(points: list[dict], colours: dict) -> bytes:
    """Break-down error SNR at the products against the task's label entropy, one marker per (sweep, network),
    with the line y = x (break-down SNR equal to the rate the task needs)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    markers = {}
    for p in points:
        m = markers.setdefault(p["sweep"], "osD^v<>"[len(markers) % 7])
        v = _num(p["snr"])
        err = [[max(v - _num(p["lo"]), 0) if p["lo"] is not None else 0],
               [max(_num(p["hi"]) - v, 0) if p["hi"] is not None else 0]]
        ax.errorbar([p["rate"]], [v], yerr=err, fmt=m, color=colours[p["system"]], capsize=3,
                    label=f"{p['sweep']}: {p['system']}@{p['site']}")
    top = max([p["rate"] for p in points] + [_num(p["snr"]) for p in points if math.isfinite(_num(p["snr"]))]) + 1
    ax.plot([0, top], [0, top], "k--", lw=1, label="y = x: break-down SNR equals the task's rate")
    ax.set_xlabel("task rate R: label entropy (bits)")
    ax.set_ylabel("error SNR at the products at break-down (bits)")
    return _finish(fig, ax, "rate against capacity", legend=6)


def rate_fit_figure(points: list[dict], fit: dict) -> bytes:
    """Break-down error SNR against label entropy, one point per member (slightly spread along x so that members
    of a task do not hide each other), coloured by input set, with the mixed-model fit's line at its reference
    input set and the mean margin (solid), and that of the model without the margin (dashed; testbed.rate)."""
    fig, ax = plt.subplots(figsize=(7, 4.8))
    sets = sorted({p["input_set"] for p in points}, key=lambda s: (s != fit["reference_set"], s))
    rng = np.random.default_rng(0)
    for i, s in enumerate(sets):
        mine = [p for p in points if p["input_set"] == s]
        ax.scatter([p["rate"] + rng.uniform(-0.04, 0.04) for p in mine], [_num(p["snr"]) for p in mine], s=16,
                   color=OKABE_ITO[i % len(OKABE_ITO)], marker="os^Dv<>"[i // len(OKABE_ITO) % 7], label=s)
    xs = np.array([min(p["rate"] for p in points), max(p["rate"] for p in points)])
    for f, style, what in ((fit, "k-", "margin held at its mean"), (fit["without_margin"], "k--", "without margin")):
        ax.plot(xs, f["line"]["intercept"] + f["line"]["slope"] * xs, style, lw=1.2,
                label=f"fit at {fit['reference_set']}, {what}: slope {f['slope']:.2f} [{f['lo']:.2f}, {f['hi']:.2f}] "
                      "bits/bit")
    ax.set_xlabel("label entropy of the task (bits)")
    ax.set_ylabel("error SNR at the products at break-down (bits)")
    return _finish(fig, ax, f"rate experiment: {fit['sweep']}", legend=7)


def budget_figure(rows: list[dict], colours: dict) -> bytes:
    """The fault budget of each unit (expected faulty gates per evaluation at break-down) on a log axis."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4))
    for i, r in enumerate(rows):
        _mark(ax, i, r["_budget"], colours[r["system"].split("@")[0]], horizontal=True)
    ax.set_yticks(range(len(rows)), [f"{r['sweep']}: {r['system']} ({fmt_gates(r['gates'])} gates)" for r in rows],
                  fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("faulty gates per evaluation at break-down (p per gate x gates per evaluation)")
    return _finish(fig, ax, "fault budget at break-down")


def fmt_gates(g) -> str:
    return f"{g:,.0f}"


def information_figure(sweep: dict, colours: dict) -> bytes:
    """Required rate (dashed) against the information that survives the noise (solid), per level."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for u in sweep["units"]:
        c = colours[u["system"]]
        xs = [p["level"] for p in u["curve"]]
        ax.plot(xs, [p["surviving_bits"] for p in u["curve"]], "-o", ms=3, color=c,
                label=f"{u['system']}: " + ("sum of 1 - h(BER) over output bits" if "ber" in u["curve"][0]
                                            else "I(label; prediction), Miller-Madow"))
        ax.axhline(u["curve"][0]["required_bits"], color=c, ls="--", lw=1,
                   label=f"{u['system']}: required rate (" + ("output entropy" if "ber" in u["curve"][0]
                                                              else "label entropy") + ")")
    _level_axis(ax, sweep)
    ax.set_ylabel("information (bits per operation / per input)")
    return _finish(fig, ax, f"information view: {sweep['name']}", legend=7)


def per_bit_figure(sweep: dict, colours: dict) -> bytes:
    """Break-down flip probability when only bit k of each word can flip, against k: bracketed levels with
    their intervals (joined), bounds of censored bits as triangles (not joined)."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    by_system: dict = {}
    for u in sweep["units"]:
        by_system.setdefault(u["system"], []).append(u)
    for system, units in by_system.items():
        units.sort(key=lambda u: u["bit"])
        c = colours[system]
        done = [u for u in units if not u["breakdown"].get("censored")]
        ks = [u["bit"] for u in done]
        lv = [_num(u["breakdown"]["level"]) for u in done]
        err = [[max(v - _num(u["breakdown"]["lo"]), 0) for v, u in zip(lv, done, strict=True)],
               [max(_num(u["breakdown"]["hi"]) - v, 0) for v, u in zip(lv, done, strict=True)]]
        ax.errorbar(ks, lv, yerr=err, fmt="-o", color=c, capsize=3, label=f"{system}@{units[0]['site']}")
        for kind, marker, text in (("above", "^", "not broken within the levels swept (lower bound)"),
                                   ("below", "v", "broken at the first level (upper bound)")):
            cens = [u for u in units if u["breakdown"].get("censored") == kind]
            if cens:
                ax.scatter([u["bit"] for u in cens], [_num(u["breakdown"]["level"]) for u in cens], marker=marker,
                           s=60, color=c, label=f"{system}: {text}")
    ax.set_yscale("log")
    ax.set_xlabel("bit position k of the word (0 = least significant)")
    ax.set_ylabel("break-down flip probability of bit k")
    return _finish(fig, ax, f"per-bit view: {sweep['name']}", legend=7)


def ber_heatmap(unit: dict, axis: dict) -> bytes:
    """Bit-error rate per output bit (columns) against the noise level (rows, on the sweep's level axis)."""
    curve = unit["curve"]
    data = np.array([p["ber_per_bit"] for p in curve])
    levels = np.array([_num(p["level"]) for p in curve])
    fig, ax = plt.subplots(figsize=(7, 4))
    keep = np.isfinite(levels) & ((levels > 0) if axis["log"] else True)
    data, levels = data[keep], levels[keep]
    edges = np.arange(data.shape[1] + 1) - 0.5
    mid = np.log10(levels) if axis["log"] else levels
    bounds = np.concatenate([[mid[0] - (mid[1] - mid[0]) / 2 if len(mid) > 1 else mid[0] - 0.5],
                             (mid[1:] + mid[:-1]) / 2,
                             [mid[-1] + (mid[-1] - mid[-2]) / 2 if len(mid) > 1 else mid[-1] + 0.5]])
    im = ax.pcolormesh(edges, 10 ** bounds if axis["log"] else bounds, data, cmap="viridis", vmin=0,
                       vmax=max(0.5, float(data.max())))
    if axis["log"]:
        ax.set_yscale("log")
    ax.set_xlabel("output bit (0 = least significant)")
    ax.set_ylabel(axis["label"])
    ax.set_title(f"bit-error rate per output bit: {unit['system']}@{unit['site']}")
    fig.colorbar(im, ax=ax, label="bit-error rate (probability)")
    return _png(fig)


def confusion_figure(unit: dict) -> bytes:
    """Confusion matrix of a network at the level closest to its break-down."""
    b = unit["breakdown"]["level"]
    curve = unit["curve"]
    point = min(curve, key=lambda p: abs(math.log10(p["level"] / b)) if b and p["level"] > 0 and b > 0
                else abs(p["level"] - (b or 0)))
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    im = ax.imshow(point["confusion"], cmap="Blues")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{unit['system']} at level {point['level']:.3g}", fontsize=9)
    fig.colorbar(im, ax=ax, label="inputs (count, pooled over trials)")
    return _png(fig)
