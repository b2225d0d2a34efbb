"""Fault-aware training: the multiplier's own errors (hardware.error_model) injected at the products of every
weight layer (Linear, Conv1d, Conv2d) during training, or Gaussian noise of matched power at their outputs.

A layer's output y[n, j] = sum_i x[n, i] w[j, i] + bias gets sum_i sign(w_ji) e(a_ni, |w_ji|) * s_in * step_j added,
in the integer model's terms (networks.export): a = clip(round(x / s_in), 0, A - 1), s_in the running maximum of
the layer's input over A - 1 (the calibration maximum in training; A = 256 values of the multiplier's a for the
8x8), |w| = min(round(|w| / step), B - 1) with the layer's per-channel step (8-bit symmetric for float layers, as
export quantizes them), sign-magnitude (a zero weight adds nothing). The sampled error values are constants
(straight-through: the clean path carries the gradient); their scale s_in * step_j is differentiable (through the
steps and the batch's peak input), so training can learn to shrink the errors relative to the signal. The
Gaussian proxy scales with the level as the mean wrong-product rate does.

Errors are sparse at low levels, so the products that err are drawn without materialising every product: a
Bernoulli process over the flat index of (row, output, [position,] input) at the largest per-pair rate r_max
(geometric gaps), each candidate kept with probability rate[a, |w|] / r_max (thinning), its value one of the pair's
K error values; the kept errors are scattered into the output. The level is drawn per batch, log-uniform within
`spread` decades of `level` (rates at other levels by ErrorModel.rate_at).

`training`: 'plain' (none), 'fault-aware' (the error model), 'gaussian' (zero-mean Gaussian noise on each output
with variance nnz_j * P * (s_in step_j)^2, P the multiplier's mean error power per product over uniform operands
with nonzero weight: matched error power, the cheap proxy).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import circuits
from hardware.error_model import KINDS, ErrorModel, error_model
from networks.errors import NetworkError
from networks.quant import _channel_view

TRAININGS = ("plain", "fault-aware", "gaussian")
FAULT_AWARE_VERSION = "2"  # part of the cache key of every model trained with noise (not of plain ones)
WEIGHT_LEVELS = 127  # 8-bit symmetric weights of float layers (export's default)
MAX_LEVEL = 0.01
AMAX_DECAY = 0.999  # per batch: the running maximum of a layer's input forgets slowly


@dataclass(frozen=True)
class TrainNoise:
    """The noise of fault-aware training: kind (gate flips 'bitflip' at `level` per gate and product), spread
    (decades either side of level, drawn log-uniform per batch), multiplier (the form of the 8x8 unsigned
    circuits.multiplier the network runs on: array, wallace, dadda)."""

    kind: str = "bitflip"
    level: float = 1e-4
    spread: float = 0.0
    multiplier: str = "array"

    def __post_init__(self):
        forms = circuits.generator("multiplier").params["form"].choices
        checks = [("kind", self.kind in KINDS, ", ".join(KINDS)),
                  ("level", isinstance(self.level, (int, float)) and 0 < self.level <= MAX_LEVEL,
                   f"a probability in (0, {MAX_LEVEL}]"),
                  ("spread", isinstance(self.spread, (int, float)) and 0 <= self.spread <= 3, "decades in [0, 3]"),
                  ("multiplier", self.multiplier in forms, ", ".join(forms))]
        for name, ok, allowed in checks:
            if not ok:
                raise NetworkError(f"train_noise.{name} = {getattr(self, name)!r} is invalid (allowed: {allowed})")
        object.__setattr__(self, "level", float(self.level))
        object.__setattr__(self, "spread", float(self.spread))

    @classmethod
    def parse(cls, value) -> TrainNoise:
        """A TrainNoise from itself or a mapping of its fields (NetworkError naming an unknown field)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise NetworkError(f"train_noise must be a table of {', '.join(f.name for f in fields(cls))}, got "
                               f"{type(value).__name__}")
        unknown = sorted(set(value) - {f.name for f in fields(cls)})
        if unknown:
            raise NetworkError(f"train_noise.{unknown[0]} is not a field (allowed: "
                               f"{', '.join(f.name for f in fields(cls))})")
        return cls(**value)

    def netlist(self) -> circuits.Netlist:
        """The multiplier the network is trained against."""
        return circuits.multiplier(8, form=self.multiplier)

    def model(self) -> ErrorModel:
        return error_model(self.netlist(), self.kind, self.level)


