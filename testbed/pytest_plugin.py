"""pytest plugin, opt-in (`pytest -p testbed.pytest_plugin`, or `pytest_plugins = ["testbed.pytest_plugin"]` in a
conftest.py): the `fault_context` fixture, a seeded fault-injection context.

Loading the plugin imports nothing but pytest; numpy and circuits are imported when a test asks for the fixture,
and Hypothesis never (the project's own Hypothesis profile lives in tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class FaultContext:
    """A seed and a generator seeded with it (seed: testbed.rng.name_seed of the test's node id, so every run of a
    test draws the same faults)."""

    seed: int
    rng: object  # a numpy.random.Generator

    def random_faults(self, netlist, k: int) -> list[tuple[int, int]]:
        """k stuck-at faults on distinct random gates."""
        from circuits.faults import draw_stuck

        return draw_stuck(netlist.n_gates, k, self.rng)


def context_for(nodeid: str) -> FaultContext:
    """The fault context of the test with this node id (the same id always gives the same draws)."""
    from testbed.rng import name_seed, trial_rng

    seed = name_seed(nodeid)
    return FaultContext(seed, trial_rng(seed))


@pytest.fixture
def fault_context(request) -> FaultContext:
    """A FaultContext seeded from the requesting test's node id."""
    return context_for(request.node.nodeid)
