"""Hardening through a suite: the harden key, the hardened netlists' break-downs and the Pareto figure."""

from pathlib import Path

from testbed.cli.main import main
from testbed.store import read_summary
from tests.conftest import MLP_ON_MUL4, MUL4

SUITE = """
[suite]
name = "hardening"
seed = 5
[defaults]
max_trials = 4
budget = 60
[systems.plain]
kind = "circuit"
circuit = "multiplier"
width = 3
[systems.cone]
kind = "circuit"
circuit = "multiplier"
width = 3
harden = "cone:1"
[systems.full]
kind = "circuit"
circuit = "multiplier"
width = 3
tmr = true
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = {log = [1e-5, 1e-1, 9]}
sites = {plain = "gate", cone = "gate", full = "gate"}
"""


def test_hardened_circuits_break_later_and_the_report_draws_the_trade_off(tmp_path: Path, capsys):
    suite = tmp_path / "h.toml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 0
    summary = read_summary(tmp_path / "run")
    hard = {name: d["hardening"] for name, d in summary["systems"].items()}
    assert hard["plain"]["overhead"] == 0 and hard["plain"]["spec"] == "none"
    assert hard["full"]["spec"] == "tmr" and hard["full"]["gates_added"] == 2 * hard["full"]["base_gates"] + 6
    level = {u["system"]: u["breakdown"]["level"] for u in summary["sweeps"][0]["units"]}
    assert level["full"] > level["plain"] and level["cone"] > level["plain"]
    assert (tmp_path / "run" / "figures" / "pareto.png").is_file()
    assert "gate overhead" in (tmp_path / "run" / "report.md").read_text()


def test_a_bad_hardening_spec_is_one_line(tmp_path: Path, capsys):
    suite = tmp_path / "h.toml"
    suite.write_text(SUITE.replace('harden = "cone:1"', 'harden = "cone:x"'))
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "systems.cone.harden" in err and err.count("\n") == 1 and not (tmp_path / "run").exists()


PE_SUITE = """
[suite]
name = "pe"
seed = 6
[defaults]
max_trials = 3
budget = 40
""" + MUL4 + "[systems.mlp]\n" + MLP_ON_MUL4 + """mode = "pe"
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = {log = [1e-10, 1e-1, 19]}
sites = {mlp = "SITE"}
"""


def test_the_processing_element_takes_faults_in_its_multiplier_adder_or_both(tmp_path: Path, capsys):
    levels = {}
    for site in ("mac-gate", "pe-add", "pe-gate"):
        suite = tmp_path / f"{site}.toml"
        suite.write_text(PE_SUITE.replace("SITE", site))
        assert main(["run", str(suite), "--out", str(tmp_path / site), "--workers", "1", "--no-report"]) == 0
        unit = read_summary(tmp_path / site)["sweeps"][0]["units"][0]
        levels[site] = unit["breakdown"]["level"]
        assert unit["fault_budget"]["gates"] > 0
    # all of the element's gates break it before the multiplier's alone, and about where the adder's alone do
    assert levels["pe-gate"] < levels["mac-gate"] and levels["pe-gate"] < 1.3 * levels["pe-add"]
    suite = tmp_path / "exact.toml"
    suite.write_text(PE_SUITE.replace("SITE", "pe-add").replace('mode = "pe"', 'mode = "gates"'))
    assert main(["run", str(suite), "--out", str(tmp_path / "exact"), "--workers", "1"]) == 2
    assert "needs mode 'pe'" in capsys.readouterr().err