class Injector:
    """Adds the sampled product errors (or the Gaussian proxy) to the outputs of a model's weight layers while
    installed (`installed`); draws from its own torch generator."""

    def __init__(self, model: ErrorModel, training: str, noise: TrainNoise, seed: int = 0):
        if training not in TRAININGS[1:]:
            raise NetworkError(f"training must be one of {', '.join(TRAININGS)}, got {training!r}")
        self.training, self.noise, self.model = training, noise, model
        self.gen = torch.Generator().manual_seed(seed)
        rate = np.minimum(model.rate, 1 - 1e-12)
        self.sensitive = torch.as_tensor(np.log1p(-rate) / math.log1p(-model.level), dtype=torch.float64)
        self.errors = torch.as_tensor(model.errors, dtype=torch.float32)
        power = model.power()[:, 1:]
        self.mean_power = float(power.mean())
        self.amax: dict[int, float] = {}
        self.enabled = False
        self.seed = seed
        self.set_level(noise.level)

    def set_level(self, level: float) -> None:
        """Use the rates at `level` (first order from the measured level, ErrorModel.rate_at)."""
        self.level = level
        self.rate = (-torch.expm1(self.sensitive * math.log1p(-level))).float()

    def draw_level(self) -> None:
        """A level log-uniform within `spread` decades of the noise's level."""
        if self.noise.spread:
            u = float(torch.rand((), generator=self.gen)) * 2 - 1
            self.set_level(min(self.noise.level * 10 ** (u * self.noise.spread), MAX_LEVEL))

    def operands(self, layer: nn.Module, x: torch.Tensor, cols: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(a indices (like cols), |w| indices (out, in'), sign(w) (out, in'), scale (out,)) of a layer's integer
        model for input x (cols: its columns): scale = s_in * step_j, the float value of one accumulator unit,
        differentiable in the weights (through the steps) and in the batch's peak input when that sets s_in."""
        key = id(layer)
        peak = x.max().clamp_min(1e-12)
        held = self.amax.get(key, 0.0) * AMAX_DECAY
        self.amax[key] = max(held, float(peak.detach()))
        act_max = self.errors.shape[0] - 1  # the multiplier's a operand: the activations' range
        s_in = peak / act_max if self.amax[key] == float(peak.detach()) else torch.tensor(held / act_max)
        a = torch.clamp(torch.round(cols / float(s_in.detach())), 0, act_max).long()
        step = _steps(layer)
        w = (layer.weight * _channel_view(layer.quant.mask, layer.weight)).detach().reshape(len(step), -1)
        wi = torch.round(w / step.detach()[:, None])
        return a, wi.abs().clamp_max(self.errors.shape[1] - 1).long(), torch.sign(wi), step * s_in

    def sample_products(self, a: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """(flat indices into (N, out, L, in') of the products that err, their signed errors (integer units)): a
        is (N, in', L) (L = 1 for linear layers), mag and sign (out, in')."""
        n, k, length = a.shape
        out, width, draws = mag.shape[0], self.errors.shape[1], self.errors.shape[2]
        total = n * out * length * k
        mag = mag * (sign != 0)  # zero weights add nothing: their column of rates is never consulted
        r_max = float(self.rate[:, :int(mag.max()) + 1].max()) if total else 0.0
        if r_max <= 0:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0)
        pos = _bernoulli_positions(total, r_max, self.gen)  # flat ((row * out + j) * length + col) * k + i
        lk = length * k
        q = pos // lk
        r = pos - q * lk
        row = q // out
        wflat = (q - row * out) * k + r % k
        mv = mag.reshape(-1)[wflat]
        pair = a.transpose(1, 2).reshape(-1)[row * lk + r] * width + mv
        keep = (torch.rand(len(pos), generator=self.gen) * r_max < self.rate.reshape(-1)[pair]) & (mv != 0)
        pos, pair, wflat = pos[keep], pair[keep], wflat[keep]
        pick = torch.randint(0, draws, (len(pos),), generator=self.gen)
        return pos, sign.reshape(-1)[wflat] * self.errors.reshape(-1)[pair * draws + pick]

    def term(self, layer: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The term added to layer output y (same shape, float units) for input x: sampled integer errors (constants)
        times the accumulator scale (differentiable)."""
        cols = _columns(layer, x)
        a, mag, sign, scale = self.operands(layer, x, cols)
        n, _, length = cols.shape
        out = mag.shape[0]
        if self.training == "gaussian":
            std = torch.sqrt(self.mean_power * (sign != 0).sum(dim=1) * self.rate_ratio())
            term = torch.randn((n, out, length), generator=self.gen) * std[None, :, None]
        else:
            pos, err = self.sample_products(a, mag, sign)
            term = torch.zeros(n * out * length).index_add_(0, pos // a.shape[1], err).view(n, out, length)
        return (term * scale[None, :, None]).reshape(y.shape)

    def rate_ratio(self) -> float:
        """Mean wrong-product rate at the current level over that at the measured level (scales the proxy's
        power with the level)."""
        return float(self.rate.mean()) / max(float(self.model.rate.mean()), 1e-300)

    @staticmethod
    @contextmanager
    def active(injector: Injector | None, fixed: bool = False):
        """Within the block the installed hooks of `injector` (None: nothing) add noise; fixed: at the noise's
        level from the same generator state every time (validation: common random numbers), restored after."""
        if injector is None:
            yield
            return
        state, level = injector.gen.get_state(), injector.level
        if fixed:
            injector.gen.manual_seed(injector.seed + 7919)
            injector.set_level(injector.noise.level)
        injector.enabled = True
        try:
            yield
        finally:
            injector.enabled = False
            if fixed:
                injector.gen.set_state(state)
                injector.set_level(level)

    @contextmanager
    def installed(self, layers: list[nn.Module]):
        """Forward hooks on `layers` that add the noise while the injector is active (`active`)."""
        def hook(layer, inputs, output):
            if not self.enabled:
                return None
            return output + self.term(layer, inputs[0], output)

        handles = [layer.register_forward_hook(hook) for layer in layers]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()


def _steps(layer: nn.Module) -> torch.Tensor:
    """Per-channel integer steps of a weight layer (differentiable where its quantizer's are): its quantizer's, or
    8-bit symmetric for float layers (as export quantizes them)."""
    q = layer.quant
    w = layer.weight.reshape(layer.weight.shape[0], -1)
    if q.mode in ("float", "fixed"):
        levels = WEIGHT_LEVELS if q.mode == "float" else 2 ** (q.bits - 1) - 1
        return w.abs().amax(dim=1).clamp_min(1e-12) / levels
    if q.mode == "noise":
        return q.alpha * math.sqrt(12)
    return q.steps


def _columns(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as (N, in', L) columns: in' the weights per output, L the output positions."""
    if isinstance(layer, nn.Linear):
        return x.detach().reshape(x.shape[0], -1, 1) if x.dim() == 2 else x.detach().flatten(0, -2)[..., None]
    if isinstance(layer, nn.Conv2d):
        if layer.groups != 1:
            raise NetworkError("fault-aware training: grouped convolutions are not supported")
        return F.unfold(x.detach(), layer.kernel_size, layer.dilation, layer.padding, layer.stride)
    if isinstance(layer, nn.Conv1d):
        if layer.groups != 1 or layer.padding_mode != "zeros":
            raise NetworkError("fault-aware training: grouped or non-zero-padded 1-D convolutions are not supported")
        x2 = x.detach()[:, :, None, :]
        return F.unfold(x2, (1, layer.kernel_size[0]), (1, layer.dilation[0]), (0, layer.padding[0]),
                        (1, layer.stride[0]))
    raise NetworkError(f"fault-aware training: no product model for {type(layer).__name__}")


def _bernoulli_positions(total: int, r: float, gen: torch.Generator) -> torch.Tensor:
    """The positions in [0, total) of a Bernoulli(r) process (independent per position), by geometric gaps."""
    if r >= 1:
        return torch.arange(total)
    log_q = math.log1p(-r)
    expect = total * r
    chunks, last = [], -1
    while True:
        m = int(expect + 6 * math.sqrt(expect + 1) + 16)
        u = torch.rand(m, generator=gen, dtype=torch.float64)
        gaps = torch.floor(torch.log1p(-u) / log_q).long() + 1
        pos = last + torch.cumsum(gaps, 0)
        chunks.append(pos[pos < total])
        if pos[-1] >= total:
            return torch.cat(chunks)
        last = int(pos[-1])
        expect = (total - last) * r
