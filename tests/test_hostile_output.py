"""User-given text is escaped in every output format (issue 21, item 3): no script runs in report.html (checked
in headless Chromium, with an unescaped control page proving the payload would run), no name breaks out of its
Markdown fence, no terminal escape reaches the terminal, no CSV cell is a spreadsheet formula. Driven through
the command line."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.hostile import cli, refused

# unescaped, this appends the text XSS! (not itself in the page's source) to the document
PAYLOAD = "<img src=x onerror=document.body.append(String.fromCharCode(88,83,83,33))>"
SUITE = f"""
[suite]
name = "evil\\u001b[2J\\u001b]0;owned\\u0007<script>document.title='x'</script>"
description = '''
```
{PAYLOAD}
# not a heading'''
[defaults]
max_trials = 2
refine = 0
budget = 0
[systems."{PAYLOAD}"]
kind = "circuit"
circuit = "multiplier"
width = 3
[[sweeps]]
name = "=HYPERLINK(1)"
noise = "bitflip"
levels = [1e-3, 1e-1]
sites = {{"{PAYLOAD}" = "gate"}}
"""


def _dom(page: Path, tmp: Path) -> str:
    """The DOM of `page` after headless Chromium loaded it and ran its scripts (a few seconds)."""
    if shutil.which("chromium") is None:
        pytest.skip("chromium not on PATH (Debian: apt-get install chromium)")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
           "--virtual-time-budget=2000", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout


def _no_script_ran(page: Path, tmp: Path) -> None:
    control = tmp / "control.html"
    control.write_text(f"<html><body>{PAYLOAD}</body></html>")
    assert "XSS!" in _dom(control, tmp), "the oracle: the payload unescaped does run"
    dom = _dom(page, tmp)
    assert "</html>" in dom and "XSS!" not in dom and "<img src=\"x\"" not in dom


def _fenced_text(md: str, info: str) -> str:
    """The content of the first code fence opened with `info` (CommonMark: it closes at a line of at least as
    many backticks, indented up to 3 spaces, with nothing after them but spaces)."""
    lines = md.split("\n")
    start = next(i for i, line in enumerate(lines) if line.lstrip("`") == info and line.startswith("```"))
    width = len(lines[start]) - len(info)
    for end in range(start + 1, len(lines)):
        stripped = lines[end].strip(" ")
        if len(lines[end]) - len(lines[end].lstrip(" ")) <= 3 and set(stripped) == {"`"} and len(stripped) >= width:
            return "\n".join(lines[start + 1:end])
    raise AssertionError("fence never closed")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile-output")
    (work / "s.toml").write_text(SUITE)
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", cwd=work)
    assert result.returncode == 0, result.stderr[-2000:]
    return work, result


def test_terminal_output_holds_no_escape_sequences(hostile_run):
    work, result = hostile_run
    shown = cli("show", "run", cwd=work)
    for text in (result.stdout, result.stderr, shown.stdout, shown.stderr):
        assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[2J" in shown.stdout  # the name is shown, its control characters as escapes


def test_report_html_runs_no_script(hostile_run, tmp_path):
    work, _ = hostile_run
    _no_script_ran(work / "run" / "report.html", tmp_path)


def test_hostile_summary_fields_run_no_script(hostile_run, tmp_path):
    """A results folder is user input too: every field of summary.json is escaped (here a network's data set,
    multiplier and mode, and a circuit's operands)."""
    work, _ = hostile_run
    run = tmp_path / "run"
    shutil.copytree(work / "run", run)
    summary = json.loads((run / "summary.json").read_text())
    for d in summary["systems"].values():
        d["operands"] = PAYLOAD
    summary["systems"]["net"] = {"world": "network", "dataset": PAYLOAD, "test_inputs": PAYLOAD,
                                 "clean_accuracy": 0.5, "label_entropy_bits": 3.3, "multiplier": PAYLOAD,
                                 "mode": PAYLOAD, "layers": [{"layer": PAYLOAD, "kind": PAYLOAD, "shape": [1],
                                                              "weight_bits": 4, "pruned_channels": 0}]}
    (run / "summary.json").write_text(json.dumps(summary))
    assert cli("report", run, cwd=tmp_path).returncode == 0
    _no_script_ran(run / "report.html", tmp_path)


def test_markdown_fence_holds_the_whole_suite(hostile_run):
    work, _ = hostile_run
    md = (work / "run" / "report.md").read_text()
    assert _fenced_text(md, "toml") == SUITE.rstrip()
    assert "\n# not a heading" not in md.split("```toml")[0]


def test_csv_export_has_no_formula_cells(hostile_run):
    work, _ = hostile_run
    result = cli("export", "run", "--format", "csv", cwd=work)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert any(cell.startswith("'=HYPERLINK(1)/") for cell in rows[1])  # the unit label, defused
    for cell in (c for row in rows for c in row):
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(cell)  # only numbers may start so


def test_an_error_line_naming_a_hostile_name_holds_no_escape(tmp_path):
    (tmp_path / "s.toml").write_text('[systems."x\\u001b[2Jy"]\nkind = "\\u001b[2J"\n')
    err = refused(cli("run", "s.toml", "--out", "run", cwd=tmp_path), "x\\x1b[2Jy")
    assert "\x1b" not in err and not (tmp_path / "run").exists()
