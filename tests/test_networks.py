import math

import numpy as np
import pytest
import torch

import circuits as c
from hardware import HardwareError
from networks import IntegerEngine, ModelConfig, Multiplier, NetworkError, digits, export, signals, trained_model
from networks.quant import WeightQuantizer, smoothed_round_derivative_table
from networks.train import size_report


@pytest.fixture(scope="module")
def digits_float():
    model, info = trained_model(ModelConfig(), progress=False)
    return model, info, digits()


def _float_predictions(model, x):
    with torch.no_grad():
        return model(torch.as_tensor(x)).argmax(1).numpy()


def test_digits_split_is_the_documented_one():
    ds = digits()
    assert len(ds.x_train) == 1257 and len(ds.x_test) == 540 and ds.x_train.max() == 1.0


def test_float_mlp_reaches_97_percent(digits_float):
    model, info, ds = digits_float
    assert info["test_accuracy"] >= 0.97


def test_int8_engine_agrees_with_float_reference(digits_float):
    model, _, ds = digits_float
    imodel = export(model, ds.x_train)
    result = IntegerEngine(imodel).run(ds.x_test)
    float_pred = _float_predictions(model, ds.x_test)
    assert np.mean(result.predictions == float_pred) >= 0.995
    assert abs(np.mean(result.predictions == ds.y_test) - np.mean(float_pred == ds.y_test)) <= 0.005


def test_lut_and_gate_multipliers_equal_exact_bit_for_bit(digits_float):
    model, _, ds = digits_float
    imodel = export(model, ds.x_train)
    exact = IntegerEngine(imodel).run(ds.x_test[:120])
    net = c.multiplier(8, form="dadda")
    lut = IntegerEngine(imodel, Multiplier("lut", net)).run(ds.x_test[:120])
    gates = IntegerEngine(imodel, Multiplier("gates", net)).run(ds.x_test[:120])
    np.testing.assert_array_equal(lut.logits, exact.logits)
    np.testing.assert_array_equal(gates.logits, lut.logits)


def test_faulty_multiplier_changes_results_and_operands_are_recorded(digits_float):
    model, _, ds = digits_float
    imodel = export(model, ds.x_train)
    net = c.multiplier(8)
    eng = IntegerEngine(imodel, Multiplier("gates", net))
    clean = eng.run(ds.x_test[:100], record=True)
    assert clean.operands.sum() == 100 * (64 * 64 + 64 * 10)
    top = int(net.outputs["p"][8]) - net.first_gate_net  # the gate driving product bit 8
    fault = c.GateFaults(stuck=[(top, 1)])
    stuck = eng.run(ds.x_test[:100], faults=fault)
    stuck_lut = IntegerEngine(imodel, Multiplier("lut", net)).run(ds.x_test[:100], faults=fault)
    np.testing.assert_array_equal(stuck.logits, stuck_lut.logits)
    assert not np.array_equal(stuck.logits, clean.logits)
    flips = eng.run(ds.x_test[:100], faults=c.GateFaults(0.01, seed=3))
    assert np.mean(flips.predictions != clean.predictions) > 0.1


def test_learned_noise_bits_fall_as_lambda_rises():
    sizes = []
    for lam in (1e-6, 1e-4):
        model, info = trained_model(ModelConfig(quant="learned-noise", lam=lam, epochs=60, noise_epochs=60,
                                                finetune_epochs=10), progress=False)
        sizes.append(size_report(model)["total_bits"])
    assert sizes[1] < 0.8 * sizes[0]


def test_useless_channel_is_driven_to_no_signal():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(2, 8))
    q = WeightQuantizer(2)
    q.start_noise(w.detach(), init_bits=4, noise="uniform")
    q.train()
    x = torch.randn(256, 8)
    target = x @ torch.randn(8)
    opt = torch.optim.Adam([w, q.log_alpha], lr=0.02)
    for _ in range(400):
        out = x @ q(w).T
        bits = (q.learned_bits(w).clamp_min(0) * 8).sum()
        loss = ((out[:, 0] - target) ** 2).mean() + 1e-2 * bits
        opt.zero_grad()
        loss.backward()
        opt.step()
    bits = q.learned_bits(w.detach())
    assert bits[0] > 2 and bits[1] <= 0


@pytest.mark.parametrize("noise", ["uniform", "gaussian"])
def test_true_quantizer_noise_power_matches_alpha_squared(noise):
    torch.manual_seed(1)
    w = torch.randn(4, 20000)
    q = WeightQuantizer(4)
    q.start_noise(w, init_bits=3, noise=noise)
    q.freeze_steps(q.alpha.detach() * math.sqrt(12))
    err = (q(w) - w).pow(2).mean(dim=1)
    np.testing.assert_allclose(err.numpy(), q.alpha.detach().pow(2).numpy(), rtol=0.03)
    q.mode = "noise"
    q.train()
    noisy = (q(w) - w).pow(2).mean(dim=1)
    np.testing.assert_allclose(noisy.numpy(), q.alpha.detach().pow(2).numpy(), rtol=0.05)


def test_smoothed_round_derivative_averages_to_one():
    table = smoothed_round_derivative_table(0.3)
    assert 0.93 < table.mean() <= 1.0 + 1e-9
    assert table.max() <= 4.0 and table[len(table) // 2] == table.max()  # spike at the threshold x = 1/2


def test_bad_input_names_layer_or_parameter(digits_float):
    model, _, ds = digits_float
    imodel = export(model, ds.x_train)
    with pytest.raises(NetworkError, match=r"input shape \(63,\)"):
        IntegerEngine(imodel).run(ds.x_test[:, :63])
    with pytest.raises(NetworkError, match="bits = 17 is invalid"):
        ModelConfig(bits=17)
    with pytest.raises(NetworkError, match="act_bits must be in 1..16"):
        export(model, ds.x_train, act_bits=0)
    with pytest.raises(HardwareError, match=r"needs a\[8\] x b\[8\]"):
        Multiplier("lut", c.multiplier(4), act_bits=8, mag_bits=8)
    with pytest.raises(NetworkError, match="layer 0: weight magnitudes"):
        IntegerEngine(imodel, Multiplier("lut", c.multiplier(8), act_bits=8, mag_bits=6))
    with pytest.raises(HardwareError, match="must be unsigned"):
        Multiplier("gates", c.multiplier(8, signed=True))


def test_cnn_on_generated_signals_exports_to_integers():
    model, info = trained_model(ModelConfig(dataset="signals", arch="cnn1d", hidden=(8, 8), epochs=40, patience=10),
                                progress=False)
    ds = signals()
    assert info["test_accuracy"] > 0.3  # chance is 0.1
    imodel = export(model, ds.x_train[:500])
    result = IntegerEngine(imodel).run(ds.x_test)
    with torch.no_grad():
        float_logits = model(torch.as_tensor(ds.x_test)).numpy()
    int_logits = result.logits * imodel.layers[-1].out_scale
    assert np.corrcoef(int_logits.ravel(), float_logits.ravel())[0, 1] > 0.99
    # a weak model has many near-ties; disagreements must be among them
    agree = result.predictions == float_logits.argmax(1)
    top2 = np.sort(float_logits, axis=1)[:, -2:]
    assert agree.mean() >= 0.9
    assert np.all((top2[:, 1] - top2[:, 0])[~agree] < 0.1 * np.abs(float_logits).max())
