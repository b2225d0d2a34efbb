"""A classifier compiled to gates, beside its software model, and what every compiler shares.

Every compiled classifier has one input bus per feature, `x0`, `x1`, ... of `bits` bits each (unsigned, bit 0
first), holding the feature quantized as the networks quantize their inputs: q = round(x * (2^bits - 1)) for
x in [0, 1] (`quantize`, networks.kernels.quantize_inputs); and one output bus `class`, the predicted label
(ceil(log2 n_classes) bits). `CompiledClassifier.classify(x, faults=...)` runs the netlist on float inputs;
`predict(x)` runs its software model. Both give identical labels at zero noise (tests/test_compile.py checks the
whole digits test set).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from circuits import GateFaults, Netlist, simulate
from circuits.builder import Builder
from networks.errors import NetworkError
from networks.kernels import quantize_inputs


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Inputs in [0, 1] (n, features) -> unsigned `bits`-bit integers round(x * (2^bits - 1)), clipped (int64)."""
    return quantize_inputs(np.asarray(x, np.float64).reshape(len(x), -1), bits)


@dataclass(frozen=True)
class CompiledClassifier:
    """A classifier as a netlist beside its software model. model_predict maps quantized inputs (n, features)
    to labels exactly as the netlist should."""

    netlist: Netlist
    bits: int
    n_features: int
    model_predict: Callable[[np.ndarray], np.ndarray]

    def operands(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """{x0: ..., x1: ...}: the input buses for float inputs in [0, 1]."""
        q = quantize(x, self.bits)
        if q.shape[1] != self.n_features:
            raise NetworkError(f"{self.netlist.name}: inputs have {q.shape[1]} features, the netlist takes "
                               f"{self.n_features}")
        return {f"x{f}": q[:, f] for f in range(self.n_features)}

    def classify(self, x: np.ndarray, faults: GateFaults | None = None, engine: str = "auto") -> np.ndarray:
        """Labels computed by the netlist (gate faults optional) for float inputs in [0, 1]."""
        return simulate(self.netlist, self.operands(x), faults=faults, engine=engine)["class"]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels of the software model for float inputs in [0, 1]."""
        return np.asarray(self.model_predict(quantize(x, self.bits)), np.int64)


def feature_inputs(b: Builder, n_features: int, bits: int) -> list[list[int]]:
    return [b.input(f"x{f}", bits) for f in range(n_features)]


def check_classes(model, what: str) -> int:
    classes = np.asarray(model.classes_)
    if not np.array_equal(classes, np.arange(len(classes))):
        raise NetworkError(f"{what}: classes must be 0..k-1, got {classes.tolist()}")
    return len(classes)
