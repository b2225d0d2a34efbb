"""Users' test sets against their models (issue 21, items 6 and 11): labels are checked against the model's
outputs (a subset of the classes keeps the model's class count; a label it cannot output is refused), inputs
against the model's input shape, and .npz files from their headers before anything large is read. Driven
through the command line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from networks import digits
from tests.hostile import cli, model_suite, refused, tree

SUITE = model_suite("data", "d.npz")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    ds = digits()
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.tensor(ds.x_train), torch.tensor(ds.y_train)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    program = torch.export.export(model.eval(), (torch.zeros(4, 64),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    path = tmp_path_factory.mktemp("model") / "m.pt2"
    torch.export.save(program, str(path))
    return path


def _work(tmp_path: Path, archive: Path, **arrays) -> Path:
    (tmp_path / "m.pt2").write_bytes(archive.read_bytes())
    (tmp_path / "s.toml").write_text(SUITE)
    if arrays:
        np.savez(tmp_path / "d.npz", **arrays)
    return tmp_path


def _run(work: Path):
    return cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=work)


def test_a_test_set_with_a_subset_of_the_classes_keeps_the_models_classes(tmp_path, archive):
    ds = digits()
    keep = ds.y_test < 5
    work = _work(tmp_path, archive, x_test=ds.x_test[keep][:100], y_test=ds.y_test[keep][:100])
    result = _run(work)
    assert result.returncode == 0, result.stderr[-2000:]
    unit = json.loads((work / "run" / "summary.json").read_text())["sweeps"][0]["units"][0]
    confusion = np.array(unit["curve"][-1]["confusion"])
    assert confusion.shape == (10, 10)  # the model's outputs, not y_test.max() + 1 = 5
    assert not confusion[5:].any()  # no label 5..9 in the test set: nothing aliased into those rows


@pytest.mark.parametrize("label", [12, 200_000])
def test_a_label_the_model_cannot_output_is_refused(tmp_path, archive, label):
    ds = digits()
    y = ds.y_test[:50].copy()
    y[7] = label
    work = _work(tmp_path, archive, x_test=ds.x_test[:50], y_test=y)
    before = tree(work)
    refused(_run(work), "d.npz", f"label {label}", "10 outputs")
    assert tree(work) == before


def test_inputs_of_the_wrong_width_are_refused(tmp_path, archive):
    ds = digits()
    work = _work(tmp_path, archive, x_test=ds.x_test[:50, :32], y_test=ds.y_test[:50])
    before = tree(work)
    refused(_run(work), "d.npz", "do not fit the model")
    assert tree(work) == before


def test_a_zip_bomb_is_refused_from_its_header(tmp_path, archive):
    """x_test declares 2**31 float64 values (16 GiB) but the file is a few MB of zeros: refused before reading."""
    work = _work(tmp_path, archive)
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 64)))
    header["shape"] = (2 ** 25, 64)
    with zipfile.ZipFile(work / "d.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x_test.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            chunk = bytes(1 << 20)
            for _ in range(64):  # 64 MiB of zeros: about 64 KiB compressed; the rest missing
                fh.write(chunk)
        zf.writestr("y_test.npy", b"")
    before = tree(work)
    refused(_run(work), "d.npz", "x_test")
    assert tree(work) == before
