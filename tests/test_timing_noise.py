"""Timing noise kinds (clock, voltage) at gate sites: a timing plan run by the simulator, settled periods exact,
the break-down period of a ripple-carry adder at its carry chain's closed form, word sites rejected, the
alpha-power law, and a tiny timing suite end to end through the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest

import circuits as c
from circuits import TimingPlan, simulate, static_timing, timed_simulate
from circuits.simulate import last_engine, last_measured
from testbed.cli.main import main
from testbed.compare import Sweep, run_sweep
from testbed.errors import NoiseError
from testbed.noise import make_noise
from testbed.store import read_summary
from testbed.systems import CircuitSystem


def _random_ops(net, n, seed=0):
    rng = np.random.default_rng(seed)
    return {b: rng.integers(0, 1 << w, n) for b, w in net.inputs.items()}


def test_a_settled_period_gives_exact_outputs_and_nominal_energy():
    net = c.multiplier(6)
    ops = _random_ops(net, 3000)
    exact = ops["a"] * ops["b"]
    for plan in (TimingPlan(1.0), TimingPlan(1.0, clocking="settled", delays="cells")):
        assert (simulate(net, ops, faults=plan)["p"] == exact).all()
        assert last_engine() == "timed" and last_measured().energy_ratio == pytest.approx(1.0)
    chip = TimingPlan(1.0, sigma=0.2, seed=4)  # a slow chip: D_chip > D, so T = D is too short for it
    wrong = np.count_nonzero(simulate(net, ops, faults=chip)["p"] != exact)
    d_chip = last_measured().D_chip
    assert d_chip > static_timing(net).D and wrong > 0
    settled = TimingPlan(d_chip, relative=False, sigma=0.2, seed=4)  # the same chip clocked at its own D
    assert (simulate(net, ops, faults=settled)["p"] == exact).all()
    assert simulate(net, ops)["p"].tolist() == exact.tolist() and last_measured() is None  # untimed again


def test_a_timing_plan_in_the_given_order_is_timed_simulate_on_its_streams():
    net = c.ripple_carry_adder(6)
    ops = _random_ops(net, 64, seed=2)  # 4 streams of 16, each settled first on its own last element
    period = 5
    got = simulate(net, ops, faults=TimingPlan(period, relative=False, shuffle=False))["s"]
    streams = {b: v.reshape(4, 16) for b, v in ops.items()}
    want = timed_simulate(net, streams, period, previous={b: v[:, -1] for b, v in streams.items()}).outputs["s"]
    assert got.tolist() == want.reshape(-1).tolist()
    assert (got != ops["a"] + ops["b"]).any()


@pytest.mark.parametrize("dataflow", ["output-stationary", "weight-stationary"])
def test_a_layers_products_run_in_their_dataflow(dataflow):
    from hardware import gatemac

    net = c.multiplier(4)
    rng = np.random.default_rng(5)
    rows, outs, k = 32, 3, 4
    a, mag = rng.integers(0, 16, (rows, k)), rng.integers(0, 16, (outs, k))
    period = 6
    plan = TimingPlan(period, relative=False, shuffle=False, dataflow=dataflow)
    got = gatemac.products(net, a, mag, plan, {})  # (rows, outs, k)
    # the oracle: the products in the dataflow's order (s, o, i) or (o, i, s), dealt into 24 runs of 16
    sa = np.broadcast_to(a[:, None, :], (rows, outs, k))
    sb = np.broadcast_to(mag[None, :, :], (rows, outs, k))
    if dataflow == "weight-stationary":
        sa, sb = sa.transpose(1, 2, 0), sb.transpose(1, 2, 0)
    streams = {"a": sa.reshape(24, 16), "b": sb.reshape(24, 16)}
    want = timed_simulate(net, streams, period, previous={b: v[:, -1] for b, v in streams.items()}).outputs["p"]
    want = want.reshape(sa.shape)
    if dataflow == "weight-stationary":
        want = want.transpose(2, 0, 1)
    assert got.tolist() == want.tolist()
    assert (got != a[:, None, :] * mag[None, :, :]).any()


def test_the_break_down_period_of_a_ripple_carry_adder_is_its_carry_chain():
    # a = 2^k - 1 and b alternating 0, 1: each addition ripples a carry through bits 0..k-1 (or drops it), and
    # with unit delays s_k is final from 2k on (the full adder chain: c_i at 2i - 1, s_i at 2i), every other sum
    # bit is unchanged: the outputs are exact for T >= 2k and wrong at every element for T < 2k.
    n, k = 8, 5
    net = c.ripple_carry_adder(n)
    b = np.arange(256) % 2
    system = CircuitSystem(net, {"a": np.full(256, (1 << k) - 1), "b": b}, name="rca8")
    noise = make_noise("clock", 12.0, absolute=True, sigma=0.0, order="given")
    levels = [12.0, 10.5, 10.0, 9.75, 9.0, 8.0]
    sweep = run_sweep(Sweep(system, "gate", noise, levels, min_trials=2, max_trials=2, refine=0, budget=0))
    rates = {p["level"]: p["exact_rate"][0] for p in sweep.curve()}
    assert rates[10.0] == 1.0 and rates[9.75] == 0.0 and rates[12.0] == 1.0 and rates[8.0] == 0.0
    bd = sweep.breakdown()
    assert bd.lo <= 2 * k <= bd.hi or (bd.hi <= 2 * k and bd.lo >= 2 * k - 0.25)
    assert 2 * k - 0.25 <= bd.level <= 2 * k and static_timing(net).D == 2 * n - 1


def test_word_sites_reject_timing_noise_in_one_line():
    for kind, level in (("clock", 0.8), ("voltage", 0.7)):
        noise = make_noise(kind, level)
        for site in ("output", "input", "product"):
            with pytest.raises(NoiseError) as err:
                noise.plan(site)
            msg = str(err.value)
            assert f"site {site!r} holds words" in msg and kind in msg and "\n" not in msg
        for site in ("pe-req", "pe-whole"):  # the requantizer has no timing model
            with pytest.raises(NoiseError, match=r"accumulator adders of a network \(mac-gate, pe-add, pe-gate\)"):
                noise.plan(site)
        assert noise.plan("gate").site.name == "gate" and noise.plan("pe-add").site.name == "pe-add"


def test_voltage_follows_the_alpha_power_law_and_validates_its_parameters():
    v = make_noise("voltage", 0.6, vt=0.3, alpha=1.3)
    f = (0.6 / 0.3 ** 1.3) / (1.0 / 0.7 ** 1.3)
    assert v.delay_factor(0.6) == pytest.approx(f) and v.delay_factor(1.0) == 1.0
    plan = v.gate_faults(10, np.random.default_rng(0))
    assert plan.period == 1.05 and plan.delay_scale == pytest.approx(f) and plan.energy_scale == pytest.approx(0.36)
    assert v.severity(0.5) > v.severity(0.6) and not v.more_noise_is_higher  # lower V is more noise
    clock = make_noise("clock", 0.8)
    assert clock.severity(0.7) > clock.severity(0.8) and clock.midpoint(0.5, 2.0) == pytest.approx(1.0)
    for kind, level, params, why in (("voltage", 0.2, {}, "above the threshold vt"),
                                     ("voltage", 0.8, {"alpha": 3}, "alpha = 3"),
                                     ("clock", 0.0, {}, "must be > 0"),
                                     ("clock", 1.0, {"delays": "fast"}, "delays 'fast' is unknown"),
                                     ("clock", 1.0, {"clocking": "late"}, "clocking 'late'")):
        with pytest.raises(NoiseError, match=why):
            make_noise(kind, level, **params)
    assert make_noise("clock", math.inf).is_clean and make_noise("voltage", math.inf).is_clean


SUITE = """
[suite]
name = "timing-tiny"
seed = 3

