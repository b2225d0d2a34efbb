"""One settings object: a suite at 90% confidence says 90% in summary.json, `show` and every report caption."""

import re
from pathlib import Path

from testbed.cli.main import main
from testbed.compare import Sweep, gap
from testbed.settings import SETTINGS
from testbed.store import read_summary
from testbed.suite import load_suite

SUITE = """
[suite]
name = "ninety"
seed = 5
[defaults]
confidence = 0.9
max_trials = 2
refine = 0
budget = 0
[systems.m2]
kind = "circuit"
circuit = "multiplier"
width = 2
[systems.m3]
kind = "circuit"
circuit = "multiplier"
width = 3
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [1e-3, 1e-2, 1e-1]
sites = {m2 = "gate", m3 = "gate"}
"""


def test_a_suite_at_90_percent_says_90_percent_everywhere(tmp_path: Path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE)
    assert load_suite(suite).settings.confidence == 0.9
    assert main(["run", str(suite), "--out", str(tmp_path / "r"), "--workers", "1"]) == 0
    shown = capsys.readouterr().out
    summary = read_summary(tmp_path / "r")
    assert summary["settings"]["confidence"] == 0.9 and [sw["confidence"] for sw in summary["sweeps"]] == [0.9]
    assert "(90% intervals" in shown
    report = (tmp_path / "r" / "report.md").read_text()
    captions = [c for c in re.findall(r"!\[([^\]]*)\]", report) if "interval" in c]
    assert len(captions) >= 2 and all("90%" in c and "95%" not in c for c in captions), captions
    assert "flips 90%" in report and "95%" not in report


def test_sweep_and_gap_defaults_are_the_settings():
    import inspect

    params = inspect.signature(Sweep).parameters
    for key, value in SETTINGS.sweep_options().items():
        assert params[key].default == value, key
    # a gap has no confidence of its own: its interval (MOVER) takes the two break-downs' confidence
    assert "confidence" not in inspect.signature(gap).parameters
