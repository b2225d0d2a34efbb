"""The integer MLP compiled to one netlist (networks.compilers.integer_mlp): a trained digits MLP at 4 bits on the
whole test set against the integer pass computed by hand, small random models exhaustively against the engine's
exact pass (every requantization path, ties in the argmax), and the requantization planner against brute force."""

import itertools

import numpy as np
import pytest

import circuits
import networks
from circuits.builder import Builder
from networks.compilers.integer_mlp import REQUANT, _Compiler, _plan, _Word, compile_integer_mlp
from networks.engine import IntegerEngine
from networks.graph import IntegerModel, IntLayer


def _by_hand(imodel: IntegerModel, x: np.ndarray) -> np.ndarray:
    """The integer MLP's predictions written out: inputs round(x * (2^bits - 1)); per layer acc = a @ W^T + bias,
    then (acc * mult + 2^(shift-1)) >> shift, clamped for hidden layers (the logits unclamped); argmax, the lowest
    class on ties."""
    top = 2 ** imodel.act_bits - 1
    a = np.clip(np.round(x * top), 0, top).astype(np.int64)
    for lay in imodel.layers:
        a = ((a @ lay.weight.T + lay.bias) * lay.mult + (1 << (lay.shift - 1))) >> lay.shift
        a = np.clip(a, *lay.clamp) if lay.clamp is not None else a
    return a.argmax(axis=1)


def test_trained_mlp_matches_a_hand_computed_integer_pass_on_the_whole_test_set():
    ds = networks.digits()
    model, _ = networks.trained_model(networks.ModelConfig(hidden=(16,), epochs=60), progress=False)
    imodel = networks.export(model, ds.x_train, act_bits=4, weight_bits=4)
    assert [lay.kind for lay in imodel.layers] == ["linear", "linear"] and imodel.layers[-1].clamp is None
    cc = compile_integer_mlp(imodel)
    reference = _by_hand(imodel, ds.x_test)
    assert len(ds.x_test) == 540
    assert np.array_equal(cc.classify(ds.x_test), reference)
    assert np.array_equal(cc.predict(ds.x_test), reference)
    assert (reference == ds.y_test).mean() > 0.85
    assert cc.bits == 4 and cc.n_features == 64
    assert cc.netlist.output_widths == {"class": 4}
    assert set(cc.netlist.inputs) == {f"x{f}" for f in range(64)}


def _layer(w, bias, mult, shift, clamp, name):
    w = np.asarray(w, np.int64)
    return IntLayer("linear", w, np.asarray(bias, np.int64), np.asarray(mult, np.int64), shift, clamp,
                    np.ones(len(w)), 1.0, 1.0, 8, name=name)


def _random_model(rng, act_bits, n_in, hidden, n_out, wmax, logit_ratio):
    """A chain with random weights, centred biases and per-channel requantizers (outputs spread over the range,
    some saturated), one dead neuron per hidden layer; logits at logit_ratio (small: coarse logits, ties)."""
    amax = 2 ** act_bits - 1
    layers, k = [], n_in
    for j, n in enumerate((*hidden, n_out)):
        last = j == len(hidden)
        w = rng.integers(-wmax, wmax + 1, (n, k))
        spread = amax * np.sqrt((w ** 2).sum(axis=1)) / 2 + 1
        bias = np.round(-w.sum(axis=1) * amax / 2 + rng.normal(0, spread / 2)).astype(np.int64)
        if not last:
            bias[0] = -amax * np.abs(w[0]).sum() - 1  # dead: always 0
        shift = int(rng.integers(8, 31))
        ratio = logit_ratio * rng.uniform(0.5, 1.0, n) if last else rng.uniform(0.3, 1.5, n) * amax / spread
        mult = np.maximum(1, np.round(ratio * 2 ** shift)).astype(np.int64)
        if last:  # centre every logit on the exhaustive inputs, so that each class wins somewhere
            q = np.array(list(itertools.product(range(amax + 1), repeat=n_in)))
            h = IntegerEngine(IntegerModel(layers, (n_in,), act_bits, 32)).run(q / amax).logits
            bias = -np.median(h @ w.T, axis=0).astype(np.int64) + rng.integers(-2, 3, n)
        layers.append(_layer(w, bias, mult, shift, None if last else (0, amax), f"layers.{j}"))
        k = n
    return IntegerModel(layers, (n_in,), act_bits, 32)


