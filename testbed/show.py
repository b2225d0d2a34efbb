"""`testbed show`: a terminal summary of a run (break-down levels and gaps) from its summary.json."""

from __future__ import annotations

from testbed.store import read_summary


def _num(v, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.3g}{unit}"


def _level(b: dict) -> str:
    flag = {"above": " (not reached)", "below": " (at first level)"}.get(b.get("censored") or "", "")
    return f"{_num(b['level'])} [{_num(b['lo'])}, {_num(b['hi'])}]{flag}"


def show_summary(summary: dict) -> str:
    lines = [f"suite {summary['suite']} (seed {summary['seed']}, code {summary['code_version']})"]
    for sw in summary["sweeps"]:
        params = f" ({sw['dist']})" if sw.get("dist") else ""
        lines.append(f"\n{sw['name']}: {sw['noise']}{params}" + (" per result bit" if sw["per_bit"] else ""))
        lines.append(f"  {'system@site':<44} {'break-down: ' + sw['axis']['label']:<46} error SNR (bits)")
        for u in sw["units"]:
            b = u["breakdown"]
            lines.append(f"  {u['label'].split('/', 1)[1]:<44} {_level(b):<46} {_num(b['error_snr_bits'])}")
            if u.get("exact_digital_breakdown") and not sw["per_bit"]:
                d = u["exact_digital_breakdown"]
                lines.append(f"  {'  same products, exact digital':<44} {_level(d):<46} {_num(d['error_snr_bits'])}")
        for g in sw["gaps"]:
            lv, snr = g["level"], g["error_snr"]
            lines.append(f"  gap {g['framing']}: {g['network'].split('/', 1)[1]} vs {g['against'].split('/', 1)[1]}: "
                         f"{_num(lv['value'])} {lv['unit']} [{_num(lv['lo'])}, {_num(lv['hi'])}]; "
                         f"error SNR {_num(snr['value'])} bits" + (" (bound)" if lv.get("censored") else ""))
    return "\n".join(lines)


def show(directory) -> str:
    return show_summary(read_summary(directory))
