from testbed.rng import derive_seed


def test_seeds_are_reproducible_and_independent():
    a = derive_seed(1, "point-7", 0)
    assert a == derive_seed(1, "point-7", 0) and 0 <= a < 2 ** 63
    assert len({a, derive_seed(1, "point-7", 1), derive_seed(1, "point-8", 0), derive_seed(2, "point-7", 0)}) == 4
    assert derive_seed(1, 3, 0) != derive_seed(1, 3, 1) and 0 <= derive_seed(1, 3, 0) < 2 ** 63
