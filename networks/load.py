"""Models from files without running pickled code: torch.export archives and state_dicts of built-in models.

`load_model(path)` reads a torch.export archive (torch.export.save; rebuilt from its serialized ATen graph and
raw tensors by networks.pt2, which reads no pickle) and returns its graph module. `load_model(path, config)`
reads a state_dict of the built-in architecture of `config` (networks.ModelConfig) with
torch.load(weights_only=True): a bare state_dict, or the model cache's {"state", "modes", ...} form. Any
failure is one NetworkError line naming the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from networks import data as datasets
from networks.errors import NetworkError
from networks.pt2 import load_archive
from networks.train import ModelConfig, build, restore_modes


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def load_model(path, config: ModelConfig | None = None, dataset: datasets.Dataset | None = None) -> nn.Module:
    """The model saved at `path` (eval mode): a torch.export archive when `config` is None, else a state_dict
    of build(config, dataset) (dataset: config.dataset when not given, for the input shape and classes)."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"model file {path}: no such file")
    if config is None:
        return load_archive(path)
    try:
        saved = torch.load(str(path), weights_only=True, map_location="cpu")
    except Exception as exc:  # not a torch file, or one that needs unpickling code
        raise NetworkError(f"model file {path}: not a weights-only torch state_dict ({_why(exc)})") from None
    if not isinstance(saved, dict):
        raise NetworkError(f"model file {path}: holds a {type(saved).__name__}, not a state_dict")
    state, modes = (saved["state"], saved.get("modes")) if "state" in saved else (saved, None)
    model = build(config, dataset or datasets.load(config.dataset))
    try:
        if modes is not None:
            restore_modes(model, modes)
        model.load_state_dict(state)
    except Exception as exc:  # missing or misshapen tensors
        raise NetworkError(f"model file {path}: does not fit arch {config.arch!r} with hidden {list(config.hidden)} "
                           f"({_why(exc)})") from None
    return model.eval()


def fit_data(ds: datasets.Dataset, model: nn.Module, where: str) -> datasets.Dataset:
    """`ds` with n_classes set to the model's number of outputs, once its inputs are checked to fit the model
    and its labels to be outputs the model can give (NetworkError naming `where` otherwise): a test set with a
    subset of the classes keeps the model's class count, and a label the model cannot output is refused. The
    model is put in eval mode (as export does), so the check changes no batch-norm statistics."""
    if not isinstance(model, torch.fx.GraphModule):  # a torch.export graph module is already in eval mode
        model.eval()
    try:
        with torch.no_grad():
            out = model(torch.as_tensor(ds.x_test[:2], dtype=torch.float32))
    except Exception as exc:  # any shape or dtype mismatch inside the user's model
        raise NetworkError(f"{where}: inputs of shape {ds.shape} do not fit the model ({_why(exc)})") from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(ds.x_test[:2]):
        raise NetworkError(f"{where}: the model gives {getattr(out, 'shape', type(out).__name__)} for a batch, "
                           "not one row of class scores per input")
    k, top = int(out.shape[1]), int(ds.y_test.max())
    if top >= k:
        raise NetworkError(f"{where}: y_test holds label {top}, but the model has {k} outputs (labels 0..{k - 1})")
    return dataclasses.replace(ds, n_classes=k)
