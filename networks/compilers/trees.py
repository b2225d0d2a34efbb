"""Decision trees and random forests (scikit-learn) compiled to gates.

- decision tree: one comparator q_f <= c per distinct (feature, constant) of the internal nodes, per leaf the
  AND of the comparator outcomes along its path, per class the OR of its leaves, then the class index (an
  encoder of the one-hot class lines);
- random forest: each tree's one-hot class lines, per class a popcount of its votes, an argmax (the lowest
  class among equal counts): a hard vote (`forest_predict` is its software model; scikit-learn's own
  `predict` averages leaf probabilities and can differ where leaves are impure).
"""

from __future__ import annotations

import numpy as np

from circuits import blocks
from circuits.builder import Builder
from networks.compilers.compiled import CompiledClassifier, check_classes, feature_inputs, quantize


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
    n_classes = check_classes(tree, name)
    b = Builder(name)
    xs = feature_inputs(b, n_features, bits)
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
    n_classes = check_classes(forest, name)
    b = Builder(name)
    xs = feature_inputs(b, n_features, bits)
    cache: dict = {}
    lines = [_tree_class_lines(b, tree, xs, n_classes, cache) for tree in forest.estimators_]
    counts = [blocks.popcount(b, [tree_lines[k] for tree_lines in lines]) for k in range(n_classes)]
    b.output("class", blocks.argmax(b, counts))
    return CompiledClassifier(b.build(), bits, n_features, lambda q: forest_predict(forest, q))


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
