"""Importing torch modules into the integer graph: agreement with a fake-quantized float reference, multipliers
bit for bit, per-layer noise and faults, unsupported nodes, safe loading of models and data files."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import circuits as c
from networks import IntegerEngine, ModelConfig, Multiplier, NetworkError, digits, from_torch, load_model
from networks.data import from_npz
from networks.models import attach_quantizers
from networks.train import _tensors, quantize


class ResNet(nn.Module):
    """conv-BN-ReLU, a residual conv-BN added to it, ReLU, max pool, linear: on flat 8x8 digits."""

    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.pool, self.drop = nn.MaxPool2d(2), nn.Dropout(0.1)
        self.fc = nn.Linear(c * 16, 10)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x.view(x.size(0), 1, 8, 8))))
        y = torch.relu(y + self.bn2(self.conv2(y)))
        return self.fc(self.drop(torch.flatten(self.pool(y), 1)))


def _train(model, ds, epochs, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x, y = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def resnet():
    torch.set_num_threads(1)
    ds = digits()
    model = _train(ResNet(), ds, epochs=12)
    return model, from_torch(model, ds.x_train), ds


def _fake_quant_reference(model, imodel, x):
    """Float torch forward of ResNet with the integer model's weights, biases and scales, rounding and clamping
    every value where the integer model requantizes."""
    layers = {lay.name: lay for lay in imodel.layers}
    nodes = {n.name: n for n in imodel.nodes}
    amax = 2 ** imodel.act_bits - 1

    def weights(name):
        lay = layers[name]
        w = lay.weight * lay.w_scale[:, None]
        shape = (lay.n_out, -1, *lay.kernel) if lay.kind == "conv2d" else (lay.n_out, -1)
        b = lay.bias * lay.w_scale * lay.in_scale
        return torch.as_tensor(w.reshape(shape)), torch.as_tensor(b)

    def requant(v, scale, lo, hi):
        return torch.clamp(torch.round(v / scale), lo, hi) * scale

    x = torch.as_tensor(np.round(x * amax) / amax, dtype=torch.float64).view(-1, 1, 8, 8)
    lay1, lay2 = layers["conv1"], layers["conv2"]
    y = requant(F.conv2d(x, *weights("conv1"), padding=1), lay1.out_scale, *lay1.clamp)
    z = requant(F.conv2d(y, *weights("conv2"), padding=1), lay2.out_scale, *lay2.clamp)
    add = nodes["add"]
    y = requant(y + z, add.scale, *add.params["clamp"])
    y = torch.flatten(F.max_pool2d(y, 2), 1)
    return F.linear(y, *weights("fc")).argmax(1).numpy()


def test_imported_cnn_agrees_with_fake_quantized_reference_and_float(resnet):
    model, imodel, ds = resnet
    assert [n.op for n in imodel.nodes] == ["input", "reshape", "conv2d", "conv2d", "add", "maxpool", "reshape",
                                           "linear"]
    result = IntegerEngine(imodel).run(ds.x_test)
    reference = _fake_quant_reference(model, imodel, ds.x_test)
    assert np.mean(result.predictions == reference) >= 0.995
    with torch.no_grad():
        float_acc = np.mean(model(torch.as_tensor(ds.x_test)).argmax(1).numpy() == ds.y_test)
    assert float_acc >= 0.95
    assert abs(np.mean(result.predictions == ds.y_test) - float_acc) <= 0.005


def test_exact_lut_and_gates_give_identical_results_at_zero_noise(resnet):
    _, imodel, ds = resnet
    x = ds.x_test[:150]
    net = c.multiplier(8)
    exact = IntegerEngine(imodel).run(x)
    lut = IntegerEngine(imodel, Multiplier("lut", net)).run(x)
    gates = IntegerEngine(imodel, Multiplier("gates", net)).run(x)
    np.testing.assert_array_equal(lut.logits, exact.logits)
    np.testing.assert_array_equal(gates.logits, exact.logits)


def test_per_layer_noise_and_faults_touch_only_their_layer(resnet):
    _, imodel, ds = resnet
    x = ds.x_test[:64]
    eng = IntegerEngine(imodel, Multiplier("gates", c.multiplier(8)))
    assert eng.layer_names == ["conv1", "conv2", "fc"]
    seen = {}

    def spy(name):
        def fn(values, bits, signed, rng):
            seen[name] = values.copy()
            return values
        return fn

    probes = {f"accumulator@{name}": spy(name) for name in eng.layer_names}
    eng.run(x, noise=probes)
    clean = dict(seen)
    calls = []

    def zero(values, bits, signed, rng):
        calls.append(values.shape)
        return np.zeros_like(values)

    eng.run(x, noise={**probes, "weight@conv2": zero})
    assert calls == [imodel.layers[1].weight.shape]
    np.testing.assert_array_equal(seen["conv1"], clean["conv1"])
    assert np.all(seen["conv2"] == imodel.layers[1].bias)  # zero weights leave the bias
    faulty = eng.run(x, noise=probes, faults=c.GateFaults(0.02, seed=3), faults_layer="fc", measure_error=True)
    np.testing.assert_array_equal(seen["conv1"], clean["conv1"])
    np.testing.assert_array_equal(seen["conv2"], clean["conv2"])
    assert not np.array_equal(seen["fc"], clean["fc"])
    fc_products = imodel.layers[2].weight.size  # per input: the product site is measured at fc alone
    assert 0 < faulty.wrong_products.max() <= fc_products
    every = eng.run(x, measure_error=True).site_error["product"][0]
    assert 0 < faulty.site_error["product"][0] < every / 10
    with pytest.raises(NetworkError, match="unknown layer 'nope'; layers: conv1, conv2, fc"):
        eng.run(x, noise={"product@nope": zero})
    with pytest.raises(NetworkError, match="unknown layer 'fc2'"):
        eng.run(x, faults_layer="fc2")


class _Twice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


class _WithFunction(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return _Twice.apply(self.fc(x))


class _WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y, _ = self.lstm(x.view(x.size(0), 8, 8))
        return self.fc(y[:, -1])


@pytest.mark.parametrize("module, node", [(_WithLSTM(), "'lstm' (call_module lstm)"),
                                          (_WithFunction(), "'mul' (call_function mul)")])
def test_unsupported_node_is_named_in_one_line(module, node):
    with pytest.raises(NetworkError) as info:
        from_torch(module, digits().x_train[:32])
    msg = str(info.value)
    assert "\n" not in msg and f"node {node}" in msg and "supported: Linear" in msg


class _Zoo(nn.Module):
    """Depthwise and dilated convolutions, ReLU6, Hardtanh, average, adaptive and mean pools, cat, a 1-D branch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.dw = nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6)
        self.pw = nn.Conv2d(6, 4, 1, stride=2)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1)
        self.gap = nn.AdaptiveAvgPool2d((3, 3))
        self.conv1d = nn.Conv1d(1, 3, 5, stride=2, padding=2)
        self.pool1d = nn.MaxPool1d(2)
        self.fc = nn.Linear(6 * 9 + 4 * 9 + 3 * 16 + 6, 10)

    def forward(self, x):
        img = x.view(x.size(0), 1, 8, 8)
        y = F.relu6(self.conv(img))
        a = self.gap(F.hardtanh(self.dw(y), -0.5, 2.0))
        b = self.gap(self.avg(self.pw(y)))
        s = F.relu(self.pool1d(self.conv1d(x.view(x.size(0), 1, 64))))
        g = y.mean([2, 3])
        return self.fc(torch.cat([torch.flatten(a, 1), torch.flatten(b, 1), s.flatten(1), g], dim=1))


