"""The processing element in the loop: multiply-accumulates/s of the integer engine in mode 'pe' (every MAC step
through the multiplier and the accumulator adder at gate level) beside the simulator's own flip kernel on the
element's netlist (`mac`: the same gates in one netlist).

Reference: circuits.simulate_planes on the mac netlist (8x8 array multiplier, 32-bit ripple accumulator), random
input planes (a 2^17-vector working set), transient flips p = 1e-3 on every gate, compiled kernel, one thread:
vectors/s, one vector = one MAC step. Engine: the digits MLP (64-64-10) on the test set repeated to about 2,000
inputs, one pass = inputs x (64 x 64 + 64 x 10) MAC steps, single thread, kernels compiled beforehand; MAC/s
with flips p = 1e-3 on all the element's gates (the target: at least 25% of the reference), on the multiplier's or
the adder's alone, fault-free, with error measurement (what the testbed's trials ask for), and mode 'gates' with
the same multiplier flips for comparison.

python -m bench.pe [--quick]
"""

from __future__ import annotations

import sys

import numpy as np

import circuits as c
from bench.common import best_of, report
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

FLIP_P = 1e-3
TARGET = 0.25


def kernel_rate(net: c.Netlist, flip_p: float, repeat: int) -> float:
    """Vectors/s of simulate_planes on random planes (2^17 vectors, resident), compiled kernel."""
    planes = np.random.default_rng(0).integers(0, 2 ** 64, size=(net.n_input_bits, 2048), dtype=np.uint64)
    out = np.empty((sum(net.output_widths.values()), planes.shape[1]), np.uint64)
    reps = 8

    def run():
        for r in range(reps):
            c.simulate_planes(net, planes, flip_p=flip_p, seed=r + 1, engine="compiled", out=out)
    return reps * 2048 * 64 / best_of(run, repeat)


def main(quick: bool = False) -> dict:
    repeat = 2 if quick else 5
    model, _ = trained_model(ModelConfig(hidden=(64,)), progress=False)
    ds = digits()
    imodel = export(model, ds.x_train)
    x = np.tile(ds.x_test, (2 if quick else 4, 1))
    macs = len(x) * sum(lay.weight.size for lay in imodel.layers)
    mul = c.multiplier(8)
    element = Multiplier("pe", mul, imodel.act_bits, 8, acc_bits=imodel.acc_bits)
    mac = c.generator("mac")(width=8, acc_bits=imodel.acc_bits)
    for net in (mac, mul, element.adder):  # compile (or load) every kernel the runs below use
        for p in (0.0, FLIP_P):
            c.simulate_planes(net, np.zeros((net.n_input_bits, 32), np.uint64), flip_p=p, engine="compiled")
    ref = kernel_rate(mac, FLIP_P, repeat)
    engine, gates = IntegerEngine(imodel, element), IntegerEngine(imodel, Multiplier("gates", mul))

    def rate(eng, part, flip_p, measure=False):
        faults = c.GateFaults(flip_p, seed=7)
        return macs / best_of(lambda: eng.run(x, faults=faults, fault_part=part, measure_error=measure), repeat)

    fig = {"mac_gates": mac.n_gates, "mul_gates": mul.n_gates, "adder_gates": element.adder.n_gates,
           "inputs": len(x), "macs_per_pass": macs, "flip_p": FLIP_P,
           "kernel_mac_vectors_s": ref,
           "pe_all_mac_s": rate(engine, "all", FLIP_P),
           "pe_mul_mac_s": rate(engine, "mul", FLIP_P),
           "pe_add_mac_s": rate(engine, "add", FLIP_P),
           "pe_clean_mac_s": rate(engine, "mul", 0.0),
           "pe_all_measured_mac_s": rate(engine, "all", FLIP_P, True),
           "gates_mul_mac_s": rate(gates, "mul", FLIP_P),
           "gates_mul_measured_mac_s": rate(gates, "mul", FLIP_P, True)}
    fig["ratio_pe_all_to_kernel"] = fig["pe_all_mac_s"] / ref
    fig["target_ratio"] = TARGET
    fig["target_met"] = bool(fig["ratio_pe_all_to_kernel"] >= TARGET)
    rows = [("mac netlist gates (multiplier + adder)", f"{mac.n_gates} ({mul.n_gates} + {element.adder.n_gates})"),
            (f"MAC steps per pass ({len(x)} inputs)", macs),
            (f"simulate_planes on mac, flips p={FLIP_P:g}", ref, "vectors/s"),
            (f"engine 'pe', flips p={FLIP_P:g} on all gates", fig["pe_all_mac_s"], "MAC/s"),
            (f"engine 'pe', flips p={FLIP_P:g} on the multiplier", fig["pe_mul_mac_s"], "MAC/s"),
            (f"engine 'pe', flips p={FLIP_P:g} on the adder", fig["pe_add_mac_s"], "MAC/s"),
            ("engine 'pe', fault-free", fig["pe_clean_mac_s"], "MAC/s"),
            ("engine 'pe', all gates, errors measured", fig["pe_all_measured_mac_s"], "MAC/s"),
            (f"engine 'gates', flips p={FLIP_P:g} (multiplier only)", fig["gates_mul_mac_s"], "MAC/s"),
            ("engine 'gates', errors measured", fig["gates_mul_measured_mac_s"], "MAC/s"),
            ("pe (all gates) / simulator kernel", fig["ratio_pe_all_to_kernel"],
             f"target >= {TARGET:g}: {'met' if fig['target_met'] else 'MISSED'}")]
    report("Processing element in the loop (one thread)", rows, fig)
    return fig


if __name__ == "__main__":
    main("--quick" in sys.argv)
