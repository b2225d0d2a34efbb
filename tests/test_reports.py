"""Reports: the headline agrees with summary.json, comparison mode, and the page loads in Chromium."""

import html
import html.parser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reports.build import answer, write_report
from testbed.cli.main import main
from testbed.runner import run_suite
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "smoke"
    run_suite(ROOT / "suites" / "smoke.toml", out, workers=1, progress=False)
    write_report([out])
    return out


class _Table(html.parser.HTMLParser):
    def __init__(self, css_class: str):
        super().__init__()
        self.css_class, self.rows, self._in, self._cell = css_class, [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", self.css_class) in attrs:
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _num(v) -> str:
    """A number as the report prints it: 3 significant digits, '-' for none (the format, written here again)."""
    return "-" if v is None else f"{v:.3g}"


def _expected_interval(d: dict) -> str:
    """What a report cell must say for a break-down or gap of summary.json: value [lo, hi]; a censored break-down
    as the bound it is ("> lo" not reached, "< hi" broken at once), a gap of one as "value (bound)"."""
    if d.get("censored"):
        if "unit" in d:
            return f"{_num(d['value'])} (bound)"
        return f"> {_num(d['lo'])}" if d.get("hi") is None else f"< {_num(d['hi'])}"
    return f"{_num(d['value'] if 'value' in d else d['level'])} [{_num(d['lo'])}, {_num(d['hi'])}]"


def test_the_answer_restates_summary_json(run_dir):
    parser = _Table("headline")
    parser.feed((run_dir / "report.html").read_text())
    header, *rows = parser.rows
    summary = json.loads((run_dir / "summary.json").read_text())
    sentences, answer_rows = answer(summary)
    assert rows and len(rows) == len(answer_rows) and header[0] == "noise (same for both)"
    for row, (sweep, net) in zip(rows, [(r["sweep"], r["network"]) for r in answer_rows], strict=True):
        sw = next(s for s in summary["sweeps"] if s["name"] == sweep)
        unit = next(u for u in sw["units"] if u["system"] == net and u.get("clean_accuracy") is not None)
        op = next(g for g in sw["gaps"] if g["network"] == unit["label"] and g["framing"] == "per operation")
        assert row[4] == _expected_interval(unit["breakdown"]) and row[5] == _expected_interval(op["level"])
        sign = {True: "excludes 0", False: "includes 0"}.get(op["level"]["excludes_zero"])
        assert row[6] == (sign or ("bound" if op["level"]["censored"] else "no interval"))
    page = (run_dir / "report.html").read_text()
    assert all(html.escape(s) in page for s in sentences)


def test_every_headline_number_is_in_summary_json(run_dir):
    parser = _Table("breakdowns")
    parser.feed((run_dir / "report.html").read_text())
    rows = parser.rows[1:]
    assert len(rows) >= 6
    summary = json.loads((run_dir / "summary.json").read_text())
    sweeps = {sw["name"]: sw for sw in summary["sweeps"]}
    for sweep, what, value, interval, unit, snr, _note in rows:
        sw = sweeps[sweep]
        if what.startswith("break-down of the same products, "):
            name, system = what.removeprefix("break-down of the same products, ").rstrip(")").split(" (")
            src = next(u for u in sw["units"] if u["system"] == system)["baselines"][name]
            expect = (src["level"], src["lo"], src["hi"], src["error_snr_bits"])
        elif what.startswith("break-down of "):
            label = f"{sweep}/{what.removeprefix('break-down of ')}"
            src = next(u for u in sw["units"] if u["label"] == label)["breakdown"]
            expect = (src["level"], src["lo"], src["hi"], src["error_snr_bits"])
        else:
            framing, pair = what.removeprefix("gap ").split(": ", 1)
            net, other = pair.split(" vs ")
            g = next(g for g in sw["gaps"] if g["framing"] == framing and g["network"] == f"{sweep}/{net}"
                     and g["against"] == f"{sweep}/{other}")
            expect = (g["level"]["value"], g["level"]["lo"], g["level"]["hi"], g["error_snr"]["value"])
            assert unit == g["level"]["unit"]
        assert value == _num(expect[0]) and interval == f"[{_num(expect[1])}, {_num(expect[2])}]"
        assert snr == _num(expect[3])


def test_markdown_and_figures_beside_it(run_dir):
    md = (run_dir / "report.md").read_text()
    assert "## Headline" in md and "```toml" in md
    for name in md.split("(figures/")[1:]:
        assert (run_dir / "figures" / name.split(")")[0]).is_file()


def test_comparison_mode(run_dir, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(run_dir, other)
    own = {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()}
    assert main(["report", str(run_dir), str(other)]) == 0
    page = (run_dir / "comparison" / "comparison.html").read_text()
    assert "Comparison: smoke vs copy" in page and page.count("data:image/png;base64,") >= 3
    assert {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()} == own  # the run's own figures stay


def test_report_of_a_missing_run_is_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no summary.json" in err or "no results store" in err


def test_report_opens_in_headless_chromium(run_dir, tmp_path):
    require_tool("chromium")
    page = (run_dir / "report.html").read_text()
    probe = ("<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
             "document.body.setAttribute('data-images',imgs.length);"
             "document.body.setAttribute('data-loaded',imgs.filter(i=>i.complete&&i.naturalWidth>0).length);});"
             "</script></body>")
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe))
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=5000", "--dump-dom", f"file://{tmp_path / 'probe.html'}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    images = int(dom.split('data-images="')[1].split('"')[0])
    loaded = int(dom.split('data-loaded="')[1].split('"')[0])
    assert images >= 5 and loaded == images
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console


def test_reports_import_no_networks_nor_torch():
    """Reports run no experiment: importing them loads neither the networks nor torch (the circuits package comes
    in only as the home of the project's error root, circuits.errors.TestbedError)."""
    code = ("import sys, reports.build, reports.figures; "
            "print([m for m in sys.modules if m.split('.')[0] in ('networks', 'torch')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_rate_against_capacity_reads_the_entropies_and_says_whether_the_relation_holds():
    from reports.build import rate_verdict
    from reports.figures import rate_points

    def unit(system, snr):
        return {"system": system, "site": "product", "layer": None,
                "breakdown": {"error_snr_bits": snr, "error_snr_lo": snr - 0.2, "error_snr_hi": snr + 0.2}}
    summary = {"systems": {f"n{k}": {"rate_view": True, "label_entropy_bits": r} for k, r in
                           ((2, 1.0), (4, 2.0), (10, 3.32))},
               "sweeps": [{"name": "flips", "noise": "bitflip", "per_bit": False,
                           "units": [unit("n2", 1.1), unit("n4", 2.2), unit("n10", 3.4)]}]}
    points = rate_points(summary)
    assert [p["rate"] for p in points] == [1.0, 2.0, 3.32]
    assert "roughly holds" in rate_verdict(points)
    for p, snr in zip(points, (6.0, 6.1, 5.9), strict=True):
        p["snr"] = snr
    assert "does not hold" in rate_verdict(points)
    summary["systems"] = {k: dict(v, label_entropy_bits=3.32) for k, v in summary["systems"].items()}
    assert rate_points(summary) == []  # one task entropy only: nothing to relate
