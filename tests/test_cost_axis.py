"""Methods on one cost axis, end to end through the command line: a tiny suite (a 4-bit MLP population of two
seeds, plain, range-restricted, and on a full-TMR multiplier in the processing element), and summary.json's
`methods` table checked against numbers computed by hand from the same summary's units (scipy's t quantiles)."""

import math

import numpy as np
from scipy import stats

from testbed.store import read_summary
from tests.conftest import MLP_ON_MUL4, MUL4, run_suite_text

SUITE = """[suite]
name = "cost-axis"
seed = 24
[defaults]
min_trials = 2
max_trials = 2
refine = 0
budget = 0
""" + MUL4 + """
[systems.mul4_tmr]
kind = "circuit"
circuit = "multiplier"
width = 4
harden = "tmr"
[systems.plain]
""" + MLP_ON_MUL4 + """seeds = [0, 1]
[systems.ranged]
""" + MLP_ON_MUL4 + """seeds = [0, 1]
range_restriction = {percentile = 99.0}
[systems.tmr]
""" + MLP_ON_MUL4.replace('"mul4"', '"mul4_tmr"') + """mode = "pe"
seeds = [0, 1]
[[sweeps]]
name = "gate-flips"
noise = "bitflip"
levels = {log = [1e-7, 1e-1, 7]}
sites = {mul4 = "gate", mul4_tmr = "gate", plain = "mac-gate", ranged = "mac-gate", tmr = "mac-gate"}
"""


def t_interval(values):
    v = np.asarray(values)
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean(), v.mean() - half, v.mean() + half


def test_the_methods_table_is_the_units_numbers(tmp_path):
    out = run_suite_text(tmp_path, SUITE)
    summary = read_summary(out)
    (sweep,) = summary["sweeps"]
    units = {u["system"]: u for u in sweep["units"]}
    rows = {m["system"]: m for m in summary["methods"]}
    assert sorted(rows) == ["plain", "ranged", "tmr"]
    assert [rows[n]["method"]["label"] for n in ("plain", "ranged", "tmr")] == \
        ["plain", "range restriction", "tmr multiplier"]
    systems = summary["systems"]

    def severities(name):
        return [math.log10(units[f"{name}[seed {s}]"]["breakdown"]["level"]) for s in (0, 1)]

    for name, row in rows.items():
        mean, lo, hi = t_interval(severities(name))
        assert math.isclose(row["tolerance"]["log10_p"], mean) and math.isclose(row["tolerance"]["lo"], lo)
        assert math.isclose(row["tolerance"]["hi"], hi)
        own = rows[name]["multiplier"]
        gap = t_interval(np.array(severities(name)) - math.log10(units[own]["breakdown"]["level"]))
        assert np.allclose([row["per_operation_gap"][k] for k in ("value", "lo", "hi")], gap)
        # gates per multiply: the hardened netlist's gates where the multiplier is hardened
        assert row["gates_per_multiply"] == systems[own]["gates"] == {"mul4": 66, "mul4_tmr": 206}[own]
        accuracy = np.mean([systems[f"{name}[seed {s}]"]["clean_accuracy"] for s in (0, 1)])
        assert math.isclose(row["clean_accuracy"], accuracy)
    for name in ("ranged", "tmr"):  # gains over plain training, paired by seed
        gain = t_interval(np.array(severities(name)) - np.array(severities("plain")))
        assert np.allclose([rows[name]["gain"][k] for k in ("value", "lo", "hi")], gain)
        assert rows[name]["gain"]["paired"]
    assert rows["plain"]["gain"] is None
    # range restriction: every hidden unit of every member has its profiled bound; the logits none
    for s in (0, 1):
        hidden, logits = systems[f"ranged[seed {s}]"]["layers"]
        assert len(hidden["range_bound"]) == 16 and max(hidden["range_bound"]) <= 15 and logits["range_bound"] is None
    # the Pareto front by hand: a row is off it when another has at least its tolerance and accuracy at no more gates
    key = {n: (r["tolerance"]["log10_p"], -r["gates_per_multiply"], r["clean_accuracy"]) for n, r in rows.items()}
    for n, r in rows.items():
        dominated = any(all(a >= b for a, b in zip(key[o], key[n], strict=True)) and key[o] != key[n]
                        for o in rows if o != n)
        assert r["front"] is not dominated
    report = (out / "report.md").read_text()
    assert "Methods on one cost axis" in report and "figures/methods.png" in report
    assert (out / "figures" / "methods.png").stat().st_size > 1000
