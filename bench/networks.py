"""Integer engine speed against torch, on the digits MLP and a built-in 2-D CNN, one thread.

Ratios printed side by side: exact integer pass / torch fp32 forward of the same model (target <= 2), lut pass /
exact pass (target <= 3), gate-level pass with flips p = 1e-3 in products/s / the simulator's own flip-kernel
vectors/s on the same netlist (target >= 0.5). Targets are reported, not enforced.

python -m bench.networks
"""

from __future__ import annotations

import numpy as np
import torch

import circuits as c
from bench.common import best_of, report
from circuits import kernels
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

MODELS = {"mlp 64-64-10": ModelConfig(), "cnn2d 8-16": ModelConfig(arch="cnn2d", hidden=(8, 16), epochs=40),
          "rescnn 8": ModelConfig(arch="rescnn", hidden=(8,), epochs=40)}


def products_per_pass(engine: IntegerEngine, x: np.ndarray) -> int:
    """Multiplies in one pass over x (counted from the recorded operand pairs)."""
    return int(engine.run(x, record=True).operands.sum())


def flip_kernel_rate(net, p: float) -> float:
    """The simulator's own vectors/s with flips p on random operands (2^20 vectors, compiled kernel)."""
    planes = np.random.default_rng(0).integers(0, 2 ** 63, (net.n_input_bits, (1 << 20) // 64), dtype=np.uint64)
    out = np.empty((sum(net.output_widths.values()), planes.shape[1]), np.uint64)
    kernels.straight_line(net)
    t = best_of(lambda: c.simulate_planes(net, planes, faults=c.GateFaults(p, seed=1), engine="compiled", out=out))
    return planes.shape[1] * 64 / t


def main() -> dict:
    torch.set_num_threads(1)
    ds = digits()
    net = c.multiplier(8)
    kernel_rate = flip_kernel_rate(net, 1e-3)
    rows = [(f"simulator flip kernel, {net.name}, p=1e-3", kernel_rate, "vectors/s")]
    fig: dict = {"flip_kernel_vps": kernel_rate}
    x = torch.as_tensor(ds.x_test)
    for label, config in MODELS.items():
        model, _ = trained_model(config, progress=False)
        model.eval()
        imodel = export(model, ds.x_train)
        exact = IntegerEngine(imodel)
        lut = IntegerEngine(imodel, Multiplier("lut", net))
        gates = IntegerEngine(imodel, Multiplier("gates", net))
        n_products = products_per_pass(exact, ds.x_test)
        with torch.no_grad():
            t_torch = best_of(lambda m=model: m(x), 20)
        t_exact = best_of(lambda e=exact: e.run(ds.x_test), 20)
        t_lut = best_of(lambda e=lut: e.run(ds.x_test))
        t_gates = best_of(lambda e=gates: e.run(ds.x_test, faults=c.GateFaults(1e-3, seed=5)), 2)
        gate_rate = n_products / t_gates
        rows += [(f"{label}: products per pass", n_products, ""),
                 (f"{label}: torch fp32 forward", t_torch * 1e3, "ms"),
                 (f"{label}: exact pass / torch", t_exact / t_torch,
                  f"ratio (target <= 2), exact {t_exact * 1e3:.3g} ms"),
                 (f"{label}: lut pass / exact", t_lut / t_exact, f"ratio (target <= 3), lut {t_lut * 1e3:.3g} ms"),
                 (f"{label}: gates p=1e-3 products/s / kernel", gate_rate / kernel_rate,
                  f"ratio (target >= 0.5), {gate_rate:.3g} products/s, {t_gates:.3g} s")]
        fig[label] = {"products": n_products, "torch_ms": t_torch * 1e3, "exact_ms": t_exact * 1e3,
                      "lut_ms": t_lut * 1e3, "gates_s": t_gates, "exact_over_torch": t_exact / t_torch,
                      "lut_over_exact": t_lut / t_exact, "gates_products_per_s": gate_rate,
                      "gates_over_kernel": gate_rate / kernel_rate}
    report("bench.networks (digits test set, 540 inputs, one thread)", rows, fig)
    return fig


if __name__ == "__main__":
    main()
