"""Large and wide netlists: buses wider than 64 bits through simulate, the automatic engine choice (never waiting
for a compilation; background kernels used once ready), and a netlist of about 1e5 gates against the reference."""

import importlib
import time

import numpy as np
import pytest

import circuits as c
from circuits import codegen, kernels
from circuits import simulate as simulate_fn
from circuits.builder import Builder
from networks import digits
from networks.compilers import compile_binarized, train_binarized
from tests.reference import reference_simulate

sim = importlib.import_module("circuits.simulate")  # the module (circuits.simulate is the function)


def test_wide_buses_are_python_ints():
    add = c.ripple_carry_adder(64)  # s has 65 bits
    rng = np.random.default_rng(0)
    a = [int(v) for v in rng.integers(0, 2 ** 63, 300, dtype=np.uint64)] + [2 ** 64 - 1, 2 ** 63, 0]
    b = [int(v) * 2 + 1 for v in rng.integers(0, 2 ** 63, 300, dtype=np.uint64)] + [2 ** 64 - 1, 2 ** 63, 0]
    s = simulate_fn(add, a=np.array(a, dtype=np.uint64), b=np.array(b, dtype=np.uint64))["s"]
    assert s.dtype == object and s.tolist() == [x + y for x, y in zip(a, b, strict=True)]


@pytest.mark.parametrize("signed", [False, True])
def test_wide_inputs_and_outputs_round_trip(signed):
    b = Builder("wide", signed=signed)
    x = b.input("x", 150)
    b.output("y", [b.gate("NOT", n) for n in x])  # y = ~x
    b.output("z", x[:70])
    net = b.build()
    rng = np.random.default_rng(1)
    lo, hi = (-(2 ** 149), 2 ** 149 - 1) if signed else (0, 2 ** 150 - 1)
    vals = [lo, hi, 0, 1, -1 if signed else 2] + [int(rng.integers(0, 2 ** 62)) ** 2 * 3 % (hi - lo) + lo
                                                 for _ in range(200)]
    out = simulate_fn(net, x=np.array(vals, dtype=object))
    wrap70 = [((v % 2 ** 70) - (2 ** 70 if signed and v % 2 ** 70 >= 2 ** 69 else 0)) for v in vals]
    if signed:
        assert out["y"].tolist() == [-v - 1 for v in vals]
    else:
        assert out["y"].tolist() == [2 ** 150 - 1 - v for v in vals]
    assert out["z"].tolist() == wrap70
    with pytest.raises(c.NetlistError, match="outside"):
        simulate_fn(net, x=np.array([hi + 1], dtype=object))


def _fresh(seed: int, gates: int = 40) -> c.Netlist:
    """A small random netlist whose kernels no cache holds yet (a structure unique to this process)."""
    rng = np.random.default_rng([seed, time.time_ns()])
    b = Builder(f"fresh{seed}")
    nets = b.input("a", 6) + b.input("b", 6)
    for _ in range(gates):
        nets.append(b.gate(str(rng.choice(["AND", "OR", "XOR", "NAND"])), *rng.choice(nets, 2, replace=False)))
    b.output("y", nets[-8:])
    return b.build()


def test_auto_never_waits_and_uses_a_background_kernel_once_ready(monkeypatch):
    net = _fresh(1)
    ops = {"a": np.arange(4096) % 64, "b": np.arange(4096) // 64}
    golden = reference_simulate(net, {k: v.tolist() for k, v in ops.items()})["y"]
    assert simulate_fn(net, ops)["y"].tolist() == golden and sim.last_engine() == "interpreter"  # work too small
    monkeypatch.setattr(sim, "COMPILE_PAYS_OFF", 1)  # any call pays off: the kernel compiles in the background
    flips = c.GateFaults(flip_p=1e-2, seed=5)
    first = simulate_fn(net, ops, faults=flips)["y"]
    assert sim.last_engine() == "interpreter"  # answered at once; how fast is measured in bench.simulator
    kernels.compile_later(net, "flip_blocks").result(timeout=300)
    assert np.array_equal(simulate_fn(net, ops, faults=flips)["y"], first) and sim.last_engine() == "compiled"
    simulate_fn(net, ops, stuck=[(0, 1)])
    assert sim.last_engine() == "interpreter"  # stuck-at faults run in the interpreter


def test_a_ready_fault_free_kernel_does_not_pick_compiled_for_flips():
    net = _fresh(2)
    simulate_fn(net, a=3, b=5, engine="compiled")  # compiles clean_blocks only
    simulate_fn(net, a=3, b=5)
    assert sim.last_engine() == "compiled"
    simulate_fn(net, a=np.arange(64), b=5, flip_p=1e-3)  # 64 vectors with flips: not worth compiling flip_blocks
    assert sim.last_engine() == "interpreter" and not kernels.ready(net, "flip_blocks")


def test_segmented_kernel_of_a_large_netlist_matches_the_interpreter(monkeypatch):
    monkeypatch.setattr(sim, "MAX_COMPILED_GATES", 50)  # stands for 20,000: this netlist counts as large
    monkeypatch.setattr(codegen, "SEGMENT_GATES", 40)  # several segments, each compiled on its own
    net = next(n for n in (_fresh(3 + k, gates=600) for k in range(20)) if n.n_gates > 100)  # (gates outside
    # the outputs' cones are dropped: a random netlist occasionally keeps fewer than 100)
    planes = np.random.default_rng(0).integers(0, 2 ** 63, (12, 64), dtype=np.uint64)
    golden = c.simulate_planes(net, planes, engine="interpreter")
    c.simulate_planes(net, planes)
    assert sim.last_engine() == "interpreter" and not kernels.ready(net, "segmented")  # too little work
    monkeypatch.setattr(sim, "SEGMENTED_PAYS_OFF", 1)
    c.simulate_planes(net, planes)  # starts compiling the segments in the background
    kernels.compile_later(net, "segmented").result(timeout=300)
    assert np.array_equal(c.simulate_planes(net, planes), golden) and sim.last_engine() == "compiled"
    flips = c.simulate_planes(net, planes, flip_p=1e-2, seed=3)
    assert sim.last_engine() == "interpreter"  # flips in a large netlist: the interpreter
    assert np.array_equal(flips, c.simulate_planes(net, planes, flip_p=1e-2, seed=3, engine="interpreter"))


def test_hundred_thousand_gates_against_the_reference():
    data = digits()
    _, model = train_binarized(data.x_train, data.y_train, hidden=(100,), bits=2, epochs=3)
    cc = compile_binarized(model)
    assert 90_000 < cc.netlist.n_gates < 150_000
    got = cc.classify(data.x_test)
    assert sim.last_engine() == "interpreter"
    assert np.array_equal(got, cc.predict(data.x_test))
    ops = cc.operands(data.x_test[:24])
    ref = reference_simulate(cc.netlist, {k: v.tolist() for k, v in ops.items()})
    assert ref["class"] == got[:24].tolist()
