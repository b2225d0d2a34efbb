"""The processing element in the loop (mode 'pe'): its adder against exact arithmetic and the `mac` circuit, the
step-by-step accumulation against the exact engine (MLP on digits, a small CNN with grouped, strided and
signed-input layers and a narrow wrapping accumulator), multiplier faults against mode 'gates', adder faults."""

import numpy as np
import pytest
import torch
from torch import nn

import circuits
from circuits import GateFaults
from hardware import HardwareError, gatemac, pe
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model
from networks.kernels import wrap


@pytest.fixture(scope="module")
def mlp():
    model, _ = trained_model(ModelConfig(hidden=(64,)), progress=False)
    ds = digits()
    return export(model, ds.x_train), ds.x_test[:200]


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, groups=2),
                          nn.Flatten(), nn.Linear(54, 5)).eval()
    x = np.random.default_rng(0).random((70, 1, 8, 8)).astype(np.float32)
    return export(model, x, acc_bits=14), x


def _pe(imodel, **kw):
    return IntegerEngine(imodel, Multiplier("pe", circuits.multiplier(8), imodel.act_bits, 8,
                                            acc_bits=imodel.acc_bits, **kw))


@pytest.mark.parametrize("signed_a", [False, True])
def test_adder_exhaustive_and_the_gates_of_mac(signed_a):
    net = pe.adder_netlist(6, 4, signed_a)
    for ins, outs in circuits.exhaustive(net):
        neg = ins["sw"] ^ (ins.get("sa", 0))
        expect = (ins["acc"] + np.where(neg == 1, -ins["p"], ins["p"])) & 63
        assert np.array_equal(outs["acc_out"], expect)
    mac = circuits.generator("mac")(width=8, acc_bits=32, signed_a=signed_a)
    add = pe.adder_netlist(32, 16, signed_a)
    assert add.gate_names == [n for n in mac.gate_names if n.startswith("add.")]
    assert circuits.multiplier(8).n_gates + add.n_gates == mac.n_gates


def test_layer_accumulates_and_wraps_like_exact_arithmetic():
    rng = np.random.default_rng(1)
    cols = rng.integers(-255, 256, (150, 37))
    w = rng.integers(-127, 128, (9, 37))
    w[:, 3] = 0
    bias = rng.integers(-3000, 3000, 9)
    mul, add = circuits.multiplier(8), pe.adder_netlist(10, 16, True)
    got = pe.accumulate(mul, add, cols, w, bias, GateFaults(), GateFaults(), True, 10, {})
    assert np.array_equal(got, wrap(cols @ w.T + bias, 10))


def test_no_faults_gives_the_exact_engines_logits(mlp, cnn):
    imodel, x = mlp
    exact = IntegerEngine(imodel).run(x)
    res = _pe(imodel).run(x, measure_error=True)
    np.testing.assert_array_equal(res.logits, exact.logits)
    assert res.site_error["accumulator"][1] == 0 and res.wrong_products.sum() == 0
    imodel, x = cnn
    with pytest.raises(HardwareError, match="signed_a"):
        _pe(imodel)
    np.testing.assert_array_equal(_pe(imodel, signed_a=True).run(x).logits, IntegerEngine(imodel).run(x).logits)


def test_multiplier_stuck_faults_equal_mode_gates_bit_for_bit(mlp):
    imodel, x = mlp
    net = circuits.multiplier(8)
    top = int(net.outputs["p"][14]) - net.first_gate_net  # a gate driving a high product bit
    faults = GateFaults(stuck=((top, 1), (5, 0)))
    gates = IntegerEngine(imodel, Multiplier("gates", net)).run(x, faults=faults)
    got = _pe(imodel).run(x, faults=faults)  # fault_part 'mul' by default; zero weights still add nothing
    np.testing.assert_array_equal(got.logits, gates.logits)
    assert not np.array_equal(got.logits, IntegerEngine(imodel).run(x).logits)


def test_multiplier_flips_make_the_same_product_errors_as_mode_gates():
    """Not bit-identical (the flips of step i come from their own stream over (channel, row) lanes, mode 'gates'
    draws one stream over (row, channel, input)), but the same law: wrong-product rate and error power agree."""
    rng = np.random.default_rng(2)
    cols, w = rng.integers(0, 256, (300, 64)), rng.integers(-127, 128, (32, 64))
    bias = np.zeros(32, np.int64)
    mul, add = circuits.multiplier(8), pe.adder_netlist(32, 16)
    stats = {"pe": np.zeros(3), "gates": np.zeros(3)}
    for seed in range(4):
        f = GateFaults(3e-4, seed=seed)
        _, wrong, sig, err = pe.accumulate(mul, add, cols, w, bias, f, GateFaults(), False, 32, {}, measure=True)
        stats["pe"] += [wrong.sum(), sig, err]
        _, wrong, sig, err = gatemac.accumulate_measured(mul, cols, w, bias, f, {})
        stats["gates"] += [wrong.sum(), sig, err]
    assert stats["pe"][1] == stats["gates"][1]
    assert stats["pe"][0] == pytest.approx(stats["gates"][0], rel=0.05)
    assert stats["pe"][2] == pytest.approx(stats["gates"][2], rel=0.15)


