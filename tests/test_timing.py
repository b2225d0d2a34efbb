"""Timed simulation: Icarus (event-driven transport-delay Verilog) and an event-driven Python reference as oracles,
closed forms for a ripple-carry adder's carry chain and a glitching XOR, and static timing."""

import numpy as np
import pytest

import circuits as c
from circuits import dynamic_energy, gate_delays, static_timing, timed_simulate
from circuits.icarus import icarus_timed
from networks.compilers import fit_tree
from tests.conftest import require_tool
from tests.timed_reference import reference_timed


def _tree():
    rng = np.random.default_rng(0)
    x = rng.random((300, 4))
    y = ((x[:, 0] > 0.5) * 2 + (x[:, 1] + x[:, 2] > 0.9)).astype(np.int64)
    return fit_tree(x, y, bits=4, max_depth=5).netlist


ORACLE_NETS = {"array8": lambda: c.multiplier(8), "wallace8": lambda: c.multiplier(8, 8, "wallace"),
               "rca16": lambda: c.ripple_carry_adder(16), "mac": lambda: c.mac.mac(), "tree": _tree}


def _streams(net, rng, n_streams, n):
    ops = {b: rng.integers(0, 1 << w, (n_streams, n)) for b, w in net.inputs.items()}
    prev = {b: rng.integers(0, 1 << w, n_streams) for b, w in net.inputs.items()}
    return ops, prev


@pytest.mark.parametrize("delays", ["unit", "cells"])
@pytest.mark.parametrize("clocking", ["continuous", "settled"])
@pytest.mark.parametrize("name", list(ORACLE_NETS))
def test_timed_samples_equal_icarus_bit_for_bit(name, clocking, delays):
    require_tool("iverilog", "vvp")
    net = ORACLE_NETS[name]()
    rng = np.random.default_rng(len(name))
    D = static_timing(net, delays).D
    wrong = 0
    for frac in (0.3, 0.75):
        ops, prev = _streams(net, rng, 3, 16)
        period = max(1, int(frac * D))
        ours = timed_simulate(net, ops, period, delays, clocking, previous=prev).outputs
        theirs, _ = icarus_timed(net, ops, period, delays, clocking, previous=prev)
        exact = c.simulate(net, {b: v.reshape(-1) for b, v in ops.items()})
        for bus in net.outputs:
            np.testing.assert_array_equal(ours[bus], theirs[bus], err_msg=f"{name} {bus} at T={period}")
            wrong += int(np.count_nonzero(ours[bus].reshape(-1) != exact[bus]))
    assert wrong > 0  # the periods were short enough for timing errors: the comparison covered them


@pytest.mark.parametrize("clocking", ["continuous", "settled"])
@pytest.mark.parametrize("delays", ["unit", "cells", "varied"])
def test_samples_and_toggles_equal_an_event_driven_reference(clocking, delays):
    rng = np.random.default_rng(7)
    for net in (c.ripple_carry_adder(5), c.multiplier(4, 3, "wallace")):
        d = gate_delays(net, "unit", sigma=0.3, seed=3, grid=0.25) if delays == "varied" else delays
        st = static_timing(net, d)
        for frac in (0.3, 0.7, 1.2):
            ops, prev = _streams(net, rng, 4, 10)
            period = max(0.25, round(frac * st.D * 4) / 4)
            got = timed_simulate(net, ops, period, d, clocking, previous=prev)
            ticks = np.round(st.delays / got.tick).astype(np.int64)
            T = int(round(period / got.tick))
            settle = int(round(st.latest[net.first_gate_net:].max() / got.tick)) + 1
            cycle = T if clocking == "continuous" else max(T, settle)
            until = None if clocking == "continuous" else 10 * cycle
            ref, toggles = reference_timed(net, {b: v.tolist() for b, v in ops.items()},
                                           {b: v.tolist() for b, v in prev.items()}, ticks, T, cycle, until)
            for bus in net.outputs:
                np.testing.assert_array_equal(got.outputs[bus], np.array(ref[bus]))
            np.testing.assert_array_equal(got.toggles, toggles)


def test_ripple_carry_adder_settles_each_sum_bit_with_its_carry_chain():
    # Full adder cell: t = a^b, s = t^c, carry = (a&b) | (c&t); bit 0 has no carry-in (s0 = t0, c1 = a0&b0).
    # With unit delays c_i arrives at 2i - 1, so s_i (i >= 1) is final from 2i on and the carry out from 2n - 1.
    n = 8
    net = c.ripple_carry_adder(n)
    arrival = np.array([1] + [2 * i for i in range(1, n)] + [2 * n - 1])
    lengths = np.arange(1, n + 1)  # stream L: a = 2^L - 1, b goes 0 -> 1, a carry chain through bits 0..L-1
    a = (1 << lengths) - 1
    old, new = a, a + 1
    st = static_timing(net)
    np.testing.assert_array_equal(st.arrival("s"), arrival)
    assert st.D == 2 * n - 1 and len(st.paths["s"][n]) == 2 * n  # the input bit and 2n - 1 gates
    for period in range(1, 2 * n + 1):
        s = timed_simulate(net, {"a": a[:, None], "b": np.ones((n, 1), np.int64)}, period,
                           previous={"a": a, "b": 0}).outputs["s"][:, 0]
        for k in range(n + 1):
            bit = (s >> k) & 1
            want = np.where(arrival[k] <= period, (new >> k) & 1, (old >> k) & 1)
            np.testing.assert_array_equal(bit, want, err_msg=f"s[{k}] at T={period}")


