import numpy as np

from testbed.rng import derive_seed, stream


def test_streams_are_reproducible_and_independent():
    a = stream(1, "point-7", 0).random(5)
    assert np.array_equal(a, stream(1, "point-7", 0).random(5))
    assert not np.array_equal(a, stream(1, "point-7", 1).random(5))
    assert not np.array_equal(a, stream(1, "point-8", 0).random(5))
    assert not np.array_equal(a, stream(2, "point-7", 0).random(5))
    assert derive_seed(1, 3, 0) != derive_seed(1, 3, 1) and 0 <= derive_seed(1, 3, 0) < 2 ** 63
