"""Netlist classifiers as systems: a circuit that solves a network's task (a decision tree, a forest, a binarized
MLP compiled to gates by networks.compile), scored like a network, by accuracy on the test set, with the same
threshold (1 point under its own noise-free accuracy). Its sites are a circuit's: `gate`, `input` (the feature
bits), `output` (the class word)."""

from __future__ import annotations

import numpy as np

from networks import ModelConfig, export, trained_model
from networks.compilers import (
    CompiledClassifier,
    compile_binarized,
    compile_integer_mlp,
    fit_forest,
    fit_tree,
    train_binarized,
)
from networks.data import Dataset
from testbed.metrics import network_metrics
from testbed.stats import entropy_bits
from testbed.systems import NETWORK_DROP, CircuitSystem


class ClassifierSystem(CircuitSystem):
    """A compiled classifier on a data set's test inputs (features quantized as compiled.bits-bit words)."""

    world, site_world, metric, is_reference = "classifier", "circuit", "accuracy", False
    metric_counts = {"accuracy": "correct", "agreement": "agree"}

    def __init__(self, compiled: CompiledClassifier, dataset: Dataset, name: str, kind: str,
                 hardening: dict | None = None):
        super().__init__(compiled.netlist, compiled.operands(dataset.x_test), name=name, hardening=hardening)
        self.compiled, self.dataset, self.kind = compiled, dataset, kind
        self.labels = np.asarray(dataset.y_test, np.int64)
        self.clean_accuracy = float(np.mean(self.golden == self.labels))
        self.required_rate_bits = entropy_bits(np.bincount(self.labels))

    @property
    def threshold(self) -> float:
        return self.clean_accuracy - NETWORK_DROP

    def metric_reference(self, metric: str) -> float:
        return self.clean_accuracy if metric == "accuracy" else 1.0

    def _row(self, noisy: np.ndarray) -> dict:
        k = self.dataset.n_classes
        pred = np.clip(noisy, 0, k - 1)  # a class word beyond the last class is a wrong answer
        wrong_word = noisy != pred
        was_right, now_right = self.golden == self.labels, (pred == self.labels) & ~wrong_word
        confusion = np.bincount(self.labels * k + pred, minlength=k * k).reshape(k, k)
        err = (noisy - self.golden).astype(np.float64)
        return {"n": int(self.n), "correct": int(np.count_nonzero(now_right)),
                "lost": int(np.count_nonzero(was_right & ~now_right)),
                "gained": int(np.count_nonzero(~was_right & now_right)),
                "agree": int(np.count_nonzero(noisy == self.golden)), "confusion": confusion.tolist(),
                "signal_power": float(np.square(self.golden, dtype=np.float64).sum()),
                "error_power": float(np.square(err).sum())}

    def pool(self, rows, noise, confidence):
        return network_metrics(rows, not noise.transient, confidence)

    def curve_point(self, p):
        return {"surviving_bits": p["mi_bits"], "mi_plugin_bits": p["mi_plugin_bits"],
                "agreement": p["agreement"][0], "confusion": p["confusion"]}

    def summary_fields(self):
        return {"clean_accuracy": self.clean_accuracy}

    def detail(self) -> dict:
        net = self.netlist
        return {"world": self.world, "classifier": self.kind, "dataset": self.dataset.name,
                "test_inputs": int(self.n), "gates": net.n_gates, "depth": net.depth(),
                "input_bits": self.compiled.bits, "features": self.compiled.n_features,
                "clean_accuracy": self.clean_accuracy, "label_entropy_bits": self.required_rate_bits,
                "engine_noise_free": self.engine_used,
                "hardening": self.hardening}


def _integer_mlp(ds: Dataset, spec) -> CompiledClassifier:
    """The integer MLP itself as one netlist: the trained float MLP of `hidden` (the same cached model the
    network systems use), exported at `bits` bits for weights and activations, compiled with constant weights."""
    model, _ = trained_model(ModelConfig(dataset=ds.name, hidden=spec.hidden, seed=spec.seed), progress=False)
    return compile_integer_mlp(export(model, ds.x_train, act_bits=spec.bits, weight_bits=spec.bits))


def _bnn(ds: Dataset, spec) -> CompiledClassifier:
    _, model = train_binarized(ds.x_train, ds.y_train, spec.hidden, spec.bits, spec.epochs, spec.seed)
    return compile_binarized(model)


# model name -> builder(dataset, spec) of a compiled classifier trained on the data set's training inputs
CLASSIFIERS = {
    "tree": lambda ds, spec: fit_tree(ds.x_train, ds.y_train, spec.bits, spec.seed, max_depth=spec.max_depth),
    "forest": lambda ds, spec: fit_forest(ds.x_train, ds.y_train, spec.bits, spec.n_trees, spec.seed,
                                          max_depth=spec.max_depth),
    "bnn": _bnn,
    "imlp": _integer_mlp,
}
SUMMARIES = {
    "tree": "decision tree on quantized features, compiled to gates; bits, max_depth",
    "forest": "random forest (hard vote) compiled to gates; bits, n_trees, max_depth",
    "bnn": "binarized MLP (XNOR, popcount, thresholds, argmax) compiled to gates; bits (1..4), hidden, epochs",
    "imlp": "the integer MLP as one netlist (constant-weight adder trees, requantization, ReLU, argmax); bits, hidden",
}
