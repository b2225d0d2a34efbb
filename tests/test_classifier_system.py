"""Netlist classifiers as systems: the same task as the networks, on gates, through a suite."""

from pathlib import Path

import numpy as np

from networks import digits
from networks.compilers import fit_tree
from testbed.classifier import ClassifierSystem
from testbed.cli.main import main
from testbed.noise import bitflip, stuck_at
from testbed.store import read_summary

SUITE = """
[suite]
name = "classifiers"
seed = 9
[defaults]
max_trials = 3
budget = 40
[systems.tree]
kind = "classifier"
model = "tree"
bits = 2
max_depth = 6
[systems.tree_tmr]
kind = "classifier"
model = "tree"
bits = 2
max_depth = 6
harden = "tmr"
[[sweeps]]
name = "gate-flips"
noise = "bitflip"
levels = {log = [1e-6, 1e-1, 11]}
sites = {tree = "gate", tree_tmr = "gate"}
[[sweeps]]
name = "feature-flips"
noise = "bitflip"
levels = {log = [1e-4, 0.5, 7]}
sites = {tree = "input"}
"""


def test_classifier_system_scores_its_netlist_like_its_software_model():
    ds = digits()
    compiled = fit_tree(ds.x_train, ds.y_train, bits=2, max_depth=6)
    system = ClassifierSystem(compiled, ds, "tree", "tree")
    assert system.clean_accuracy == np.mean(compiled.predict(ds.x_test) == ds.y_test)
    clean = system.trial(bitflip(0.0), "gate", 1)
    assert clean["correct"] == round(system.clean_accuracy * clean["n"]) and clean["lost"] == clean["gained"] == 0
    for site in ("gate", "input", "output"):
        row = system.trial(bitflip(0.2), site, 2)
        assert row["correct"] < clean["correct"] and row["lost"] > 0, site
    assert system.trial(stuck_at(3), "gate", 3)["n"] == len(ds.y_test)


def test_one_substrate_suite_reports_the_fault_budget(tmp_path: Path):
    suite = tmp_path / "c.toml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 0
    summary = read_summary(tmp_path / "run")
    assert summary["systems"]["tree"]["world"] == "classifier" and summary["systems"]["tree"]["engine_noise_free"]
    units = {u["label"]: u for sw in summary["sweeps"] for u in sw["units"]}
    tree, tmr = units["gate-flips/tree@gate"], units["gate-flips/tree_tmr@gate"]
    gates = summary["systems"]["tree"]["gates"]
    assert tree["fault_budget"]["gates"] == gates
    assert abs(tree["fault_budget"]["level"] - tree["breakdown"]["level"] * gates) < 1e-12 * gates
    assert tmr["breakdown"]["level"] > tree["breakdown"]["level"]  # voting buys tolerance
    assert "fault_budget" not in units["feature-flips/tree@input"]  # a word site has no per-gate budget
    md = (tmp_path / "run" / "report.md").read_text()
    assert "Fault budget" in md and (tmp_path / "run" / "figures" / "fault_budget.png").is_file()
