"""Netlist classifiers as systems: a circuit that solves a network's task (a decision tree, a forest, a binarized
MLP, the integer MLP compiled to gates by networks.compile), one registered class per classifier with its own
hyperparameters, scored like a network and a circuit: it breaks down when its predicted class differs from its own
noise-free one in 1% of test inputs (the net accuracy drop of 1 point is a secondary task metric). Its sites are
a circuit's: `gate`, `input` (the feature
bits), `output` (the class word)."""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, get_args, get_type_hints

import numpy as np

from networks import ModelConfig, export, trained_model
from networks.compilers import (
    CompiledClassifier,
    compile_binarized,
    compile_integer_mlp,
    fit_forest,
    fit_tree,
    trained_binarized,
)
from networks.data import Dataset
from testbed.metrics import energy_point, network_metrics
from testbed.stats import entropy_bits
from testbed.systems import AGREEMENT, NETWORK_DROP, CircuitSystem


class ClassifierSystem(CircuitSystem):
    """A compiled classifier on a data set's test inputs (features quantized as compiled.bits-bit words)."""

    world, site_world, metric, is_reference = "classifier", "circuit", "agreement", False
    metric_counts = {"accuracy": "correct", "agreement": "agree"}
    threshold = AGREEMENT

    def __init__(self, compiled: CompiledClassifier, dataset: Dataset, name: str, kind: str,
                 hardening: dict | None = None):
        super().__init__(compiled.netlist, compiled.operands(dataset.x_test), name=name, hardening=hardening)
        self.compiled, self.dataset, self.kind = compiled, dataset, kind
        self.labels = np.asarray(dataset.y_test, np.int64)
        self.clean_accuracy = float(np.mean(self.golden == self.labels))
        self.required_rate_bits = entropy_bits(np.bincount(self.labels))

    @property
    def secondary(self) -> dict:
        return {"net accuracy drop": ("accuracy", self.clean_accuracy - NETWORK_DROP)}

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
                "agreement": p["agreement"][0], "confusion": p["confusion"], **energy_point(p)}

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


class Classifier:
    """A model compiled to gates, one subclass per model: its hyperparameters are the fields of a frozen
    dataclass (each a suite key, with its default), `ranges` bounds the integer ones ((key, lo, hi), ...),
    `compile(dataset)` trains it on the data set's training inputs and returns the CompiledClassifier. A
    subclass with a `model` name registers itself in CLASSIFIERS when it is defined."""

    model: ClassVar[str] = ""  # the suite's `model = "..."`
    summary: ClassVar[str] = ""  # its line in `testbed list`
    ranges: ClassVar[tuple] = (("bits", 1, 8),)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model:
            if cls.compile is Classifier.compile or not cls.summary:
                raise TypeError(f"classifier {cls.__name__}: needs a summary and compile()")
            CLASSIFIERS[cls.model] = cls

    def compile(self, ds: Dataset) -> CompiledClassifier:
        raise NotImplementedError

    @classmethod
    def keys(cls) -> dict:
        """Its suite keys -> TOML type (a tuple field is a TOML list)."""
        hints = get_type_hints(cls)
        return {f.name: _toml_type(hints[f.name]) for f in dataclasses.fields(cls)}


def _toml_type(hint):
    if hint is tuple:
        return list
    return next(t for t in get_args(hint) if t is not type(None)) if get_args(hint) else hint


CLASSIFIERS: dict[str, type[Classifier]] = {}  # model name -> class, in registration order


@dataclass(frozen=True)
class Tree(Classifier):
    model: ClassVar[str] = "tree"
    summary: ClassVar[str] = "decision tree on quantized features, compiled to gates; bits, max_depth"
    ranges: ClassVar[tuple] = (("bits", 1, 8), ("max_depth", 1, 64))
    bits: int = 4
    max_depth: int | None = None
    seed: int = 0

    def compile(self, ds):
        return fit_tree(ds.x_train, ds.y_train, self.bits, self.seed, max_depth=self.max_depth)


@dataclass(frozen=True)
class Forest(Classifier):
    model: ClassVar[str] = "forest"
    summary: ClassVar[str] = "random forest (hard vote) compiled to gates; bits, n_trees, max_depth"
    ranges: ClassVar[tuple] = (("bits", 1, 8), ("max_depth", 1, 64), ("n_trees", 1, 200))
    bits: int = 4
    n_trees: int = 10
    max_depth: int | None = None
    seed: int = 0

    def compile(self, ds):
        return fit_forest(ds.x_train, ds.y_train, self.bits, self.n_trees, self.seed, max_depth=self.max_depth)


@dataclass(frozen=True)
class BinarizedMLP(Classifier):
    model: ClassVar[str] = "bnn"
    summary: ClassVar[str] = ("binarized MLP (XNOR, popcount, thresholds, argmax) compiled to gates; bits (1..4), "
                              "hidden, epochs")
    ranges: ClassVar[tuple] = (("bits", 1, 8), ("epochs", 1, 10_000))
    bits: int = 4
    hidden: tuple = (128,)
    epochs: int = 60
    seed: int = 0

    def compile(self, ds):
        return compile_binarized(trained_binarized(ds, self.hidden, self.bits, self.epochs, self.seed))


@dataclass(frozen=True)
class IntegerMLP(Classifier):
    """The integer MLP itself as one netlist: the trained float MLP of `hidden` (the same cached model the network
    systems use), exported at `bits` bits for weights and activations, compiled with constant weights."""

    model: ClassVar[str] = "imlp"
    summary: ClassVar[str] = ("the integer MLP as one netlist (constant-weight adder trees, requantization, ReLU, "
                              "argmax); bits, hidden")
    bits: int = 4
    hidden: tuple = (128,)
    seed: int = 0

    def compile(self, ds):
        model, _ = trained_model(ModelConfig(dataset=ds.name, hidden=self.hidden, seed=self.seed), progress=False)
        return compile_integer_mlp(export(model, ds.x_train, act_bits=self.bits, weight_bits=self.bits))
