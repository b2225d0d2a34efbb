"""Simulator speed: vectors/s and build times against Verilator, threads, transient flips, stuck-at campaigns,
warm start, and large netlists (compiled binarized MLPs of about 1e5 and 1e6 gates).

python -m bench.simulator [--quick]    (--quick: fewer vectors, no Verilator build of the 1e5-gate netlist)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import circuits as c
from bench.common import best_of, report
from circuits import kernels
from circuits.campaign import stuck_at_campaign
from circuits.yosys import from_verilog, to_verilog, yosys_available

VERILATOR_MAIN = r"""
#include "Vdut.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
int main() {
  Vdut m; uint64_t s = 1, acc = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < NVEC; ++i) {
ASSIGN
    m.eval(); acc += READ;
  }
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("%f %llu\n", NVEC / t, (unsigned long long)acc);
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


def verilator(net: c.Netlist, nvec: int, timeout: float | None = None) -> tuple[float, float] | None:
    """(build seconds, vectors/s) of Verilator -O3 (2 build jobs, one thread running) on the gate-level netlist
    with random inputs; None when verilator is absent; (inf, nan) when the build takes longer than `timeout`
    seconds. Buses must be at most 64 bits wide."""
    if shutil.which("verilator") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "dut.v").write_text(to_verilog(net, "dut"))
        assign = "\n".join(f"    s = s * 6364136223846793005ULL + 1442695040888963407ULL; m.{bus} = s >> {64 - w};"
                           for bus, w in net.inputs.items())
        read = " + ".join(f"(uint64_t)m.{bus}" for bus in net.outputs)
        (tmp / "main.cpp").write_text(VERILATOR_MAIN.replace("NVEC", str(nvec)).replace("ASSIGN", assign)
                                      .replace("READ", read))
        t0 = time.perf_counter()
        try:
            subprocess.run(["verilator", "--cc", "--exe", "--build", "-O3", "-CFLAGS", "-O3", "--top-module", "dut",
                            "-Wno-fatal", "dut.v", "main.cpp", "-j", "2"], cwd=tmp, check=True, capture_output=True,
                           timeout=timeout)
        except subprocess.TimeoutExpired:
            return float("inf"), float("nan")
        build = time.perf_counter() - t0
        out = subprocess.run([str(tmp / "obj_dir" / "Vdut")], check=True, capture_output=True, text=True).stdout
        return build, float(out.split()[0])


