"""suites/resnet20.toml end to end on a generated .npz of 32x32x3 images and an exported ResNet-20, the test set
streamed in batches (the same counts as one pass, never more than a batch in the engine), and fault budgets of the
processing element's parts counted by hand."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import circuits as c
from networks import IntegerEngine, Multiplier, from_torch, load_model
from networks.data import Dataset, from_npz
from networks.models import resnet20
from testbed import systems
from testbed.noise import bitflip, stuck_at
from testbed.progress import InputBar
from testbed.sites import site_named
from testbed.systems import NetworkSystem
from tests.hostile import ROOT, cli

N_IMAGES = 8
WIDTHS = (4, 8, 8)


def _plain(model: nn.Module) -> nn.Module:
    """The built-in model with plain torch layers (a user's model has no weight quantizers)."""
    for m in model.modules():
        if hasattr(m, "quant"):
            del m.quant
            m.__class__ = nn.Conv2d if isinstance(m, nn.Conv2d) else nn.Linear
    return model


@pytest.fixture(scope="module")
def user_files(tmp_path_factory) -> Path:
    """The suite beside what a user puts there: a ResNet-20 in the CIFAR layout, narrowed to stage widths 4, 8, 8
    for time (seeded weights, batch-norm statistics from one training-mode pass) saved with torch.export, and 8
    random images as CIFAR-10 files hold them (uint8, channels last, labels in a column)."""
    work = tmp_path_factory.mktemp("resnet20")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N_IMAGES, 32, 32, 3), dtype=np.uint8)
    np.savez(work / "cifar10-test.npz", x_test=images, y_test=rng.integers(0, 10, (N_IMAGES, 1)))
    torch.manual_seed(0)
    model = _plain(resnet20((3, 32, 32), WIDTHS, 10))
    with torch.no_grad():
        model.train()(torch.as_tensor(images.transpose(0, 3, 1, 2) / 255, dtype=torch.float32))
    program = torch.export.export(model.eval(), (torch.zeros(4, 3, 32, 32),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(work / "resnet20.pt2"))
    shutil.copy(ROOT / "suites" / "resnet20.toml", work / "resnet20.toml")
    return work


def test_cifar_layout_npz_is_read_as_torch_images(user_files):
    with np.load(user_files / "cifar10-test.npz") as f:
        raw, labels = f["x_test"], f["y_test"]
    ds = from_npz(user_files / "cifar10-test.npz")
    assert ds.shape == (3, 32, 32) and ds.x_test.dtype == np.float32
    np.testing.assert_array_equal(ds.x_test, raw.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_test, labels[:, 0])


def test_the_resnet20_suite_runs_end_to_end_through_the_command_line(user_files):
    text = (user_files / "resnet20.toml").read_text()
    short = text.replace("levels = {log = [1e-11, 1e-4, 8]}", "levels = [1e-9, 1e-6]").replace(
        "min_trials = 2\nmax_trials = 3\nrefine = 1\nbudget = 30", "min_trials = 1\nmax_trials = 1\nrefine = 0\n"
        "budget = 0").replace('data = "cifar10-test.npz"\n', 'data = "cifar10-test.npz"\nbatch = 4\n')
    assert short.count("levels = [1e-9, 1e-6]") == 1 and "budget = 0" in short and "batch = 4" in short
    (user_files / "short.toml").write_text(short)
    result = cli("run", "short.toml", "--out", "out", "--workers", "1", "--no-report", cwd=user_files)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "inputs" not in result.stderr  # no inputs bar: stderr is no terminal here
    summary = json.loads((user_files / "out" / "summary.json").read_text())
    detail = summary["systems"]["resnet20"]
    assert detail["test_inputs"] == N_IMAGES and detail["batch"] == 4 and detail["dataset"] == "cifar10-test"
    assert len([lay for lay in detail["layers"] if lay["kind"] == "conv2d"]) == 21
    units = {u["label"]: u for s in summary["sweeps"] for u in s["units"]}
    assert set(units) == {"gate-flips/mul8@gate", "gate-flips/resnet20@mac-gate"}
    curve = units["gate-flips/resnet20@mac-gate"]["curve"]
    assert [p["samples"] for p in curve] == [N_IMAGES, N_IMAGES]


@pytest.fixture(scope="module")
def engine_and_data(user_files):
    ds = from_npz(user_files / "cifar10-test.npz")
    imodel = from_torch(load_model(user_files / "resnet20.pt2"), ds.x_train)
    return IntegerEngine(imodel, Multiplier("gates", c.multiplier(8))), ds


def test_streaming_in_batches_counts_what_one_pass_counts_and_holds_one_batch(engine_and_data, monkeypatch):
    """Batches of 4 against one pass of all 8 inputs: the same noise-free predictions, operand counts and
    outputs per layer, and under permanent faults (stuck-at gates of the multiplier, stuck-at weight bits) and
    weight flips the same counts in every trial, since every batch sees the trial's one draw of them; the engine
    never gets more than a batch of inputs."""
    engine, ds = engine_and_data
    seen, streams = [], []
    run = engine.run

    def spy(x, **kw):
        seen.append(len(x))
        if kw.get("rng") is not None:  # the state each batch starts its draws from
            streams.append(str(kw["rng"].bit_generator.state))
        return run(x, **kw)

    monkeypatch.setattr(engine, "run", spy)
    batches = N_IMAGES // 4
    streamed = NetworkSystem(engine, ds, "resnet20", batch=4)
    assert seen == [4] * batches
    whole = NetworkSystem(engine, ds, "resnet20", batch=N_IMAGES)
    assert seen[batches:] == [N_IMAGES]
    np.testing.assert_array_equal(streamed.golden, whole.golden)
    np.testing.assert_array_equal(streamed.operand_histogram, whole.operand_histogram)
    assert streamed.outputs == whole.outputs
    counts = ("n", "correct", "lost", "gained", "agree", "all_products_exact", "confusion")
    for noise, site in ((stuck_at(40), "mac-gate"), (stuck_at(200), "weight"), (bitflip(2e-3), "weight")):
        for seed in (1, 2):
            del streams[:]
            a = streamed.trial(noise, site, seed)
            assert len(set(streams)) == 1 and len(streams) == batches  # every batch draws alike
            b = whole.trial(noise, site, seed)
            assert {k: a[k] for k in counts} == {k: b[k] for k in counts}, (noise, site, seed)
            for power in ("signal_power", "error_power"):  # float sums in another order
                assert a[power] == pytest.approx(b[power], rel=1e-12)
    assert max(seen) == N_IMAGES and all(n == 4 for n in seen[batches + 1:] if n != N_IMAGES)
    del streams[:]
    row = streamed.trial(bitflip(0.3), "activation", 3)  # transient flips of per-input words
    assert row["n"] == N_IMAGES and len(set(streams)) == batches  # a stream of each batch's own


def _tiny(multiplier, **kwargs) -> NetworkSystem:
    """Conv 1->2 channels 3x3 (padding 1) on 4x4 images, ReLU, linear 32 -> 3, on 5 random inputs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3)).eval()
    x = np.random.default_rng(0).random((5, 1, 4, 4), dtype=np.float32)
    imodel = from_torch(model, x)
    mul = multiplier(imodel)
    return NetworkSystem(IntegerEngine(imodel, mul), Dataset("random", x, np.zeros(5, np.int64), x, np.arange(5) % 3,
                                                             3, (1, 4, 4)), **kwargs)


def test_fault_budgets_count_each_part_of_the_processing_element_as_often_as_it_runs():
    """By hand: 2 x 16 = 32 conv outputs of 9 multiply-accumulate steps each (288) and 3 x 32 = 96 linear steps,
    384 in all per input; the requantizer runs once per output of the ReLU layer (32), not once per multiply."""
    mul8 = c.multiplier(8)
    system = _tiny(lambda imodel: Multiplier("pe", mul8, acc_bits=imodel.acc_bits))
    pe = system.engine.multiplier
    assert pe.req is not None and pe.req_layers == {system.engine.model.layers[0].name}
    mul, add, req = mul8.n_gates, pe.adder.n_gates, pe.req.n_gates
    steps, outputs = 2 * 16 * 9 + 3 * 32, 2 * 16
    budget = {name: system.gates_per_evaluation(site_named(name))
              for name in ("mac-gate", "pe-add", "pe-gate", "pe-req", "pe-whole")}
    assert budget == {"mac-gate": mul * steps, "pe-add": add * steps, "pe-gate": (mul + add) * steps,
                      "pe-req": req * outputs, "pe-whole": (mul + add) * steps + req * outputs}


def test_the_default_batch_keeps_a_pass_under_its_multiplies(monkeypatch):
    """384 multiplies per input (as counted above): at most 1,000 per pass gives batches of 2 (2, 2, 1)."""
    assert _tiny(lambda imodel: None).batch == 5  # the whole set where it fits (2^29 multiplies)
    monkeypatch.setattr(systems, "PRODUCTS_PER_BATCH", 1000)
    done = []
    system = _tiny(lambda imodel: None, on_batch=lambda k, n: done.append((k, n)))
    assert system.batch == 2 and done == [(0, 5), (2, 5), (4, 5), (5, 5)]


def test_the_inputs_bar_shows_on_request_and_stays_quiet_off_a_terminal(capsys):
    quiet, shown = InputBar("trial"), InputBar("trial", show=True)
    for done in (0, 2, 4, 5):
        quiet(done, 5)
        shown(done, 5)
    err = capsys.readouterr().err
    assert all(err.count(f"trial: {k} of 5 inputs") == 1 for k in (0, 2, 4))  # one bar, drawn per batch


def test_readme_example_writes_a_model_and_test_set_the_suite_reads(tmp_path, monkeypatch):
    """The example of the README section 'ResNet-20 on your own data', run as written."""
    from tests.conftest import run_readme_example

    monkeypatch.chdir(tmp_path)
    assert run_readme_example("ResNet-20 on your own data").strip() == "(3, 32, 32) torch.Size([2, 10])"
    assert {p.name for p in tmp_path.iterdir()} == {"resnet20.pt2", "cifar10-test.npz"}
