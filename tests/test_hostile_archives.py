"""Model archives run no code (issue 21, item 1): a .pt2 whose pickled parts carry a payload is either loaded
without reading them (the example inputs) or refused with one line naming the file; the payload's marker file
never appears. Driven through the command line."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.hostile import cli, model_suite, refused, tree

SUITE = model_suite("archive")


class _Payload:
    """Unpickling this creates the file `marker` (what an attacker's code would do, harmlessly)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled_payload(marker: Path) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({"x": _Payload(marker)}, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).eval()
    program = torch.export.export(model, (torch.zeros(4, 64),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    path = tmp_path_factory.mktemp("archive") / "m.pt2"
    torch.export.save(program, str(path))
    return path


def _rewrite(src: Path, dst: Path, edit) -> None:
    """Copy the archive `src` to `dst` with `edit(name, data) -> data | None` applied (None drops the entry)
    and `edit("+", None)` giving extra (name, data) entries to add."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        top = zin.namelist()[0].split("/")[0]
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in edit("+", None) or []:
            zout.writestr(f"{top}/{name}", data)


def _hostile(kind: str, marker: Path):
    payload = _pickled_payload(marker)

    def edit(name, data):
        if name == "+":
            return [("data/weights/model.pt", payload)] if kind == "legacy-weights" else []
        if kind == "sample-inputs" and name.endswith("sample_inputs/model.pt"):
            return payload
        if kind == "pickled-weight" and name.endswith("model_weights_config.json"):
            return data.replace(b'"use_pickle": false', b'"use_pickle": true', 1)
        if kind == "pickled-weight" and name.endswith("weights/weight_0"):
            return payload
        return data

    return edit


@pytest.mark.parametrize("kind", ["sample-inputs", "legacy-weights", "pickled-weight"])
def test_payloads_in_archives_never_run(good_archive, tmp_path, kind):
    marker = tmp_path / "outside" / "PWNED"
    marker.parent.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    _rewrite(good_archive, work / "m.pt2", _hostile(kind, marker))
    (work / "s.toml").write_text(SUITE)
    before = tree(work)
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=work)
    assert not marker.exists(), "the archive's pickle ran"
    if kind == "sample-inputs":  # the example inputs are never read: the archive loads and runs
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        refused(result, "m.pt2", "pickle")
        assert "Traceback" not in result.stdout
    assert {k: v for k, v in tree(work).items() if not k.startswith("run")} == before


def test_a_loaded_archive_computes_what_the_module_computes(good_archive):
    """Oracle: the same archive through torch.export.load (trusted here) gives the same outputs."""
    from networks.load import load_model

    ours, theirs = load_model(good_archive), torch.export.load(str(good_archive)).module()
    x = torch.rand(7, 64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_a_plain_pickle_named_pt2_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "m.pt2").write_bytes(pickle.dumps(_Payload(marker)))
    (tmp_path / "s.toml").write_text(SUITE)
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=tmp_path)
    refused(result, "m.pt2")
    assert not marker.exists() and not (tmp_path / "run").exists()
