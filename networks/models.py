"""Models whose weight layers carry a WeightQuantizer: an MLP of any widths and a small 1-D CNN.

A model is a sequence of weight layers (QLinear, QConv1d), each followed by ReLU except the last;
`model.weight_layers()` lists them in order for quantization, export and reports.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from networks.errors import NetworkError
from networks.quant import WeightQuantizer


class QLinear(nn.Linear):
    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out)
        self.quant = WeightQuantizer(n_out)

    def forward(self, x):
        return F.linear(x, self.quant(self.weight), self.bias)


class QConv1d(nn.Conv1d):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(c_in, c_out, kernel, stride=stride)
        self.quant = WeightQuantizer(c_out)

    def forward(self, x):
        return F.conv1d(x, self.quant(self.weight), self.bias, self.stride)


class QuantNet(nn.Module):
    """Weight layers with ReLU between them; convolutional layers first, then a flatten, then linear ones."""

    def __init__(self, layers: list[nn.Module], input_shape: tuple):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_shape = tuple(input_shape)

    def weight_layers(self) -> list[nn.Module]:
        return list(self.layers)

    def forward(self, x):
        if x.shape[1:] != self.input_shape:
            raise NetworkError(f"input shape {tuple(x.shape[1:])} does not match the model's {self.input_shape}")
        for k, layer in enumerate(self.layers):
            if isinstance(layer, QLinear) and x.dim() > 2:
                x = x.flatten(1)
            x = layer(x)
            if k < len(self.layers) - 1:
                x = F.relu(x)
        return x


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int, input_shape: tuple | None = None) -> QuantNet:
    """MLP n_in-hidden...-n_out with ReLU (the reference is 64-64-10); inputs of `input_shape` are flattened."""
    widths = [n_in, *hidden, n_out]
    if any(w < 1 for w in widths):
        raise NetworkError(f"mlp widths must be >= 1, got {widths}")
    return QuantNet([QLinear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)], input_shape or (n_in,))


def cnn1d(input_shape: tuple[int, int], channels: tuple[int, ...], n_out: int, kernel: int = 5) -> QuantNet:
    """1-D CNN: conv(kernel, stride 2) + ReLU per entry of `channels`, then a linear classifier."""
    c_in, length = input_shape
    layers: list[nn.Module] = []
    for c in channels:
        layers.append(QConv1d(c_in, c, kernel, stride=2))
        length = (length - kernel) // 2 + 1
        if length < 1:
            raise NetworkError(f"cnn1d: input length too short for {len(channels)} conv layers of kernel {kernel}")
        c_in = c
    layers.append(QLinear(c_in * length, n_out))
    return QuantNet(layers, input_shape)
