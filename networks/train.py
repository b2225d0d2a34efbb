"""Training: float, fixed-bit (QAT) and learned-noise quantization, with early stopping and a model cache.

`trained_model(config)` returns a trained built-in model, training it on first use and caching it on disk under
a key of the full configuration (and TRAIN_VERSION), so campaigns never retrain the same model. A cached
model is verified before use (the sha256 of KEY.pt is kept in KEY.pt.sha256, and it loads with
torch.load(weights_only=True)); one that fails is retrained with a one-line CacheWarning, and an unusable
cache folder gives way to a temporary one (see circuits.cache).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from circuits.cache import cache_root, read_verified, usable_dir, warn, write_verified
from networks import data as datasets
from networks.errors import NetworkError
from networks.fault_aware import FAULT_AWARE_VERSION, TRAININGS, Injector, TrainNoise
from networks.models import cnn1d, cnn2d, mlp, rescnn, resnet20, weight_layers
from networks.quant import BACKWARDS, NOISES

TRAIN_VERSION = "1"
ARCHS = ("mlp", "cnn1d", "cnn2d", "rescnn", "resnet20")
QUANTS = ("float", "fixed", "learned-noise")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that determines a trained model. quant: float | fixed (QAT at `bits`) | learned-noise
    (noise trained with penalty `lam` per bit, channels with I <= 0 pruned, then rounding with step
    alpha*sqrt(12) and `finetune_epochs` of fine-tuning). training: plain | fault-aware | gaussian
    (networks.fault_aware: the quantization stages, and for quant float a fine-tune of `finetune_epochs`, with
    the multiplier's errors under `train_noise` (a TrainNoise or a mapping of its fields; default TrainNoise())
    at every product, or Gaussian noise of matched power; starts from the plain float model of the same seed)."""

    dataset: str = "digits"
    arch: str = "mlp"
    hidden: tuple = (64,)
    seed: int = 0
    epochs: int = 300
    lr: float = 3e-3
    batch: int = 64
    patience: int = 40
    weight_decay: float = 0.0
    quant: str = "float"
    bits: int = 8
    backward: str = "ste"
    sigma: float = 0.5
    noise: str = "uniform"
    lam: float = 2e-5
    init_bits: float = 6.0
    noise_epochs: int = 300
    finetune_epochs: int = 60
    training: str = "plain"
    train_noise: TrainNoise | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        checks = [("dataset", datasets.known(self.dataset), ", ".join(datasets.DATASETS) + " or a task on one"),
                  ("arch", self.arch in ARCHS, ", ".join(ARCHS)), ("quant", self.quant in QUANTS, ", ".join(QUANTS)),
                  ("backward", self.backward in BACKWARDS, ", ".join(BACKWARDS)),
                  ("noise", self.noise in NOISES, ", ".join(NOISES)),
                  ("bits", isinstance(self.bits, int) and 1 <= self.bits <= 16, "an integer in 1..16"),
                  ("hidden", all(h >= 1 for h in self.hidden), "positive widths"),
                  ("training", self.training in TRAININGS, ", ".join(TRAININGS)),
                  ("epochs", self.epochs >= 1, ">= 1"), ("lr", self.lr > 0, "> 0"), ("lam", self.lam >= 0, ">= 0")]
        for name, ok, allowed in checks:
            if not ok:
                raise NetworkError(f"model config: {name} = {getattr(self, name)!r} is invalid (allowed: {allowed})")
        if self.training == "plain" and self.train_noise is not None:
            raise NetworkError("model config: train_noise needs training = 'fault-aware' or 'gaussian'")
        if self.training != "plain":
            object.__setattr__(self, "train_noise", TrainNoise.parse(self.train_noise or {}))

    def key(self) -> str:
        d = dataclasses.asdict(self)
        d.pop("extra")
        if self.training == "plain":  # the keys of plain models are those from before fault-aware training
            del d["training"], d["train_noise"]
        else:  # and the multiplier's gates: a changed generator trains anew
            d["fault_aware_version"] = FAULT_AWARE_VERSION
            d["multiplier_netlist"] = self.train_noise.netlist().fingerprint()
        return hashlib.sha256(json.dumps([TRAIN_VERSION, d], sort_keys=True).encode()).hexdigest()[:20]


def build(config: ModelConfig, ds: datasets.Dataset) -> nn.Module:
    """The untrained model of `config` (seeded). hidden: the MLP widths; cnn1d and cnn2d: conv channels
    (cnn2d: two); rescnn: one channel count; resnet20: three stage widths (16, 32, 64) on (C, H, W) images."""
    torch.manual_seed(config.seed)
    if config.arch == "mlp":
        return mlp(ds.n_features, config.hidden, ds.n_classes, ds.shape)
    if config.arch == "cnn2d":
        return cnn2d(ds.shape, config.hidden, ds.n_classes)
    if config.arch == "rescnn":
        return rescnn(ds.shape, config.hidden, ds.n_classes)
    if config.arch == "resnet20":
        return resnet20(ds.shape, config.hidden, ds.n_classes)
    if len(ds.shape) != 2:
        raise NetworkError(f"cnn1d needs (channels, length) inputs; data set {ds.name} has shape {ds.shape}")
    return cnn1d(ds.shape, config.hidden, ds.n_classes)


