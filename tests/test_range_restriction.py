"""Range restriction (networks.ranges): bounds equal the profiled statistic of a hand-written integer pass, and an
activation pushed past its bound by a fault is clamped there, as a hand-written bounded pass computes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks import IntegerEngine
from networks.errors import NetworkError
from networks.graph import IntegerModel, IntLayer
from networks.ranges import RangeRestriction, _statistic, profile_bounds, restrict_ranges
from tests.conftest import DIGITS_MLP, refused, two_trials

RNG = np.random.default_rng(3)
W0 = RNG.integers(-7, 8, size=(5, 4))
B0 = RNG.integers(-20, 20, size=5)
W1 = RNG.integers(-7, 8, size=(3, 5))
MULT, SHIFT = 3, 5  # requantizer: (acc * 3 + 16) >> 5, a 3/32 scale


def tiny_model() -> IntegerModel:
    """4 inputs -> 5 ReLU outputs (8-bit) -> 3 logits, by hand."""
    hidden = IntLayer("linear", W0, B0, np.full(5, MULT), SHIFT, (0, 255), np.ones(5), 1 / 255, 1.0, 4, name="h")
    logits = IntLayer("linear", W1, np.zeros(3, np.int64), np.ones(3, np.int64), 0, None, np.ones(3), 1.0, 1.0, 4,
                      name="out")
    return IntegerModel([hidden, logits], (4,))


def hand_hidden(x, offset=0, bound=None):
    """The hidden layer's integer outputs by hand: inputs round(255 x), acc = W0 a + B0 (+ offset), requantized,
    clamped to [0, 255], then to the bound."""
    a = np.rint(x * 255).astype(np.int64)
    acc = a @ W0.T + B0 + offset
    out = np.clip((acc * MULT + (1 << (SHIFT - 1))) >> SHIFT, 0, 255)
    return out if bound is None else np.minimum(out, bound)


X = RNG.random((40, 4))


def test_bounds_are_the_profiled_statistic():
    h = hand_hidden(X)
    per_channel = profile_bounds(tiny_model(), X, RangeRestriction(100, "channel"))
    assert list(per_channel) == ["h"]  # the logits layer is left unbounded
    assert per_channel["h"].tolist() == h.max(axis=0).tolist()
    per_layer = profile_bounds(tiny_model(), X, RangeRestriction(100, "layer"))
    assert per_layer["h"].tolist() == [h.max()] * 5
    # the 90th percentile by order statistic: the ceil(0.9 (n - 1))-th smallest value of each channel
    pct = profile_bounds(tiny_model(), X, RangeRestriction(90, "channel"))["h"]
    k = int(np.ceil(0.9 * (len(X) - 1)))
    assert pct.tolist() == np.sort(h, axis=0)[k].tolist()
    assert (pct < h.max(axis=0)).any()  # the percentile restricts


def test_an_activation_pushed_past_its_bound_by_a_fault_is_clamped():
    model = restrict_ranges(tiny_model(), X, RangeRestriction(90, "channel"))
    bound = model.layers[0].bound
    clean = IntegerEngine(model).run(X)
    assert (clean.logits == hand_hidden(X, bound=bound) @ W1.T).all()
    offset = np.array([0, 400, 0, 400, 0])  # a fault: the accumulators of channels 1 and 3 jump by 400

    def fault(values, bits, signed, rng):
        return values + offset

    faulty = IntegerEngine(model).run(X, noise={"accumulator@h": fault})
    unbounded = hand_hidden(X, offset)
    assert (unbounded > bound).any()  # the fault does push activations past their bound
    assert (faulty.logits == hand_hidden(X, offset, bound) @ W1.T).all()
    # without the restriction the same fault reaches the logits unclamped (up to the 8-bit clamp)
    assert (IntegerEngine(tiny_model()).run(X, noise={"accumulator@h": fault}).logits == unbounded @ W1.T).all()


def test_rules_outside_their_range_are_refused():
    with pytest.raises(NetworkError, match="percentile"):
        RangeRestriction(0)
    with pytest.raises(NetworkError, match="per"):
        RangeRestriction(100, "neuron")


def test_a_suite_with_a_bad_range_restriction_is_refused(tmp_path, capsys):
    head = two_trials("range", 1) + DIGITS_MLP
    err = refused(tmp_path, capsys, head + 'range_restriction = {percentile = 150.0, per = "neuron"}\n')
    assert "systems.mlp.range_restriction.percentile" in err and "systems.mlp.range_restriction.per" in err
    err = refused(tmp_path, capsys, head + 'range_restriction = {max = 1}\n')
    assert "systems.mlp.range_restriction.max: unknown key" in err
    err = refused(tmp_path, capsys, head + 'range_restriction = "yes"\n')
    assert "systems.mlp.range_restriction" in err


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=60),
       st.one_of(st.just(100.0), st.floats(0.01, 100.0)))
def test_the_bound_from_counted_values_is_numpys_higher_percentile(values, percentile):
    counts = np.bincount(values, minlength=21)
    assert _statistic(counts, percentile) == int(np.percentile(values, percentile, method="higher"))


def test_bounds_from_a_data_file_need_profiling_images_apart_from_the_test_set(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_test=rng.random((8, 64)), y_test=rng.integers(0, 10, 8))
    head = two_trials("range", 1) + '[systems.mlp]\nkind = "network"\nhidden = [8]\ndata = "d.npz"\n'
    err = refused(tmp_path, capsys, head + "range_restriction = true\n")
    assert "systems.mlp.range_restriction" in err and "x_calib" in err and len(err.strip().splitlines()) == 1


def test_a_damaged_data_file_with_range_restriction_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04 not a zip at all" * 8)
    head = two_trials("range", 1) + '[systems.mlp]\nkind = "network"\nhidden = [8]\ndata = "d.npz"\n'
    sweep = '[[sweeps]]\nname = "w"\nnoise = "bitflip"\nlevels = [1e-4, 1e-3]\nsites = {mlp = "weight"}\n'
    err = refused(tmp_path, capsys, head + "range_restriction = true\n" + sweep)
    assert "d.npz" in err and "x_calib" not in err and len(err.strip().splitlines()) == 1
