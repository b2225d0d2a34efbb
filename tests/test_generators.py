"""Every generator against integer arithmetic: exhaustive for widths 1..10, Hypothesis vectors above."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits as c
from circuits.metrics import error_metrics


def _wrap(values, width, signed):
    values = np.asarray(values, dtype=object) % (1 << width)
    if signed:
        values = np.where(values >= (1 << (width - 1)), values - (1 << width), values)
    return values.astype(np.int64)


def _check_exhaustive(net, expected_fn):
    for ins, outs in c.exhaustive(net, engine="interpreter"):
        (bus, got), = outs.items()
        np.testing.assert_array_equal(got, expected_fn(ins), err_msg=net.name)


@pytest.mark.parametrize("form", c.generators.FORMS)
@pytest.mark.parametrize("signed", [False, True])
def test_multipliers_exhaustive_square_widths_1_to_10(form, signed):
    for n in range(1, 11):
        net = c.multiplier(n, form=form, signed=signed)
        _check_exhaustive(net, lambda i, n=n: _wrap(i["a"].astype(object) * i["b"], 2 * n, signed))


@pytest.mark.parametrize("form", c.generators.FORMS)
@pytest.mark.parametrize("signed", [False, True])
def test_multipliers_exhaustive_rectangular(form, signed):
    for n, m in [(1, 5), (5, 1), (2, 7), (7, 3), (6, 9)]:
        net = c.multiplier(n, m, form=form, signed=signed)
        _check_exhaustive(net, lambda i, n=n, m=m: _wrap(i["a"].astype(object) * i["b"], n + m, signed))


@pytest.mark.parametrize("gen", [c.ripple_carry_adder, c.kogge_stone_adder])
def test_adders_exhaustive_widths_1_to_10(gen):
    for n in range(1, 11):
        _check_exhaustive(gen(n), lambda i: i["a"] + i["b"])


@given(n=st.integers(11, 32), m=st.integers(11, 32), form=st.sampled_from(c.generators.FORMS),
       signed=st.booleans(), data=st.data())
def test_wide_multipliers_on_drawn_vectors(n, m, form, signed, data):
    lo_a, hi_a = (-(1 << (n - 1)), (1 << (n - 1)) - 1) if signed else (0, (1 << n) - 1)
    lo_b, hi_b = (-(1 << (m - 1)), (1 << (m - 1)) - 1) if signed else (0, (1 << m) - 1)
    a = data.draw(st.lists(st.integers(lo_a, hi_a), min_size=1, max_size=8))
    b = data.draw(st.lists(st.integers(lo_b, hi_b), min_size=len(a), max_size=len(a)))
    net = _wide(n, m, form, signed)
    got = c.simulate(net, a=np.array(a), b=np.array(b), engine="interpreter")["p"]
    expected = [(x * y) % (1 << (n + m)) for x, y in zip(a, b, strict=True)]
    if signed:
        expected = [e - (1 << (n + m)) if e >= 1 << (n + m - 1) else e for e in expected]
    assert [int(v) for v in got] == expected


_WIDE: dict = {}


def _wide(*key):
    if key not in _WIDE:
        _WIDE[key] = c.multiplier(key[0], key[1], form=key[2], signed=key[3])
    return _WIDE[key]


@given(n=st.integers(11, 62), data=st.data())  # sums of up to 63 bits fit int64 operands
def test_wide_adders_on_drawn_vectors(n, data):
    a = data.draw(st.lists(st.integers(0, (1 << n) - 1), min_size=1, max_size=8))
    b = data.draw(st.lists(st.integers(0, (1 << n) - 1), min_size=len(a), max_size=len(a)))
    for gen in (c.ripple_carry_adder, c.kogge_stone_adder):
        net = gen(n)
        got = c.simulate(net, a=np.array(a, dtype=np.int64), b=np.array(b, dtype=np.int64), engine="interpreter")
        assert [int(v) for v in got["s"]] == [x + y for x, y in zip(a, b, strict=True)]


def _kept_products(a, b, n, keep):
    total = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            if keep(i, j):
                total += (((a >> j) & 1) * ((b >> i) & 1)) << (i + j)
    return total


def test_truncated_multiplier_equals_kept_partial_products_and_metrics():
    net = c.truncated_multiplier(8, 6)
    ins, outs = next(c.exhaustive(net))
    expected = _kept_products(ins["a"], ins["b"], 8, lambda i, j: i + j >= 6)
    np.testing.assert_array_equal(outs["p"], expected)
    m = error_metrics(outs["p"], ins["a"] * ins["b"], 16)
    exact_err = ins["a"] * ins["b"] - expected
    assert m["wce"] == exact_err.max() and m["mae"] == pytest.approx(exact_err.mean())
    assert m["ep"] == pytest.approx(np.mean(exact_err != 0))
    assert 0 < m["mred"] < 0.1


def test_broken_array_multiplier_equals_kept_partial_products():
    net = c.broken_array_multiplier(8, hbl=2, vbl=8)
    ins, outs = next(c.exhaustive(net))
    expected = _kept_products(ins["a"], ins["b"], 8, lambda i, j: not (i < 2 and i + j < 8))
    np.testing.assert_array_equal(outs["p"], expected)
    assert net.n_gates < c.multiplier(8).n_gates


def test_tmr_computes_the_same_function():
    base = c.multiplier(4)
    ins, outs = next(c.exhaustive(c.tmr(base)))
    np.testing.assert_array_equal(outs["p"], ins["a"] * ins["b"])
    assert c.tmr(base).n_gates == 3 * base.n_gates + 8
