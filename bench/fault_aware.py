"""Fault-aware training of the flagship MLP population (digits 64-64-10, 8-bit, seeds 0-4): wall time on two
worker processes, clean accuracy against plain training, and disagreement with the own noise-free prediction
under gate flips in every multiply (the 8x8 array multiplier at gate level).

python -m bench.fault_aware [LEVEL] [EPOCHS] [SPREAD] [--fresh]   (train_noise level, default 3e-4; fine-tune
epochs, default 200; spread in decades, default 0; --fresh: train the fault-aware members without the model
cache, to time them)

The plain float members it starts from are the flagship's (cached, trained before the clock starts); without
--fresh a cached fault-aware member takes no time. Times: wall time of the population on two worker processes and
each member's CPU time. Disagreement: mean over 8 fault
draws of the 540 test inputs at each level.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import circuits
from bench.common import report
from circuits import GateFaults
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model

SEEDS = (0, 1, 2, 3, 4)
LEVELS = (1e-5, 3e-5, 1e-4)


def recipe(seed: int, level: float | None, epochs: int = 200, spread: float = 0.0) -> ModelConfig:
    if level is None:
        return ModelConfig(hidden=(64,), seed=seed)
    return ModelConfig(hidden=(64,), seed=seed, training="fault-aware", train_noise={"level": level, "spread": spread},
                       finetune_epochs=epochs)


def _train(args) -> tuple[float, float]:
    *config, fresh = args
    t0, c0 = time.perf_counter(), time.process_time()
    trained_model(recipe(*config), progress=False, cache=not fresh)
    return time.perf_counter() - t0, time.process_time() - c0


def evaluate(config: ModelConfig) -> tuple[float, list[float]]:
    """(clean accuracy of the integer model on gates, disagreement at each of LEVELS)."""
    ds = digits()
    engine = IntegerEngine(export(trained_model(config, progress=False)[0], ds.x_train),
                           Multiplier("gates", circuits.multiplier(8)))
    clean = engine.run(ds.x_test).predictions
    dis = [float(np.mean([np.mean(engine.run(ds.x_test, faults=GateFaults(p, seed=100 + r)).predictions != clean)
                          for r in range(8)])) for p in LEVELS]
    return float(np.mean(clean == ds.y_test)), dis


def main(level: float = 3e-4, epochs: int = 200, spread: float = 0.0, fresh: bool = False) -> dict:
    for seed in SEEDS:  # the plain members first (cached by the flagship suite)
        trained_model(recipe(seed, None), progress=False)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        times = list(pool.map(_train, [(s, level, epochs, spread, fresh) for s in SEEDS]))
    wall = time.perf_counter() - t0
    load = max(load, os.getloadavg()[0])
    rows = [("population wall time, 2 processes", wall, "s"),
            ("CPU time per member, mean", float(np.mean([t[1] for t in times])), "s"),
            ("load average (1 min, max of start and end)", load)]
    fig = {"wall_s": round(wall, 1), "member_wall_s": [round(t[0], 1) for t in times],
           "member_cpu_s": [round(t[1], 1) for t in times], "load": round(load, 1)}
    for name, lv in (("plain", None), ("fault-aware", level)):
        results = [evaluate(recipe(s, lv, epochs, spread)) for s in SEEDS]
        acc = [r[0] for r in results]
        rows.append((f"{name}: clean accuracy, mean of members", 100 * float(np.mean(acc)), "%"))
        for j, p in enumerate(LEVELS):
            rows.append((f"{name}: disagreement at p = {p:g} per gate, mean", 100 * float(np.mean(
                [r[1][j] for r in results])), "%"))
        fig[name] = {"accuracy": [round(a, 4) for a in acc], "disagreement": [[round(d, 4) for d in r[1]]
                                                                             for r in results]}
    report(f"fault-aware training, level {level:g} (spread {spread:g} decades), {epochs} fine-tune epochs", rows, fig)
    return fig


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--fresh"]
    main(*(int(a) if i == 1 else float(a) for i, a in enumerate(args)), fresh="--fresh" in sys.argv)
