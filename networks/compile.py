"""Compilers from trained classifiers to gate netlists (through circuits.Builder and its gate table).

Every compiled classifier has one input bus per feature, `x0`, `x1`, ... of `bits` bits each (unsigned, bit 0
first), holding the feature quantized as the networks quantize their inputs: q = round(x * (2^bits - 1)) for
x in [0, 1] (`quantize`); and one output bus `class`, the predicted label (ceil(log2 n_classes) bits).

- decision tree (scikit-learn): one comparator q_f <= c per distinct (feature, constant) of the internal
  nodes, per leaf the AND of the comparator outcomes along its path, per class the OR of its leaves, then
  the class index (an encoder of the one-hot class lines);
- random forest: each tree's one-hot class lines, per class a popcount of its votes, an argmax (the lowest
  class among equal counts): a hard vote (`forest_predict` is its software model; scikit-learn's own
  `predict` averages leaf probabilities and can differ where leaves are impure);
- binarized MLP (networks.binarized): thermometer bits of the inputs, XNOR with the sign weights (folded
  into wires and inverters), popcount adder trees, threshold comparators (batch norm folded into integer
  thresholds), popcounts of the output layer and an argmax.

`CompiledClassifier.classify(x, faults=...)` runs the netlist on float inputs; `predict(x)` runs its software
model. Both give identical labels at zero noise (tests/test_compile.py checks the whole digits test set).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from circuits import blocks, simulate
from circuits.builder import Builder
from circuits.faults import GateFaults
from circuits.netlist import Netlist
from networks.binarized import BinarizedModel
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


def _feature_inputs(b: Builder, n_features: int, bits: int) -> list[list[int]]:
    return [b.input(f"x{f}", bits) for f in range(n_features)]


def _check_classes(model, what: str) -> int:
    classes = np.asarray(model.classes_)
    if not np.array_equal(classes, np.arange(len(classes))):
        raise NetworkError(f"{what}: classes must be 0..k-1, got {classes.tolist()}")
    return len(classes)


def _tree_class_lines(b: Builder, tree, xs: list[list[int]], n_classes: int, cache: dict) -> list[int]:
    """One line per class, high when the input reaches one of that class's leaves (exactly one is high)."""
    t = tree.tree_
    leaves: list[list[int]] = [[] for _ in range(n_classes)]
    stack = [(0, Builder.ONE)]
    while stack:
        node, path = stack.pop()
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left < 0:
            leaves[int(np.argmax(t.value[node][0]))].append(path)
            continue
        key = (int(t.feature[node]), int(np.floor(t.threshold[node])))  # integer q <= t  <=>  q <= floor(t)
        if key not in cache:
            cache[key] = blocks.le_const(b, xs[key[0]], key[1])
        cmp = cache[key]
        stack.append((right, b.gate("ANDNOT", path, cmp)))
        stack.append((left, b.gate("AND", path, cmp)))
    return [blocks.reduce_tree(b, "OR", lines, Builder.ZERO) for lines in leaves]


def compile_tree(tree, n_features: int, bits: int, name: str = "tree") -> CompiledClassifier:
    """A fitted DecisionTreeClassifier (trained on `quantize(x, bits)`) as a netlist."""
    n_classes = _check_classes(tree, name)
    b = Builder(name)
    xs = _feature_inputs(b, n_features, bits)
    b.output("class", blocks.encode(b, _tree_class_lines(b, tree, xs, n_classes, {})))
    return CompiledClassifier(b.build(), bits, n_features, tree.predict)


def forest_predict(forest, q: np.ndarray) -> np.ndarray:
    """Hard vote of the forest's trees on quantized inputs: the class most trees predict, the lowest on ties."""
    n_classes = len(forest.classes_)
    votes = np.zeros((len(q), n_classes), np.int64)
    for tree in forest.estimators_:
        votes[np.arange(len(q)), tree.predict(q).astype(np.int64)] += 1
    return np.argmax(votes, axis=1)


def compile_forest(forest, n_features: int, bits: int, name: str = "forest") -> CompiledClassifier:
    """A fitted RandomForestClassifier (trained on `quantize(x, bits)`) as a hard-vote netlist: the trees share
    their comparators, each class's votes are counted by a popcount, an argmax picks the class."""
    n_classes = _check_classes(forest, name)
    b = Builder(name)
    xs = _feature_inputs(b, n_features, bits)
    cache: dict = {}
    lines = [_tree_class_lines(b, tree, xs, n_classes, cache) for tree in forest.estimators_]
    counts = [blocks.popcount(b, [tree_lines[k] for tree_lines in lines]) for k in range(n_classes)]
    b.output("class", blocks.argmax(b, counts))
    return CompiledClassifier(b.build(), bits, n_features, lambda q: forest_predict(forest, q))


def compile_binarized(model: BinarizedModel, name: str = "bnn") -> CompiledClassifier:
    """A binarized MLP (networks.binarized.BinarizedModel) as a netlist: thermometer comparators, XNOR with
    constant weights (wires or shared inverters), popcounts, threshold comparators, output popcounts, argmax."""
    b = Builder(name)
    xs = _feature_inputs(b, model.n_features, model.bits)
    bits = [blocks.ge_const(b, x, k) for x in xs for k in range(1, model.levels + 1)]
    for layer in model.hidden:
        inverted: dict[int, int] = {}

        def literal(net: int, weight: bool, inverted=inverted) -> int:  # XNOR(net, weight) with weight constant
            if weight:
                return net
            if net not in inverted:
                inverted[net] = b.gate("NOT", net)
            return inverted[net]

        nxt = []
        for w, t, up in zip(layer.weights, layer.thresholds, layer.up, strict=True):
            count = blocks.popcount(b, [literal(n, bool(wi)) for n, wi in zip(bits, w, strict=True)])
            nxt.append(blocks.ge_const(b, count, int(t)) if up else blocks.le_const(b, count, int(t)))
        bits = nxt
    scores = [blocks.popcount(b, [n if wi else b.gate("NOT", n) for n, wi in zip(bits, w, strict=True)])
              for w in model.out_weights]
    b.output("class", blocks.argmax(b, scores))
    return CompiledClassifier(b.build(), model.bits, model.n_features, model.predict)


def fit_tree(x: np.ndarray, y: np.ndarray, bits: int = 4, seed: int = 0, **params) -> CompiledClassifier:
    """Fit a DecisionTreeClassifier on quantized inputs and compile it (params go to scikit-learn)."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(random_state=seed, **params).fit(quantize(x, bits), y)
    return compile_tree(tree, quantize(x[:1], bits).shape[1], bits)


def fit_forest(x: np.ndarray, y: np.ndarray, bits: int = 4, n_trees: int = 10, seed: int = 0,
               **params) -> CompiledClassifier:
    """Fit a RandomForestClassifier of n_trees on quantized inputs and compile it (params go to scikit-learn)."""
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=n_trees, random_state=seed, **params).fit(quantize(x, bits), y)
    return compile_forest(forest, quantize(x[:1], bits).shape[1], bits)
