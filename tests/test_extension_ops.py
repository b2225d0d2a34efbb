"""Extension in one place, proven for torch operations: Hardsigmoid, defined in this file as a piecewise-linear
operation (its module, F.* and aten.* forms in one class), imports in every form, runs in the integer engine
within quantization rounding of float torch, and runs through a suite end to end (validation, run, summary,
list, report) without any change to the packages."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from networks import IntegerEngine, NetworkError, digits, from_torch
from networks.engine import IntegerEngine as Engine
from networks.ops import OPERATIONS, Op, PiecewiseLinear
from testbed.cli.main import main
from testbed.store import read_summary

aten = torch.ops.aten


@pytest.fixture
def hardsigmoid():
    """Register Hardsigmoid (by defining its class); unregister it after."""

    class Hardsigmoid(PiecewiseLinear):
        """hardsigmoid(x) = clamp(x / 6 + 1/2, 0, 1)."""

        name = "hardsigmoid"
        summary = "Hardsigmoid (a test's own)"
        modules = (nn.Hardsigmoid,)
        functions = {F.hardsigmoid: ("input",), aten.hardsigmoid.default: ("input",)}

        def segments(self, params):
            return [(-math.inf, 0.0, 0.0), (-3.0, 1 / 6, 0.5), (3.0, 0.0, 1.0)]

    yield OPERATIONS["hardsigmoid"]
    OPERATIONS.pop("hardsigmoid")


class _Functional(nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.fc = linear

    def forward(self, x):
        return F.hardsigmoid(self.fc(x))


def _linear(seed=0) -> nn.Linear:
    """Linear(64, 16) whose outputs on digits reach well past +-3 (both flat pieces of Hardsigmoid are used)."""
    torch.manual_seed(seed)
    fc = nn.Linear(64, 16)
    nn.init.normal_(fc.weight, std=1.0)
    return fc


def _forms(fc) -> dict:
    batch = torch.export.Dim("batch")
    module = nn.Sequential(fc, nn.Hardsigmoid()).eval()
    program = torch.export.export(module, (torch.zeros(4, 64),), dynamic_shapes=({0: batch},))
    return {"module": module, "functional": _Functional(fc).eval(), "aten": program.module()}


def _within_rounding(imodel, out, ref, slope):
    """|integer output * scale - float torch| within the rounding of a Linear(64, n) followed by the piecewise-
    linear node (steepest slope `slope`): weights to their step, inputs to 1 / amax, bias to the accumulator step,
    the linear's output to its scale, all through the slope; then the node's own rounding."""
    lay, node = imodel.layers[0], imodel.nodes[-1]
    amax = 2 ** imodel.act_bits - 1
    w = lay.weight * lay.w_scale[:, None]
    linear_err = (lay.w_scale / 2 * 64 + np.abs(w).sum(axis=1) / (2 * amax) + lay.w_scale * lay.in_scale / 2
                  + lay.out_scale / 2)
    bound = slope * linear_err + node.scale / 2 + 1e-9
    err = np.abs(out * node.scale - ref)
    assert (err <= bound).all(), float((err - bound).max())


def test_every_form_imports_and_follows_float_torch_within_rounding(hardsigmoid):
    assert Engine.OPS is OPERATIONS and OPERATIONS["hardsigmoid"] is hardsigmoid
    ds = digits()
    fc = _linear()
    with torch.no_grad():
        ref = F.hardsigmoid(fc(torch.as_tensor(ds.x_test))).double().numpy()
    for form, module in _forms(fc).items():
        imodel = from_torch(module, ds.x_train)
        assert [n.op for n in imodel.nodes] == ["input", "linear", "hardsigmoid"], form
        out = IntegerEngine(imodel).run(ds.x_test).logits
        _within_rounding(imodel, out, ref, 1 / 6)
        amax = 2 ** imodel.act_bits - 1
        assert out.min() == 0 and out.max() == amax and ((out > 0) & (out < amax)).mean() > 0.2, form
        assert not imodel.nodes[-1].signed and imodel.nodes[-1].params["clamp"] == (0, amax)


def test_a_piecewise_linear_operation_with_a_parameter_and_negative_outputs():
    """LeakyReLU: its slope read off the module; outputs of both signs."""

    class LeakyReLU(PiecewiseLinear):
        name = "leaky_relu"
        modules = (nn.LeakyReLU,)

        def from_module(self, mod, node):
            return Op(self.name, [node.args[0]], {"slope": float(mod.negative_slope)})

        def segments(self, params):
            return [(-math.inf, params["slope"], 0.0), (0.0, 1.0, 0.0)]

    try:
        ds = digits()
        module = nn.Sequential(_linear(1), nn.LeakyReLU(0.2)).eval()
        imodel = from_torch(module, ds.x_train)
        out = IntegerEngine(imodel).run(ds.x_test).logits
        with torch.no_grad():
            ref = module(torch.as_tensor(ds.x_test)).double().numpy()
        _within_rounding(imodel, out, ref, 1.0)
        assert imodel.nodes[-1].signed and out.min() < 0 < out.max()
    finally:
        OPERATIONS.pop("leaky_relu")


def test_hardsigmoid_network_classifies_like_float_torch(hardsigmoid):
    ds = digits()
    model = _trained()
    with torch.no_grad():
        float_pred = model(torch.as_tensor(ds.x_test)).argmax(1).numpy()
    result = IntegerEngine(from_torch(model, ds.x_train)).run(ds.x_test)
    assert np.mean(float_pred == ds.y_test) >= 0.9
    assert np.mean(result.predictions == float_pred) >= 0.97


def test_without_the_class_hardsigmoid_is_unsupported_in_one_line():
    assert "hardsigmoid" not in OPERATIONS
    with pytest.raises(NetworkError) as info:
        from_torch(nn.Sequential(nn.Linear(64, 10), nn.Hardsigmoid()), digits().x_train[:32])
    msg = str(info.value)
    assert "\n" not in msg and "module Hardsigmoid is not supported" in msg and "Hardsigmoid (a test" not in msg


def test_segments_that_do_not_start_at_minus_infinity_are_one_line():
    class Shifted(PiecewiseLinear):
        name = "shifted"
        modules = (nn.Softsign,)

        def segments(self, params):
            return [(0.0, 1.0, 0.0), (-1.0, 0.0, 0.0)]

    try:
        with pytest.raises(NetworkError, match="'shifted': segments must start at -inf and rise"):
            from_torch(nn.Sequential(nn.Linear(64, 4), nn.Softsign()), digits().x_train[:32])
    finally:
        OPERATIONS.pop("shifted")


def test_an_operation_cannot_claim_a_form_of_another(hardsigmoid):
    with pytest.raises(NetworkError, match="already handled by 'hardsigmoid'"):
        class Twice(PiecewiseLinear):
            name = "twice"
            functions = {F.hardsigmoid: ("input",)}
    assert "twice" not in OPERATIONS


def _trained() -> nn.Module:
    torch.manual_seed(0)
    ds = digits()
    model = nn.Sequential(nn.Linear(64, 32), nn.Hardsigmoid(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.tensor(ds.x_train, dtype=torch.float32), torch.tensor(ds.y_train)
    for _ in range(100):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


SUITE = """
[suite]
name = "hardsigmoid"
seed = 2
[defaults]
max_trials = 2
budget = 0
[systems.hs]
kind = "network"
model = "MODEL"
[[sweeps]]
name = "products"
noise = "additive"
levels = [2.0, 6.0, 12.0]
sites = {hs = "product"}
"""


def test_a_hardsigmoid_model_runs_through_a_suite(tmp_path: Path, capsys, hardsigmoid):
    model = _trained()
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.zeros(4, 64),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(tmp_path / "hs.pt2"))
    gelu = torch.export.export(nn.Sequential(nn.Linear(64, 10), nn.GELU()).eval(), (torch.zeros(4, 64),),
                               dynamic_shapes=({0: batch},))
    torch.export.save(gelu, str(tmp_path / "gelu.pt2"))
    assert main(["list"]) == 0
    assert "Hardsigmoid (a test's own)" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace("MODEL", "gelu.pt2"))
    assert main(["run", str(bad), "--out", str(tmp_path / "bad"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gelu" in err and "Hardsigmoid (a test's own)" in err
    assert not (tmp_path / "bad").exists()
    suite = tmp_path / "hs.toml"
    suite.write_text(SUITE.replace("MODEL", "hs.pt2"))
    out = tmp_path / "run"
    assert main(["run", str(suite), "--out", str(out), "--workers", "1"]) == 0, capsys.readouterr().err
    summary = read_summary(out)
    ds = digits()
    with torch.no_grad():
        float_acc = np.mean(model(torch.as_tensor(ds.x_test)).argmax(1).numpy() == ds.y_test)
    assert abs(summary["systems"]["hs"]["clean_accuracy"] - float_acc) <= 0.02
    (sweep,) = summary["sweeps"]
    (unit,) = sweep["units"]
    by_level = {point["level"]: point for point in unit["curve"]}
    assert by_level[2.0]["agreement"] < by_level[12.0]["agreement"]  # 2 bits of product SNR hurt more than 12
    assert (out / "report.html").is_file() and "hs" in (out / "report.md").read_text()
