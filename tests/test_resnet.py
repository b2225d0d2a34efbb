"""The built-in ResNet-20: its layout against the closed-form weight count, loaded from a state_dict, imported
through torch.fx and run by the integer engine next to float torch; residual adds that leave signed values."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import circuits as c
from networks import IntegerEngine, ModelConfig, Multiplier, NetworkError, from_torch, load_model
from networks.data import Dataset
from networks.train import build


def _images(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset("random", rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n),
                   rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n), 10, tuple(shape))


def _conv_weights(widths, c_in=3, n_out=10):
    """Weights of ResNet-20 counted by hand: stem, 9 blocks of two 3x3 convs, 1x1 projections where the width
    changes, linear (weights and bias)."""
    total, c = 9 * c_in * widths[0], widths[0]
    for w in widths:
        total += 9 * c * w + 5 * 9 * w * w + (c * w if c != w else 0)
        c = w
    return total + c * n_out + n_out


def test_resnet20_has_the_cifar_layout():
    model = build(ModelConfig(arch="resnet20", hidden=(16, 32, 64)), _images(2, (3, 32, 32)))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len([m for m in convs if m.kernel_size == (3, 3)]) == 19 and len(convs) == 21
    weights = sum(m.weight.numel() for m in convs) + model.classifier.weight.numel() + model.classifier.bias.numel()
    assert weights == _conv_weights((16, 32, 64)) == 270_906
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(NetworkError, match="three stage widths"):
        build(ModelConfig(arch="resnet20", hidden=(16,)), _images(2, (3, 32, 32)))
    with pytest.raises(NetworkError, match=r"\(channels, height, width\)"):
        build(ModelConfig(arch="resnet20", hidden=(16, 32, 64)), _images(2, (64,)))


@pytest.fixture(scope="module")
def small_resnet(tmp_path_factory):
    """A narrow ResNet-20 (widths 4, 8, 8 on 3x16x16 images), BN statistics from a few training steps, saved as a
    state_dict and loaded back the way a user's file is."""
    torch.manual_seed(0)
    ds = _images(64, (3, 16, 16))
    config = ModelConfig(arch="resnet20", hidden=(4, 8, 8))
    model = build(config, ds).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.as_tensor(ds.x_train))
    path = tmp_path_factory.mktemp("resnet") / "resnet20.pt"
    torch.save(model.state_dict(), path)
    loaded = load_model(path, config, ds)
    return loaded, from_torch(loaded, ds.x_train), ds


def test_resnet20_imports_and_the_engine_follows_float_torch(small_resnet):
    model, imodel, ds = small_resnet
    ops = [n.op for n in imodel.nodes]
    assert ops.count("conv2d") == 21 and ops.count("add") == 9 and ops.count("avgpool") == 1
    assert all(n.params["clamp"][0] == 0 for n in imodel.nodes if n.op == "add")  # the ReLU after each add is fused
    x = ds.x_test[:16]
    got = IntegerEngine(imodel).run(x).logits * imodel.nodes[-1].scale
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()



def test_the_built_in_resnet20_saved_by_torch_export_imports_as_the_module_does(small_resnet, tmp_path):
    """The export graph multiplies each weight by its quantizer's mask: a computation on parameters alone, folded."""
    model, imodel, ds = small_resnet
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(model, (torch.zeros(2, 3, 16, 16),), dynamic_shapes=({0: batch},)),
                      tmp_path / "r.pt2")
    exported = from_torch(load_model(tmp_path / "r.pt2"), ds.x_train)
    x = ds.x_test[:8]
    np.testing.assert_array_equal(IntegerEngine(exported).run(x).logits, IntegerEngine(imodel).run(x).logits)

def test_resnet20_lut_and_gate_level_passes_equal_the_exact_pass_without_faults(small_resnet):
    _, imodel, ds = small_resnet
    x, net = ds.x_test[:2], c.multiplier(8)
    exact = IntegerEngine(imodel).run(x).logits
    for mode in ("lut", "gates"):
        np.testing.assert_array_equal(IntegerEngine(imodel, Multiplier(mode, net)).run(x).logits, exact)


class SignedResidual(nn.Module):
    """Two convolutions added without a ReLU: the sum is signed and feeds a strided convolution."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 1)
        self.c, self.fc = nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.c(self.a(x) + self.b(x))), 1))


def test_a_layer_after_a_signed_residual_add_takes_signed_inputs_in_every_mode():
    torch.manual_seed(0)
    model = SignedResidual().eval()
    x = np.random.default_rng(1).random((16, 3, 8, 8), dtype=np.float32)
    imodel = from_torch(model, x)
    assert [lay.signed_input for lay in imodel.layers] == [False, False, True, False]
    exact = IntegerEngine(imodel).run(x).logits
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    assert np.abs(exact * imodel.nodes[-1].scale - want).max() <= 0.05 * np.abs(want).max()
    net = c.multiplier(8)
    for mul in (Multiplier("lut", net), Multiplier("gates", net), Multiplier("pe", net, acc_bits=32, signed_a=True)):
        np.testing.assert_array_equal(IntegerEngine(imodel, mul).run(x).logits, exact)