def test_every_layer_kind_follows_the_float_module():
    torch.manual_seed(1)
    model = _Zoo().eval()
    ds = digits()
    imodel = from_torch(model, ds.x_train, weight_bits=12, act_bits=12)
    assert {n.op for n in imodel.nodes} >= {"conv2d", "conv1d", "linear", "clamp", "avgpool", "maxpool", "cat"}
    result = IntegerEngine(imodel).run(ds.x_test)
    with torch.no_grad():
        ref = model(torch.as_tensor(ds.x_test)).double().numpy()
    got = result.logits * imodel.layers[-1].out_scale
    assert np.sqrt(np.mean((got - ref) ** 2)) <= 0.005 * np.sqrt(np.mean(ref ** 2))  # 8 bits: 1.3%
    assert np.mean(result.predictions == ref.argmax(1)) >= 0.99


def test_torch_export_archive_loads_and_imports_like_the_module(resnet, tmp_path):
    model, imodel, ds = resnet
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.as_tensor(ds.x_test[:4]),), dynamic_shapes=({0: batch},))
    path = tmp_path / "resnet.pt2"
    torch.export.save(program, str(path))
    loaded = from_torch(load_model(path), ds.x_train)
    assert [lay.name for lay in loaded.layers] == ["conv1", "conv2", "fc"]
    np.testing.assert_array_equal(IntegerEngine(loaded).run(ds.x_test).logits,
                                  IntegerEngine(imodel).run(ds.x_test).logits)


def test_state_dict_of_a_builtin_arch_loads_with_weights_only(tmp_path):
    config = ModelConfig(arch="cnn2d", hidden=(4, 4))
    ds = digits()
    from networks.train import build
    model = build(config, ds).eval()
    torch.save(model.state_dict(), tmp_path / "cnn.pt")
    loaded = load_model(tmp_path / "cnn.pt", config)
    x = torch.as_tensor(ds.x_test[:20])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(NetworkError, match="does not fit arch 'cnn2d'"):
        load_model(tmp_path / "cnn.pt", ModelConfig(arch="cnn2d", hidden=(4, 8)))


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


