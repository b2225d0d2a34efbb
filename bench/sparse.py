"""Sparse exact fault sampling: the flagship digits MLP's gate-level pass under rare transient flips, the full
path (every product simulated at gate level with flips) beside the sparse path (exact products, only the vectors a
flip touches simulated; bit for bit the same logits, checked here), and the processing element (multiplier and
accumulator adder at gate level) at p = 1e-5 by both paths, each as a ratio to the exact pass, one run, one
process.

Model: ModelConfig() (64-64-10, 8-bit) on the digits test set repeated 4 times (2,160 inputs); multiplier: the
8x8 array multiplier; flips on every multiplier gate; kernels compiled beforehand (untimed warm-up calls).

python -m bench.sparse [--quick]
"""

from __future__ import annotations

import os
import sys

import numpy as np

import circuits as c
from bench.common import best_of, report
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

TARGET = 20.0  # sparse path at p = 1e-5 at least this many times faster than the full path


def main(quick: bool = False) -> dict:
    repeat = 3 if quick else 10
    model, _ = trained_model(ModelConfig(), progress=False)
    ds = digits()
    imodel = export(model, ds.x_train)
    x = np.tile(ds.x_test, (1 if quick else 4, 1))
    mul = c.multiplier(8)
    exact = IntegerEngine(imodel)
    full = IntegerEngine(imodel, Multiplier("gates", mul, sparse=False))
    sparse = IntegerEngine(imodel, Multiplier("gates", mul))
    elements = [IntegerEngine(imodel, Multiplier("pe", mul, imodel.act_bits, 8, acc_bits=imodel.acc_bits,
                                                 sparse=sparse)) for sparse in (False, True)]
    t_exact = best_of(lambda: exact.run(x), repeat)
    rows = [(f"exact pass ({len(x):,} inputs)", t_exact * 1e3, "ms")]
    fig = {"exact_ms": t_exact * 1e3, "load_average_1min": os.getloadavg()[0]}
    for p in (1e-5, 1e-4, 1e-3):
        faults = c.GateFaults(p, seed=5)
        same = np.array_equal(full.run(x, faults=faults).logits, sparse.run(x, faults=faults).logits)
        t_full = best_of(lambda f=faults: full.run(x, faults=f), repeat)
        t_sparse = best_of(lambda f=faults: sparse.run(x, faults=f), repeat)
        rows += [(f"p={p:g}: full path / exact", t_full / t_exact, "ratio"),
                 (f"p={p:g}: sparse path / exact", t_sparse / t_exact, f"ratio (identical logits: {same})"),
                 (f"p={p:g}: full / sparse", t_full / t_sparse,
                  f"speed-up{f' (target >= {TARGET:g})' if p == 1e-5 else ''}")]
        fig[f"p{p:g}"] = {"full_over_exact": t_full / t_exact, "sparse_over_exact": t_sparse / t_exact,
                          "speedup": t_full / t_sparse, "identical": same}
    faults = c.GateFaults(1e-5, seed=5)
    same = np.array_equal(*(e.run(x, faults=faults, fault_part="all").logits for e in elements))
    t_full, t_sparse = (best_of(lambda e=e: e.run(x, faults=faults, fault_part="all"), max(2, repeat // 3))
                        for e in elements)
    rows += [("processing element, p=1e-5 on all its gates: full / exact", t_full / t_exact, "ratio"),
             ("processing element, p=1e-5: sparse / exact", t_sparse / t_exact,
              f"ratio (target <= 5; identical logits: {same})")]
    fig["pe_1e-5"] = {"full_over_exact": t_full / t_exact, "sparse_over_exact": t_sparse / t_exact,
                      "identical": same}
    fig["p1e-05_target_met"] = bool(fig["p1e-05"]["speedup"] >= TARGET)
    fig["pe_1e-5_target_met"] = bool(t_sparse / t_exact <= 5)
    rows.append(("load average (1 min) at the end", os.getloadavg()[0], "(two cores shared)"))
    report("bench.sparse (digits MLP 64-64-10, 8x8 array multiplier, one process)", rows, fig)
    return fig


if __name__ == "__main__":
    main("--quick" in sys.argv)
