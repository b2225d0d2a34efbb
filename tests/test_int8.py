"""Two's-complement arithmetic: signed multiplier netlists with two's-complement int8 operands in the integer engine
(tables, gate level, product site), against exact arithmetic, sign-magnitude mode and the fake-quantized float
reference of an imported residual network (layers with signed inputs); the suite key `arithmetic`."""

import numpy as np
import pytest

import circuits as c
from hardware import HardwareError
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, from_torch, trained_model
from testbed.cli.main import main
from testbed.store import read_summary
from tests.test_torch_import import _fake_quant_reference, _Zoo, resnet  # noqa: F401 (fixture)

TWOS = "twos-complement"


@pytest.mark.parametrize("form", ["array", "dadda"])
def test_baugh_wooley_multiplier_is_exhaustively_a_times_b_over_signed_operands(form):
    net = c.multiplier(8, 8, form, signed=True)
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    np.testing.assert_array_equal(c.simulate(net, a=a.ravel(), b=b.ravel())["p"], a.ravel() * b.ravel())


@pytest.fixture(scope="module")
def mlp():
    ds = digits()
    model, _ = trained_model(ModelConfig(hidden=(32,), epochs=30), progress=False)
    return model, ds


SIGNED = {"baugh-wooley": lambda: c.multiplier(8, 8, signed=True), "booth": lambda: c.booth_multiplier(8)}


@pytest.mark.parametrize("mode", ["lut", "gates"])
@pytest.mark.parametrize("signed", list(SIGNED))
def test_twos_complement_int8_equals_exact_arithmetic_and_sign_magnitude(mlp, mode, signed):
    """act_bits 7: activations and weights are int8 words of an 8x8 signed multiplier (Baugh-Wooley, Booth)."""
    model, ds = mlp
    imodel = export(model, ds.x_train, act_bits=7, weight_bits=8)
    x = ds.x_test[:150]
    exact = IntegerEngine(imodel).run(x)
    twos = Multiplier(mode, SIGNED[signed](), imodel.act_bits, 8, arithmetic=TWOS)
    sm = IntegerEngine(imodel, Multiplier(mode, c.multiplier(8), imodel.act_bits, 8)).run(x)
    eng = IntegerEngine(imodel, twos)
    for result in (eng.run(x), eng.run(x, measure_error=True)):
        np.testing.assert_array_equal(result.logits, exact.logits)
        np.testing.assert_array_equal(result.logits, sm.logits)
    measured = eng.run(x, measure_error=True)
    assert measured.site_error["product"][1] == 0 and measured.wrong_products.sum() == 0


def test_product_site_sees_signed_products_in_twos_complement(mlp):
    model, ds = mlp
    imodel = export(model, ds.x_train, act_bits=7)
    eng = IntegerEngine(imodel, Multiplier("gates", c.multiplier(8, 8, signed=True), 7, 8, arithmetic=TWOS))
    seen = []

    def spy(values, bits, signed, rng):
        seen.append((values.copy(), bits, signed))
        return values

    x = ds.x_test[:20]
    np.testing.assert_array_equal(eng.run(x, noise={"product": spy}).logits, IntegerEngine(imodel).run(x).logits)
    prod, bits, signed = seen[0]
    a = eng.quantize_input(x).reshape(len(x), -1)
    np.testing.assert_array_equal(prod, a[:, None, :] * imodel.layers[0].weight[None])
    assert signed and bits == 16 and prod.min() < 0


@pytest.mark.parametrize("mode", ["lut", "gates"])
def test_imported_residual_network_in_twos_complement_agrees_with_fake_quantized_reference(resnet, mode):  # noqa: F811
    model, imodel, ds = resnet
    bw = c.multiplier(imodel.act_bits + 1, 8, signed=True)  # a: unsigned 8-bit activations as 9-bit words
    eng = IntegerEngine(imodel, Multiplier(mode, bw, imodel.act_bits, 8, arithmetic=TWOS))
    result = eng.run(ds.x_test)
    np.testing.assert_array_equal(result.logits, IntegerEngine(imodel).run(ds.x_test).logits)
    assert np.mean(result.predictions == _fake_quant_reference(model, imodel, ds.x_test)) >= 0.995


def test_layers_with_signed_inputs_run_in_twos_complement():
    """Residual adds without a ReLU give layers signed inputs: their negative activations are two's-complement
    words of the signed multiplier, exact like every other product."""
    ds = digits()
    imodel = from_torch(_Zoo().eval(), ds.x_train)
    assert any(lay.signed_input for lay in imodel.layers)
    bw = c.multiplier(imodel.act_bits + 1, 8, signed=True)
    x = ds.x_test[:60]
    exact = IntegerEngine(imodel).run(x)
    for mode in ("lut", "gates"):
        eng = IntegerEngine(imodel, Multiplier(mode, bw, imodel.act_bits, 8, arithmetic=TWOS))
        np.testing.assert_array_equal(eng.run(x).logits, exact.logits)
        np.testing.assert_array_equal(eng.run(x, noise={"product": lambda v, *_: v}).logits, exact.logits)


