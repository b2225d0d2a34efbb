"""The transient-flip stream (circuits.rng) is pinned: flip positions for a few seeds (few and many flips per
block) must never change, whatever is done to the drawing for speed, in the sparse listing and in the kernels
that apply them."""

import numpy as np
import pytest

import circuits as c
from circuits.sparse import flip_sites

# (p, seed, words): number of flips, first and last four keys vector * n_gates + gate, a weighted checksum;
# recorded with the drawing of commit 53a2fe6 on the generated 8x8 multiplier (350 gates).
PINNED = [
    ((1e-3, 1, 64), 1419, [38, 3284, 5653, 7386], [1429532, 1429612, 1430631, 1433014], 462854139341),
    ((1e-3, 12345, 64), 1414, [1629, 3531, 4444, 4991], [1430157, 1430463, 1431004, 1431723], 448777849745),
    ((2e-2, 3, 32), 14441, [2, 16, 95, 104], [716561, 716574, 716714, 716717], 2557639851554),
    ((1e-5, 9, 4096), 909, [80582, 168029, 244555, 273282], [91264996, 91311374, 91378380, 91407173],
     25408404734210),
]


@pytest.mark.parametrize(("case", "n", "first", "last", "checksum"), PINNED)
def test_flip_positions_are_pinned(case, n, first, last, checksum):
    p, seed, words = case
    net = c.multiplier(8)
    assert net.n_gates == 350
    vec, gate = flip_sites(net, words, c.GateFaults(flip_p=p, seed=seed))
    keys = vec * net.n_gates + gate
    assert len(keys) == n and keys[:4].tolist() == first and keys[-4:].tolist() == last
    assert int(np.sum(keys * (np.arange(n) % 1000 + 1)) % (1 << 61)) == checksum


def test_kernel_and_interpreter_apply_the_pinned_flips():
    """Both evaluators, with flips p = 1e-3 (about 180 per block), equal a fault-free pass with the pinned flips
    forced in one 64-vector lane at a time (the sparse evaluator, an independent path)."""
    from circuits.sparse import simulate_touched

    net = c.multiplier(8)
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 256, 64 * 64), rng.integers(0, 256, 64 * 64)
    faults = c.GateFaults(flip_p=1e-3, seed=1)
    got = {e: c.simulate(net, a=a, b=b, faults=faults, engine=e)["p"] for e in ("compiled", "interpreter")}
    vec, gate = flip_sites(net, 64, faults)
    hit = np.unique(vec)
    ref = a * b
    ref[hit] = simulate_touched(net, {"a": a[hit], "b": b[hit]}, np.searchsorted(hit, vec), gate, faults)["p"]
    assert np.array_equal(got["compiled"], ref) and np.array_equal(got["interpreter"], ref)