def test_network_under_multiplier_flips_breaks_as_in_mode_gates(mlp):
    imodel, _ = mlp
    x = digits().x_test
    gold = IntegerEngine(imodel).run(x).predictions
    agree = {}
    gates = IntegerEngine(imodel, Multiplier("gates", circuits.multiplier(8)))
    for name, eng in (("pe", _pe(imodel)), ("gates", gates)):
        agree[name] = np.mean([(eng.run(x, faults=GateFaults(3e-4, seed=s)).predictions == gold).mean()
                               for s in range(8)])
    assert 0.6 < agree["gates"] < 0.95 and abs(agree["pe"] - agree["gates"]) < 0.03


def test_adder_faults_corrupt_accumulators(mlp):
    imodel, x = mlp
    eng = _pe(imodel)
    add = eng.multiplier.adder
    exact = IntegerEngine(imodel).run(x)
    high = int(add.outputs["acc_out"][30]) - add.first_gate_net
    stuck = eng.run(x, faults=GateFaults(stuck=((high, 1),)), fault_part="add", measure_error=True)
    assert not np.array_equal(stuck.logits, exact.logits)
    assert stuck.site_error["product"][1] == 0 and stuck.site_error["accumulator"][1] > 0
    by_name = eng.run(x, faults=GateFaults(stuck=((add.gate_names[high], 1),)), fault_part="all")
    np.testing.assert_array_equal(by_name.logits, stuck.logits)
    flips = GateFaults(1e-3, seed=4)
    assert not np.array_equal(eng.run(x, faults=flips, fault_part="add").logits, exact.logits)
    np.testing.assert_array_equal(eng.run(x, faults=flips, fault_part="all").logits,
                                  eng.run(x, faults=flips, fault_part="all").logits)
    assert eng.multiplier.gates("all") == eng.multiplier.gates("mul") + eng.multiplier.gates("add")


def test_bad_fault_part_and_widths_are_named(mlp):
    imodel, x = mlp
    with pytest.raises(HardwareError, match="fault_part"):
        _pe(imodel).run(x, faults=GateFaults(1e-3), fault_part="adder")
    with pytest.raises(HardwareError, match="mode 'pe'"):
        IntegerEngine(imodel, Multiplier("gates", circuits.multiplier(8))).run(x, faults=GateFaults(1e-3),
                                                                              fault_part="add")
    with pytest.raises(HardwareError, match="acc_bits=32"):
        IntegerEngine(imodel, Multiplier("pe", circuits.multiplier(8), acc_bits=24))


@pytest.mark.parametrize("net", [circuits.multiplier(8), circuits.truncated_multiplier(8)], ids=["array", "truncated"])
def test_sparse_path_on_convolutions_with_a_wrapping_accumulator_equals_the_full_path(cnn, monkeypatch, net):
    """pe.sparse_accumulate against the full path (pe.accumulate) bit for bit: convolutions (grouped, strided), the
    14-bit accumulator wrapping, an adder with the activation-sign input, flips on every part at a rate where
    lanes see several adder events (several rounds, the fault-free accumulator before a step from either side),
    an exact table (products a * w) and an inexact one (the truncated multiplier's table); errors measured."""
    imodel, x = cnn
    monkeypatch.setattr(pe, "SPARSE_TOUCHED", 1.0)
    rounds = []
    adder_round = pe._adder_round
    monkeypatch.setattr(pe, "_adder_round", lambda active, *a: rounds.append(len(active)) or adder_round(active, *a))
    engines = [IntegerEngine(imodel, Multiplier("pe", net, imodel.act_bits, 8, acc_bits=imodel.acc_bits,
                                                signed_a=True, sparse=sparse)) for sparse in (False, True)]
    clean = engines[0].run(x).logits
    for part, p in (("all", 2e-3), ("add", 5e-3), ("mul", 2e-3)):
        faults = GateFaults(p, seed=11)
        full, sparse = (eng.run(x, faults=faults, fault_part=part, measure_error=True) for eng in engines)
        np.testing.assert_array_equal(sparse.logits, full.logits)
        np.testing.assert_array_equal(sparse.wrong_products, full.wrong_products)
        assert sparse.site_error == full.site_error
        assert np.any(full.logits != clean)
    assert len(rounds) > 2 * len(imodel.layers)  # lanes with several adder events
