"""The flagship comparison in-process: its time, the share spent simulating, and tensor-site noise cost.

python -m bench.comparator
An 8x8 array multiplier and the digits MLP 64-64-10 (8 bits) running on it: bitflip at gate / mac-gate
(16 levels), bitflip at output / product and additive at output / product, 5 seeds (trials) per level.
"""

from __future__ import annotations

import time

import numpy as np

import circuits
from bench.common import best_of, report
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model
from testbed import systems as systems_module
from testbed.compare import compare
from testbed.noise import additive, bitflip


def main() -> dict:
    ds = digits()
    model, _ = trained_model(ModelConfig(), progress=False)  # cached after the first run
    imodel = export(model, ds.x_train)
    mul = circuits.multiplier(8)
    circuit = systems_module.CircuitSystem(mul)
    network = systems_module.NetworkSystem(IntegerEngine(imodel, Multiplier("gates", mul)), ds, "mlp8")
    spent = {"simulation": 0.0}
    for cls in (systems_module.CircuitSystem, systems_module.NetworkSystem):
        original = cls.trial

        def timed(self, *a, _original=original, **k):
            t0 = time.perf_counter()
            try:
                return _original(self, *a, **k)
            finally:
                spent["simulation"] += time.perf_counter() - t0
        cls.trial = timed
    options = {"min_trials": 5, "max_trials": 5, "refine": 3}
    t0 = time.perf_counter()
    runs = [
        compare([circuit, network], bitflip(0), np.logspace(-9, -1, 16), **options),
        compare([(circuit, "output"), (network, "product")], bitflip(0), np.logspace(-9, -1, 16), **options),
        compare([(circuit, "output"), (network, "product")], additive(0), np.linspace(0, 24, 16), **options),
    ]
    total = time.perf_counter() - t0
    rows = [("flagship comparison (3 noise pairings, 16 levels, 5 seeds)", total, "s (target < 120)"),
            ("share in system trials (simulation, engine passes)", spent["simulation"] / total, "fraction"),
            ("per-operation gap, gate flips", runs[0].gap("mlp8@mac-gate", f"{mul.name}@gate").value, "decades"),
            ("gap, additive at the result word", runs[2].gap("mlp8@product", f"{mul.name}@output").value, "bits")]
    fig = {"comparison_s": total, "simulation_share": spent["simulation"] / total}
    engine = IntegerEngine(imodel)  # exact multiplier: the cheapest clean pass, the strictest ratio
    rng = np.random.default_rng(0)
    clean = best_of(lambda: engine.run(ds.x_test), 20)
    for site in ("weight", "activation", "accumulator"):
        hook = {site: bitflip(1e-3).plan(site)}
        noisy = best_of(lambda hook=hook: engine.run(ds.x_test, noise=hook, rng=rng), 20)
        rows.append((f"bitflip p=1e-3 at {site}: pass time / clean pass", noisy / clean, "ratio (target <= 1.2)"))
        fig[f"noise_ratio_{site}"] = noisy / clean
    rows.append(("clean integer pass (exact multiplier, 540 inputs)", clean * 1e3, "ms"))
    report("bench.comparator (one process)", rows, fig)
    return fig


if __name__ == "__main__":
    main()
