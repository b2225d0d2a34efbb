"""Signed multipliers (radix-4 Booth, Baugh-Wooley) against Python's a * b on every pair of two's-complement
operands, and the Booth encoder against the value it encodes."""

import numpy as np
import pytest

import circuits as c
from circuits.builder import Builder
from circuits.campaign import stuck_at_campaign
from circuits.signed import TREES, booth_digits, booth_multiplier

SIGNED = [*(lambda n, m, f=f: booth_multiplier(n, m, form=f) for f in TREES),
          *(lambda n, m, f=f: c.multiplier(n, m, form=f, signed=True) for f in c.generators.FORMS)]
SIGNED_IDS = [f"booth-{f}" for f in TREES] + [f"baugh-wooley-{f}" for f in c.generators.FORMS]


def _all_pairs(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.arange(-(1 << (n - 1)), 1 << (n - 1)), np.arange(-(1 << (m - 1)), 1 << (m - 1)))
    return a.ravel(), b.ravel()


@pytest.mark.parametrize("build", SIGNED, ids=SIGNED_IDS)
@pytest.mark.parametrize("n, m", [(8, 8), (4, 4), (1, 1), (1, 4), (3, 5), (6, 3), (2, 7)])
def test_signed_multiplier_equals_python_product_on_every_operand_pair(build, n, m):
    net = build(n, m)
    a, b = _all_pairs(n, m)
    got = c.simulate(net, a=a, b=b, engine="interpreter")["p"]
    expected = [x * y for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    assert net.signed and got.tolist() == expected


@pytest.mark.parametrize("form", TREES)
@pytest.mark.parametrize("n, m", [(16, 16), (32, 32), (13, 29), (32, 1), (9, 31)])
def test_wide_booth_multipliers_on_random_operands(form, n, m):
    rng = np.random.default_rng(n * 100 + m)
    a = [int(v) for v in rng.integers(-(1 << (n - 1)), 1 << (n - 1), 300)] + [-(1 << (n - 1)), (1 << (n - 1)) - 1]
    b = [int(v) for v in rng.integers(-(1 << (m - 1)), 1 << (m - 1), 300)] + [-(1 << (m - 1)), -(1 << (m - 1))]
    got = c.simulate(booth_multiplier(n, m, form=form), a=np.array(a), b=np.array(b), engine="interpreter")["p"]
    assert got.tolist() == [x * y for x, y in zip(a, b, strict=True)]


@pytest.mark.parametrize("m", range(1, 10))
def test_booth_digits_encode_the_signed_operand(m):
    """sum_i d_i 4^i with d_i = (one + 2 two) (-1)^neg equals the operand, for every m-bit operand; one and two
    never both; nonzero exactly when d_i != 0."""
    bld = Builder("enc")  # unsigned: x given as its m-bit pattern, each digit part read as 0 / 1
    x = bld.input("x", m)
    for i, nets in enumerate(booth_digits(bld, x)):
        for name, net in zip(("neg", "one", "two", "nz"), nets, strict=True):
            bld.output(f"{name}{i}", [net])
    net = bld.build()
    values = np.arange(-(1 << (m - 1)), 1 << (m - 1))
    out = c.simulate(net, x=values % (1 << m), engine="interpreter")
    digits = [(out[f"one{i}"] + 2 * out[f"two{i}"]) * (1 - 2 * out[f"neg{i}"]) for i in range((m + 1) // 2)]
    assert all(((out[f"one{i}"] & out[f"two{i}"]) == 0).all() for i in range(len(digits)))
    assert all((out[f"nz{i}"] == (d != 0)).all() for i, d in enumerate(digits))
    assert (sum(d * 4 ** i for i, d in enumerate(digits)) == values).all()


def test_booth_is_registered_with_its_reference_and_rejects_other_forms():
    gen = c.generator("booth_multiplier")
    net = gen(width=5, m=3, form="wallace")
    f = gen.intended(width=5, m=3)
    a, b = _all_pairs(5, 3)
    assert c.simulate(net, a=a, b=b)["p"].tolist() == [f(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    with pytest.raises(c.NetlistError, match="form must be one of wallace, dadda"):
        booth_multiplier(8, form="array")


def test_booth_is_smaller_than_baugh_wooley_from_6_bits_square():
    """ceil(m/2) rows of n + 1 bits against m rows of n: from 6 x 6 up the smaller tree outweighs the encoder and
    the 3-gate partial-product bits (8x8: 274 against 323 gates; at 5x5 and below Baugh-Wooley is smaller)."""
    assert booth_multiplier(5).n_gates > c.multiplier(5, form="dadda", signed=True).n_gates
    for n in range(6, 17):
        assert booth_multiplier(n).n_gates < c.multiplier(n, form="dadda", signed=True).n_gates


@pytest.mark.parametrize("form", TREES)
@pytest.mark.parametrize("n, m", [(8, 8), (7, 7), (5, 3), (3, 5), (2, 2), (1, 4)])
def test_booth_has_no_redundant_gate(form, n, m):
    """Every gate output stuck at 0 and at 1 changes the product for some operand pair (exhaustive): no gate is
    redundant, the inverted sign bit of a digit that is never +-2 included (1 x 1, a constant product bit, aside)."""
    campaign = stuck_at_campaign(booth_multiplier(n, m, form=form))
    assert campaign.detected.min() > 0
