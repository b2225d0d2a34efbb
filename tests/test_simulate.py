import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as c
from circuits import NetlistError
from circuits.campaign import stuck_at_campaign
from tests.reference import reference_simulate

MUL4 = c.multiplier(4, form="wallace")


@given(a=st.lists(st.integers(0, 15), min_size=1, max_size=40), data=st.data(),
       faults=st.lists(st.tuples(st.integers(0, MUL4.n_gates - 1), st.integers(0, 1)), max_size=3,
                       unique_by=lambda f: f[0]))
def test_simulator_matches_reference_with_stuck_faults(a, data, faults):
    b = data.draw(st.lists(st.integers(0, 15), min_size=len(a), max_size=len(a)))
    expected = reference_simulate(MUL4, {"a": a, "b": b}, stuck=faults)["p"]
    for engine in ("interpreter", "auto"):
        got = c.simulate(MUL4, {"a": np.array(a), "b": np.array(b)}, stuck=faults, engine=engine)["p"]
        assert got.tolist() == expected, engine
    if faults:  # the straight-line kernels hold no stuck-at faults: asking for one with them is an error
        with pytest.raises(NetlistError, match="compiled"):
            c.simulate(MUL4, a=np.array(a), b=np.array(b), stuck=faults, engine="compiled")
    else:
        assert c.simulate(MUL4, a=np.array(a), b=np.array(b), engine="compiled")["p"].tolist() == expected


def test_compiled_and_interpreter_draw_identical_flips():
    net = c.multiplier(6)
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 64, 5000), rng.integers(0, 64, 5000)
    kw = dict(a=a, b=b, flip_p=0.01, seed=7)
    one = c.simulate(net, engine="interpreter", **kw)["p"]
    two = c.simulate(net, engine="compiled", **kw)["p"]
    par = c.simulate(net, engine="compiled", threads=2, **kw)["p"]
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, par)
    assert (one != a * b).mean() > 0.05


def test_zero_noise_equals_golden_and_flip_probability_one_inverts():
    net = c.ripple_carry_adder(4)
    ins, clean = next(c.exhaustive(net, flip_p=0.0))
    np.testing.assert_array_equal(clean["s"], ins["a"] + ins["b"])
    # with every gate output flipped, an XOR gate's output is the XNOR of flipped inputs
    chain = _xor_chain(3)
    _, flipped = next(c.exhaustive(chain, flip_p=1.0))
    _, golden = next(c.exhaustive(chain))
    np.testing.assert_array_equal(flipped["y"], golden["y"] ^ 1)  # three flips: odd parity change


def _xor_chain(n):
    b = c.builder.Builder(f"xorchain{n}")
    x = b.input("x", n + 1)
    acc = x[0]
    for i in range(n):
        acc = b.gate("XOR", acc, x[i + 1])
    b.output("y", [acc])
    return b.build()


@pytest.mark.parametrize("n,p", [(1, 0.01), (8, 0.01), (20, 0.05), (30, 0.002)])
def test_xor_chain_error_rate_matches_closed_form(n, p):
    net = _xor_chain(n)
    rng = np.random.default_rng(n)
    x = rng.integers(0, 1 << (n + 1), 400_000)
    golden = c.simulate(net, x=x)["y"]
    noisy = c.simulate(net, x=x, flip_p=p, seed=11)["y"]
    rate = np.mean(noisy != golden)
    expected = (1 - (1 - 2 * p) ** n) / 2
    assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / len(x))


def test_operand_errors_name_the_bus():
    with pytest.raises(NetlistError, match=r"operand 'a' has values in \[16, 16\]"):
        c.simulate(MUL4, a=[16], b=[1])
    with pytest.raises(NetlistError, match="missing: b"):
        c.simulate(MUL4, a=[1])
    with pytest.raises(NetlistError, match="no gate named 'nope'"):
        c.simulate(MUL4, a=[1], b=[1], stuck=[("nope", 1)])
    with pytest.raises(NetlistError, match="flip_p must be a probability"):
        c.simulate(MUL4, a=[1], b=[1], flip_p=1.5)


def test_signed_operands_and_broadcast():
    net = c.multiplier(5, 3, signed=True)
    got = c.simulate(net, a=np.arange(-16, 16), b=-3)["p"]
    np.testing.assert_array_equal(got, np.arange(-16, 16) * -3)


def test_campaign_matches_naive_resimulation_of_every_fault():
    net = c.multiplier(3, form="dadda")
    camp = stuck_at_campaign(net)
    ins, golden = next(c.exhaustive(net))
    for f, (g, s) in enumerate(zip(camp.sites, camp.stuck, strict=True)):
        _, faulty = next(c.exhaustive(net, stuck=[(int(g), int(s))], engine="interpreter"))
        diff = faulty["p"] ^ golden["p"]
        assert camp.detected[f] == np.count_nonzero(diff)
        assert camp.per_bit[f].tolist() == [int(np.count_nonzero((diff >> k) & 1)) for k in range(6)]


def test_campaign_on_operands_and_random_vectors():
    net = c.multiplier(4)
    a, b = np.arange(16).repeat(16), np.tile(np.arange(16), 16)
    on_ops = stuck_at_campaign(net, operands={"a": a, "b": b})
    exh = stuck_at_campaign(net)
    np.testing.assert_array_equal(on_ops.detected, exh.detected)
    rnd = stuck_at_campaign(net, vectors=20_000, seed=3)
    assert rnd.n_vectors == 20_000
    assert np.allclose(rnd.detection_rate, exh.detection_rate, atol=0.03)


def test_tmr_survives_every_single_fault_in_its_copies():
    net = c.tmr(c.multiplier(3))
    camp = stuck_at_campaign(net)
    copy_faults = [f for f, g in enumerate(camp.sites) if not net.gate_names[g].startswith("vote.")]
    assert camp.detected[copy_faults].max() == 0
    assert camp.coverage < 1.0
    plain = stuck_at_campaign(c.multiplier(3))
    assert plain.detected.max() > 0


def test_word_error_under_small_flips_matches_campaign_sensitivity():
    net = c.multiplier(4)
    camp = stuck_at_campaign(net)
    p = 2e-4
    ins, golden = next(c.exhaustive(net))
    a, b = np.tile(ins["a"], 200), np.tile(ins["b"], 200)
    noisy = c.simulate(net, a=a, b=b, flip_p=p, seed=5)["p"]
    rate = np.mean(noisy != a * b)
    # a flip at a gate acts as the stuck-at of the opposite value, detectable only by that vector's polarity
    expected = 1 - np.exp(-p * camp.sensitivity)
    assert abs(rate - expected) < 0.1 * expected + 4 * np.sqrt(expected / len(a))


def test_exhaustive_streams_in_chunks():
    net = c.ripple_carry_adder(7)
    chunks = list(c.exhaustive(net, chunk_bits=10))
    assert len(chunks) == 16 and all(len(i["a"]) == 1024 for i, _ in chunks)


def test_campaign_threads_give_identical_counts():
    net = c.multiplier(5, form="wallace")
    one = stuck_at_campaign(net, vectors=5000, seed=2)
    two = stuck_at_campaign(net, vectors=5000, seed=2, threads=2)
    np.testing.assert_array_equal(one.detected, two.detected)
    np.testing.assert_array_equal(one.per_bit, two.per_bit)
