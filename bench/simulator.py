"""Simulator speed: vectors/s against Verilator, threads, transient flips, stuck-at campaigns, warm start.

python -m bench.simulator [--quick]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import circuits as c
from bench.common import best_of, report
from circuits.campaign import stuck_at_campaign
from circuits.yosys import from_verilog, to_verilog, yosys_available

VERILATOR_MAIN = r"""
#include "Vdut.h"
#include <chrono>
#include <cstdio>
int main() {
  Vdut m; unsigned long long acc = 0, n = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int rep = 0; rep < REPS; ++rep)
    for (unsigned long long v = 0; v < (1ull << (2 * W)); v += STEP) {
      m.a = v & ((1ull << W) - 1); m.b = v >> W; m.eval(); acc += m.p; ++n;
    }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("%f %llu\n", n / s, acc);
}
"""


def multiplier_under_test(width: int) -> c.Netlist:
    """The Yosys-synthesized `assign p = a*b` when Yosys is present, else the generated array multiplier."""
    if yosys_available():
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"mul{width}.v"
            src.write_text(f"module mul{width}(input [{width - 1}:0] a, input [{width - 1}:0] b, "
                           f"output [{2 * width - 1}:0] p);\n  assign p = a * b;\nendmodule\n")
            return from_verilog(src)
    return c.multiplier(width)


def verilator_rate(net: c.Netlist, width: int) -> float | None:
    """Vectors/s of Verilator -O3 on the same gate-level netlist (None when verilator is absent)."""
    if shutil.which("verilator") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "dut.v").write_text(to_verilog(net, "dut"))
        step = 1 if width == 8 else 97
        reps = 40 if width == 8 else 1
        (tmp / "main.cpp").write_text(VERILATOR_MAIN.replace("REPS", str(reps)).replace("STEP", str(step))
                                      .replace("W", str(width)))
        subprocess.run(["verilator", "--cc", "--exe", "--build", "-O3", "-CFLAGS", "-O3", "--top-module", "dut",
                        "-Wno-fatal", "dut.v", "main.cpp", "-j", "2"], cwd=tmp, check=True, capture_output=True)
        out = subprocess.run([str(tmp / "obj_dir" / "Vdut")], check=True, capture_output=True, text=True).stdout
        return float(out.split()[0])


def planes_rate(net, nvec, threads=1, flip_p=0.0, repeat=5, resident=True) -> float:
    """Vectors/s of simulate_planes on random input planes. resident: a 2^17-vector working set simulated
    over and over (inputs and outputs stay in cache, as in exhaustive runs); else nvec streamed once."""
    rng = np.random.default_rng(0)
    chunk = min(nvec, 1 << 17) if resident else nvec
    planes = rng.integers(0, 2 ** 64, size=(net.n_input_bits, chunk // 64), dtype=np.uint64)
    reps = nvec // chunk
    out = np.empty((sum(net.output_widths.values()), planes.shape[1]), np.uint64)

    def run():
        for _ in range(reps):
            c.simulate_planes(net, planes, threads=threads, flip_p=flip_p, engine="compiled", seed=1,
                              out=out)
    return nvec / best_of(run, repeat)


def warm_start_seconds(width: int) -> float:
    """Wall time of a fresh process's first simulate() of the generated multiplier (kernel cache on disk)."""
    code = (f"import time; t=time.perf_counter(); import circuits as c, numpy as np; n=c.multiplier({width}); "
            "c.simulate(n, a=np.arange(100), b=7, engine='compiled'); print(time.perf_counter()-t)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # make sure it is cached
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out)


def main(quick: bool = False) -> dict:
    rows, fig = [], {}
    for width in (8, 16):
        net = multiplier_under_test(width)
        label = f"{'yosys' if yosys_available() else 'array'} {width}x{width} ({net.n_gates} gates)"
        t0 = time.perf_counter()
        c.simulate(net, a=np.arange(4), b=3, engine="compiled")
        c.simulate(net, a=np.arange(4), b=3, engine="compiled", flip_p=1e-3)
        fig[f"compile_s_{width}"] = time.perf_counter() - t0
        nvec = 1 << 24 if width == 8 else 1 << 22
        one = planes_rate(net, nvec)
        flips = planes_rate(net, nvec, flip_p=1e-3)
        rows += [(f"{label}: compile or load kernels", fig[f"compile_s_{width}"], "s"),
                 (f"{label}: fault-free, 1 thread (2^17 vectors in cache)", one, "vectors/s"),
                 (f"{label}: gate evaluations, 1 thread", one * net.n_gates, "gates/s"),
                 (f"{label}: flips p=1e-3 / fault-free", flips / one, "ratio (target >= 0.25)")]
        fig[f"vps_{width}_1t"], fig[f"flip_ratio_{width}"] = one, flips / one
        ver = None if quick else verilator_rate(net, width)
        if ver:
            rows.append((f"{label}: Verilator -O3", ver, "vectors/s"))
            rows.append((f"{label}: ratio to Verilator", one / ver, f"x (target >= {300 if width == 8 else 200})"))
            fig[f"verilator_vps_{width}"], fig[f"ratio_verilator_{width}"] = ver, one / ver
        if width == 16:
            big = (1 << 22) if quick else (1 << 24)
            t1 = planes_rate(net, big, threads=1, repeat=3, resident=False)
            t2 = planes_rate(net, big, threads=2, repeat=3, resident=False)
            rng = np.random.default_rng(0)
            a = rng.integers(0, 1 << 16, big)
            b = rng.integers(0, 1 << 16, big)
            e2e = big / best_of(lambda net=net, a=a, b=b: c.simulate(net, a=a, b=b, threads=2, engine="compiled"), 2)
            rows += [(f"{label}: streaming 2^{big.bit_length() - 1} vectors, 1 thread", t1, "vectors/s"),
                     (f"{label}: 2 threads / 1 thread, 2^{big.bit_length() - 1} vectors streamed", t2 / t1,
                      "ratio (target >= 1.5)"),
                     (f"{label}: simulate() ints in/out, 2 threads", e2e, "vectors/s")]
            fig["threads_ratio_16"], fig["vps_16_ints_2t"] = t2 / t1, e2e
    mul8 = multiplier_under_test(8)
    stuck_at_campaign(mul8)
    t = best_of(lambda: stuck_at_campaign(mul8), 3)
    camp = stuck_at_campaign(mul8)
    rows.append((f"exhaustive stuck-at campaign 8x8 ({len(camp.sites)} faults x 65,536)", t * 1e3,
                 "ms (target < 100)"))
    fig["campaign_8_ms"] = t * 1e3
    mul16 = multiplier_under_test(16)
    for threads in (1, 2):
        t0 = time.perf_counter()
        camp16 = stuck_at_campaign(mul16, vectors=1 << (16 if quick else 20), seed=1, threads=threads)
        fig[f"campaign_16_s_{threads}t"] = time.perf_counter() - t0
        rows.append((f"stuck-at campaign 16x16 ({len(camp16.sites)} faults x {camp16.n_vectors:,} random), "
                     f"{threads} thread{'s' if threads > 1 else ''}", fig[f"campaign_16_s_{threads}t"], "s"))
    fig["warm_start_s"] = warm_start_seconds(8)
    rows.append(("fresh process: import + first simulate of a cached 8x8 kernel", fig["warm_start_s"],
                 "s (target < 1 s)"))
    report("bench.simulator (one core unless stated)", rows, fig)
    return fig


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
