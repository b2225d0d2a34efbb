"""Bit flips at weights and at activations, ours against PyTorchFI, on the built-in digits CNN, one thread.

Both sides run the 540 digits test inputs once per faulty pass, with fresh faults every pass:
- ours: `IntegerEngine(export(model))` (exact multiplier, integer arithmetic in numpy) with
  `noise={"weight" | "activation": bitflip(1e-3).plan(site)}`: every bit of the 8-bit integer weights (site
  'weight', one draw per pass) or of every layer input word of every sample (site 'activation') flips with
  p = 1e-3, drawn inside the pass from one continuing generator; no model copy is made.
- PyTorchFI 0.6 (`pip install .[bench]`, not a dependency): its `single_bit_flip_func` injector (a
  `core.fault_injection`) on a plain float32 copy of the same model, one declaration per pass, then a torch
  forward of the 540 inputs. Every declaration deep-copies the model (`declare_weight_fi`, `declare_neuron_fi`);
  neuron faults are then written one by one by a Python forward hook. The flip itself is PyTorchFI's
  `_flip_bit_signed` (the value quantized to 8-bit two's complement against a range, one bit flipped, scaled
  back): weights against max|w| of the layer * 128/127 (the symmetric 8-bit grid), neurons (outputs of the
  Conv2d and Linear layers, PyTorchFI's site, which differs from ours: the layer inputs) against twice the
  layer's largest clean |output| (a margin so that values grown by earlier flips stay representable).
  The number of flips per pass is drawn as ours: Binomial(our site's bit count, p) (weights: the same 8-bit
  weights; activations: our layer-input bits), at uniform positions with a uniform bit.

PyTorchFI cannot take the trained model itself: it hooks leaf modules only and our QConv2d/QLinear carry a
WeightQuantizer child, so it finds no layer; the plain copy has the quantizers' float weights (mode 'float')
in nn.Conv2d/nn.Linear and the same outputs. Faulty passes: mean over `PASSES` passes after one warm-up (the
flip count varies from pass to pass); clean forwards: best of 20.

python -m bench.against_pytorchfi
"""

from __future__ import annotations

import copy
import random
import time

import numpy as np
import torch
import torch.nn as nn

from bench.common import best_of, report
from networks import IntegerEngine, ModelConfig, digits, export, trained_model
from networks.models import weight_layers
from testbed.noise import bitflip

P = 1e-3
PASSES = {"ours": 20, "pytorchfi": 5}
CONFIG = ModelConfig(arch="cnn2d", hidden=(8, 16), epochs=40)
PLAIN = {nn.Conv2d: nn.Conv2d, nn.Linear: nn.Linear}


def plain_float_copy(model: nn.Module) -> nn.Module:
    """The model with its weight layers as plain nn.Conv2d / nn.Linear (the quantizer's weights baked in)."""
    plain = copy.deepcopy(model)
    for layer in weight_layers(plain):
        with torch.no_grad():
            layer.weight.copy_(layer.quant(layer.weight))
        del layer.quant
        layer.__class__ = next(base for base in PLAIN if isinstance(layer, base))
    return plain


def mean_per_pass(fn, n: int) -> float:
    """Mean seconds of `n` calls after one untimed warm-up call."""
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def site_bits(engine: IntegerEngine, x: np.ndarray, site: str) -> int:
    """Bits that site `site` holds in one pass over x (counted through a pass-through noise hook)."""
    count = [0]

    def hook(values, width, signed, rng):
        count[0] += values.size * width
        return values

    engine.run(x, noise={site: hook})
    return count[0]