def _tensors(ds: datasets.Dataset, seed: int):
    """Train / validation (10% of train, seeded) / test tensors; inputs as the model expects them."""
    def shape(x):
        return torch.as_tensor(x.reshape(len(x), *ds.shape))

    perm = np.random.default_rng(seed).permutation(len(ds.x_train))
    n_val = max(1, len(perm) // 10)
    val, tr = perm[:n_val], perm[n_val:]
    return ((shape(ds.x_train[tr]), torch.as_tensor(ds.y_train[tr])),
            (shape(ds.x_train[val]), torch.as_tensor(ds.y_train[val])),
            (shape(ds.x_test), torch.as_tensor(ds.y_test)))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def total_bits(model: nn.Module) -> torch.Tensor:
    """Sum over weight layers and channels of max(I_c, 0) times the channel's element count (bits)."""
    terms = []
    for layer in weight_layers(model):
        q = layer.quant
        if q.mode == "noise":
            per = layer.weight[0].numel()
            terms.append((q.learned_bits(layer.weight).clamp_min(0) * q.mask).sum() * per)
    return torch.stack(terms).sum() if terms else torch.zeros(())


def fit(model: nn.Module, splits, config: ModelConfig, epochs: int, lam: float = 0.0, desc: str = "train",
        progress: bool = True, injector: Injector | None = None) -> dict:
    """Adam on cross-entropy (+ lam * total bits), early stopping on validation loss, best state restored. With an
    injector, its noise is in every training batch (level drawn per batch) and in the validation passes (the same
    draws every epoch)."""
    (xtr, ytr), (xva, yva), _ = splits
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    best, best_state, waited, history = math.inf, None, 0, []
    bar = tqdm(range(epochs), desc=desc, disable=None if progress else True, leave=False, unit="epoch")
    epochs_run = 0
    for _ in bar:
        epochs_run += 1
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(perm), config.batch):
            idx = perm[i:i + config.batch]
            if injector is not None:
                injector.draw_level()
            with Injector.active(injector):
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            if lam:
                loss = loss + lam * total_bits(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(), Injector.active(injector, fixed=True):
            val = F.cross_entropy(model(xva), yva).item() + (lam * total_bits(model).item() if lam else 0.0)
        history.append(val)
        bar.set_postfix(val_loss=f"{val:.4f}")
        if val < best - 1e-5:
            best, best_state, waited = val, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"epochs": epochs_run, "best_val_loss": best}


def _train(config: ModelConfig, progress: bool) -> tuple[nn.Module, dict]:
    ds = datasets.load(config.dataset)
    splits = _tensors(ds, config.seed)
    model = build(config, ds)
    if config.training == "plain":
        info = {"float": fit(model, splits, config, config.epochs, desc=f"float {config.dataset}", progress=progress)}
        info["float_test_accuracy"] = accuracy(model, *splits[2])
        info.update(quantize(model, splits, config, progress))
    else:  # from the plain float model of this seed (cached), the later stages with the noise
        base, base_info = trained_model(dataclasses.replace(config, quant="float", training="plain", train_noise=None),
                                        progress)
        model.load_state_dict(base.state_dict())
        info = {"float": base_info["float"], "float_test_accuracy": base_info["float_test_accuracy"]}
        injector = Injector(config.train_noise.model(), config.training, config.train_noise, config.seed)
        with injector.installed(weight_layers(model)):
            info.update(quantize(model, splits, config, progress, injector))
            if config.quant == "float":
                info["fault_aware"] = fit(model, splits, config, config.finetune_epochs, desc=config.training,
                                          progress=progress, injector=injector)
    info["test_accuracy"] = accuracy(model, *splits[2])
    return model, info


