"""The project's own property tests, written with the public strategies of testbed.strategies."""

import operator
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import circuits
from networks import IntegerEngine, Multiplier, export
from testbed.errors import SuiteError
from testbed.noise import apply_words, bitflip
from testbed.properties import assert_error_rate_nondecreasing, assert_prediction_stable, assert_unaffected
from testbed.pytest_plugin import context_for
from testbed.strategies import (
    generated_circuits,
    malformed_suites,
    netlists,
    noise_models,
    operands,
    small_networks,
    stuck_faults,
)
from testbed.suite import load_suite
from tests.conftest import run_readme_example
from tests.reference import reference_simulate

ROOT = Path(__file__).resolve().parents[1]


@given(case=generated_circuits(max_width=6), data=st.data())
def test_every_generator_against_integer_arithmetic(case, data):
    net, reference = case
    ops = data.draw(operands(net))
    (bus, width), = net.output_widths.items()
    got = circuits.simulate(net, **ops)[bus]
    for i, value in enumerate(got):
        exact = reference(*(ops[b][i] for b in net.inputs)) % (1 << width)
        if net.signed and exact >= 1 << (width - 1):
            exact -= 1 << width
        assert value == exact


@given(net=netlists(inputs={"a": 3, "b": 2}), data=st.data())
def test_random_netlists_compiled_interpreter_and_reference_agree(net, data):
    ops = data.draw(operands(net))
    faults = data.draw(stuck_faults(net, min_faults=0, max_faults=2))
    expected = reference_simulate(net, ops, stuck=faults)["y"]
    assert circuits.simulate(net, stuck=faults, engine="interpreter", **ops)["y"].tolist() == expected
    if not faults:
        assert circuits.simulate(net, engine="compiled", **ops)["y"].tolist() == expected


@given(noise=noise_models(), data=st.data())
def test_zero_noise_equals_golden(noise, data):
    """At its clean level every kind's own realisation (not only apply_words' short cut for clean models) returns
    the words it was given."""
    clean = noise.clean()
    values = np.array(data.draw(st.lists(st.integers(-128, 127), min_size=1, max_size=20)))
    seed = data.draw(st.integers(0, 100))
    np.testing.assert_array_equal(clean.words(values[:, None], 8, True, np.random.default_rng(seed)), values[:, None])
    np.testing.assert_array_equal(apply_words(clean, values[:, None], 8, True, np.random.default_rng(seed)),
                                  values[:, None])


@given(width=st.integers(1, 16), p=st.sampled_from([0.2, 1.0]), data=st.data())
def test_flipping_the_same_bits_twice_restores_the_value(width, p, data):
    """Flips are an XOR with a mask drawn from the generator: the same draw twice restores the words; at p = 1 the
    mask is every bit, so one pass gives the complement (a closed form: a pass that did nothing fails here)."""
    values = np.array(data.draw(st.lists(st.integers(0, (1 << width) - 1), min_size=1, max_size=10)))
    seed = data.draw(st.integers(0, 100))
    once = apply_words(bitflip(p), values, width, False, np.random.default_rng(seed))
    assert np.array_equal(apply_words(bitflip(p), once, width, False, np.random.default_rng(seed)), values)
    if p == 1.0:
        assert np.array_equal(once, values ^ ((1 << width) - 1))


@settings(max_examples=15)
@given(case=generated_circuits(max_width=5, kinds=("multiplier",)), data=st.data())
def test_lut_multiplier_equals_gate_level_and_a_times_b(case, data):
    net, reference = case
    if net.signed:
        net = circuits.multiplier(net.inputs["a"], net.inputs["b"], "array", signed=False)
        reference = operator.mul
    mul = Multiplier("lut", net, act_bits=net.inputs["a"], mag_bits=net.inputs["b"])
    ops = data.draw(operands(net))
    a, b = np.array(ops["a"]), np.array(ops["b"])
    gates = Multiplier("gates", net, act_bits=net.inputs["a"], mag_bits=net.inputs["b"])
    via_gates = gates.products(a[:, None], b[:, None], circuits.GateFaults())[:, :, 0]  # every pair (a_s, b_o)
    table = mul.table()[a[:, None], b[None, :]]
    np.testing.assert_array_equal(table, via_gates)
    np.testing.assert_array_equal(table, [[reference(int(x), int(y)) for y in b] for x in a])  # a * b


@settings(max_examples=25)
@given(case=small_networks())
def test_integer_engine_against_float_reference(case):
    model, x = case
    imodel = export(model, x)
    result = IntegerEngine(imodel).run(x)
    with torch.no_grad():
        logits = model(torch.as_tensor(x)).numpy()
    top2 = np.sort(logits, axis=1)[:, -2:]
    span = max(float(np.abs(logits).max()), 1e-6)
    clear = (top2[:, 1] - top2[:, 0]) > 0.05 * span  # inputs far from a tie
    assert np.array_equal(result.predictions[clear], logits.argmax(1)[clear])


@given(text=malformed_suites((ROOT / "suites" / "smoke.toml").read_text()))
def test_suite_parser_fuzzed_raises_only_suite_errors(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "s.toml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_prediction_stability_property():
    torch.manual_seed(0)
    from networks.models import mlp
    net = mlp(4, (5,), 3)
    for layer in net.weight_layers():
        layer.quant.freeze_steps(layer.weight.detach().abs().amax(dim=1) / 7)
    xs = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    engine = IntegerEngine(export(net, xs))
    assert_prediction_stable(engine, xs, bitflip(0.0), "weight")
    with pytest.raises(AssertionError, match="changes the prediction of input"):
        assert_prediction_stable(engine, xs, bitflip(0.5), "activation")


def test_error_rate_nondecreasing_property():
    net = circuits.multiplier(4)
    a = np.repeat(np.arange(16), 16 * 20)
    b = np.tile(np.arange(16), 16 * 20)

    def trial(p):
        out = circuits.simulate(net, a=a, b=b, flip_p=p, seed=1)["p"]
        return int(np.count_nonzero(out != a * b)), len(a)
    assert_error_rate_nondecreasing(trial, [0.0, 1e-3, 1e-2, 0.1])
    with pytest.raises(AssertionError, match="error rate falls"):
        assert_error_rate_nondecreasing(lambda p: (int(1000 * (1 - p)), 1000), [0.1, 0.5])


def test_tmr_protects_and_plain_fails_with_pytest_fixture(fault_context, request):
    plain = circuits.multiplier(3)
    faults = fault_context.random_faults(plain, 1)
    again = context_for(request.node.nodeid)  # the same test draws the same faults, another test other ones
    assert again.seed == fault_context.seed and again.random_faults(plain, 1) == faults and len(faults) == 1
    assert context_for(request.node.nodeid + "[other]").seed != fault_context.seed
    ops = {"a": np.arange(8).repeat(8), "b": np.tile(np.arange(8), 8)}
    protected = circuits.tmr(plain)
    assert_unaffected(protected, [(protected.gate_names.index("r1." + plain.gate_names[faults[0][0]]),
                                   faults[0][1])], ops)


def test_readme_example_runs_and_shrinks_to_one_fault_and_one_vector():
    printed = run_readme_example("Property-based fault testing")
    match = re.search(r"gate (\d+) stuck-at-([01]) changes p for a=(\d+), b=(\d+)", printed)
    assert match, printed
    assert printed.count("stuck-at") == 1
