"""The multiply-accumulate and requantizer netlists against exact arithmetic: exhaustively for small widths, on
random operands at the engine's widths (8-bit operands, 32-bit accumulator); gates named by block; a block
hardened."""

import numpy as np
import pytest

import circuits
from circuits import GENERATORS, NetlistError
from circuits.campaign import stuck_at_campaign
from circuits.hardening import apply_hardening
from circuits.mac import mac, requantizer


def _exact(a, w, acc, n, m, acc_bits, signed_a):
    """acc + sgn(a) sign(w) |a| |w| wrapped to acc_bits, as an unsigned bit pattern (engine semantics)."""
    a, w, acc = (np.asarray(v, np.int64) for v in (a, w, acc))
    neg = ((w >> m) & 1) ^ (((a >> n) & 1) if signed_a else 0)
    product = (a & ((1 << n) - 1)) * (w & ((1 << m) - 1))
    return (acc + np.where(neg == 1, -product, product)) & ((1 << acc_bits) - 1)


CASES = [  # (n, m, acc_bits, form, adder, signed_a): acc narrower, equal and wider than the product
    (3, 3, 8, "array", "ripple", False),
    (3, 2, 8, "wallace", "kogge_stone", True),
    (4, 4, 6, "dadda", "ripple", False),
    (2, 3, 5, "array", "kogge_stone", True),
    (4, 3, 8, "array", "ripple", True),
]


@pytest.mark.parametrize("n, m, acc_bits, form, adder, signed_a", CASES)
def test_mac_exhaustive_against_exact_arithmetic(n, m, acc_bits, form, adder, signed_a):
    net = GENERATORS["mac"](width=n, m=m, acc_bits=acc_bits, form=form, adder=adder, signed_a=signed_a)
    assert net.inputs == {"a": n + signed_a, "w": m + 1, "acc": acc_bits}
    checked = 0
    for ins, outs in circuits.exhaustive(net):
        expect = _exact(ins["a"], ins["w"], ins["acc"], n, m, acc_bits, signed_a)
        assert np.array_equal(outs["acc_out"], expect)
        checked += len(expect)
    assert checked == 1 << net.n_input_bits


@pytest.mark.parametrize("adder", ["ripple", "kogge_stone"])
def test_engine_width_mac_on_random_operands(adder):
    net = mac(8, 8, 32, "wallace", adder, signed_a=True)
    rng = np.random.default_rng(5)
    a, w, acc = rng.integers(0, 1 << 9, 20_000), rng.integers(0, 1 << 9, 20_000), rng.integers(0, 1 << 32, 20_000)
    a[:4], w[:4] = [255, 511, 0, 256], [511, 255, 256, 256]  # extremes and negative zeros
    got = circuits.simulate(net, {"a": a, "w": w, "acc": acc})["acc_out"]
    assert np.array_equal(got, _exact(a, w, acc, 8, 8, 32, True))


def test_gates_are_named_by_block():
    net = mac(4, 4, 12)
    blocks = {name.split(".")[0] for name in net.gate_names}
    assert blocks == {"mul", "add"}
    assert sum(n.startswith("mul.") for n in net.gate_names) == circuits.multiplier(4, 4).n_gates
    # no adder gate is redundant: each one has a stuck-at fault that reaches acc_out
    camp = stuck_at_campaign(net, vectors=4096, seed=3)
    adder = [i for i, n in enumerate(net.gate_names) if n.startswith("add.")]
    assert (camp.detected.reshape(-1, 2)[adder].sum(axis=1) > 0).all()


def test_bad_parameters_name_the_parameter():
    with pytest.raises(NetlistError, match="adder"):
        GENERATORS["mac"](width=4, adder="carry_save")
    with pytest.raises(NetlistError, match="acc_bits"):
        GENERATORS["mac"](width=4, acc_bits=1)


def test_adder_block_hardened_masks_adder_faults_only():
    net = mac(3, 3, 8)
    h = apply_hardening(net, "block:add.")
    assert all(n.startswith(("r0.add.", "r1.add.", "r2.add.")) for n in h.protected)
    assert stuck_at_campaign(h.netlist, gates=h.protected).detected.max() == 0
    mul = [n for n in h.netlist.gate_names if n.startswith("mul.")]
    assert stuck_at_campaign(h.netlist, gates=mul).detected.min() > 0


def _requantized(acc, mult, n, acc_bits, shift):
    acc = np.asarray(acc, np.int64)
    acc = np.where(acc >> (acc_bits - 1) == 1, acc - (1 << acc_bits), acc)
    return np.clip((acc * np.asarray(mult, np.int64) + ((1 << (shift - 1)) if shift else 0)) >> shift, 0,
                   (1 << n) - 1)


@pytest.mark.parametrize("n, acc_bits, mult_bits, shift", [(3, 6, 3, 3), (2, 5, 2, 0), (8, 8, 2, 5), (3, 7, 4, 11)])
def test_requantizer_exhaustive(n, acc_bits, mult_bits, shift):
    net = GENERATORS["requantizer"](width=n, acc_bits=acc_bits, mult_bits=mult_bits, shift=shift)
    for ins, outs in circuits.exhaustive(net):
        assert np.array_equal(outs["q"], _requantized(ins["acc"], ins["mult"], n, acc_bits, shift))


def test_engine_width_requantizer_on_random_operands():
    net = requantizer(8, 32, 16, 20)
    rng = np.random.default_rng(9)
    acc, mult = rng.integers(0, 1 << 32, 20_000), rng.integers(0, 1 << 16, 20_000)
    acc[:3] = [(1 << 31) - 1, 1 << 31, (1 << 32) - 1]  # largest, most negative, -1
    acc[3:1000] >>= 14  # small positive accumulators land inside the clamp range
    got = circuits.simulate(net, {"acc": acc, "mult": mult})["q"]
    expect = _requantized(acc, mult, 8, 32, 20)
    assert np.array_equal(got, expect) and 0 < np.count_nonzero((expect > 0) & (expect < 255))
    assert all(name.startswith(("req.mul.", "req.rnd.", "req.clamp.")) for name in net.gate_names)
    with pytest.raises(NetlistError, match="shift"):
        requantizer(8, 8, 8, 17)
