"""Word-site bit flips at p = 1e-3 against a clean exact pass: ResNet-20 on 32x32x3 (bench.resnet's model and
images) and the flagship digits MLP, flips on the integer weights, the layer inputs (activations) or the
accumulators of every layer (testbed.noise.bitflip, realised by apply_words: flip positions drawn, applied in
place), each timed beside the clean exact pass in one run, one thread; target (issue 23): <= 1.2x the clean pass.

python -m bench.words [--images N]   (ResNet images, default 16)
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from bench.common import best_of, report
from bench.resnet import model_and_images
from networks import IntegerEngine, ModelConfig, digits, export, trained_model
from testbed.noise import apply_words, bitflip

P = 1e-3
TARGET = 1.2
SITES = ("weight", "activation", "accumulator")


def _flips(p: float):
    noise = bitflip(p)
    return lambda values, bits, signed, rng: apply_words(noise, values, bits, signed, rng)


def main(n_images: int = 16) -> dict:
    torch.set_num_threads(1)
    _, resnet, x_img = model_and_images(n_images)
    model, _ = trained_model(ModelConfig(), progress=False)
    ds = digits()
    nets = {"resnet20": (IntegerEngine(resnet), x_img), "mlp": (IntegerEngine(export(model, ds.x_train)), ds.x_test)}
    fig: dict = {"p": P, "load_average_1min": os.getloadavg()[0]}
    rows = []
    for name, (engine, x) in nets.items():
        clean = best_of(lambda e=engine, x=x: e.run(x), 5)
        rows.append((f"{name}: clean exact pass ({len(x)} inputs)", clean * 1e3, "ms"))
        fig[f"{name}_clean_ms"] = clean * 1e3
        for site in SITES:
            noise = {site: _flips(P)}
            t = best_of(lambda e=engine, x=x, n=noise: e.run(x, noise=n, rng=np.random.default_rng(1)), 5)
            ratio = t / clean
            fig[f"{name}_{site}_over_clean"] = ratio
            fig[f"{name}_{site}_target_met"] = bool(ratio <= TARGET)
            rows.append((f"{name}: bit flips p={P:g} at {site} / clean", ratio,
                         f"target <= {TARGET:g}: {'met' if ratio <= TARGET else 'MISSED'}"))
    rows.append(("load average (1 min) at the end", os.getloadavg()[0], "(2 cores shared)"))
    report("bench.words (word-site bit flips, one thread)", rows, fig)
    return fig


if __name__ == "__main__":
    main(int(sys.argv[sys.argv.index("--images") + 1]) if "--images" in sys.argv else 16)
