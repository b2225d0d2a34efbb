"""The population entries of one sweep of summary.json: each population's members (their break-downs, as every
system's) pooled into the population's break-down, and the gaps of populations with their sign verdicts.

Population break-down: the mean of the members' break-downs on the severity axis (log10 p for bit flips, -SNR in
bits for additive noise), Student t over members (testbed.stats.population_breakdown); its interval covers the
spread between members drawn by the same recipe. Gaps (on the noise's gap axis, positive when the population
tolerates more): against a single system (a circuit) the members' own gaps, t over members, that system's
break-down taken as fixed; against the members' baselines ('per task') and against another population whose members
share the seeds, paired by member; otherwise Welch over the two populations' members (stats.population_gap).
"""

from __future__ import annotations

import math

from testbed.stats import population_breakdown, population_gap


def _sev(b: dict) -> float:
    """A member break-down's severity, NaN when censored (a bound has no place in a mean)."""
    v = b.get("severity")
    return math.nan if b.get("censored") or v is None else float(v)


def _levels(noise, lo: float, hi: float) -> tuple[float, float]:
    ends = [noise.level_at(x) if math.isfinite(x) else math.nan for x in (lo, hi)]
    return tuple(sorted(ends)) if all(map(math.isfinite, ends)) else (math.nan, math.nan)


def _members(pop, entries: list[dict]) -> dict[tuple, list[dict]]:
    """The sweep's units of a population's members, by site (per-layer sites apart), in member order."""
    by_site: dict[tuple, list[dict]] = {}
    order = {m: i for i, m in enumerate(pop.members)}
    mine = (e for e in entries if e["system"] in order and e["bit"] is None)
    for e in sorted(mine, key=lambda e: order[e["system"]]):
        by_site.setdefault(e["site"], []).append(e)
    return by_site


def population_entries(populations: dict, entries: list[dict], noise, confidence: float) -> list[dict]:
    """One entry per (population, site) of a sweep: label 'SWEEP/NAME@SITE', members (system, seed or model,
    break-down) and population (mean, lo, hi in the level's units; severity mean and interval; error SNR mean and
    interval; covers: what the interval covers)."""
    out = []
    for pop in populations.values():
        for site, members in _members(pop, entries).items():
            values = dict(zip(pop.members, pop.values, strict=True))
            sev = [_sev(e["breakdown"]) for e in members]
            p = population_breakdown(sev, [e["breakdown"].get("se") or math.nan for e in members], confidence)
            snr = population_breakdown([e["breakdown"].get("error_snr_bits") if math.isfinite(s) else math.nan
                                        for e, s in zip(members, sev, strict=True)], None, confidence)
            lo, hi = _levels(noise, p.lo, p.hi)
            sweep = members[0]["label"].split("/", 1)[0]
            out.append({
                "label": f"{sweep}/{pop.name}@{site}", "system": pop.name, "site": site, "key": pop.key,
                "members": [{"system": e["system"], pop.key: values[e["system"]], "label": e["label"],
                             "breakdown": e["breakdown"], "baselines": e.get("baselines", {})} for e in members],
                "population": {"level": noise.level_at(p.mean) if math.isfinite(p.mean) else None, "lo": lo,
                               "hi": hi, "severity": p.mean, "severity_lo": p.lo, "severity_hi": p.hi,
                               "severity_sd": p.sd, "within_se": p.within_se, "members": p.members,
                               "error_snr_bits": snr.mean, "error_snr_lo": snr.lo, "error_snr_hi": snr.hi,
                               "covers": p.covers}})
            budget = _fault_budget(members, sev, confidence)
            if budget:
                out[-1]["fault_budget"] = budget
    return out


def _fault_budget(members: list[dict], sev: list[float], confidence: float) -> dict | None:
    """The population's fault budget (secondary axis: expected faulty gates per evaluation at break-down, p per
    gate times gates): 10^(mean of the members' log10(p g)) with the t interval over members, and the members'
    gate counts; None when a member has no budget (not a gate site under a per-gate probability)."""
    if not all(m.get("fault_budget") for m in members):
        return None
    gates = [m["fault_budget"]["gates"] for m in members]
    b = population_breakdown([s + math.log10(g) for s, g in zip(sev, gates, strict=True)], None, confidence)
    ends = [10 ** x if math.isfinite(x) else None for x in (b.mean, b.lo, b.hi)]
    return {"level": ends[0], "lo": ends[1], "hi": ends[2], "gates_mean": sum(gates) / len(gates),
            "gates_min": min(gates), "gates_max": max(gates), "covers": b.covers}


def population_gaps(pops: list[dict], entries: list[dict], systems: dict, noise, confidence: float) -> list[dict]:
    """The gaps (severity differences: decades, or bits of SNR) of each population of systems that are not
    references (at a whole-network site) against every reference unit of the sweep (framing 'per operation' when
    the members run on it), its members' baselines ('per task') and every other such population ('between
    populations'); each with value, interval, df, paired, verdict ('decided (>0)', 'decided (<0)' or
    'undecided') and what the interval covers."""
    unit = noise.gap_axis.unit
    gaps = []

    def add(pop, against, framing, a, b, paired, covers):
        g = population_gap(a, b, paired, confidence).to_dict()
        censored = [m["system"] for m in pop["members"] if not math.isfinite(_sev(m["breakdown"]))]
        gaps.append({"population": pop["label"], "against": against, "framing": framing, "unit": unit, **g,
                     "covers": covers if not censored else
                     f"nothing: censored break-downs ({', '.join(censored)}) give only bounds"})

    mine = [p for p in pops if not systems[p["members"][0]["system"]].is_reference and "@" not in p["site"]]
    for pop in mine:
        sev = [_sev(m["breakdown"]) for m in pop["members"]]
        first = systems[pop["members"][0]["system"]]
        for ref in (e for e in entries if systems[e["system"]].is_reference and e["layer"] is None):
            framing = "per operation" if ref["system"] == first.runs_on else "versus circuit"
            c = _sev(ref["breakdown"])
            add(pop, ref["label"], framing, sev, [c] * len(sev), True,
                f"between-member variation of {pop['system']} (t over {len(sev)} members); {ref['system']}'s "
                "break-down taken as fixed")
        for name in first.baselines:
            base = [_sev(m["baselines"].get(name, {})) for m in pop["members"]]
            add(pop, f"{pop['label']} ({name})", "per task", sev, base, True,
                f"between-member variation, paired by member (t over {len(sev)} differences)")
    for i, a in enumerate(mine):
        for b in mine[i + 1:]:
            va, vb = ([m.get(a["key"]) for m in p["members"]] for p in (a, b))
            paired = a["key"] == b["key"] == "seed" and va == vb
            add(a, b["label"], "between populations", [_sev(m["breakdown"]) for m in a["members"]],
                [_sev(m["breakdown"]) for m in b["members"]], paired,
                "between-member variation, paired by seed (t over the differences)" if paired else
                "between-member variation of both (Welch t)")
    return gaps

