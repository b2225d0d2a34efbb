"""`testbed show`: a terminal summary of a run (break-down levels and gaps) from its summary.json: populations first
(their break-down over members, then each member), the populations' gaps with their sign verdicts, then every
unit with its baselines and secondary task metrics, then the units' gaps."""

from __future__ import annotations

from pathlib import Path

from testbed.errors import StoreError
from testbed.rate import rate_fit_text
from testbed.settings import percent
from testbed.store import SUMMARY, read_summary
from testbed.summary import (
    fmt,
    gap_text,
    interval_text,
    level_text,
    population_gap_text,
    population_text,
    short,
    unit_baselines,
)


def show_summary(summary: dict) -> str:
    lines = [f"suite {summary['suite']} (seed {summary['seed']}, code {summary['code_version']})"]
    for sw in summary["sweeps"]:
        params = f" ({sw['dist']})" if sw.get("dist") else ""
        lines.append(f"\n{sw['name']}: {sw['noise']}{params}" + (" per result bit" if sw["per_bit"] else ""))
        lines.append(f"  {'system@site':<44} {'break-down: ' + sw['axis']['label']:<46} error SNR (bits)")
        if sw.get("target_width"):
            lines.append(f"  ({percent(sw['confidence'])} intervals from a dose-response fit; width on the severity "
                         f"axis, target {fmt(sw['target_width'])})")
        for pop in sw.get("populations", []):
            p = pop["population"]
            text = population_text(p, sw["axis"]["gap_unit"])
            lines.append(f"  {short(pop['label']) + ' (population)':<44} {text:<46} {fmt(p['error_snr_bits'])}")
            lines.append(f"    ({p['covers']})")
            for m in pop["members"]:
                lines.append(f"    {'member ' + pop['key'] + ' ' + str(m[pop['key']]):<42} "
                             f"{level_text(m['breakdown']):<46} {fmt(m['breakdown']['error_snr_bits'])}")
        for g in sw.get("population_gaps", []):
            derived = " (derived: per-operation gap + log10 multiplies per input)" \
                if g["framing"] == "per task" and g["unit"] == "decades" else ""
            lines.append(f"  population gap {g['framing']}{derived}: {short(g['population'])} vs "
                         f"{short(g['against'])}: {population_gap_text(g)}")
        for u in sw["units"]:
            b = u["breakdown"]
            lines.append(f"  {u['label'].split('/', 1)[1]:<44} {level_text(b):<46} {fmt(b['error_snr_bits'])}")
            if u.get("breakdown_energy"):
                e = u["breakdown_energy"]
                lines.append(f"  {'  energy per operation / nominal':<44} "
                             f"{interval_text({'level': e['value'], 'lo': e['lo'], 'hi': e['hi']})}")
            for name, d in unit_baselines(u).items() if not sw["per_bit"] else ():
                lines.append(f"  {'  same products, ' + name:<44} {level_text(d):<46} {fmt(d['error_snr_bits'])}")
            if u.get("closed_form"):
                c = u["closed_form"]
                lines.append(f"    (a check of the estimator: closed form {c['formula']} gives {fmt(c['level'])})")
            for name, d in u.get("secondary", {}).items():
                lines.append(f"  {'  secondary: ' + name:<44} {level_text(d):<46} {fmt(d['error_snr_bits'])}")
        for g in sw["gaps"]:
            lines.append(f"  gap {g['framing']}: {g['network'].split('/', 1)[1]} vs {g['against'].split('/', 1)[1]}: "
                         f"{gap_text(g['level'])}; error SNR {fmt(g['error_snr']['value'])} bits")
    lines += [rate_fit_text(f) for f in summary.get("rate_fit", [])]
    return "\n".join(lines)


def show(directory) -> str:
    """`testbed show DIR`; a summary.json of the wrong shape is one StoreError line naming it."""
    summary = read_summary(directory)
    try:
        return show_summary(summary)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise StoreError(f"{Path(directory) / SUMMARY}: malformed summary ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
