"""Campaigns: resume after SIGKILL, worker-count independence, Dask, the store, malformed suites."""

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.cli.main import main
from testbed.runner import run_suite
from testbed.store import Store

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.toml"


def _rows(directory):
    return [(u, lv, t, s, r) for u, lv, t, s, r, _ in Store.open(directory).rows("ok")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    run_suite(SMOKE, out, workers=1, progress=False)
    return out


def test_smoke_run_writes_store_summary_and_report(reference, capsys):
    summary = json.loads((reference / "summary.json").read_text())
    names = {u["label"] for sw in summary["sweeps"] for u in sw["units"]}
    assert names == {"gate-flips/mul4@gate", "gate-flips/mlp4@mac-gate", "additive/mul4@output",
                     "additive/mlp4@product"}
    assert main(["show", str(reference)]) == 0
    assert "gap per operation" in capsys.readouterr().out
    store = Store.open(reference)
    assert store.meta()["suite_hash"] and "[suite]" in store.suite_text()
    assert sqlite3.connect(reference / "results.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_two_workers_give_identical_results(reference, tmp_path):
    run_suite(SMOKE, tmp_path / "two", workers=2, progress=False)
    assert _rows(tmp_path / "two") == _rows(reference)
    a = json.loads((reference / "summary.json").read_text())["sweeps"]
    b = json.loads((tmp_path / "two" / "summary.json").read_text())["sweeps"]
    assert a == b


def test_dask_local_cluster_gives_identical_results(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        run_suite(SMOKE, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert _rows(tmp_path / "dask") == _rows(reference)


def test_sigkill_then_resume_equals_uninterrupted_run(reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "testbed.cli", "run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline and proc.poll() is None:
        db = out / "results.sqlite"
        if db.exists():
            try:
                count = sqlite3.connect(db, timeout=1).execute("SELECT count(*) FROM results").fetchone()[0]
            except sqlite3.Error:
                count = 0
            if count >= 6:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < count and not (out / "summary.json").exists(), "the run was not interrupted mid-way"
    partial = len(_rows(out))
    assert partial < len(_rows(reference))
    assert main(["run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]) == 0
    assert _rows(out) == _rows(reference)
    assert json.loads((out / "summary.json").read_text())["sweeps"] == \
        json.loads((reference / "summary.json").read_text())["sweeps"]


def test_changed_suite_is_refused(reference, tmp_path, capsys):
    changed = tmp_path / "smoke2.toml"
    changed.write_text(SMOKE.read_text().replace("seed = 7", "seed = 8"))
    before = _rows(reference)
    assert main(["run", str(changed), "--out", str(reference), "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differs: use another --out directory" in err[0]
    assert _rows(reference) == before


def test_export_csv_and_json(reference, capsys):
    assert main(["export", str(reference), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["results"]) == len(_rows(reference)) and doc["meta"]["suite_name"] == "smoke"
    assert main(["export", str(reference), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("unit,level,trial,seed,status") and len(lines) == len(doc["results"]) + 1


def test_failed_point_is_stored_and_exit_status_is_1(tmp_path, monkeypatch, capsys):
    from testbed import systems

    original = systems.CircuitSystem.trial

    def flaky(self, noise, site, seed):
        if noise.kind == "additive" and noise.level == 8.0:
            raise RuntimeError("simulated failure")
        return original(self, noise, site, seed)
    monkeypatch.setattr(systems.CircuitSystem, "trial", flaky)
    out = tmp_path / "fail"
    assert main(["run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]) == 1
    failed = Store.open(out).rows("failed")
    assert failed and all("simulated failure" in f[5] for f in failed)
    assert "had failed trials" in capsys.readouterr().err
    assert any(r[0].startswith("gate-flips/") for r in _rows(out))  # the rest still ran


VALID = SMOKE.read_text()
MUTATIONS = [
    ("seed = 7", "seed = -1", "suite.seed: must be in 0..2^63-1"),
    ("width = 4", 'width = "four"', "systems.mul4.width: must be int"),
    ('kind = "circuit"', 'kind = "circuit"\ncolour = 3', "systems.mul4.colour: unknown parameter"),
    ('noise = "bitflip"', 'noise = "gamma"', "sweeps[0].noise: must be one of bitflip"),
    ('mul4 = "gate", mlp4 = "mac-gate"', 'mul4 = "product", mlp4 = "mac-gate"', "site 'product' does not exist"),
    ("levels = [2.0, 8.0, 14.0]", "levels = [2.0]", "sweeps[1].levels: must list at least two"),
    ("{log = [1e-4, 1e-1, 4]}", "{log = [0, 1e-1, 4]}", "needs finite numbers lo, hi (> 0 for log)"),
    ('multiplier = "mul4"', 'multiplier = "nothing"', "systems.mlp4.multiplier: 'nothing' does not name"),
    ("max_trials = 3", "max_trials = 0", "defaults.max_trials: must be in [1, 1000]"),
    ('circuit = "multiplier"', 'circuit = "verilog"\npath = "missing.v"', "systems.mul4.path: no such file"),
    ("[[sweeps]]", "[extra]\n[[sweeps]]", "extra: unknown table"),
    ('mode = "gates"', 'mode = "exact"', "site 'mac-gate' needs a network with a multiplier netlist"),
]


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(picks=st.lists(st.sampled_from(range(len(MUTATIONS))), min_size=1, max_size=3, unique=True))
def test_malformed_suites_report_every_problem_and_write_nothing(tmp_path, picks):
    text = VALID
    for i in picks:
        old, new, _ = MUTATIONS[i]
        text = text.replace(old, new, 1)
    suite = tmp_path / f"bad{'_'.join(map(str, picks))}.toml"
    suite.write_text(text)
    out = tmp_path / f"out{'_'.join(map(str, picks))}"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["run", str(suite), "--out", str(out)])
    assert status == 2, err.getvalue()
    assert "Traceback" not in err.getvalue()
    for i in picks:
        assert MUTATIONS[i][2] in err.getvalue(), (MUTATIONS[i], err.getvalue())
    assert not out.exists()


def test_verilog_that_does_not_synthesize_is_bad_input(tmp_path):
    from tests.conftest import require_tool
    require_tool("yosys")
    (tmp_path / "bad.v").write_text("module m(input a, output y);\n assign y = ;\nendmodule\n")
    text = VALID.replace('circuit = "multiplier"\nwidth = 4', 'circuit = "verilog"\npath = "bad.v"')
    (tmp_path / "s.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "run", str(tmp_path / "s.toml"), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "systems.mul4: " in proc.stderr and "yosys failed" in proc.stderr
    assert not (tmp_path / "o").exists()
