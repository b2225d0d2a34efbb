"""Per-layer sites: any network site restricted to one multiply layer, alone or as a per-layer sweep."""

from pathlib import Path

import pytest

from testbed.cli.main import main
from testbed.errors import TestbedError
from testbed.noise import bitflip
from testbed.store import read_summary
from tests.conftest import MLP_ON_MUL4, MUL4

SUITE = """
[suite]
name = "layers"
seed = 4
[defaults]
max_trials = 3
budget = 40
""" + MUL4 + "[systems.mlp]\n" + MLP_ON_MUL4 + """[[sweeps]]
name = "products"
noise = "bitflip"
levels = {log = [1e-4, 0.5, 8]}
sites = {mlp = "product"}
per_layer = true
[[sweeps]]
name = "gates"
noise = "bitflip"
levels = {log = [1e-5, 1e-1, 9]}
sites = {mlp = "mac-gate@layers.1"}
"""


def test_per_layer_sweep_and_single_layer_site(tmp_path: Path, capsys):
    suite = tmp_path / "l.toml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 0
    summary = read_summary(tmp_path / "run")
    products, gates = summary["sweeps"]
    layers = {u["layer"]: u for u in products["units"]}
    assert set(layers) == {None, "layers.0", "layers.1"}
    whole = layers[None]["breakdown"]["level"]
    # noise on one layer only breaks the network later than noise on every layer
    assert all(layers[k]["breakdown"]["level"] >= whole for k in ("layers.0", "layers.1"))
    assert [u["site"] for u in gates["units"]] == ["mac-gate@layers.1"]
    assert "mlp@product@layers.1" in capsys.readouterr().out
    assert (tmp_path / "run" / "figures" / "per_layer_0.png").is_file()


def test_an_unknown_layer_is_one_line(tmp_path: Path, capsys):
    suite = tmp_path / "l.toml"
    suite.write_text(SUITE.replace("mac-gate@layers.1", "mac-gate@features.9"))
    assert main(["run", str(suite), "--out", str(tmp_path / "run"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "no layer 'features.9' (layers: layers.0, layers.1)" in err and err.count("\n") == 1


def test_circuits_have_no_layers():
    import circuits
    from testbed.systems import CircuitSystem

    with pytest.raises(TestbedError, match="only network sites"):
        CircuitSystem(circuits.multiplier(2)).site(bitflip(0.1), "gate@0")
