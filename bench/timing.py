"""Timed simulation speed on the 8x8 array multiplier (unit delays), measured side by side in one run: against
Icarus's event-driven simulation of the same streams (one thread; target >= 1000x), against the untimed flip
kernel's vectors/s (target >= 1/20), and a digits MLP pass (540 test inputs, 64-64-10, every product on the
multiplier) with every product timed (T = 0.8 D, sigma 0.05, output-stationary, its energy measured) against the
untimed gate-level pass (every product through the flip kernel, p = 1e-3, the sparse path off; target <= 20x).

python -m bench.timing [--quick]    (--quick: fewer streams)
"""

from __future__ import annotations

import sys
import time

import numpy as np

import circuits as c
from bench.common import best_of, report
from bench.simulator import planes_rate
from circuits import GateFaults, TimingPlan
from circuits.icarus import icarus_available, icarus_timed
from circuits.timed import timed_simulate
from circuits.timing import static_timing


def main(quick: bool = False) -> None:
    net = c.multiplier(8)
    D = static_timing(net).D
    rng = np.random.default_rng(0)
    streams, n = (1024, 32) if quick else (4096, 64)
    ops = {b: rng.integers(0, 256, (streams, n)) for b in net.inputs}
    prev = {b: rng.integers(0, 256, streams) for b in net.inputs}
    rows, fig = [], {"gates": net.n_gates, "D": D, "vectors": streams * n}
    icarus_streams = 16 if quick else 64
    for label, frac in (("T = D", 1.0), ("T = 0.8 D, continuous", 0.8)):
        period = int(frac * D)
        t0 = time.perf_counter()
        timed = timed_simulate(net, ops, period, previous=prev)
        first = time.perf_counter() - t0
        rate = streams * n / best_of(lambda p=period: timed_simulate(net, ops, p, previous=prev), 3)
        flips = planes_rate(net, 1 << 21, flip_p=1e-3)  # the untimed flip kernel, measured right beside
        key = "T_D" if frac == 1.0 else "T_08D"
        rows += [(f"{label}: timed (vectors/s)", rate), (f"{label}: first call (schedule, kernel load)", first, "s"),
                 (f"{label}: untimed flip kernel p=1e-3 (vectors/s)", flips),
                 (f"{label}: timed / flip kernel", rate / flips, "ratio (target >= 0.05)")]
        fig.update({f"timed_vps_{key}": rate, f"flip_vps_{key}": flips, f"timed_over_flip_{key}": rate / flips,
                    f"first_call_s_{key}": first})
        if icarus_available():
            sub = {b: v[:icarus_streams] for b, v in ops.items()}
            theirs, seconds = icarus_timed(net, sub, period, previous={b: v[:icarus_streams] for b, v in prev.items()})
            assert np.array_equal(theirs["p"], timed.outputs["p"][:icarus_streams]), "Icarus disagrees"
            icarus = icarus_streams * n / seconds
            rows += [(f"{label}: Icarus vvp, same streams (vectors/s)", icarus),
                     (f"{label}: timed / Icarus", rate / icarus, "ratio (target >= 1000)")]
            fig.update({f"icarus_vps_{key}": icarus, f"timed_over_icarus_{key}": rate / icarus})
    timed_pass, gate_pass = network_passes(net)
    rows += [("MLP pass, every product timed (s)", timed_pass, "s"),
             ("MLP pass, untimed gate level (s)", gate_pass, "s"),
             ("timed pass / untimed gate-level pass", timed_pass / gate_pass, "ratio (target <= 20)")]
    fig.update({"timed_pass_s": timed_pass, "gate_pass_s": gate_pass, "timed_over_gate_pass": timed_pass / gate_pass})
    report(f"Timed simulation of the 8x8 array multiplier ({net.n_gates} gates, unit delays, D = {D:g}; "
           f"{streams} streams x {n} elements; one thread)", rows, fig)


def network_passes(net, repeat: int = 2) -> tuple[float, float]:
    """Seconds of one digits MLP pass with every product timed and of the untimed gate-level pass (best of
    `repeat`, each after a warm-up call)."""
    from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

    ds = digits()
    model, _ = trained_model(ModelConfig(dataset="digits", hidden=(64,)))
    engine = IntegerEngine(export(model, ds.x_train), Multiplier("gates", net, sparse=False))
    timed = TimingPlan(0.8, sigma=0.05, seed=1)
    flips = GateFaults(1e-3, seed=1)
    return (best_of(lambda: engine.run(ds.x_test, faults=timed, measure_error=True), repeat),
            best_of(lambda: engine.run(ds.x_test, faults=flips, measure_error=True), repeat))


if __name__ == "__main__":
    main("--quick" in sys.argv)
