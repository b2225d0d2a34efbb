"""No traceback, anywhere (issue 21, items 8, 9, 11, 12): a full disk during a run, a read-only archive, a
hostile summary.json, the C locale, NUMBA_NUM_THREADS=0, a read-only install and HOME, a FIFO or a device as
the suite, a million levels, a file that is no model, an interrupted run. Driven through the command line;
read-only folders are made with a private mount namespace (unshare), skipped where the kernel has none."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile import CLI_MODULE, ROOT, TINY_SUITE, cli, finished_tiny_run, refused, tree


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("finished"))


def _read_only(paths: list[Path], command: str, cwd: Path) -> subprocess.CompletedProcess:
    """`command` (a shell line) with each of `paths` mounted read-only, in a private mount namespace."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("no unprivileged mount namespaces here")
    mounts = "; ".join(f"mount --bind {p} {p} && mount -o remount,ro,bind {p} {p}" for p in paths)
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"{mounts}; {command}"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _cli_line(*args) -> str:
    return " ".join([sys.executable, "-m", CLI_MODULE, *map(str, args)])


def test_a_full_disk_during_a_run_is_one_line_and_resumable(tmp_path):
    (tmp_path / "s.toml").write_text(TINY_SUITE.replace("max_trials = 2", "max_trials = 40\nmin_trials = 40"))

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))  # the store outgrows it after a few trials

    result = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=tmp_path,
                 preexec_fn=small_disk)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "cannot store a trial" in result.stderr.splitlines()[-1]
    assert "complete" not in result.stderr  # stopped, not complete
    resumed = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_a_read_only_archive_is_shown_exported_and_refuses_a_report_in_one_line(finished_run, tmp_path):
    run = tmp_path / "archive"
    shutil.copytree(finished_run, run)
    before = tree(run)
    for command, status in ((_cli_line("show", run), 0), (_cli_line("export", run), 0),
                            (_cli_line("report", run), 2)):
        result = _read_only([run], command, tmp_path)
        assert result.returncode == status and "Traceback" not in result.stderr, result.stderr[-2000:]
    refused(result, "cannot write the report", "Read-only file system")
    assert tree(run) == before


@pytest.mark.parametrize("case", ["NaN", "deep nesting", "wrong types", "not an object"])
def test_a_hostile_summary_is_one_line(finished_run, tmp_path, case):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    summary = (run / "summary.json").read_text()
    text = {"NaN": summary.replace('"seed": 0', '"seed": NaN'),
            "deep nesting": '{"sweeps": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "wrong types": json.dumps({**json.loads(summary), "systems": {"mul3": {"world": "circuit"}},
                                       "sweeps": [{"units": [{"breakdown": 3}]}]}),
            "not an object": "[1, 2]"}[case]
    (run / "summary.json").write_text(text)
    before = tree(run)
    for command in ("show", "report"):
        refused(cli(command, run, cwd=tmp_path), "summary.json")
    assert tree(run) == before  # the previous report is untouched


def test_the_c_locale_reads_and_writes_utf8(tmp_path):
    (tmp_path / "s.toml").write_text(TINY_SUITE.replace('name = "tiny"', 'name = "µ-suite ✓"'), encoding="utf-8")
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", cwd=tmp_path,
                 env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "µ-suite ✓" in (tmp_path / "run" / "report.md").read_text(encoding="utf-8")