def test_twos_complement_flips_hit_zero_weights_too(mlp):
    """A zero weight's product goes through the signed multiplier and is added: with flips on every gate the
    accumulators change even where only zero weights meet the inputs (sign-magnitude adds nothing there)."""
    model, ds = mlp
    imodel = export(model, ds.x_train, act_bits=7)
    imodel.layers[0].weight[:] = 0
    x = ds.x_test[:30]
    net = c.multiplier(8, 8, signed=True)
    faults = c.GateFaults(0.01, seed=4)
    probe = {}

    def spy(values, bits, signed, rng):
        probe["acc"] = values.copy()
        return values

    key = "accumulator@" + imodel.layers[0].name
    IntegerEngine(imodel, Multiplier("gates", net, 7, 8, arithmetic=TWOS)).run(x, faults=faults, noise={key: spy})
    assert np.any(probe["acc"] != imodel.layers[0].bias)
    IntegerEngine(imodel, Multiplier("gates", c.multiplier(8), 7, 8)).run(x, faults=faults, noise={key: spy})
    assert np.all(probe["acc"] == imodel.layers[0].bias)


def test_twos_complement_needs_a_signed_netlist_wide_enough():
    with pytest.raises(HardwareError, match="must be signed"):
        Multiplier("lut", c.multiplier(8), 7, 8, arithmetic=TWOS)
    with pytest.raises(HardwareError, match=r"need a\[9\]"):
        Multiplier("gates", c.multiplier(8, 8, signed=True), 8, 8, arithmetic=TWOS)
    with pytest.raises(HardwareError, match="arithmetic must be one of"):
        Multiplier("lut", c.multiplier(8), 7, 8, arithmetic="ones-complement")


SUITE = """
[suite]
name = "int8"
seed = 3

[defaults]
min_trials = 2
max_trials = 2
refine = 0

[systems.bw]
kind = "circuit"
circuit = "multiplier"
width = 8
signed = true

[systems.mlp]
kind = "network"
dataset = "digits"
hidden = [8]
epochs = 20
act_bits = 7
multiplier = "bw"
mode = "gates"
arithmetic = "twos-complement"

[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [0.0, 0.3]
sites = {mlp = "mac-gate"}
"""


def test_suite_key_arithmetic_runs_a_network_on_a_signed_multiplier(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace('arithmetic = "twos-complement"', 'arithmetic = "twos"'))
    assert main(["run", str(bad), "--out", str(tmp_path / "bad"), "--workers", "1"]) == 2
    assert "systems.mlp.arithmetic" in capsys.readouterr().err
    unsigned = tmp_path / "unsigned.toml"
    unsigned.write_text(SUITE.replace("signed = true\n", ""))
    assert main(["run", str(unsigned), "--out", str(tmp_path / "unsigned"), "--workers", "1"]) == 2
    assert "must be signed" in capsys.readouterr().err
    suite = tmp_path / "int8.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    assert main(["run", str(suite), "--out", str(out), "--workers", "1", "--no-report"]) == 0
    (sweep,) = read_summary(out)["sweeps"]
    (unit,) = sweep["units"]
    assert unit["curve"][0]["value"] == unit["clean_accuracy"] > 0.5
    assert unit["curve"][-1]["value"] < unit["clean_accuracy"]


def test_twos_complement_adder_is_exhaustively_a_wrapped_signed_sum():
    from hardware import pe

    net = pe.adder_netlist(6, 4, twos=True)
    acc, p = np.meshgrid(np.arange(64), np.arange(16))
    assert set(net.inputs) == {"acc", "p"}
    out = c.simulate(net, acc=acc.ravel(), p=p.ravel())["acc_out"]
    signed_p = np.where(p.ravel() >= 8, p.ravel() - 16, p.ravel())
    np.testing.assert_array_equal(out, (acc.ravel() + signed_p) % 64)


def test_processing_element_in_twos_complement_equals_exact_arithmetic(mlp):
    """Multiplier, sign-extended product and accumulator adder at gate level: exact on an int8 MLP and on a
    network with signed-input layers; its measured product and accumulator errors are zero."""
    model, ds = mlp
    ds_x = ds.x_test[:48]
    zoo = from_torch(_Zoo().eval(), ds.x_train)
    for imodel in (export(model, ds.x_train, act_bits=7), zoo):
        bw = c.multiplier(imodel.act_bits + 1, 8, signed=True)
        element = Multiplier("pe", bw, imodel.act_bits, 8, arithmetic=TWOS, acc_bits=imodel.acc_bits)
        result = IntegerEngine(imodel, element).run(ds_x, measure_error=True)
        np.testing.assert_array_equal(result.logits, IntegerEngine(imodel).run(ds_x).logits)
        assert result.site_error["product"][1] == 0 and result.site_error["accumulator"][1] == 0


def test_booth_under_rare_flips_sparse_path_equals_full_path(mlp):
    model, ds = mlp
    imodel = export(model, ds.x_train, act_bits=7)
    x = ds.x_test[:100]
    booth = c.booth_multiplier(8)
    full, sparse = (IntegerEngine(imodel, Multiplier("gates", booth, 7, 8, arithmetic=TWOS, sparse=s))
                    for s in (False, True))
    faults = c.GateFaults(1e-5, seed=8)
    assert sparse.multiplier._sparse(faults)
    a, b = full.run(x, faults=faults, measure_error=True), sparse.run(x, faults=faults, measure_error=True)
    np.testing.assert_array_equal(a.logits, b.logits)
    assert a.site_error == b.site_error and a.wrong_products.sum() == b.wrong_products.sum() > 0
