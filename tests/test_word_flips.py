"""Word-site bit flips: the position draw and the engine's fused accumulator path equal their plain numpy
references (the same positions from the same generator state, the same outputs bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from circuits.faults import DENSE_P, flip_positions


def _reference_positions(n_bits, p, rng):
    """flip_positions as first written: numpy's unique over the drawn positions, redrawing the missing ones."""
    if p <= 0 or n_bits == 0:
        return np.zeros(0, np.int64)
    if p > DENSE_P:
        return np.flatnonzero(rng.random(n_bits) < p)
    count = int(rng.binomial(n_bits, p))
    pos = np.unique(rng.integers(0, n_bits, count))
    while len(pos) < count:
        pos = np.unique(np.concatenate([pos, rng.integers(0, n_bits, count - len(pos))]))
    return pos


@pytest.mark.parametrize(("n_bits", "p"), [(n, p) for n in (0, 1, 7, 64, 1000, 123_457) for p in (0.0, 1e-3, 0.04, 0.3)]
                         + [(2 ** 40, 1e-8), (2 ** 62, 1e-15)])
def test_flip_positions_draw_what_numpy_unique_draws(n_bits, p):
    for seed in range(5):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        got = flip_positions(n_bits, p, ours)
        assert np.array_equal(got, _reference_positions(n_bits, p, ref)) and got.dtype == np.int64
        assert ours.integers(0, 2 ** 62) == ref.integers(0, 2 ** 62)  # the generators stand at the same state


def test_flip_positions_redraw_collisions_as_numpy_does():
    """Few bits and many flips: nearly every draw collides and is redrawn (the merge path)."""
    for seed in range(50):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        for n_bits in (20, 50, 300):
            assert np.array_equal(flip_positions(n_bits, DENSE_P, ours), _reference_positions(n_bits, DENSE_P, ref))
