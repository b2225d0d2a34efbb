"""Models whose weight layers carry a WeightQuantizer: an MLP of any widths, a small 1-D CNN (QuantNet chains:
weight layers with ReLU between them), two 2-D CNNs on square images given flat (N, side * side) in [0, 1]:
`cnn2d` (conv-ReLU-conv-ReLU-maxpool-linear) and `rescnn` (a stem and one residual block with batch norm), and
`resnet20` (the CIFAR ResNet-20 on (channels, height, width) images, 32x32x3 in its paper).

`attach_quantizers(module)` gives every Linear / Conv1d / Conv2d of any module a WeightQuantizer (its class
becomes QLinear / QConv1d / QConv2d); `weight_layers(module)` lists them in module order.
"""

from __future__ import annotations

import math

import torch
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
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, **kwargs):
        super().__init__(c_in, c_out, kernel, stride=stride, **kwargs)
        self.quant = WeightQuantizer(c_out)

    def forward(self, x):
        return self._conv_forward(x, self.quant(self.weight), self.bias)


class QConv2d(nn.Conv2d):
    def __init__(self, c_in: int, c_out: int, kernel: int, **kwargs):
        super().__init__(c_in, c_out, kernel, **kwargs)
        self.quant = WeightQuantizer(c_out)

    def forward(self, x):
        return self._conv_forward(x, self.quant(self.weight), self.bias)


_QUANTIZED = {nn.Linear: QLinear, nn.Conv1d: QConv1d, nn.Conv2d: QConv2d}


def attach_quantizers(module: nn.Module) -> list[nn.Module]:
    """Give every Linear / Conv1d / Conv2d of `module` a WeightQuantizer (in place; mode 'float' until a
    training stage starts it) and return the weight layers in module order."""
    for m in module.modules():
        if type(m) in _QUANTIZED:
            m.__class__ = _QUANTIZED[type(m)]
            m.quant = WeightQuantizer(m.weight.shape[0])
    return weight_layers(module)


def weight_layers(module: nn.Module) -> list[nn.Module]:
    """The layers of `module` that carry a WeightQuantizer, in module order."""
    return [m for m in module.modules() if isinstance(getattr(m, "quant", None), WeightQuantizer)]


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


def _side(input_shape: tuple, arch: str) -> int:
    side = math.isqrt(int(input_shape[0])) if len(input_shape) == 1 else 0
    if side < 4 or side * side != input_shape[0]:
        raise NetworkError(f"{arch} needs flat square images (side * side,) with side >= 4; got shape {input_shape}")
    return side


class CNN2d(nn.Module):
    """conv3x3(c1)-ReLU-conv3x3(c2)-ReLU-maxpool2-linear on a flat square image (padding 1)."""

    def __init__(self, input_shape: tuple, channels: tuple[int, int], n_out: int):
        super().__init__()
        self.input_shape, self.side = tuple(input_shape), _side(input_shape, "cnn2d")
        c1, c2 = channels
        self.features = nn.Sequential(QConv2d(1, c1, 3, padding=1), nn.ReLU(), QConv2d(c1, c2, 3, padding=1),
                                      nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = QLinear(c2 * (self.side // 2) ** 2, n_out)

    def forward(self, x):
        x = x.view(x.size(0), 1, self.side, self.side)
        return self.classifier(torch.flatten(self.features(x), 1))


class ResCNN(nn.Module):
    """stem conv3x3(c)-BN-ReLU, residual block conv-BN-ReLU-conv-BN + stem, ReLU, maxpool2, linear."""

    def __init__(self, input_shape: tuple, channels: int, n_out: int):
        super().__init__()
        self.input_shape, self.side = tuple(input_shape), _side(input_shape, "rescnn")
        c = channels
        self.stem = nn.Sequential(QConv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.block = nn.Sequential(QConv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                   QConv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        self.pool = nn.MaxPool2d(2)
        self.classifier = QLinear(c * (self.side // 2) ** 2, n_out)

    def forward(self, x):
        x = self.stem(x.view(x.size(0), 1, self.side, self.side))
        x = F.relu(x + self.block(x))
        return self.classifier(torch.flatten(self.pool(x), 1))


def cnn2d(input_shape: tuple, channels: tuple[int, ...], n_out: int) -> CNN2d:
    if len(channels) != 2 or min(channels) < 1:
        raise NetworkError(f"cnn2d takes two channel counts (hidden = [c1, c2]), got {list(channels)}")
    return CNN2d(input_shape, (int(channels[0]), int(channels[1])), n_out)


def rescnn(input_shape: tuple, channels: tuple[int, ...], n_out: int) -> ResCNN:
    if len(channels) != 1 or channels[0] < 1:
        raise NetworkError(f"rescnn takes one channel count (hidden = [c]), got {list(channels)}")
    return ResCNN(input_shape, int(channels[0]), n_out)


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU. The shortcut is the identity, or where the
    block changes width or size a conv1x1(stride)-BN projection (He et al.'s option B: the importer has no strided
    slicing for option A's zero-padded identity)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(QConv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                                  nn.ReLU(), QConv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            QConv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20 for CIFAR (He et al. 2016): stem conv3x3(w1)-BN-ReLU, three stages of three BasicBlocks of widths
    w1, w2, w3 (the second and third start with stride 2), global average pool, linear. Inputs (N, C, H, W) in
    torch's channel-first layout (or flat, viewed as such); ResNet-20 is widths (16, 32, 64) on (3, 32, 32):
    19 conv layers and a linear one, about 0.27 M weights."""

    def __init__(self, input_shape: tuple, widths: tuple[int, int, int], n_out: int, blocks: int = 3):
        super().__init__()
        self.input_shape = tuple(input_shape)
        c = widths[0]
        self.stem = nn.Sequential(QConv2d(self.input_shape[0], c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        stages = []
        for k, w in enumerate(widths):
            for j in range(blocks):
                stages.append(BasicBlock(c, w, 2 if k > 0 and j == 0 else 1))
                c = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = QLinear(c, n_out)

    def forward(self, x):
        x = self.stages(self.stem(x.view(x.size(0), *self.input_shape)))
        return self.classifier(torch.flatten(self.pool(x), 1))


def resnet20(input_shape: tuple, channels: tuple[int, ...], n_out: int) -> ResNet20:
    """ResNet-20 with stage widths `channels` (hidden = [16, 32, 64] for the paper's) on (C, H, W) inputs."""
    if len(channels) != 3 or min(channels) < 1:
        raise NetworkError(f"resnet20 takes three stage widths (hidden = [16, 32, 64]), got {list(channels)}")
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise NetworkError(f"resnet20 needs (channels, height, width) images; got shape {tuple(input_shape)}")
    return ResNet20(input_shape, tuple(int(c) for c in channels), n_out)