class PyTorchFI:
    """PyTorchFI's declare-and-forward with 8-bit single-bit flips at weights or Conv2d/Linear outputs."""

    def __init__(self, plain: nn.Module, x: torch.Tensor, seed: int = 0):
        from pytorchfi.neuron_error_models import single_bit_flip_func

        self.x = x
        self.fi = single_bit_flip_func(plain, x.shape[0], input_shape=list(x.shape[1:]),
                                       layer_types=[nn.Conv2d, nn.Linear], bits=8)
        self.rng = np.random.default_rng(seed)
        random.seed(seed)  # PyTorchFI draws the flipped bit of a neuron with `random`
        self.weight_shapes = [tuple(s) for s in self.fi.weights_size]
        self.neuron_shapes = [tuple(s[1:]) for s in self.fi.get_output_size()]  # per sample
        maxima = []
        hooks = [m.register_forward_hook(lambda m, i, o: maxima.append(float(o.abs().max())))
                 for m in plain.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        with torch.no_grad():
            plain(x)
        for h in hooks:
            h.remove()
        self.fi.set_conv_max([2.0 * v for v in maxima])

    @staticmethod
    def _locations(shapes, counts, n, rng):
        """n uniform positions over layers of `counts` elements each: (layer, index tuples padded with None)."""
        flat = rng.integers(0, sum(counts), n)
        bounds = np.cumsum(counts)
        layers = np.searchsorted(bounds, flat, side="right")
        out = []
        for layer, f in zip(layers.tolist(), flat.tolist(), strict=True):
            f -= int(bounds[layer] - counts[layer])
            idx = np.unravel_index(f, shapes[layer])
            out.append((layer, *(int(i) for i in idx), *([None] * (4 - len(idx)))))
        return out

    def _flip_weight(self, data, location):
        return self.fi._flip_bit_signed(data[location], float(data.abs().max()) * 128 / 127, random.randint(0, 7))

    def weight_pass(self, n_bits: int):
        """One faulty pass: Binomial(n_bits, p) weight flips declared (a model copy), then the forward."""
        n = int(self.rng.binomial(n_bits, P))
        counts = [int(np.prod(s)) for s in self.weight_shapes]
        locs = self._locations(self.weight_shapes, counts, n, self.rng)
        layer, k, c, h, w = (list(v) for v in zip(*locs, strict=True)) if locs else ([],) * 5
        model = self.fi.declare_weight_fi(function=self._flip_weight, layer_num=layer, k=k, dim1=c, dim2=h,
                                          dim3=w)
        with torch.no_grad():
            return model(self.x)

    def neuron_pass(self, n_bits: int):
        """One faulty pass: Binomial(n_bits, p) neuron flips declared (a model copy and hooks), then the forward."""
        n = int(self.rng.binomial(n_bits, P))
        batch = self.rng.integers(0, self.x.shape[0], n).tolist()
        shapes = [s if len(s) > 1 else (*s, 1) for s in self.neuron_shapes]
        counts = [int(np.prod(s)) for s in shapes]
        locs = self._locations(shapes, counts, n, self.rng)
        layer, c, h, w = (list(v) for v in zip(*[loc[:4] for loc in locs], strict=True)) if locs else ([],) * 4
        h = [v if len(self.neuron_shapes[lay]) > 1 else None for v, lay in zip(h, layer, strict=True)]
        model = self.fi.declare_neuron_fi(batch=batch, layer_num=layer, dim1=c, dim2=h, dim3=w,
                                          function=self.fi.single_bit_flip_signed_across_batch)
        with torch.no_grad():
            return model(self.x)


def main() -> dict:
    torch.set_num_threads(1)
    ds = digits()
    model, _ = trained_model(CONFIG, progress=False)
    model.eval()
    engine = IntegerEngine(export(model, ds.x_train))
    plain = plain_float_copy(model).eval()
    x = torch.as_tensor(ds.x_test, dtype=torch.float32)
    with torch.no_grad():
        same = float((plain(x) - model(x)).abs().max())
        t_torch = best_of(lambda: plain(x), 20)
    t_clean = best_of(lambda: engine.run(ds.x_test), 20)
    pfi = PyTorchFI(plain, x)
    t_copy = best_of(lambda: copy.deepcopy(plain), 20)
    rows = [("float32 copy vs trained model: max |logit difference|", same, ""),
            ("torch fp32 forward, clean (PyTorchFI's reference)", t_torch * 1e3, "ms"),
            ("integer engine, exact, clean (ours' reference)", t_clean * 1e3, "ms"),
            ("deepcopy of the model (every PyTorchFI declaration)", t_copy * 1e3, "ms")]
    fig: dict = {"model": "cnn2d 8-16", "inputs": int(x.shape[0]), "p": P, "torch_clean_ms": t_torch * 1e3,
                 "ours_clean_ms": t_clean * 1e3, "deepcopy_ms": t_copy * 1e3}
    rng = np.random.default_rng(1)
    for site, pfi_pass in (("weight", pfi.weight_pass), ("activation", pfi.neuron_pass)):
        n_bits = site_bits(engine, ds.x_test, site)
        plan = bitflip(P).plan(site)
        t_ours = mean_per_pass(lambda s=site, pl=plan: engine.run(ds.x_test, noise={s: pl}, rng=rng),
                               PASSES["ours"])
        t_pfi = mean_per_pass(lambda f=pfi_pass, b=n_bits: f(b), PASSES["pytorchfi"])
        rows += [(f"{site}: bits per pass (ours), flips expected", n_bits, f"{n_bits * P:.4g} flips"),
                 (f"{site}: ours, per faulty pass", t_ours * 1e3, f"ms, {t_ours / t_clean:.3g}x our clean pass"),
                 (f"{site}: PyTorchFI declare + forward, per pass", t_pfi * 1e3,
                  f"ms, {t_pfi / t_torch:.3g}x its clean forward"),
                 (f"{site}: PyTorchFI / ours", t_pfi / t_ours, "ratio")]
        fig[site] = {"bits": n_bits, "flips_expected": n_bits * P, "ours_ms": t_ours * 1e3,
                     "pytorchfi_ms": t_pfi * 1e3, "pytorchfi_over_ours": t_pfi / t_ours,
                     "ours_over_clean": t_ours / t_clean, "pytorchfi_over_torch": t_pfi / t_torch}
    report("bench.against_pytorchfi (digits cnn2d 8-16, 540 inputs, bit flips p = 1e-3, one thread)", rows, fig)
    return fig


if __name__ == "__main__":
    main()
