"""Weight quantization: the learned-noise quantizer, true uniform quantizers, and rounding backward passes.

Learned noise (the talk's quantization): during training a weight tensor f is used as f + alpha * r with r uniform
or Gaussian of unit power (E r^2 = 1) and alpha > 0 learned per output channel. Bits per value are read
as I = log2(rms(f) / alpha) = 0.5 * log2(SNR) (the talk's log2 E|f|^2 - log2 alpha^2 counts twice).
I <= 0: the channel carries no signal and is pruned. After training, the noise is replaced by rounding
with the step whose noise power matches: uniform noise of amplitude alpha has the power of rounding with
step alpha * sqrt(12) (step^2 / 12 = alpha^2).

Rounding backward passes: `ste` (straight-through, derivative 1) or `smoothed`, the talk's stochastic
regularisation: d/dx of f1(x) = E[round(x + U n)] with U ~ U[0, 1], n ~ N(0, sigma^2) (sigma in steps),
f1'(x) = sum_k p(x - k - 1/2) with p(v) = E1(v^2 / (2 sigma^2)) / (2 sigma sqrt(2 pi)); tabulated over
one period by cell averages (the log spike at each threshold is integrable) and capped at SMOOTH_CAP.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from networks.errors import NetworkError

BACKWARDS = ("ste", "smoothed")
NOISES = ("uniform", "gaussian")
SMOOTH_CAP = 4.0
_TABLE = 512


@lru_cache(maxsize=8)
def smoothed_round_derivative_table(sigma: float) -> np.ndarray:
    """f1'(x) on _TABLE cells over one period x in [0, 1) (cell averages), capped at SMOOTH_CAP."""
    from scipy.special import exp1

    fine = 64
    x = (np.arange(_TABLE * fine) + 0.5) / (_TABLE * fine)
    total = np.zeros_like(x)
    reach = int(math.ceil(8 * sigma)) + 1
    for k in range(-reach, reach + 1):
        v = x - k - 0.5
        total += exp1(v ** 2 / (2 * sigma ** 2)) / (2 * sigma * math.sqrt(2 * math.pi))
    cells = total.reshape(_TABLE, fine).mean(axis=1)
    return np.minimum(cells, SMOOTH_CAP)


class _Round(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, table):
        ctx.save_for_backward(x)
        ctx.table = table
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.table is None:
            return grad, None
        idx = ((x - torch.floor(x)) * _TABLE).long().clamp_(0, _TABLE - 1)
        return grad * ctx.table.to(x.device)[idx], None


def round_with(x: torch.Tensor, backward: str = "ste", sigma: float = 0.5) -> torch.Tensor:
    """round(x) whose backward pass is the straight-through estimator or the smoothed derivative."""
    if backward == "ste":
        return _Round.apply(x, None)
    if backward == "smoothed":
        table = torch.as_tensor(smoothed_round_derivative_table(float(sigma)), dtype=x.dtype)
        return _Round.apply(x, table)
    raise NetworkError(f"backward must be one of {', '.join(BACKWARDS)}, got {backward!r}")


def _channel_view(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return t.view(-1, *([1] * (w.dim() - 1)))


def channel_rms(w: torch.Tensor) -> torch.Tensor:
    """Root mean square of each output channel (dim 0)."""
    return w.reshape(w.shape[0], -1).pow(2).mean(dim=1).clamp_min(1e-30).sqrt()


class WeightQuantizer(nn.Module):
    """Per-output-channel weight transform of one layer.

    mode 'float': weights as they are; 'noise': learned noise (train) or rounding with the matched step
    (eval); 'fixed': symmetric `bits`-bit rounding with step max|w_c| / (2^(bits-1) - 1); 'step': rounding
    with frozen steps. `mask` zeroes pruned channels in every mode.
    """

    def __init__(self, n_channels: int):
        super().__init__()
        self.mode = "float"
        self.bits = 8
        self.noise = "uniform"
        self.backward_kind = "ste"
        self.sigma = 0.5
        self.log_alpha = nn.Parameter(torch.zeros(n_channels), requires_grad=False)
        self.register_buffer("steps", torch.ones(n_channels))
        self.register_buffer("mask", torch.ones(n_channels))

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def start_noise(self, w: torch.Tensor, init_bits: float, noise: str) -> None:
        if noise not in NOISES:
            raise NetworkError(f"noise must be one of {', '.join(NOISES)}, got {noise!r}")
        self.mode, self.noise = "noise", noise
        with torch.no_grad():
            self.log_alpha.copy_(torch.log(channel_rms(w) / 2 ** init_bits))
        self.log_alpha.requires_grad_(True)

    def start_fixed(self, bits: int, backward: str, sigma: float = 0.5) -> None:
        if not 2 <= bits <= 16:
            raise NetworkError(f"fixed quantization: bits must be in 2..16, got {bits}")
        self.mode, self.bits, self.backward_kind, self.sigma = "fixed", bits, backward, sigma

    def freeze_steps(self, steps: torch.Tensor, backward: str = "ste") -> None:
        self.mode, self.backward_kind = "step", backward
        self.steps.copy_(steps)
        self.log_alpha.requires_grad_(False)

    def learned_bits(self, w: torch.Tensor) -> torch.Tensor:
        """I_c = log2(rms(w_c) / alpha_c) per channel: bits per value (= 0.5 log2 SNR)."""
        return torch.log2(channel_rms(w)) - self.log_alpha / math.log(2)

    def current_steps(self, w: torch.Tensor) -> torch.Tensor:
        if self.mode == "fixed":
            levels = 2 ** (self.bits - 1) - 1
            return w.detach().reshape(w.shape[0], -1).abs().amax(dim=1).clamp_min(1e-12) / levels
        if self.mode == "noise":
            return self.alpha.detach() * math.sqrt(12)
        return self.steps

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        w = w * _channel_view(self.mask, w)
        if self.mode == "float":
            return w
        if self.mode == "noise" and self.training:
            r = torch.rand_like(w) * 2 - 1 if self.noise == "uniform" else torch.randn_like(w)
            if self.noise == "uniform":
                r = r * math.sqrt(3)  # uniform on [-sqrt3, sqrt3]: unit power
            return w + _channel_view(self.alpha, w) * r
        step = _channel_view(self.current_steps(w), w)
        q = round_with(w / step, self.backward_kind, self.sigma) * step
        if self.mode == "fixed":
            levels = 2 ** (self.bits - 1) - 1
            q = torch.maximum(torch.minimum(q, levels * step), -levels * step)
        return q
