"""Timing errors in the processing element (hardware.pe.timed_accumulate): exact at the element's critical path,
each part breaking alone below it (the adder's errors leave the products exact), and the accumulator adder run
in each dataflow's order, checked against the closed loop built by hand from circuits.timed_simulate (whose
feedback an event-driven reference checks in tests/test_timing.py)."""

from __future__ import annotations

import numpy as np
import pytest

import circuits as c
from circuits import TimingPlan, static_timing, timed_simulate
from circuits.simulate import measuring
from hardware import pe
from hardware.errors import HardwareError
from hardware.multipliers import Multiplier
from testbed.errors import NoiseError
from testbed.noise import make_noise


def _layer(seed=0, n=24, out=3, k=5):
    rng = np.random.default_rng(seed)
    cols, w = rng.integers(-15, 16, (n, k)), rng.integers(-15, 16, (out, k))
    w[0, 1] = 0  # a zero weight adds nothing
    return cols, w, rng.integers(-300, 300, out)


@pytest.mark.parametrize("dataflow", ["output-stationary", "weight-stationary"])
def test_the_element_is_exact_at_its_critical_path_and_each_part_breaks_below(dataflow):
    m = Multiplier("pe", c.multiplier(4), act_bits=4, mag_bits=4, acc_bits=12, signed_a=True)
    cols, w, bias = _layer()
    exact = bias + cols @ w.T  # the oracle: integer arithmetic
    D = max(static_timing(m.netlist).D, static_timing(m.adder).D)
    assert D == static_timing(m.adder).D > static_timing(m.netlist).D  # the accumulator's carry chain is longest
    for part in ("mul", "add", "all"):
        with measuring() as log:
            acc, wrong, sig, err = m.accumulate_measured(cols, w, bias, TimingPlan(1.0, dataflow=dataflow), True,
                                                         12, part)
        assert (acc == exact).all() and wrong.sum() == 0 and err == 0
        assert sig == float(np.square(np.abs(cols)[:, None, :] * np.abs(w)[None, :, :]).sum())
        assert log and all(r.energy_ratio == pytest.approx(1.0, abs=0.02) for r in log)  # sigma 0.0: nominal
        acc, wrong, _, err = m.accumulate_measured(cols, w, bias, TimingPlan(0.3, dataflow=dataflow, sigma=0.05),
                                                   True, 12, part)
        assert (acc != exact).any()
        assert (wrong.sum() == 0 and err == 0) if part == "add" else wrong.sum() > 0  # the adder's errors only
    with pytest.raises(HardwareError, match="fault_part 'req': its gates have no timing model"):
        m.check(TimingPlan(0.5), "req")


@pytest.mark.parametrize("dataflow", ["output-stationary", "weight-stationary"])
def test_the_accumulator_adder_runs_in_the_dataflows_order(dataflow):
    mul = c.multiplier(4)
    add = pe.adder_netlist(12, 8, signed_a=True)
    n, out, k = 32, 3, 4
    cols, w, bias = _layer(1, n, out, k)
    period = 9.0  # delay units: the adder (D 25) breaks, its products are exact (part 'add')
    plan = TimingPlan(period, relative=False, shuffle=False, sigma=0.0, dataflow=dataflow)
    got = pe.timed_accumulate(mul, add, cols, w, bias, plan, "add", 12, {})
    p = np.where(w[None, :, :] == 0, 0, np.abs(cols)[:, None, :] * np.abs(w)[None, :, :])  # (n, out, k)
    ops = {"p": p, "sw": np.broadcast_to(w[None] < 0, p.shape) * 1,
           "sa": np.broadcast_to(cols[:, None] < 0, p.shape) * 1}
    if dataflow == "output-stationary":  # one dot product per stream (96 <= 2048), the loop closed by feedback
        streams = {b: v.reshape(n * out, k) for b, v in ops.items()}
        streams["acc"] = np.broadcast_to((bias & 4095)[None, :, None], p.shape).reshape(n * out, k)
        res = timed_simulate(add, streams, period, previous={b: v[:, -1] for b, v in streams.items()},
                             feedback={"acc": "acc_out"}, restart=k).outputs["acc_out"]
        want = res[:, -1].reshape(n, out)
    else:  # input i's element: partial sums of input i - 1 per row; per output the rows dealt into 2 runs of 16
        want = np.broadcast_to(bias & 4095, (n, out))
        for i in range(k):
            streams = {b: v[:, :, i].T.reshape(2 * out, 16) for b, v in ops.items()}
            streams["acc"] = want.T.reshape(2 * out, 16)
            res = timed_simulate(add, streams, period, previous={b: v[:, -1] for b, v in streams.items()})
            want = res.outputs["acc_out"].reshape(out, n).T
    want = (want + 2048) % 4096 - 2048
    assert got.tolist() == want.tolist()
    assert (got != bias + cols @ w.T).any()


def test_timing_noise_is_realised_at_the_elements_timed_sites_only():
    noise = make_noise("clock", 0.8)
    for site in ("mac-gate", "pe-add", "pe-gate"):
        assert noise.plan(site).site.name == site
    for site in ("pe-req", "pe-whole"):
        with pytest.raises(NoiseError, match=r"multipliers and accumulator adders of a network"):
            noise.plan(site)


def test_the_timing_report_gives_a_population_its_mean_break_down_and_energy():
    from reports.build import timing_rows, timing_sentences
    from testbed.summary import _population_energy

    def unit(label, level, energy):
        return {"label": label, "system": label.split("/")[1].split("@")[0], "site": "mac-gate",
                "breakdown": {"level": level, "lo": level * 0.99, "hi": level * 1.01}, "curve": [],
                "breakdown_energy": {"value": energy, "lo": energy - 0.01, "hi": energy + 0.01}}

    members = ((0, 0.76, 0.9), (1, 0.78, 0.94), (2, 0.77, 0.92))
    units = [unit("clock/mul8@gate", 0.875, 0.98), *(unit(f"clock/mlp[seed {s}]@mac-gate", lv, e)
                                                     for s, lv, e in members)]
    units[0]["site"] = "gate"
    pop = {"system": "mlp", "site": "mac-gate", "members": [{"label": u["label"]} for u in units[1:]],
           "population": {"level": 0.77, "lo": 0.75, "hi": 0.79, "members": 3, "severity_sd": 0.005,
                          "covers": "between-member variation: Student t over 3 members (2 df)"}}
    _population_energy(pop, units, 0.95)
    e = pop["breakdown_energy"]  # the oracle: mean 0.92, t(0.975, 2) = 4.303 times sd 0.02 / sqrt(3)
    assert e["value"] == pytest.approx(0.92) and e["hi"] - e["value"] == pytest.approx(4.303 * 0.02 / 3 ** 0.5,
                                                                                      rel=1e-3)
    summary = {"sweeps": [{"name": "clock", "per_bit": False, "units": units, "populations": [pop],
                           "axis": {"label": "clock period T (units of D)", "more_noise_is_higher": False}}]}
    rows = timing_rows(summary)
    assert [r["system"] for r in rows] == ["mlp@mac-gate", "mul8@gate"]  # the members have no rows of their own
    text = timing_sentences(rows)[0]
    assert "mlp@mac-gate works down to clock period T (units of D) 0.77 [0.75, 0.79] (3 members" in text
    assert "Student t over 3 members" in text and "0.92 [" in text and "(members' mean) of nominal" in text
