"""The compilers room: trained classifiers compiled to gate netlists (trees and forests, binarized MLPs, integer
MLPs), each a CompiledClassifier beside its software model. Imports networks and circuits; nothing below
imports it."""

from networks.compilers.binarized import (
    BinarizedModel,
    compile_binarized,
    thermometer,
    train_binarized,
    trained_binarized,
)
from networks.compilers.compiled import CompiledClassifier, quantize
from networks.compilers.integer_mlp import compile_integer_mlp
from networks.compilers.trees import compile_forest, compile_tree, fit_forest, fit_tree, forest_predict

__all__ = ["BinarizedModel", "CompiledClassifier", "compile_binarized", "compile_forest", "compile_integer_mlp",
           "compile_tree", "fit_forest", "fit_tree", "forest_predict", "quantize", "thermometer", "train_binarized",
           "trained_binarized"]
