"""pytest plugin (entry point `testbed`): a seeded fault-injection context and a Hypothesis profile.

Fixture `fault_context`: a FaultContext whose seed derives from the test's node id, so every run of a test
draws the same faults. Hypothesis profile "testbed-ci": bounded examples, no deadline, derandomized.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import settings

from circuits.faults import draw_stuck

settings.register_profile("testbed-ci", max_examples=50, deadline=None, derandomize=True, print_blob=True)


@dataclass
class FaultContext:
    seed: int
    rng: np.random.Generator

    def random_faults(self, netlist, k: int) -> list[tuple[int, int]]:
        """k stuck-at faults on distinct random gates."""
        return draw_stuck(netlist.n_gates, k, self.rng)


@pytest.fixture
def fault_context(request) -> FaultContext:
    seed = zlib.crc32(request.node.nodeid.encode())
    return FaultContext(seed, np.random.default_rng(seed))
