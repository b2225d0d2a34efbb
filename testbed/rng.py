"""Seeds keyed by (suite seed, point id, trial).

Every trial of a campaign draws from a generator seeded with `derive_seed(seed, point_id, trial)`, so results
do not depend on the number of workers or the order in which they finish.
"""

import hashlib

import numpy as np


def _words(point_id) -> list[int]:
    """A point id (int or str) as 32-bit words, stable across processes (no Python hash())."""
    if isinstance(point_id, (int, np.integer)):
        if point_id < 0:
            raise ValueError(f"point id must be >= 0, got {point_id}")
        return [int(point_id) & 0xFFFFFFFF, int(point_id) >> 32]
    digest = hashlib.sha256(str(point_id).encode()).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def seed_sequence(seed: int, point_id=0, trial: int = 0) -> np.random.SeedSequence:
    """The SeedSequence of one (suite seed, point id, trial)."""
    return np.random.SeedSequence([int(seed), *_words(point_id), int(trial)])


def derive_seed(seed: int, point_id=0, trial: int = 0) -> int:
    """A 63-bit integer seed for code that takes integers (e.g. the Numba flip-mask generator)."""
    return int(seed_sequence(seed, point_id, trial).generate_state(1, np.uint64)[0] >> np.uint64(1))
