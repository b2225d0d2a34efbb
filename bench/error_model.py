"""Which conditioning an error model of the 8x8 array multiplier needs (hardware.error_model), under gate flips.

python -m bench.error_model [LEVEL]   (default 1e-4; the model: 4,096 trials per operand pair, K = 64, cached)

For each operand stream (uniform pairs; the pairs the flagship MLP's seed-0 member multiplies on the digits test
set) and each conditioning (the exact pair, bins of the operands' bit lengths, none), the model's error power,
wrong-product rate and 16 per-bit rates against gate-level simulation of 2^22 products: |z| of each difference
over its combined Monte-Carlo standard error (the simulation's, and the model's build error). Then the
per-bit-independent sampler against the per-pair error values, and the first-order level scaling (rate_at).
"""

from __future__ import annotations

import sys

import numpy as np

import circuits
from bench.common import report
from hardware.error_model import CONDITIONINGS, coarsen, error_model, fidelity, stream
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

N = 1 << 22


def main(level: float = 1e-4) -> dict:
    net = circuits.multiplier(8)
    model = error_model(net, "bitflip", level, trials=4096, k=64)
    ds = digits()
    engine = IntegerEngine(export(trained_model(ModelConfig(hidden=(64,)), progress=False)[0], ds.x_train),
                           Multiplier("exact"))
    streams = {"uniform": np.ones((256, 256)), "mlp8": engine.run(ds.x_test, record=True).operands}
    rows, fig = [], {}
    for sname, hist in streams.items():
        for cond in CONDITIONINGS:
            stats = fidelity(model if cond == "pair" else coarsen(model, cond), net, hist, n=N, seed=9)
            bits = max(s.z for s in stats[2:])
            rows.append((f"{sname}, {cond}: |z| power / wrong rate / worst bit", f"{stats[0].z:.1f} / "
                         f"{stats[1].z:.1f} / {bits:.1f}"))
            fig[f"{sname}_{cond}"] = {"power": [stats[0].gate, stats[0].model], "z_power": round(stats[0].z, 2),
                                      "z_wrong": round(stats[1].z, 2), "z_worst_bit": round(bits, 2)}
        rng = np.random.default_rng(3)
        a, b = stream(hist, N, rng)
        values, bits = model.sample(a, b, rng).astype(float), model.sample_bits(a, b, rng).astype(float)
        rows.append((f"{sname}: error power, pair values / independent bits", f"{np.mean(values ** 2):.4g} / "
                     f"{np.mean(bits ** 2):.4g}"))
        rows.append((f"{sname}: wrong rate, pair values / independent bits", f"{np.mean(values != 0):.4g} / "
                     f"{np.mean(bits != 0):.4g}"))
        fig[f"{sname}_independent_bits"] = {"power": [np.mean(values ** 2), np.mean(bits ** 2)],
                                            "wrong": [np.mean(values != 0), np.mean(bits != 0)]}
    for q in (level * 0.3, level * 3):
        stats = fidelity(model, net, streams["mlp8"], n=N, seed=10, level=q)
        rows.append((f"rate_at({q:g}) on mlp8: |z| power / wrong rate / worst bit",
                     f"{stats[0].z:.1f} / {stats[1].z:.1f} / {max(s.z for s in stats[2:]):.1f}"))
        fig[f"rate_at_{q:g}"] = [round(stats[0].z, 2), round(stats[1].z, 2), round(max(s.z for s in stats[2:]), 2)]
    report(f"error model conditioning, 8x8 array multiplier, gate flips p = {level:g}", rows, fig)
    return fig


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:]))
