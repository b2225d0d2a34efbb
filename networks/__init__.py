"""Quantized neural networks: offline data sets, models (MLP, 1-D and 2-D CNNs), float / fixed-bit /
learned-noise training, export or torch.fx import (`from_torch`) to an integer model graph, safe loading of
saved models (`load_model`), and an integer engine whose multiplier can be a circuit netlist."""

from hardware import Multiplier
from networks.data import Dataset, digits, signals
from networks.engine import IntegerEngine
from networks.errors import NetworkError
from networks.export import export
from networks.fx_import import from_torch
from networks.graph import IntegerModel
from networks.load import load_model
from networks.train import ModelConfig, size_report, trained_model

__all__ = ["Dataset", "IntegerEngine", "IntegerModel", "ModelConfig", "Multiplier", "NetworkError", "digits",
           "export", "from_torch", "load_model", "signals", "size_report", "trained_model"]
