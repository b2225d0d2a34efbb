"""Export a trained QuantNet (a chain of QLinear / QConv1d layers with ReLU between them) to an integer model.

Integer model (networks.graph): signed integer weights per output channel (step = the channel's quantization step),
unsigned `act_bits` activations after ReLU (input pixels: round(x * (2^act_bits - 1))), integer biases
in accumulator units, `acc_bits`-bit two's-complement accumulators, and requantization between layers by
integer multiply-and-shift: a_next = clip((acc * M_o + 2^(shift-1)) >> shift, 0, 2^act_bits - 1), with
M_o / 2^shift = step_o * s_in / s_out. The last layer's logits use one common scale (no clip).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from networks.errors import NetworkError
from networks.fx_import import check_widths, from_torch
from networks.graph import IntegerModel, IntLayer, quantize_weights, requantizer, weight_width
from networks.models import QConv1d, QLinear, QuantNet


def _effective_weights(layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(quantized weights, per-channel steps or None for float layers) as the model uses them in eval mode."""
    q = layer.quant
    w = layer.weight.detach()
    with torch.no_grad():
        q.eval()
        wq = q(w).double().numpy()
        steps = q.current_steps(w).double().numpy() if q.mode != "float" else None
    return wq, steps


def _layer_inputs(model: QuantNet, x: torch.Tensor) -> list[np.ndarray]:
    """The float input of every weight layer (after ReLU of the previous one) for calibration."""
    acts = []
    model.eval()
    with torch.no_grad():
        for k, layer in enumerate(model.layers):
            if isinstance(layer, QLinear) and x.dim() > 2:
                x = x.flatten(1)
            acts.append(x.double().numpy())
            x = layer(x)
            if k < len(model.layers) - 1:
                x = torch.relu(x)
    acts.append(x.double().numpy())
    return acts


def export(model: nn.Module, calibration: np.ndarray, act_bits: int = 8, weight_bits: int = 8,
           acc_bits: int = 32, shift_bits: int = 30) -> IntegerModel:
    """Integer model of `model`. Float (unquantized) layers are quantized per channel to `weight_bits`
    (symmetric); quantized layers keep their own steps. Activation scales come from the maximum of each
    layer input over `calibration` inputs (float, in [0, 1], shaped like the model input). A model that is
    not a QuantNet chain is imported through torch.fx (networks.fx_import.from_torch)."""
    if not isinstance(model, QuantNet):
        return from_torch(model, calibration, act_bits=act_bits, weight_bits=weight_bits, acc_bits=acc_bits,
                          shift_bits=shift_bits)
    check_widths(act_bits, weight_bits, acc_bits)
    amax = 2 ** act_bits - 1
    x = torch.as_tensor(np.asarray(calibration, dtype=np.float32).reshape(-1, *model.input_shape))
    acts = _layer_inputs(model, x)
    in_scale = 1.0 / amax
    layers = []
    n = len(model.layers)
    for k, layer in enumerate(model.layers):
        wq, steps = _effective_weights(layer)
        wq = wq.reshape(wq.shape[0], -1)
        given = steps is not None
        w_int, steps = quantize_weights(wq, weight_bits, np.where(steps > 0, steps, 1.0) if given else None)
        if given and np.abs(wq - w_int * steps[:, None]).max() > 1e-6 * max(1.0, np.abs(wq).max()):
            raise NetworkError(f"layer {k}: weights are not on their quantization grid")
        w_int = w_int.astype(np.int64)
        bits = weight_width(w_int)
        acc_scale = steps * in_scale
        bias = np.round(layer.bias.detach().double().numpy() / acc_scale).astype(np.int64)
        last = k == n - 1
        if last:
            out_scale = float(acc_scale.max())
        else:
            peak = float(np.maximum(acts[k + 1], 0).max())
            out_scale = max(peak, 1e-12) / amax
        mult, shift = requantizer(acc_scale / out_scale, shift_bits)
        conv = isinstance(layer, QConv1d)
        layers.append(IntLayer("conv1d" if conv else "linear", w_int, bias, mult, shift, None if last else (0, amax),
                               steps, in_scale, out_scale, bits, name=f"layers.{k}",
                               kernel=tuple(layer.kernel_size) if conv else (1,),
                               stride=tuple(layer.stride) if conv else (1,)))
        in_scale = out_scale
    return IntegerModel(layers, tuple(model.input_shape), act_bits, acc_bits)
