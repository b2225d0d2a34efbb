"""Users' models and data in suites: a torch.export archive, a state_dict of a built-in architecture, an .npz
test set, and a Python entry point that only runs with --allow-code."""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from networks import digits
from testbed.cli.main import main
from testbed.store import read_summary
from tests.conftest import train_on_digits

SUITE = """
[suite]
name = "user"
seed = 1
[defaults]
max_trials = 2
budget = 0
[systems.net]
kind = "network"
MODEL
[[sweeps]]
name = "products"
noise = "additive"
levels = [2.0, 6.0, 12.0]
sites = {net = "product"}
"""


def _small_model() -> nn.Module:
    return train_on_digits(lambda: nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)), 60)


def _run(tmp_path: Path, model_lines: str, capsys, *flags) -> tuple[int, str]:
    suite = tmp_path / "s.toml"
    suite.write_text(SUITE.replace("MODEL", model_lines))
    status = main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1", "--no-report", *flags])
    return status, capsys.readouterr().err


def test_an_exported_model_on_a_test_set_from_npz(tmp_path: Path, capsys):
    model = _small_model()
    ds = digits()
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.zeros(4, 64),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(tmp_path / "m.pt2"))
    np.savez(tmp_path / "d.npz", x_test=ds.x_test[:200], y_test=ds.y_test[:200], x_calib=ds.x_train[:300])
    status, err = _run(tmp_path, 'model = "m.pt2"\ndata = "d.npz"', capsys)
    assert status == 0, err
    detail = read_summary(tmp_path / "run")["systems"]["net"]
    float_acc = (model(torch.tensor(ds.x_test[:200], dtype=torch.float32)).argmax(1).numpy() == ds.y_test[:200]).mean()
    assert detail["test_inputs"] == 200 and abs(detail["clean_accuracy"] - float_acc) <= 0.02


def test_a_state_dict_of_a_built_in_architecture(tmp_path: Path, capsys):
    from networks.train import ModelConfig, build

    config = ModelConfig(hidden=(16,))
    torch.save(build(config, digits()).state_dict(), tmp_path / "w.pt")
    status, err = _run(tmp_path, 'model = "w.pt"\narch = "mlp"\nhidden = [16]', capsys)
    assert status == 0, err


def test_entry_points_run_only_with_allow_code(tmp_path: Path, capsys, monkeypatch):
    (tmp_path / "user_model.py").write_text("import torch.nn as nn\n\ndef make():\n"
                                            "    return nn.Sequential(nn.Linear(64, 10)).eval()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status, err = _run(tmp_path, 'model = "user_model:make"', capsys)
    assert status == 2 and "--allow-code" in err and not (tmp_path / "run").exists()
    status, err = _run(tmp_path, 'model = "user_model:make"', capsys, "--allow-code")
    assert status == 0, err


def test_bad_model_and_data_files_are_one_line(tmp_path: Path, capsys):
    (tmp_path / "junk.pt2").write_bytes(b"not a model")
    status, err = _run(tmp_path, 'model = "junk.pt2"', capsys)
    assert status == 2 and "junk.pt2" in err and err.count("\n") == 1
    status, err = _run(tmp_path, 'model = "missing.pt2"', capsys)
    assert status == 2 and "systems.net.model: no such file" in err
