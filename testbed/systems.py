"""Systems under test: a circuit or a network, each with a golden (noise-free) output and task metrics.

`system.trial(noise, site, seed)` runs one trial and returns a row of counts and measurements; the
comparator pools rows over trials. Circuit rows: exact outputs, bit errors per output bit, MRED, output
SNR, the error SNR at the site and the surviving information. Network rows: correct and agreeing
predictions, the confusion matrix, the error SNR at the site, and (per-task framing) how many inputs
had every product exact, i.e. an exact digital computation of the same operations would be right.
"""

from __future__ import annotations

import numpy as np

from circuits import Netlist, simulate_planes
from circuits.simulate import index_operands, pack_operands, to_signed, unpack_outputs
from networks import IntegerEngine
from networks.data import Dataset
from testbed.noise import GATE_SITES, NoiseModel, apply_words, check_site, engine_hook
from testbed.stats import entropy_bits

OPERAND_KINDS = ("exhaustive", "random", "recorded")


class CircuitSystem:
    """A netlist with its operand set. operands: 'exhaustive' (every input combination), 'random' (n_vectors
    uniform vectors from `seed`) or a (2^wa, 2^wb) histogram of (a, b) pairs recorded from a network
    (n_vectors pairs drawn from it). The golden output is the netlist's own noise-free output."""

    world = "circuit"

    def __init__(self, netlist: Netlist, operands="exhaustive", n_vectors: int = 65536, seed: int = 0,
                 name: str | None = None):
        self.netlist, self.name = netlist, name or netlist.name
        self.operand_kind = operands if isinstance(operands, str) else "recorded"
        if self.operand_kind not in OPERAND_KINDS:
            from testbed.errors import TestbedError
            raise TestbedError(f"circuit {self.name}: operands must be one of {', '.join(OPERAND_KINDS)} "
                               f"or a histogram, got {operands!r}")
        rng = np.random.default_rng(seed)
        if self.operand_kind == "exhaustive":
            ops = index_operands(netlist, np.arange(1 << netlist.n_input_bits, dtype=np.int64))
        else:
            if self.operand_kind == "random":
                ops = {bus: rng.integers(0, 1 << w, n_vectors) for bus, w in netlist.inputs.items()}
            else:  # a (2^wa, 2^wb) histogram of (a, b) bit patterns
                hist = np.asarray(operands, dtype=np.float64)
                flat = rng.choice(hist.size, size=n_vectors, p=hist.reshape(-1) / hist.sum())
                a, b = np.divmod(flat, hist.shape[1])
                ops = {"a": a, "b": b}
            if netlist.signed:
                ops = {bus: to_signed(v, netlist.inputs[bus]) for bus, v in ops.items()}
        self.operands = ops
        self.planes, self.n = pack_operands(netlist, ops)
        self.out_bus, self.width = next(iter(netlist.output_widths.items()))
        self.golden = unpack_outputs(netlist, simulate_planes(netlist, self.planes), self.n)[self.out_bus]
        _, counts = np.unique(self.golden, return_counts=True)
        self.required_rate_bits = entropy_bits(counts)

    def trial(self, noise: NoiseModel, site: str, seed: int) -> dict:
        check_site(noise, site, self.world)
        rng = np.random.default_rng(seed)
        if site == "gate":
            stuck = []
            if noise.kind == "stuck_at" and noise.level > 0:
                gates = rng.choice(self.netlist.n_gates, size=min(int(noise.level), self.netlist.n_gates),
                                   replace=False)
                stuck = [(int(g), int(v)) for g, v in zip(gates, rng.integers(0, 2, len(gates)), strict=True)]
            flip_p = float(noise.level) if noise.kind == "bitflip" else 0.0
            out = simulate_planes(self.netlist, self.planes, flip_p=flip_p, stuck=stuck,
                                  seed=int(rng.integers(0, 2 ** 62)))
            noisy = unpack_outputs(self.netlist, out, self.n)[self.out_bus]
        else:
            noisy = apply_words(noise, self.golden[:, None], self.width, self.netlist.signed, rng)[:, 0]
        return self._row(noisy)

    def _row(self, noisy: np.ndarray) -> dict:
        diff = (noisy.astype(np.int64) ^ self.golden.astype(np.int64)) & ((1 << self.width) - 1)
        bit_err = [int(np.count_nonzero((diff >> k) & 1)) for k in range(self.width)]
        err = (noisy - self.golden).astype(np.float64)
        signal = float(np.square(self.golden, dtype=np.float64).sum())
        return {"n": int(self.n), "correct": int(np.count_nonzero(diff == 0)), "bit_errors": bit_err,
                "rel_error_sum": float((np.abs(err) / np.maximum(1, np.abs(self.golden))).sum()),
                "signal_power": signal, "error_power": float(np.square(err).sum())}


class NetworkSystem:
    """An integer network on a data set's test inputs, with the engine's multiplier (exact, lut, gates)."""

    world = "network"

    def __init__(self, engine: IntegerEngine, dataset: Dataset, name: str = "network"):
        self.engine, self.dataset, self.name = engine, dataset, name
        self.x, self.labels = dataset.x_test, dataset.y_test
        clean = engine.run(self.x, record=True)
        self.golden = clean.predictions
        self.operand_histogram = clean.operands
        self.n = len(self.x)
        self.clean_accuracy = float(np.mean(self.golden == self.labels))
        self.required_rate_bits = entropy_bits(np.bincount(self.labels))

    def trial(self, noise: NoiseModel, site: str, seed: int) -> dict:
        check_site(noise, site, self.world)
        rng = np.random.default_rng(seed)
        kwargs: dict = {"rng": rng, "seed": int(rng.integers(0, 2 ** 31)), "measure_error": True}
        if site in GATE_SITES:
            if noise.kind == "bitflip":
                kwargs["mac_flip_p"] = float(noise.level)
            elif noise.level > 0:
                net = self.engine.multiplier.netlist
                gates = rng.choice(net.n_gates, size=min(int(noise.level), net.n_gates), replace=False)
                kwargs["mac_stuck"] = [(int(g), int(v)) for g, v in
                                       zip(gates, rng.integers(0, 2, len(gates)), strict=True)]
        elif not noise.is_clean:
            kwargs["noise"] = {site: engine_hook(noise, site)}
        result = self.engine.run(self.x, **kwargs)
        pred = result.predictions
        power = result.site_error["product" if site in GATE_SITES else site]
        k = self.dataset.n_classes
        confusion = np.bincount(self.labels * k + pred, minlength=k * k).reshape(k, k)
        was_right = self.golden == self.labels
        now_right = pred == self.labels
        return {"n": int(self.n), "correct": int(np.count_nonzero(now_right)),
                "lost": int(np.count_nonzero(was_right & ~now_right)),
                "gained": int(np.count_nonzero(~was_right & now_right)),
                "agree": int(np.count_nonzero(pred == self.golden)),
                "all_products_exact": int(np.count_nonzero(result.wrong_products == 0)),
                "confusion": confusion.tolist(), "signal_power": power[0], "error_power": power[1]}
