"""The processing element's netlists: MAC gates, depth and simulator throughput in multiply-accumulates/s; the
requantizer's gates and depth.

One MAC step = one vector (a, w, acc) -> acc_out. Rates are single-thread vectors/s of the generated kernel on
random bit planes (2^17-vector working set kept in cache) and of simulate() with int64 operands in and out
(packing included), fault-free and with transient flips p = 1e-3 on every gate.

python -m bench.mac [--quick]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import circuits as c
from bench.common import best_of, report
from bench.simulator import planes_rate
from circuits.mac import mac, requantizer

FLIP_P = 1e-3


def ints_rate(net: c.Netlist, nvec: int, flip_p: float, engine: str) -> float:
    """MACs/s of simulate() on nvec random int64 operands (8-bit a, sign-magnitude 9-bit w, 32-bit acc)."""
    rng = np.random.default_rng(0)
    ops = {bus: rng.integers(0, 1 << width, nvec) for bus, width in net.inputs.items()}
    return nvec / best_of(lambda: c.simulate(net, ops, flip_p=flip_p, seed=1, engine=engine), 3)


def main(quick: bool = False) -> dict:
    rows, fig = [], {}
    nvec = 1 << (20 if quick else 23)
    for adder in ("ripple", "kogge_stone"):
        net = mac(8, 8, 32, "array", adder)
        tag = f"mac 8x8 acc32 {adder}"
        mul = sum(n.startswith("mul.") for n in net.gate_names)
        rows += [(f"{tag}: gates (mul. + add.)", f"{net.n_gates} ({mul} + {net.n_gates - mul})", ""),
                 (f"{tag}: depth", net.depth(), "gates")]
        fig[f"gates_{adder}"], fig[f"mul_gates_{adder}"], fig[f"depth_{adder}"] = net.n_gates, mul, net.depth()
        t0 = time.perf_counter()
        c.simulate(net, {bus: np.arange(4) for bus in net.inputs}, engine="compiled")
        c.simulate(net, {bus: np.arange(4) for bus in net.inputs}, engine="compiled", flip_p=FLIP_P)
        fig[f"compile_s_{adder}"] = time.perf_counter() - t0
        rows.append((f"{tag}: compile or load both kernels", fig[f"compile_s_{adder}"], "s"))
        for label, flip_p in (("fault-free", 0.0), (f"flips p={FLIP_P:g}", FLIP_P)):
            key = "flips" if flip_p else "clean"
            kernel = planes_rate(net, nvec, flip_p=flip_p, repeat=3)
            ints = ints_rate(net, nvec, flip_p, "compiled")
            interp = ints_rate(net, nvec >> 2, flip_p, "interpreter")
            rows += [(f"{tag}, {label}: kernel on planes", kernel, "MAC/s"),
                     (f"{tag}, {label}: ints in/out (compiled)", ints, "MAC/s"),
                     (f"{tag}, {label}: ints, interpreter", interp, "MAC/s")]
            fig[f"kernel_mac_s_{key}_{adder}"] = kernel
            fig[f"ints_mac_s_{key}_{adder}"] = ints
            fig[f"interp_mac_s_{key}_{adder}"] = interp
        ratio = fig[f"kernel_mac_s_flips_{adder}"] / fig[f"kernel_mac_s_clean_{adder}"]
        rows.append((f"{tag}: kernel flips / fault-free", ratio, "ratio"))
        fig[f"flip_ratio_{adder}"] = ratio
    req = requantizer(8, 32, 16, 20)
    rows.append(("requantizer acc32 x mult16 >> 20 -> 8 bits: gates, depth", f"{req.n_gates}, {req.depth()}", ""))
    fig["requantizer_gates"], fig["requantizer_depth"] = req.n_gates, req.depth()
    report("bench.mac (one core)", rows, fig)
    return fig


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
