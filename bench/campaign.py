"""The flagship suite end to end: clean cache (training and kernel compilation included) vs warm cache,
store overhead, peak memory, and report generation time. Each run's CPU time (user + system, its worker
processes included) is printed beside its wall time: on a machine shared with other jobs the wall time stretches,
the CPU time much less, and CPU time / cores bounds the wall time on idle cores from below. Target (issue 20):
the warm run under 5 minutes of wall time on two cores.

python -m bench.campaign [--suite suites/big-question.toml]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import report
from testbed.store import Store


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(args, env) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and the workers it waited for) of one CLI command."""
    t0, c0 = time.perf_counter(), _cpu()
    subprocess.run([sys.executable, "-m", "testbed.cli", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, _cpu() - c0


def store_write_seconds(n_rows: int, row: dict) -> float:
    """Time to write n_rows trials one transaction each, as the runner does."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.create(Path(tmp) / "s", "bench", "0", "", 0)
        t0 = time.perf_counter()
        for i in range(n_rows):
            store.write("unit", float(i), 0, i, row)
        return time.perf_counter() - t0


def main(suite: str = "suites/big-question.toml") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TESTBED_CACHE=str(Path(tmp) / "cache"))
        cold, cold_cpu = _run(["run", suite, "--out", f"{tmp}/cold", "--no-report"], env)
        warm, warm_cpu = _run(["run", suite, "--out", f"{tmp}/warm", "--no-report"], env)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rep, _ = _run(["report", f"{tmp}/warm"], env)
        rows = Store.open(f"{tmp}/warm").rows("ok")
        sample = max((r[4] for r in rows), key=lambda r: len(str(r)))
        write = store_write_seconds(len(rows), sample)
    figures = {"cold_s": cold, "warm_s": warm, "cold_cpu_s": cold_cpu, "warm_cpu_s": warm_cpu, "report_s": rep,
               "store_overhead": write / warm, "trials": len(rows), "peak_rss_mb": peak_mb,
               "load_average_1min": os.getloadavg()[0], "cores": os.cpu_count()}
    report("bench.campaign (flagship suite, all cores)", [
        ("clean cache: training, kernel compilation and the run", cold, "s"),
        ("  its CPU time (user + system, workers included)", cold_cpu, "s"),
        ("trained models and kernels cached", warm, "s (target < 300 on two cores)"),
        ("  its CPU time (user + system, workers included)", warm_cpu, "s"),
        ("load average (1 minute) at the end, on this many cores", os.getloadavg()[0], f"({os.cpu_count()} cores)"),
        (f"store writes for {len(rows)} trials, one transaction each", write, "s"),
        ("store overhead / warm run time", write / warm, "fraction (target < 0.05)"),
        ("peak resident memory of one process", peak_mb, "MB (target < 1024)"),
        ("report from the finished store", rep, "s (target < 15)"),
    ], figures)
    return figures


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--suite") + 1] if "--suite" in sys.argv else "suites/big-question.toml")