@pytest.mark.parametrize("content", [b"not a model", None])
def test_bad_model_files_give_one_line(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"state": _Payload()}, path)
    else:
        path.write_bytes(content)
    for config in (None, ModelConfig(arch="cnn2d", hidden=(4, 4))):
        with pytest.raises(NetworkError) as info:
            load_model(path, config)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    with pytest.raises(NetworkError, match="no such file"):
        load_model(tmp_path / "missing.pt2")


def test_npz_data_sets_are_checked(tmp_path):
    ds = digits()
    good = tmp_path / "d.npz"
    np.savez(good, x_test=ds.x_test, y_test=ds.y_test, x_calib=ds.x_train[:100])
    loaded = from_npz(good)
    assert loaded.n_classes == 10 and loaded.shape == (64,) and len(loaded.x_train) == 100
    cases = {"no_labels": {"x_test": ds.x_test}, "range": {"x_test": ds.x_test * 2, "y_test": ds.y_test},
             "labels": {"x_test": ds.x_test, "y_test": ds.y_test[:10]},
             "calib": {"x_test": ds.x_test, "y_test": ds.y_test, "x_calib": ds.x_train[:, :10]}}
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(NetworkError, match=f"data file .*{name}.npz"):
            from_npz(tmp_path / f"{name}.npz")
    np.savez(tmp_path / "obj.npz", x_test=np.array([object()]), y_test=ds.y_test)
    with pytest.raises(NetworkError, match="without pickles"):
        from_npz(tmp_path / "obj.npz")


def test_learned_noise_on_any_module_with_batch_norm_exports_on_its_grid():
    ds = digits()
    config = ModelConfig(seed=0, quant="learned-noise", lam=1e-4, noise_epochs=6, finetune_epochs=2, patience=50)
    model = _train(ResNet(c=4), ds, epochs=6)
    layers = attach_quantizers(model)
    assert [type(lay).__name__ for lay in layers] == ["QConv2d", "QConv2d", "QLinear"]
    quantize(model, _tensors(ds, 0), config, progress=False)
    assert all(lay.quant.mode == "step" for lay in layers)
    imodel = from_torch(model, ds.x_train)
    bits = [lay.weight_bits for lay in imodel.layers]
    assert max(bits) < 8
    with torch.no_grad():
        float_pred = model(torch.as_tensor(ds.x_test)).argmax(1).numpy()
    assert np.mean(IntegerEngine(imodel).run(ds.x_test).predictions == float_pred) >= 0.98


def test_gate_paths_draw_the_same_flips_whether_products_are_kept_measured_or_summed():
    """Summed from output planes, unpacked and measured, or materialised for a product hook: one flip stream."""
    torch.manual_seed(2)
    ds = digits()
    imodel = from_torch(_Zoo().eval(), ds.x_train)
    assert any(lay.signed_input for lay in imodel.layers) and any(lay.groups > 1 for lay in imodel.layers)
    eng = IntegerEngine(imodel, Multiplier("gates", c.multiplier(8)))
    x, faults = ds.x_test[:40], c.GateFaults(0.003, seed=11)
    summed = eng.run(x, faults=faults)
    measured = eng.run(x, faults=faults, measure_error=True)
    kept = eng.run(x, faults=faults, noise={"product": lambda v, bits, signed, rng: v}, measure_error=True)
    np.testing.assert_array_equal(measured.logits, summed.logits)
    np.testing.assert_array_equal(kept.logits, summed.logits)
    np.testing.assert_array_equal(measured.wrong_products, kept.wrong_products)
    assert measured.site_error["product"] == kept.site_error["product"]
    assert measured.wrong_products.min() > 0 and not np.array_equal(summed.logits, eng.run(x).logits)


def test_readme_example_runs():
    """The example of the README section 'Your own model', run as written."""
    from tests.conftest import run_readme_example

    names, numbers = run_readme_example("Your own model").rsplit("]", 1)
    accuracy, kept = map(float, numbers.split())
    assert names == "['1', '6'" and accuracy > 0.85 and 0 < kept < 1


class _NoisyWeight(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 8))
        self.mask = nn.Parameter(torch.ones(4, 8))

    def forward(self, x):
        return F.linear(x, self.w * self.mask + 0.5 * torch.randn_like(self.w))


def test_computations_on_parameters_fold_but_random_draws_do_not():
    x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    with pytest.raises(NetworkError, match="randn"):
        from_torch(_NoisyWeight(), x)
    masked = _NoisyWeight()
    masked.forward = lambda x: F.linear(x, masked.w * masked.mask)
    assert len(from_torch(torch.export.export(masked, (torch.zeros(2, 8),)).module(), x).layers) == 1
