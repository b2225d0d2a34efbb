"""The whole processing element in the loop: multiplier, accumulator adder and the requantizer (multiply-and-shift,
round, clamp) at gate level, each part a fault site (mac-gate, pe-add, pe-req; pe-gate: multiplier and adder;
pe-whole: all three), through the engine and a suite whose report lists every part."""

import numpy as np
import pytest

import circuits as c
from hardware import Part, pe
from networks import IntegerEngine, ModelConfig, Multiplier, digits, export, trained_model
from testbed.cli.main import main
from testbed.sites import SITES
from testbed.store import read_summary
from tests.conftest import MLP_ON_MUL4, MUL4


@pytest.fixture(scope="module")
def element():
    ds = digits()
    model, _ = trained_model(ModelConfig(hidden=(32,), epochs=30), progress=False)
    imodel = export(model, ds.x_train)
    el = Multiplier("pe", c.multiplier(8), imodel.act_bits, 8, acc_bits=imodel.acc_bits)
    return IntegerEngine(imodel, el), imodel, ds


def test_requantizer_netlist_is_the_engines_requantizer(element):
    """Fault-free, on accumulators across the whole range (negative, clamped above): the closed form
    clip((acc * mult + 2^(shift - 1)) >> shift, 0, 2^n - 1)."""
    eng, imodel, _ = element
    lay = imodel.layers[0]
    req = eng.multiplier.req
    assert eng.multiplier.req_layers == {lay.name} and req.inputs == {"acc": 32, "mult": 21}
    rng = np.random.default_rng(0)
    acc = np.concatenate([rng.integers(-2 ** 31, 2 ** 31, (200, lay.n_out)),
                          rng.integers(-2 ** 12, 2 ** 12, (200, lay.n_out))])
    expected = np.clip((acc * lay.mult + (1 << (lay.shift - 1))) >> lay.shift, 0, 255)
    np.testing.assert_array_equal(pe.requantize(req, acc, lay.mult, c.GateFaults()), expected)


def test_every_part_of_the_element_takes_its_own_faults(element):
    eng, imodel, ds = element
    el = eng.multiplier
    assert el.gates("whole") == el.gates("all") + el.gates("req") == el.netlist.n_gates + el.adder.n_gates + \
        el.req.n_gates
    x = ds.x_test[:64]
    exact = IntegerEngine(imodel).run(x)
    first = "accumulator@" + imodel.layers[0].name
    seen = {}

    def spy(part):
        def fn(values, bits, signed, rng):
            seen[part] = values.copy()
            return values
        return fn

    faults = c.GateFaults(2e-4, seed=3)
    runs = {part: eng.run(x, faults=faults, fault_part=part, measure_error=True, noise={first: spy(part)})
            for part in ("all", "whole", "req")}
    np.testing.assert_array_equal(seen["all"], seen["whole"])  # the multiplier's and adder's flips: the same draws
    np.testing.assert_array_equal(seen["req"], exact_first_accumulators(imodel, x))  # requantizer faults alone
    for part in ("whole", "req"):
        signal, error = runs[part].site_error["activation"]
        assert signal > 0 and error > 0 and runs[part].wrong_products.sum() > 0
    assert runs["all"].site_error["activation"] == [0.0, 0.0]
    np.testing.assert_array_equal(eng.run(x, faults=c.GateFaults(0.0), fault_part="whole").logits, exact.logits)
    stuck = eng.run(x, faults=c.GateFaults(stuck=(("req.clamp.q[7]", 1),)), fault_part="req")
    assert not np.array_equal(stuck.logits, exact.logits)


def exact_first_accumulators(imodel, x):
    seen = {}

    def fn(values, bits, signed, rng):
        seen["acc"] = values.copy()
        return values

    IntegerEngine(imodel).run(x, noise={"accumulator@" + imodel.layers[0].name: fn})
    return seen["acc"]


def test_the_site_table_derives_the_requantizer_sites():
    assert SITES["pe-req"].part is Part.REQ and SITES["pe-whole"].part is Part.WHOLE
    assert SITES["pe-req"].gate_level and SITES["pe-whole"].measured_at == "activation"


SUITE = """
[suite]
name = "pe-req"
seed = 6
[defaults]
max_trials = 2
budget = 24
""" + MUL4 + "[systems.mlp]\n" + MLP_ON_MUL4 + """mode = "pe"
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = {log = [1e-7, 1e-1, 7]}
sites = {mlp = "SITE"}
"""


def test_a_suite_puts_faults_on_each_part_and_the_report_lists_them(tmp_path):
    for site in ("pe-req", "pe-whole"):
        suite = tmp_path / f"{site}.toml"
        suite.write_text(SUITE.replace("SITE", site))
        out = tmp_path / site
        assert main(["run", str(suite), "--out", str(out), "--workers", "1"]) == 0
        unit = read_summary(out)["sweeps"][0]["units"][0]
        assert unit["site"] == site and unit["fault_budget"]["gates"] > 0
        # agreement with the noise-free prediction falls below 1 at the last level
        assert unit["curve"][-1]["value"] < 1.0
        assert f"mlp@{site}" in (out / "report.md").read_text()
