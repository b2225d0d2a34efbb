"""Populations as systems: a table with `seeds = [...]` is one member per training seed; every member gets its own
break-down and the population the mean over members with a t interval (oracle: the members' severities through
scipy's t quantile); gaps between populations carry a sign verdict."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from testbed.cli.main import main
from testbed.errors import SuiteError
from testbed.stats import population_gap
from testbed.store import read_summary
from testbed.suite import load_suite

SUITE = """
[suite]
name = "pop"
seed = 3
[defaults]
max_trials = 2
budget = 0
refine = 1
[systems.mul4]
kind = "circuit"
circuit = "multiplier"
width = 4
[systems.mlp]
kind = "network"
dataset = "digits"
hidden = [8]
epochs = 30
weight_bits = 4
act_bits = 4
multiplier = "mul4"
seeds = [0, 1, 2]
[systems.wide]
kind = "network"
dataset = "digits"
hidden = [16]
epochs = 30
weight_bits = 4
act_bits = 4
multiplier = "mul4"
seeds = [0, 1, 2]
[[sweeps]]
name = "products"
noise = "bitflip"
levels = {log = [1e-7, 1e-1, 7]}
sites = {mul4 = "output", mlp = "product", wide = "product"}
"""


def test_population_suite_runs_shows_and_reports(tmp_path: Path, capsys):
    suite = tmp_path / "p.toml"
    suite.write_text(SUITE)
    loaded = load_suite(suite)
    assert loaded.populations["mlp"].members == ("mlp[seed 0]", "mlp[seed 1]", "mlp[seed 2]")
    assert loaded.systems["mlp[seed 2]"].config.seed == 2
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 0
    summary = read_summary(tmp_path / "run")
    (sweep,) = summary["sweeps"]
    pops = {p["system"]: p for p in sweep["populations"]}
    assert set(pops) == {"mlp", "wide"}
    mlp = pops["mlp"]
    assert [m["seed"] for m in mlp["members"]] == [0, 1, 2]
    sev = np.array([m["breakdown"]["severity"] for m in mlp["members"]])
    assert all(m["breakdown"]["lo"] is not None for m in mlp["members"])  # each member has its own interval
    p = mlp["population"]
    half = scipy_stats.t.ppf(0.975, 2) * sev.std(ddof=1) / math.sqrt(3)  # independent oracle: scipy's t
    assert p["severity"] == pytest.approx(sev.mean())
    assert (p["severity_lo"], p["severity_hi"]) == pytest.approx((sev.mean() - half, sev.mean() + half))
    assert p["level"] == pytest.approx(10 ** sev.mean())
    assert "between-member" in p["covers"] and "3 members" in p["covers"]
    gaps = {(g["population"].split("/")[1], g["against"].split("/")[1], g["framing"]): g
            for g in sweep["population_gaps"]}
    between = gaps[("mlp@product", "wide@product", "between populations")]
    assert between["paired"]  # the members share their seeds
    other = np.array([m["breakdown"]["severity"] for m in pops["wide"]["members"]])
    d = sev - other
    assert between["value"] == pytest.approx(d.mean())
    assert between["verdict"] == population_gap(sev, other, True).verdict
    circuit = gaps[("mlp@product", "mul4@output", "per operation")]
    assert circuit["value"] == pytest.approx(sev.mean() - sweep["units"][0]["breakdown"]["severity"])
    out = capsys.readouterr().out
    assert "mlp@product (population)" in out and "member seed 1" in out and "population gap" in out
    assert "a check of the estimator: closed form 1 - (1 - p)^8 = 0.01 gives 0.00126" in out
    assert main(["show", str(tmp_path / "run")]) == 0
    shown = capsys.readouterr().out
    assert between["verdict"] in shown and "paired" in shown
    assert main(["report", str(tmp_path / "run")]) == 0
    html = (tmp_path / "run" / "report.html").read_text()
    assert "population break-down of mlp@product" in html and "members: seed 0" in html
    assert (tmp_path / "run" / "figures" / "population_0.png").is_file()


@pytest.mark.parametrize("value, why", [
    ("[0]", "2..64 distinct"), ("[1, 1]", "2..64 distinct"), ("[0, -1]", "2..64 distinct"), ('"0"', "2..64")])
def test_bad_seeds_are_one_line(tmp_path: Path, value, why):
    suite = tmp_path / "p.toml"
    suite.write_text(SUITE.replace("seeds = [0, 1, 2]\n[systems.wide]", f"seeds = {value}\n[systems.wide]"))
    with pytest.raises(SuiteError, match=rf"systems\.mlp\.seeds: must be a list of {why}"):
        load_suite(suite)


def test_circuits_are_no_populations(tmp_path: Path):
    suite = tmp_path / "p.toml"
    suite.write_text(SUITE.replace('width = 4\n[systems.mlp]', 'width = 4\nseeds = [0, 1]\n[systems.mlp]'))
    with pytest.raises(SuiteError, match="systems.mul4.seeds: a circuit system cannot be a population"):
        load_suite(suite)


@pytest.mark.parametrize("a, b, verdict", [
    ([1.0, 1.2, 0.9, 1.0], [0.0, 0.1, -0.1, 0.05], "decided (>0)"),
    ([0.0, 0.1, -0.1, 0.05], [1.0, 1.2, 0.9, 1.0], "decided (<0)"),
    ([1.0, -1.0, 0.5, -0.5], [0.0, 0.0, 0.0, 0.0], "undecided")])
def test_gap_verdict(a, b, verdict):
    g = population_gap(a, b, paired=True)
    d = np.subtract(a, b)
    lo, hi = scipy_stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=scipy_stats.sem(d))
    assert (g.lo, g.hi) == pytest.approx((lo, hi))
    assert g.verdict == verdict


def test_a_population_of_model_files(tmp_path: Path):
    for name in ("a.pt", "b.pt"):
        (tmp_path / name).write_bytes(b"")  # parsing checks that the files exist; building loads them
    suite = tmp_path / "p.toml"
    suite.write_text(SUITE.replace("seeds = [0, 1, 2]\n[systems.wide]", 'models = ["a.pt", "b.pt"]\n[systems.wide]'))
    loaded = load_suite(suite)
    pop = loaded.populations["mlp"]
    assert (pop.key, pop.members) == ("model", ("mlp[model 0]", "mlp[model 1]"))
    assert [Path(loaded.systems[m].model).name for m in pop.members] == ["a.pt", "b.pt"]
    assert "mlp[model 1]" in loaded.sweeps[0].sites


def test_a_sweep_may_name_one_member(tmp_path: Path):
    suite = tmp_path / "p.toml"
    suite.write_text(SUITE.replace('wide = "product"}', 'wide = "product", "mlp[seed 9]" = "product"}'))
    with pytest.raises(SuiteError, match=r"no system named 'mlp\[seed 9\]'"):
        load_suite(suite)
    suite.write_text(SUITE.replace('mlp = "product", ', '"mlp[seed 1]" = "product", '))
    assert "mlp[seed 0]" not in load_suite(suite).sweeps[0].sites
