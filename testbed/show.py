"""`testbed show`: a terminal summary of a run (break-down levels and gaps) from its summary.json."""

from __future__ import annotations

from pathlib import Path

from testbed.errors import StoreError
from testbed.store import SUMMARY, read_summary


def _num(v, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.3g}{unit}"


def level_text(b: dict) -> str:
    """A break-down level with its interval and width, or a bound when censored ("> 0.1": not reached within
    the levels swept; "< 1e-10": failed already at the first)."""
    if b.get("censored"):
        return f"> {_num(b['lo'])}" if b.get("hi") is None else f"< {_num(b['hi'])}"
    width = f", width {_num(b['width'])}" if b.get("width") is not None else ""
    budget = " budget reached" if b.get("budget_reached") else ""
    return f"{_num(b['level'])} [{_num(b['lo'])}, {_num(b['hi'])}]{width}{budget}"


def gap_text(g: dict) -> str:
    """A gap with its interval and whether that excludes zero, or a bound when a break-down is censored."""
    if g.get("censored"):
        return f"{_num(g['value'])} {g['unit']} (bound: {g['censored']})"
    sign = {True: "excludes 0", False: "includes 0"}.get(g.get("excludes_zero"), "")
    return f"{_num(g['value'])} {g['unit']} [{_num(g['lo'])}, {_num(g['hi'])}] {sign}".rstrip()


def show_summary(summary: dict) -> str:
    lines = [f"suite {summary['suite']} (seed {summary['seed']}, code {summary['code_version']})"]
    for sw in summary["sweeps"]:
        params = f" ({sw['dist']})" if sw.get("dist") else ""
        lines.append(f"\n{sw['name']}: {sw['noise']}{params}" + (" per result bit" if sw["per_bit"] else ""))
        lines.append(f"  {'system@site':<44} {'break-down: ' + sw['axis']['label']:<46} error SNR (bits)")
        if sw.get("target_width"):
            lines.append(f"  ({sw['confidence']:.0%} intervals from a dose-response fit; width on the severity axis, "
                         f"target {_num(sw['target_width'])})")
        for u in sw["units"]:
            b = u["breakdown"]
            lines.append(f"  {u['label'].split('/', 1)[1]:<44} {level_text(b):<46} {_num(b['error_snr_bits'])}")
            if u.get("exact_digital_breakdown") and not sw["per_bit"]:
                d = u["exact_digital_breakdown"]
                lines.append(f"  {'  same products, exact digital':<44} {level_text(d):<46} "
                             f"{_num(d['error_snr_bits'])}")
        for g in sw["gaps"]:
            lines.append(f"  gap {g['framing']}: {g['network'].split('/', 1)[1]} vs {g['against'].split('/', 1)[1]}: "
                         f"{gap_text(g['level'])}; error SNR {_num(g['error_snr']['value'])} bits")
    return "\n".join(lines)


def show(directory) -> str:
    """`testbed show DIR`; a summary.json of the wrong shape is one StoreError line naming it."""
    summary = read_summary(directory)
    try:
        return show_summary(summary)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise StoreError(f"{Path(directory) / SUMMARY}: malformed summary ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
