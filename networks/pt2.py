"""torch.export archives (.pt2) loaded without any unpickling path.

torch.export.load unpickles in four places: the example inputs (`sample_inputs/<model>.pt`, with a fallback to
weights_only=False), legacy weight and constant files (`weights/<model>.pt`, `constants/<model>.pt`), tensors
flagged `use_pickle` and custom or opaque objects among the constants. `load_archive` reads the archive's one
serialized graph (`models/<model>.json`) and its raw tensor payloads only: the example inputs are never read,
and an archive that needs any of the other pickles is refused with one NetworkError line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from networks.errors import NetworkError


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def _refuse_pickles(reader, names: list[str], model: str, where: str) -> None:
    """Raise NetworkError when the archive's `model` needs unpickling to load (`where` names the file)."""
    from torch.export.pt2_archive import _package as pkg
    from torch.export.pt2_archive import constants as k

    for legacy in (f"{k.WEIGHTS_DIR}{model}.pt", f"{k.CONSTANTS_DIR}{model}.pt"):
        if legacy in names:
            raise NetworkError(f"{where}: holds pickled tensors ({legacy}); re-export it with torch.export.save")
    for fmt in (k.WEIGHTS_CONFIG_FILENAME_FORMAT, k.CONSTANTS_CONFIG_FILENAME_FORMAT):
        config_file = fmt.format(model)
        if config_file not in names:
            raise NetworkError(f"{where}: not a torch.export archive (no {config_file})")
        config = pkg._load_payload_config(reader, config_file)
        for fqn, meta in config.config.items():
            raw_tensor = meta.path_name.startswith((k.WEIGHT_FILENAME_PREFIX, k.TENSOR_CONSTANT_FILENAME_PREFIX))
            if meta.use_pickle or not raw_tensor or meta.tensor_meta is None:
                raise NetworkError(f"{where}: {fqn!r} is stored as a pickle ({meta.path_name}); only raw tensors "
                                   "load without running code")


def load_archive(path: Path) -> nn.Module:
    """The graph module of the torch.export archive at `path`, rebuilt from its serialized graph and raw
    tensors (no pickle is read; one that would be needed is refused)."""
    from torch._export.serde import schema
    from torch._export.serde.serialize import ExportedProgramDeserializer, _bytes_to_dataclass
    from torch.export.pt2_archive import _package as pkg
    from torch.export.pt2_archive import constants as k

    where = f"model file {path}"
    try:
        reader = pkg.PT2ArchiveReader(str(path))
        names = reader.get_file_names()
    except Exception as exc:  # not a zip, or not torch's archive format
        raise NetworkError(f"{where}: not a torch.export archive ({_why(exc)})") from None
    models = [n for n in names if n.startswith(k.MODELS_DIR) and n.endswith(".json")]
    if len(models) != 1:
        raise NetworkError(f"{where}: holds {len(models)} exported programs, expected exactly one")
    model = models[0][len(k.MODELS_DIR):-len(".json")]
    try:
        _refuse_pickles(reader, names, model, where)
        program = _bytes_to_dataclass(schema.ExportedProgram, reader.read_bytes(models[0]))
        state_dict = pkg._load_state_dict(reader, model)
        constants = pkg._load_constants(reader, model)
        exported = ExportedProgramDeserializer().deserialize(program, state_dict, constants, None)
        return exported.module()
    except NetworkError:
        raise
    except (Exception, RecursionError) as exc:  # the deserializer raises many kinds for malformed graphs
        if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
            raise NetworkError(f"{where}: malformed JSON in the archive ({_why(exc)})") from None
        raise NetworkError(f"{where}: not a loadable torch.export archive ({_why(exc)})") from None