def test_transport_delay_passes_glitches_and_counts_them():
    # y = a XOR (NOT a): always 1 when settled, but each change of a at tick t makes y 0 during [t + 1, t + 2).
    net = c.from_gates({"a": ["a0"]}, [("inv", "NOT", ["a0"], "na"), ("x", "XOR", ["a0", "na"], "y")],
                       {"y": ["y"]})
    a = np.array([1, 0, 0, 1, 1, 1, 0])
    changed = np.diff(np.concatenate([[0], a])) != 0
    changes = int(np.count_nonzero(changed))
    for period, clocking in ((1, "continuous"), (1, "settled"), (2, "continuous")):
        got = timed_simulate(net, {"a": a}, period, clocking=clocking)
        np.testing.assert_array_equal(got.outputs["y"], np.where(changed & (period == 1), 0, 1))
        if (period, clocking) == (1, "continuous"):
            continue  # back-to-back changes merge their glitches
        np.testing.assert_array_equal(got.toggles, [changes, 2 * changes])  # the glitch: down and up
        # NOT drives one gate input, XOR one output bit: unit capacitance each, C V^2 / 2 per transition
        assert dynamic_energy(net, got.toggles, voltage=0.5) == pytest.approx(0.5 * 0.25 * 3 * changes)


def test_static_timing_of_cells_and_variation():
    net = c.multiplier(4)
    unit, cells = static_timing(net), static_timing(net, "cells")
    assert unit.D == net.depth() and cells.D > 5 * unit.D  # every cell delay is at least 5 tau
    for st in (unit, cells):
        for bus, paths in st.paths.items():
            for path, nets in zip(paths, net.outputs[bus], strict=True):
                assert path[-1] == nets and path[0] < net.first_gate_net  # starts at an input bit
                gates = np.array(path[1:]) - net.first_gate_net
                assert st.delays[gates].sum() == st.latest[path[-1]]  # the path's delays add up to the arrival
    chip1, chip2 = (gate_delays(net, "cells", sigma=0.1, seed=s) for s in (1, 2))
    assert not np.array_equal(chip1, chip2) and np.array_equal(chip1, gate_delays(net, "cells", sigma=0.1, seed=1))
    assert np.all(chip1 * 16 == np.round(chip1 * 16))  # on the default 1/16 grid


def test_bad_timing_requests_name_the_problem():
    net = c.multiplier(3)
    ops = {"a": [1, 2], "b": [3, 4]}
    with pytest.raises(c.NetlistError, match="clocking must be one of"):
        timed_simulate(net, ops, 3, clocking="gated")
    with pytest.raises(c.NetlistError, match="delays must be one of"):
        timed_simulate(net, ops, 3, delays="fast")
    with pytest.raises(c.NetlistError, match="multiples of"):
        timed_simulate(net, ops, 1e-5)
    with pytest.raises(c.NetlistError, match="outside the unsigned 3-bit range"):
        timed_simulate(net, {"a": [9], "b": [1]}, 3)
    with pytest.raises(c.NetlistError, match=r"gate 'g0' has delay -1\.0"):
        static_timing(net, np.r_[-1.0, np.ones(net.n_gates - 1)])


@pytest.mark.parametrize("clocking", ["continuous", "settled"])
@pytest.mark.parametrize("delays", ["unit", "varied"])
def test_accumulator_in_the_loop_equals_an_event_driven_reference(clocking, delays):
    """The processing element's accumulator adder with its register closing the loop (feedback acc <- acc_out,
    a new dot product every 4 elements), overclocked: samples and toggles equal the reference's, which feeds each
    sample back as the next element's operand; with a slow clock the samples are the exact running sums."""
    from hardware.pe import adder_netlist

    net = adder_netlist(6, 4)
    d = gate_delays(net, "unit", sigma=0.3, seed=5, grid=0.25) if delays == "varied" else delays
    st = static_timing(net, d)
    rng = np.random.default_rng(11)
    ops, prev = _streams(net, rng, 5, 12)
    wrong = 0
    for frac in (0.4, 0.8):
        period = max(0.25, round(frac * st.D * 4) / 4)
        got = timed_simulate(net, ops, period, d, clocking, previous=prev, feedback={"acc": "acc_out"}, restart=4)
        ticks = np.round(st.delays / got.tick).astype(np.int64)
        T = int(round(period / got.tick))
        ref, toggles = reference_timed(net, {b: v.tolist() for b, v in ops.items()},
                                       {b: v.tolist() for b, v in prev.items()}, ticks, T, got.cycle,
                                       feedback={"acc": "acc_out"}, restart=4)
        np.testing.assert_array_equal(got.outputs["acc_out"], np.array(ref["acc_out"]))
        if clocking == "continuous":
            np.testing.assert_array_equal(got.toggles, toggles)
        sign = np.where(ops["sw"] == 1, -1, 1)
        exact = (ops["acc"][:, ::4, None] + np.cumsum((sign * ops["p"]).reshape(5, 3, 4), axis=2)).reshape(5, 12)
        wrong += int(np.count_nonzero(got.outputs["acc_out"] != exact % 64))
    slow = timed_simulate(net, ops, 4 * st.D, d, clocking, previous=prev, feedback={"acc": "acc_out"}, restart=4)
    np.testing.assert_array_equal(slow.outputs["acc_out"], exact % 64)
    assert wrong > 0  # the short periods broke the loop: the comparison covered timing errors
