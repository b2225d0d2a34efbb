"""The flagship suite end to end: clean cache (training and kernel compilation included) vs warm cache,
store overhead, peak memory, and report generation time.

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


def _run(args, env) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "testbed.cli", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


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
        cold = _run(["run", suite, "--out", f"{tmp}/cold", "--no-report"], env)
        warm = _run(["run", suite, "--out", f"{tmp}/warm", "--no-report"], env)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rep = _run(["report", f"{tmp}/warm"], env)
        rows = Store.open(f"{tmp}/warm").rows("ok")
        sample = max((r[4] for r in rows), key=lambda r: len(str(r)))
        write = store_write_seconds(len(rows), sample)
    figures = {"cold_s": cold, "warm_s": warm, "report_s": rep, "store_overhead": write / warm,
               "trials": len(rows), "peak_rss_mb": peak_mb}
    report("bench.campaign (flagship suite, all cores)", [
        ("clean cache: training, kernel compilation and the run", cold, "s (target < 180)"),
        ("trained models and kernels cached", warm, "s (target < 120)"),
        (f"store writes for {len(rows)} trials, one transaction each", write, "s"),
        ("store overhead / warm run time", write / warm, "fraction (target < 0.05)"),
        ("peak resident memory of one process", peak_mb, "MB (target < 1024)"),
        ("report from the finished store", rep, "s (target < 15)"),
    ], figures)
    return figures


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--suite") + 1] if "--suite" in sys.argv else "suites/big-question.toml")