def quantize(model: nn.Module, splits, config: ModelConfig, progress: bool = True,
             injector: Injector | None = None) -> dict:
    """The quantization stage of config.quant on a trained model of any structure whose weight layers carry
    quantizers (networks.models.attach_quantizers): fixed-bit QAT, or learned noise (penalty lam per bit),
    pruning of the output channels with I <= 0, rounding with step alpha * sqrt(12) and a fine-tune.
    splits: ((x, y) train, (x, y) validation, (x, y) test) tensors; injector: noise in every stage (fit). Returns
    the training info of the stages."""
    layers = weight_layers(model)
    if config.quant != "float" and not layers:
        raise NetworkError(f"quantization {config.quant!r}: the model has no layer with a quantizer "
                           "(call networks.models.attach_quantizers first)")
    info: dict = {}
    if config.quant == "fixed":
        for layer in layers:
            layer.quant.start_fixed(config.bits, config.backward, config.sigma)
        info["qat"] = fit(model, splits, config, config.finetune_epochs, desc=f"QAT {config.bits} bits",
                          progress=progress, injector=injector)
    elif config.quant == "learned-noise":
        for layer in layers:
            layer.quant.start_noise(layer.weight.detach(), config.init_bits, config.noise)
        info["noise"] = fit(model, splits, config, config.noise_epochs, lam=config.lam, desc="learned noise",
                            progress=progress, injector=injector)
        with torch.no_grad():
            for layer in layers:
                q = layer.quant
                keep = (q.learned_bits(layer.weight) > 0).float()
                q.mask.copy_(keep * q.mask)
                q.freeze_steps(q.alpha.detach() * math.sqrt(12), config.backward)
        info["finetune"] = fit(model, splits, config, config.finetune_epochs, desc="fine-tune", progress=progress,
                               injector=injector)
    return info


def models_dir() -> Path:
    """Where trained models live: cache_root()/models (a temporary folder when that is unusable)."""
    return usable_dir(cache_root() / "models")


def trained_model(config: ModelConfig, progress: bool = True, cache: bool = True) -> tuple[nn.Module, dict]:
    """The trained model of `config` and its training info; from the cache when it was trained before."""
    torch.set_num_threads(1)
    path = models_dir() / f"{config.key()}.pt"
    ds = datasets.load(config.dataset)
    if cache:
        loaded = _load_cached(path, config, ds)
        if loaded is not None:
            return loaded
    model, info = _train(config, progress)
    model.eval()
    if cache:
        modes = [(layer.quant.mode, layer.quant.bits, layer.quant.backward_kind) for layer in weight_layers(model)]
        buf = io.BytesIO()
        torch.save({"state": model.state_dict(), "info": info, "modes": modes,
                    "config": dataclasses.asdict(config)}, buf)
        write_verified(path, buf.getvalue())
    return model, info


def _load_cached(path: Path, config: ModelConfig, ds) -> tuple[nn.Module, dict] | None:
    """The cached model at `path` when it exists and verifies; None (with a warning when it exists) if not."""
    data = read_verified(path, "model", "retraining it")
    if data is None:
        return None
    try:
        saved = torch.load(io.BytesIO(data), weights_only=True)
        model = build(config, ds)
        restore_modes(model, saved["modes"])
        model.load_state_dict(saved["state"])
        info = saved["info"]
    except Exception as exc:  # verified bytes that still do not make this model (another torch, a stale layout)
        warn(f"cached model {path} cannot be loaded ({type(exc).__name__}); retraining it")
        return None
    model.eval()
    return model, info


def restore_modes(model: nn.Module, modes) -> None:
    """Set each weight layer's quantizer (mode, bits, backward) as saved with the model."""
    for layer, (mode, bits, backward) in zip(weight_layers(model), modes, strict=True):
        layer.quant.mode, layer.quant.bits, layer.quant.backward_kind = mode, bits, backward


def size_report(model: nn.Module) -> dict:
    """Per layer and channel: learned bits I (when learned), integer bits of the rounded weights, pruned
    count; total size in bits including one fp32 scale per channel and fp32 biases (KB = 1024 bytes)."""
    layers, total = [], 0
    for k, layer in enumerate(weight_layers(model)):
        q = layer.quant
        w = layer.weight.detach()
        with torch.no_grad():
            steps = q.current_steps(w)
            kept = q.mask.bool()
            ints = torch.round(w.reshape(w.shape[0], -1) / steps[:, None]).abs().amax(dim=1)
        if q.mode == "float":
            int_bits = torch.full((w.shape[0],), 32)
        else:
            int_bits = torch.where(kept, torch.ceil(torch.log2(2 * ints + 1)).clamp_min(1), torch.zeros_like(ints))
        per = w[0].numel()
        weight_bits = int((int_bits * per).sum())
        scale_bits = 32 * int(kept.sum()) if q.mode != "float" else 0
        bias_bits = 32 * layer.bias.numel() if layer.bias is not None else 0
        entry = {"layer": k, "channels": int(w.shape[0]), "pruned": int((~kept).sum()),
                 "int_bits": int_bits.tolist(), "weight_bits": weight_bits, "scale_bits": scale_bits,
                 "bias_bits": bias_bits}
        if q.mode == "step" or q.mode == "noise":
            entry["learned_bits"] = [round(float(v), 3) for v in q.learned_bits(w)]
        layers.append(entry)
        total += weight_bits + scale_bits + bias_bits
    return {"layers": layers, "total_bits": total, "kb": total / 8 / 1024}