[defaults]
min_trials = 2
max_trials = 2
refine = 0
budget = 0

[systems.mul4]
kind = "circuit"
circuit = "multiplier"
width = 4

[systems.mlp]
kind = "network"
dataset = "digits"
hidden = [8]
epochs = 20
weight_bits = 4
act_bits = 4
multiplier = "mul4"
mode = "gates"

[[sweeps]]
name = "clock"
noise = "clock"
dataflow = "weight-stationary"
levels = [1.2, 1.0, 0.7, 0.4]
sites = {mul4 = "gate", mlp = "mac-gate"}

[[sweeps]]
name = "voltage"
noise = "voltage"
levels = [1.0, 0.8, 0.6, 0.45]
sites = {mul4 = "gate"}
"""


def test_a_tiny_timing_suite_runs_end_to_end(tmp_path, capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "clock" in listed and "voltage" in listed and "D at width 8 = 34 / 435" in listed
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace('sites = {mul4 = "gate", mlp', 'sites = {mul4 = "output", mlp'))
    assert main(["run", str(bad), "--out", str(tmp_path / "bad"), "--workers", "1"]) == 2
    assert "site 'output' holds words and cannot take clock noise" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    suite = tmp_path / "timing.toml"
    suite.write_text(SUITE)
    out = tmp_path / "run"
    assert main(["run", str(suite), "--out", str(out), "--workers", "1"]) == 0
    summary = read_summary(out)
    sweeps = {sw["name"]: sw for sw in summary["sweeps"]}
    assert summary["systems"]["mul4"]["timing"]["D_unit"] == static_timing(c.multiplier(4)).D
    for name in ("clock", "voltage"):
        unit = sweeps[name]["units"][0]
        curve = unit["curve"]
        assert curve[0]["value"] == 1.0 and curve[-1]["value"] < 0.99  # nominal works; the last level breaks it
        assert not sweeps[name]["axis"]["more_noise_is_higher"]
        energy = unit["breakdown_energy"]
        assert energy["value"] is not None
    assert all(abs(p["energy_ratio"] - 1) < 0.05 for p in sweeps["clock"]["units"][0]["curve"])
    net = sweeps["clock"]["units"][1]
    # a network's curve is its agreement with its own noise-free prediction (the one criterion): 1 at nominal
    assert net["label"] == "clock/mlp@mac-gate" and net["curve"][0]["value"] == 1.0
    assert net["curve"][-1]["value"] < 1.0 and "energy_ratio" in net["curve"][0]
    assert "per operation" in {g["framing"] for g in sweeps["clock"]["gaps"]}
    volts = sweeps["voltage"]["units"][0]["curve"]
    for p in volts:  # energy per operation falls as V^2 (the toggles of one operation barely move)
        assert p["energy_ratio"] == pytest.approx(p["level"] ** 2, rel=0.05)
    assert main(["show", str(out)]) == 0
    assert "energy per operation / nominal" in capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert (out / "figures" / "energy_0.png").is_file() and (out / "figures" / "energy_1.png").is_file()
    assert "## Timing" in report and "mul4@gate works down to supply voltage V (volts)" in report
    d = static_timing(c.multiplier(4)).D
    assert f"critical path delay D = {d:g} (unit delays)" in (out / "report.html").read_text()