@pytest.mark.parametrize("majority", [False, True])
@pytest.mark.parametrize("requant", REQUANT)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_models_exhaustively(requant, seed, majority):
    rng = np.random.default_rng(seed)
    act_bits, n_in = 3, 3
    imodel = _random_model(rng, act_bits, n_in, hidden=(6, 5), n_out=5, wmax=(60, 7, 7)[seed],
                           logit_ratio=(0.5, 0.05, 1.0)[seed])
    q = np.array(list(itertools.product(range(2 ** act_bits), repeat=n_in)), np.int64)
    x = q / (2 ** act_bits - 1)
    logits = IntegerEngine(imodel).run(x).logits
    engine = logits.argmax(axis=1)
    cc = compile_integer_mlp(imodel, requant=requant, majority=majority)
    assert np.array_equal(cc.classify(x), engine)
    assert np.array_equal(cc.predict(x), engine)
    assert len(set(engine.tolist())) >= 3
    ties = (logits == logits.max(axis=1, keepdims=True)).sum(axis=1) > 1
    assert seed != 1 or ties.any()  # the lowest index wins ties, as numpy's argmax


def test_requantization_plans_against_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(300):
        a = int(rng.integers(-3000, 500))
        b = a + int(rng.integers(1, 4000))
        shift = int(rng.integers(1, 31))
        mult = int(rng.integers(1, 2 ** min(shift + 2, 31)))
        clamp = (0, int(rng.choice([1, 15, 255]))) if rng.random() < 0.7 else None
        acc = np.arange(a, b + 1, dtype=np.int64)
        f = (acc * mult + (1 << (shift - 1))) >> shift
        if clamp is not None:
            f = np.clip(f, *clamp)
        plan = _plan(a, b, mult, shift, clamp)
        assert (plan.lo, plan.hi) == (f.min(), f.max())
        if plan.lo == plan.hi:
            continue
        assert plan.candidates
        for m, s, c in plan.candidates:
            g = (acc * m + c) >> s
            if clamp is not None:
                g = np.clip(g, *clamp)
            assert np.array_equal(g, f), (a, b, mult, shift, clamp, m, s, c)
        if plan.thresholds is not None:
            steps = sum((acc >= t).astype(np.int64) for t in plan.thresholds)
            assert np.array_equal(plan.lo + steps, f)


COEFS = [7, -14, 28, 7, 7, -7, 5, -7, 9]  # seven unsigned 2-bit words, a signed 3-bit word, a constant word


def _lincomb(group):
    b = Builder("lincomb")
    comp = _Compiler(b, group=group)
    nets = [b.input(f"u{k}", 2) for k in range(7)]
    s_nets = b.input("s", 3)
    words = [_Word(n, 0, 3) for n in nets] + [_Word(s_nets, -4, 3), _Word([Builder.ONE, Builder.ZERO], 1, 1)]
    terms = list(zip(words, COEFS, strict=True))
    grouped, _ = comp._grouped(terms, False)
    assert len(grouped) < len(terms) if group else grouped == terms  # the odd part 7 summed first
    out = comp.lincomb(terms, -11)
    b.output("y", out.nets)
    return b.build(), out


@pytest.mark.parametrize("group", [False, True])
def test_constant_linear_combinations_exhaustively(group):
    """lincomb: unsigned and two's-complement words, coefficients with shared odd parts (summed first, then
    multiplied once when grouping), a constant word, a constant term, the exact width of the range."""
    netlist, out = _lincomb(group)
    assert (out.lo, out.hi) == (-(14 + 7) * 3 - 7 * 3 + 9 - 11, (7 + 28 + 7 + 7 + 5) * 3 + 7 * 4 + 9 - 11)
    assert len(out.nets) == max(out.hi.bit_length(), (-out.lo - 1).bit_length()) + 1
    grid = np.array(list(itertools.product(range(4), repeat=7)), np.int64)
    s_vals = np.arange(len(grid)) % 8
    s_signed = np.where(s_vals >= 4, s_vals - 8, s_vals)
    y = circuits.simulate(netlist, {f"u{k}": grid[:, k] for k in range(7)} | {"s": s_vals})["y"].astype(np.int64)
    y = np.where(y >= 1 << (len(out.nets) - 1), y - (1 << len(out.nets)), y)
    assert np.array_equal(y, grid @ np.array(COEFS[:7]) + COEFS[7] * s_signed + COEFS[8] - 11)
