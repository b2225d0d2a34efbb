"""Seeds: the one derivation scheme of the testbed, keyed by (suite seed, point id, trial).

The scheme, from a suite to every random draw:

1. trial seed = derive_seed(suite seed, point id, trial): a 63-bit integer from numpy's SeedSequence of the
   suite seed, the point id as 32-bit words (an int, or the SHA-256 of a str such as "SWEEP/SYSTEM@SITE|noise")
   and the trial number. Results do not depend on the number of workers or the order they finish in.
2. The trial's generator is trial_rng(trial seed); a system draws its word perturbations and its gate-fault
   sets from it, in a fixed order.
3. A simulator's own streams (the Numba flip masks) are seeded by sub_seed(trial generator, bits): the next
   integer below 2**bits of the trial generator (circuits 62 bits, drawn after the fault set; networks 31 bits,
   drawn first). The two widths and orders are kept as they were, so that every stored number stays the same.
4. Below the testbed, the networks' engine derives per-layer and per-group flip seeds from that sub-seed
   (seed * 1009 + layer, seed * 65537 + group) and the processing element splits it between its multiplier and
   adder by a mixing function; both are deterministic functions of the sub-seed.
5. Outside campaigns: name_seed(text) (CRC-32 of a test's node id, for the pytest fixture); operand sets of a
   circuit system come from the suite seed itself; testbed.properties seeds its generator and flip masks with the
   seed it is given.
"""

import hashlib
import zlib

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


def trial_rng(seed: int) -> np.random.Generator:
    """The generator of one trial (step 2 above)."""
    return np.random.default_rng(seed)


def sub_seed(rng: np.random.Generator, bits: int) -> int:
    """A simulator's seed drawn from a trial's generator: the next integer below 2**bits (step 3 above)."""
    return int(rng.integers(0, 2 ** bits))


def name_seed(name: str) -> int:
    """A 32-bit seed from a name: CRC-32 of its UTF-8 bytes (step 5 above)."""
    return zlib.crc32(name.encode())