def planes_rate(net, nvec, threads=1, flip_p=0.0, repeat=5, resident=True, engine="compiled") -> float:
    """Vectors/s of simulate_planes on random input planes. resident: a 2^17-vector working set simulated
    over and over (inputs and outputs stay in cache, as in exhaustive runs); else nvec streamed once."""
    rng = np.random.default_rng(0)
    chunk = min(nvec, 1 << 17) if resident else nvec
    planes = rng.integers(0, 2 ** 64, size=(net.n_input_bits, chunk // 64), dtype=np.uint64)
    reps = nvec // chunk
    out = np.empty((sum(net.output_widths.values()), planes.shape[1]), np.uint64)

    def run():
        for _ in range(reps):
            c.simulate_planes(net, planes, threads=threads, flip_p=flip_p, engine=engine, seed=1, out=out)
    return nvec / best_of(run, repeat)


def warm_start_seconds(width: int) -> float:
    """Wall time of a fresh process's first simulate() of the generated multiplier (kernel cache on disk)."""
    code = (f"import time; t=time.perf_counter(); import circuits as c, numpy as np; n=c.multiplier({width}); "
            "c.simulate(n, a=np.arange(100), b=7, engine='compiled'); print(time.perf_counter()-t)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # make sure it is cached
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out)


FIRST_RESULT = r"""
import json, sys, time
import numpy as np
import circuits as c
from circuits import kernels
from circuits.simulate import last_engine
from bench.simulator import multiplier_under_test
net = multiplier_under_test(int(sys.argv[1]))
t0 = time.perf_counter()
c.simulate(c.multiplier(2), a=1, b=1, engine="interpreter")  # the shared interpreter, once per cache
interp = time.perf_counter() - t0
rng = np.random.default_rng(0)
a, b = (rng.integers(0, 1 << net.inputs[k], 1 << 20) for k in ("a", "b"))
t0 = time.perf_counter()
c.simulate(net, a=a, b=b, flip_p=1e-3, seed=1)
first, engine = time.perf_counter() - t0, last_engine()
c.simulate(net, a=a, b=b)  # starts the fault-free kernel too
clean = kernels.compile_later(net, "clean_blocks")
clean.result()
t_clean = time.perf_counter() - t0
kernels.compile_later(net, "flip_blocks").result()
print(json.dumps({"interp": interp, "first": first, "engine": engine, "clean": t_clean,
                  "flip": time.perf_counter() - t0}))
"""

LARGE_RUN = r"""
import json, sys, time
import numpy as np
import circuits as c
from circuits.simulate import last_engine
def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's at the fork)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
z = np.load(sys.argv[1])
widths = {f"x{f}": int(w) for f, w in enumerate(z["widths"])}
net = c.Netlist(widths, z["ops"], z["args"], {"class": z["out"]}, name="bnn")
ops = {f"x{f}": z["q"][:, f] for f in range(len(widths))}
t0 = time.perf_counter()
got = c.simulate(net, ops, flip_p=1e-4, seed=1)["class"]
first = time.perf_counter() - t0
t0 = time.perf_counter()
c.simulate(net, ops, flip_p=1e-4, seed=2)
print(json.dumps({"first": first, "again": time.perf_counter() - t0, "engine": last_engine(),
                  "agree": float(np.mean(got == z["clean"])),
                  "rss_mb": peak_mb()}))
"""

VERILATOR_LARGE_TIMEOUT = 900  # seconds allowed for Verilator's build of the 1e5-gate netlist


@contextlib.contextmanager
def fresh_cache():
    """An empty kernel cache folder for the duration (kernels already imported stay in use)."""
    old = os.environ.get("TESTBED_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TESTBED_CACHE"] = tmp
        try:
            yield
        finally:
            if old is None:
                del os.environ["TESTBED_CACHE"]
            else:
                os.environ["TESTBED_CACHE"] = old


def first_result(width: int) -> dict:
    """In a fresh process and an empty kernel cache: seconds to the first result of 2^20 random vectors with
    flips p = 1e-3 (engine 'auto'), and until the fault-free and the flip kernels, compiled in the background,
    are ready (from the first call). The shared interpreter is compiled first and timed apart."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TESTBED_CACHE": cache}
        out = subprocess.run([sys.executable, "-c", FIRST_RESULT, str(width)], check=True, capture_output=True,
                             text=True, env=env, cwd=Path(__file__).resolve().parent.parent).stdout
    return json.loads(out.splitlines()[-1])


def large(quick: bool) -> tuple[list, dict]:
    """Binarized MLPs of about 1e5 and 1e6 gates compiled from digits: build, first result and throughput of
    the 540 test inputs with flips p = 1e-4 (in a fresh process, with its peak memory), fault-free vectors/s,
    and Verilator on the 1e5-gate one."""
    from networks import digits
    from networks.compilers import compile_binarized, quantize, train_binarized

    data = digits()
    rows, fig = [], {}
    for tag, hidden in (("1e5", 100), ("1e6", 1024)):
        _, model = train_binarized(data.x_train, data.y_train, hidden=(hidden,), bits=2, epochs=3)
        t0 = time.perf_counter()
        cc = compile_binarized(model)
        build = time.perf_counter() - t0
        net = cc.netlist
        label = f"binarized MLP 192-{hidden}-10 ({net.n_gates:,} gates)"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "net.npz"
            np.savez(path, ops=net.ops, args=net.args, out=net.outputs["class"], q=quantize(data.x_test, 2),
                     widths=np.array(list(net.inputs.values())), clean=cc.predict(data.x_test))
            run = json.loads(subprocess.run([sys.executable, "-c", LARGE_RUN, str(path)], check=True,
                                            capture_output=True, text=True).stdout.splitlines()[-1])
        nvec = 1 << (13 if quick else 15)
        rate = planes_rate(net, nvec, repeat=2, engine="auto")
        rows += [(f"{label}: build from the model", build, "s"),
                 (f"{label}: 540 inputs, flips 1e-4, first call (fresh process)", run["first"],
                  f"s ({run['engine']}; target < {2 if tag == '1e5' else 1} s)"),
                 (f"{label}: 540 inputs, flips 1e-4, again", run["again"], "s"),
                 (f"{label}: peak memory of that process", run["rss_mb"], "MB (target < 2,048)"),
                 (f"{label}: fault-free, 1 thread", rate, "vectors/s"),
                 (f"{label}: gate evaluations, 1 thread", rate * net.n_gates, "gates/s")]
        fig.update({f"large_{tag}_gates": net.n_gates, f"large_{tag}_build_s": build,
                    f"large_{tag}_first_s": run["first"], f"large_{tag}_again_s": run["again"],
                    f"large_{tag}_rss_mb": run["rss_mb"], f"large_{tag}_vps": rate,
                    f"large_{tag}_gate_evals": rate * net.n_gates})
        if tag == "1e5" and not quick:
            with fresh_cache():
                t0 = time.perf_counter()
                kernels.compile_later(net, "segmented").result()
                seg_build = time.perf_counter() - t0
                seg_rate = planes_rate(net, nvec, repeat=2, engine="compiled")
            rows += [(f"{label}: segmented kernel compile (background, fresh cache)", seg_build,
                      "s (linear in gates)"),
                     (f"{label}: segmented kernel, fault-free, 1 thread", seg_rate, "vectors/s"),
                     (f"{label}: segmented kernel, gate evaluations", seg_rate * net.n_gates, "gates/s")]
            fig.update({"large_1e5_segmented_build_s": seg_build, "large_1e5_segmented_vps": seg_rate})
            renamed = c.Netlist(net.inputs, net.ops, net.args, {"label": net.outputs["class"]}, name=net.name)
            ver = verilator(renamed, 20_000, timeout=VERILATOR_LARGE_TIMEOUT)  # "class" is a C++ keyword
            if ver:
                rows += [(f"{label}: Verilator build", ver[0], "s"),
                         (f"{label}: Verilator -O3", ver[1], "vectors/s"),
                         (f"{label}: interpreter / Verilator", rate / ver[1], "x"),
                         (f"{label}: segmented kernel / Verilator", seg_rate / ver[1], "x (target >= 100)")]
                fig.update({"large_1e5_verilator_build_s": ver[0], "large_1e5_verilator_vps": ver[1],
                            "large_1e5_ratio_verilator": rate / ver[1],
                            "large_1e5_segmented_ratio_verilator": seg_rate / ver[1]})
    return rows, fig


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
        ver = None if quick else verilator(net, 1 << (24 if width == 8 else 22))
        if ver:
            rows += [(f"{label}: Verilator build", ver[0], "s"), (f"{label}: Verilator -O3", ver[1], "vectors/s"),
                     (f"{label}: ratio to Verilator", one / ver[1], f"x (target >= {300 if width == 8 else 200})")]
            fig[f"verilator_build_s_{width}"], fig[f"verilator_vps_{width}"] = ver
            fig[f"ratio_verilator_{width}"] = one / ver[1]
        if width == 16:
            first = first_result(16)
            rows += [("fresh cache: compile the shared interpreter (once per cache)", first["interp"], "s"),
                     (f"{label}: fresh cache, first result of 2^20 vectors with flips", first["first"],
                      f"s ({first['engine']}; target < 2 s)"),
                     (f"{label}: fresh cache, fault-free kernel ready (background)", first["clean"], "s"),
                     (f"{label}: fresh cache, flip kernel ready (background)", first["flip"],
                      f"s (target <= Verilator build{f' {ver[0]:.1f} s' if ver else ''})")]
            fig.update({"interp_compile_s": first["interp"], "first_result_s_16": first["first"],
                        "clean_ready_s_16": first["clean"], "flip_ready_s_16": first["flip"]})
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
    big_rows, big_fig = large(quick)
    rows += big_rows
    fig.update(big_fig)
    report("bench.simulator (one core unless stated)", rows, fig)
    return fig


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
