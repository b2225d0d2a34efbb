"""Hostile and broken input through the command line: every case gives exit 2, one line on stderr, no traceback
and nothing written; plus the run's own promises (trials stored as they finish, workers die with their runner,
one run per directory, quiet broken pipes)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import circuits
from circuits import NetlistError
from testbed import runner
from testbed.cli.main import main
from testbed.compare import Sweep
from testbed.noise import bitflip
from testbed.store import Store
from testbed.suite import load_suite
from testbed.systems import CircuitSystem
from tests.conftest import MUL4

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "suites" / "smoke.toml"
CIRCUIT_ONLY = """
[suite]
name = "hostile"
[defaults]
max_trials = 2
refine = 0
""" + MUL4 + """[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [1e-3, 1e-2]
sites = {mul4 = "gate"}
"""


def _json_netlist(path: Path, ports: dict, cells: dict | None = None) -> None:
    path.write_text(json.dumps({"modules": {"m": {"attributes": {"top": "1"}, "ports": ports,
                                                  "cells": cells or {}, "netnames": {}}}}))


def _one_line_exit_2(argv, capsys, written: Path | None = None) -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "Warning" not in err and err.count("\n") == 1, err
    assert written is None or not written.exists()
    return err


SUITE_CASES = {
    "sweep name with a slash (labels could collide)": ('name = "flips"', 'name = "a/b"', "sweeps[0].name"),
    "system name with an at sign": ("mul4", '"m@4"', "systems.m@4"),
    "n_vectors 0": ('width = 4', 'width = 4\noperands = "random"\nn_vectors = 0', "n_vectors"),
    "n_vectors negative": ('width = 4', 'width = 4\noperands = "random"\nn_vectors = -5', "n_vectors"),
    "n_vectors 1e14": ('width = 4', 'width = 4\noperands = "random"\nn_vectors = 1e14', "n_vectors"),
    "exhaustive 22 input bits": ("width = 4", "width = 11", "too many for exhaustive"),
    "log grid of 1e12 levels": ("levels = [1e-3, 1e-2]", "levels = {log = [1e-3, 1e-1, 1000000000000]}", "levels"),
    "log grid through inf": ("levels = [1e-3, 1e-2]", "levels = {log = [1e-3, inf, 3]}", "levels"),
    "additive level -inf": ('noise = "bitflip"\nlevels = [1e-3, 1e-2]\nsites = {mul4 = "gate"}',
                            'noise = "additive"\nlevels = [-inf, 3.0]\nsites = {mul4 = "output"}', "levels"),
    "deeply nested TOML": ("[defaults]", "x = " + "[" * 3000 + "]" * 3000 + "\n[defaults]", "not valid TOML"),
    "huge hidden layer": ("[[sweeps]]", '[systems.n]\nkind = "network"\nhidden = [1e8]\n[[sweeps]]', "hidden"),
    "negative seed": ('name = "hostile"', 'name = "hostile"\nseed = -1', "suite.seed"),
}


@pytest.mark.parametrize("case", list(SUITE_CASES))
def test_malformed_suite_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    old, new, where = SUITE_CASES[case]
    assert old in CIRCUIT_ONLY
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY.replace(old, new))
    err = _one_line_exit_2(["run", str(suite), "--out", str(tmp_path / "out")], capsys, tmp_path / "out")
    assert where in err


NETLIST_CASES = {
    "no outputs": ({"a": {"direction": "input", "bits": [2, 3]}}, "no outputs"),
    "64-bit input bus": ({"a": {"direction": "input", "bits": list(range(2, 66))},
                          "y": {"direction": "output", "bits": [2]}}, "62 bits"),
    "empty module": ({}, "m"),
}


@pytest.mark.parametrize("case", list(NETLIST_CASES))
def test_malformed_netlist_is_one_line(case, tmp_path, capsys):
    ports, where = NETLIST_CASES[case]
    _json_netlist(tmp_path / "n.json", ports)
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY.replace('circuit = "multiplier"\nwidth = 4',
                                          'circuit = "yosys_json"\npath = "n.json"\noperands = "random"'))
    err = _one_line_exit_2(["run", str(suite), "--out", str(tmp_path / "out")], capsys, tmp_path / "out")
    assert where in err


def test_deeply_nested_json_netlist_is_one_line(tmp_path, capsys):
    (tmp_path / "n.json").write_text("[" * 100_000 + "]" * 100_000)
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY.replace('circuit = "multiplier"\nwidth = 4',
                                          'circuit = "yosys_json"\npath = "n.json"'))
    err = _one_line_exit_2(["run", str(suite), "--out", str(tmp_path / "out")], capsys, tmp_path / "out")
    assert "n.json" in err and "not valid JSON" in err


def test_bad_output_directories_and_schedulers(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (a_file, a_file / "below", Path("/dev/null")):
        assert "--out" in _one_line_exit_2(["run", str(suite), "--out", str(out)], capsys)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o555)
        _one_line_exit_2(["run", str(suite), "--out", str(locked / "out")], capsys)
    err = _one_line_exit_2(["run", str(suite), "--out", str(tmp_path / "o"), "--scheduler", "::::"], capsys,
                           tmp_path / "o")
    assert "--scheduler" in err or "distributed" in err


def test_show_report_export_of_broken_stores(tmp_path, capsys):
    assert "no such directory" in _one_line_exit_2(["show", str(tmp_path / "nowhere")], capsys)
    out = tmp_path / "run"
    assert main(["run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]) == 0
    capsys.readouterr()
    con = sqlite3.connect(out / "results.sqlite")
    con.execute("UPDATE results SET row = '{not json' WHERE rowid = 1")
    con.commit()
    con.close()
    assert "results.sqlite" in _one_line_exit_2(["export", str(out)], capsys)
    con = sqlite3.connect(out / "results.sqlite")
    con.execute("DROP TABLE meta")
    con.commit()
    con.close()
    for argv in (["export", str(out)], ["export", str(out), "--format", "json"]):
        _one_line_exit_2(argv, capsys)


def test_simulate_rejects_bad_operands_and_probabilities():
    net = circuits.multiplier(2)
    for kwargs in ({"a": np.zeros((2, 2), int), "b": 0}, {"a": 1, "b": 1, "flip_p": "0.1"},
                   {"a": 1, "b": 1, "flip_p": None}, {"a": np.array([2 ** 63], np.uint64), "b": 0}):
        with pytest.raises(NetlistError) as info:
            circuits.simulate(net, **kwargs)
        assert "-" not in str(info.value).split("values in")[-1][:3]  # no negative rendering of a uint64
    assert circuits.simulate(net, {"a": 3, "b": 3, "seed": 0} if "seed" in net.inputs else {"a": 3, "b": 3})["p"] == 9


def test_levels_beyond_g_precision_are_distinct_points():
    sweep = Sweep(CircuitSystem(circuits.multiplier(2)), "gate", bitflip(0.0), [0.001, 0.0010000001])
    assert sweep.point_id(0.001) != sweep.point_id(0.0010000001)
    assert sweep.trial_seed(0.001, 0) != sweep.trial_seed(0.0010000001, 0)
    assert sweep.point_id(0.001).endswith("bitflip(0.001)")  # round-tripping levels keep their short label


def test_one_worker_stores_each_trial_as_it_finishes(tmp_path, monkeypatch):
    ran, at_write = [], []
    original_task, original_write = runner.run_trial_task, Store.write

    def task(*args):
        ran.append(args)
        return original_task(*args)

    def write(self, *args, **kwargs):
        at_write.append(len(ran))
        return original_write(self, *args, **kwargs)
    monkeypatch.setattr(runner, "run_trial_task", task)
    monkeypatch.setattr(Store, "write", write)
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY)
    runner.run_suite(suite, tmp_path / "out", workers=1, progress=False)
    assert at_write == list(range(1, len(ran) + 1))  # trial k is stored before trial k + 1 runs


def test_a_second_run_on_the_same_directory_is_refused(tmp_path, capsys):
    suite = load_suite(SMOKE)
    holder = Store.create(tmp_path / "out", suite.name, suite.hash, suite.text, suite.seed)
    try:
        assert "in use" in _one_line_exit_2(["run", str(SMOKE), "--out", str(tmp_path / "out"), "--workers", "1"],
                                            capsys)
    finally:
        holder.close()


def test_export_into_a_closed_pipe_exits_quietly(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "testbed.cli", "export", str(out), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_workers_end_when_their_runner_is_killed(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "testbed.cli", "run", str(SMOKE), "--out", str(out), "--workers",
                             "2", "--no-report"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and proc.poll() is None and len(workers) < 2:
        workers = [p for p in _children(proc.pid) if "spawn" in Path(f"/proc/{p}/cmdline").read_text()] \
            if Path(f"/proc/{proc.pid}").exists() else []
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.skip("the run finished before its workers could be seen")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if Path(f"/proc/{p}").exists()
             and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]
    assert workers and not alive


def test_bad_worker_counts_and_wrong_shaped_summaries(tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text(CIRCUIT_ONLY)
    for workers in ("0", "-2", "two"):
        assert main(["run", str(suite), "--out", str(tmp_path / "o"), "--workers", workers]) == 2
        assert "--workers" in capsys.readouterr().err and not (tmp_path / "o").exists()
    out = tmp_path / "run"
    assert main(["run", str(SMOKE), "--out", str(out), "--workers", "1", "--no-report"]) == 0
    capsys.readouterr()
    for text in ('{"units": 5}', "[1, 2]", '{"sweeps": [3]}'):
        (out / "summary.json").write_text(text)
        assert "not a testbed summary" in _one_line_exit_2(["show", str(out)], capsys)