def test_numba_num_threads_0_is_one_line(tmp_path):
    refused(cli("list", cwd=tmp_path, env={"NUMBA_NUM_THREADS": "0"}), "NUMBA_NUM_THREADS")
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_read_only_install_and_home_run_with_a_temporary_cache(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "s.toml").write_text(TINY_SUITE)
    env = "env -u TESTBED_CACHE -u NUMBA_CACHE_DIR HOME=" + str(home)
    result = _read_only([ROOT, Path(sys.prefix), home],
                        f"{env} {_cli_line('run', 's.toml', '--out', 'run', '--workers', '1', '--no-report')}",
                        tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings and all("using /" in line for line in warnings)


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_suite_that_is_no_regular_file_is_refused_at_once(tmp_path, kind):
    suite = tmp_path / "s.toml"
    if kind == "fifo":
        os.mkfifo(suite)  # reading it would wait forever for a writer
    elif kind == "device":
        suite.symlink_to("/dev/zero")  # reading it would fill the memory
    else:
        suite.mkdir()
    refused(cli("run", suite, "--out", tmp_path / "run", cwd=tmp_path, timeout=60), "s.toml", "regular file")
    assert not (tmp_path / "run").exists()


def test_list_levels_are_capped(tmp_path):
    """A hundred thousand levels: refused by count; a million: the suite file is too large to read at all."""
    for count, needles in ((100_000, ("sweeps[0].levels", "at most 1000")), (1_000_000, ("s.toml", "larger than"))):
        levels = ", ".join(["1e-3"] * count)
        (tmp_path / "s.toml").write_text(TINY_SUITE.replace("levels = [1e-3, 1e-1]", f"levels = [{levels}]"))
        refused(cli("run", "s.toml", "--out", "run", cwd=tmp_path), *needles)
        assert not (tmp_path / "run").exists()


def test_a_file_that_is_no_model_is_one_line(tmp_path):
    (tmp_path / "junk.pt2").write_bytes(b"PK\x03\x04 not a model")
    (tmp_path / "s.toml").write_text('[systems.net]\nkind = "network"\nmodel = "junk.pt2"\n[[sweeps]]\n'
                                     'name = "p"\nnoise = "additive"\nlevels = [4.0, 8.0]\nsites = {net = "product"}\n')
    refused(cli("run", "s.toml", "--out", "run", "--workers", "1", cwd=tmp_path), "junk.pt2")
    assert not (tmp_path / "run").exists()


def test_an_interrupted_run_does_not_say_complete(tmp_path):
    long = TINY_SUITE.replace("max_trials = 2", "max_trials = 1000\nmin_trials = 1000")
    (tmp_path / "s.toml").write_text(long.replace("levels = [1e-3, 1e-1]", "levels = {log = [1e-4, 1e-1, 200]}"))
    # Ctrl-C's default disposition in the child, even where this test runs as a background job (a shell
    # without job control starts those with SIGINT ignored, and Python then installs no KeyboardInterrupt)
    proc = subprocess.Popen([sys.executable, "-m", CLI_MODULE, "run", "s.toml", "--out", "run", "--workers", "1",
                             "--no-report"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db = tmp_path / "run" / "results.sqlite"
    deadline = time.monotonic() + 120
    while not db.exists() and time.monotonic() < deadline:  # interrupt once the run is under way
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    assert "complete" not in err and "Traceback" not in err


@pytest.mark.parametrize("levels, needles", [("[1, 1e18]", ("sweeps[0].levels", "1e+18")),
                                             ("[1, 100]", ("flips/mul3@gate", "exceeds the 30 gates"))])
def test_stuck_at_levels_beyond_the_gates_are_refused(tmp_path, levels, needles):
    """The 3x3 array multiplier has 30 gates (circuits.multiplier(3).n_gates): k = 100 cannot be drawn."""
    import circuits

    assert circuits.multiplier(3).n_gates == 30
    (tmp_path / "s.toml").write_text(TINY_SUITE.replace('noise = "bitflip"', 'noise = "stuck_at"')
                                     .replace("levels = [1e-3, 1e-1]", f"levels = {levels}"))
    refused(cli("run", "s.toml", "--out", "run", cwd=tmp_path), *needles)
    assert not (tmp_path / "run").exists()


def test_an_output_bus_wider_than_scored_is_refused(tmp_path):
    ports = {"a": {"direction": "input", "bits": [2, 3]}, "y": {"direction": "output", "bits": [2, 3] * 35}}
    (tmp_path / "w.json").write_text(json.dumps({"modules": {"w": {"attributes": {"top": "1"}, "ports": ports,
                                                                   "cells": {}, "netnames": {}}}}))
    (tmp_path / "s.toml").write_text(TINY_SUITE.replace('circuit = "multiplier"\nwidth = 3',
                                                        'circuit = "yosys_json"\npath = "w.json"'))
    refused(cli("run", "s.toml", "--out", "run", cwd=tmp_path), "mul3", "output bus y is 70 bits")
    assert not (tmp_path / "run").exists()
