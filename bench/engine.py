"""Integer engine speed on the digits test set: exact vs lut vs gate-level multiplier, one core.

python -m bench.engine
"""

from __future__ import annotations

import numpy as np

import circuits as c
from bench.common import best_of, report
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model


def main() -> dict:
    ds = digits()
    net = c.multiplier(8)
    rows, fig = [], {}
    products = len(ds.x_test) * (64 * 64 + 64 * 10)
    for seed in (0, 1, 2):
        model, _ = trained_model(ModelConfig(seed=seed), progress=False)
        imodel = export(model, ds.x_train)
        exact = IntegerEngine(imodel)
        lut = IntegerEngine(imodel, Multiplier("lut", net))
        gates = IntegerEngine(imodel, Multiplier("gates", net))
        t_exact = best_of(lambda e=exact: e.run(ds.x_test))
        t_lut = best_of(lambda e=lut: e.run(ds.x_test))
        t_gates = best_of(lambda e=gates: e.run(ds.x_test, faults=c.GateFaults(1e-3, seed=5)), 3)
        acc = np.mean(exact.run(ds.x_test).predictions == ds.y_test)
        rows += [(f"seed {seed}: exact pass ({products:,} products)", t_exact * 1e3, f"ms, accuracy {100 * acc:.2f}%"),
                 (f"seed {seed}: lut pass / exact", t_lut / t_exact, "ratio (target <= 5)"),
                 (f"seed {seed}: gates pass, flips p=1e-3", t_gates, "s (target < 0.25)")]
        fig[f"seed{seed}"] = {"exact_ms": t_exact * 1e3, "lut_over_exact": t_lut / t_exact, "gates_flip_s": t_gates}
    report("bench.engine (digits test set, 540 inputs, one core)", rows, fig)
    return fig


if __name__ == "__main__":
    main()
