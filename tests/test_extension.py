"""Extension in one place, proven: a noise kind and a circuit generator defined in this file run through a suite
end to end (validation, run, summary, show, report) without any change to the packages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from circuits import GENERATORS, Param, circuit
from circuits.builder import Builder
from testbed.errors import NoiseError
from testbed.noise import KINDS, NoiseModel
from tests.conftest import DIGITS_MLP, listing, refused, run_sweep, two_trials


def bitwise_and(width):
    """y = a & b, one AND gate per bit."""
    b = Builder(f"and{width}")
    a, x = b.input("a", width), b.input("b", width)
    b.output("y", [b.gate("AND", a[k], x[k]) for k in range(width)])
    return b.build()


SUITE = two_trials("extension", 3) + """[systems.and4]
kind = "circuit"
circuit = "toy_and"
width = 4
""" + DIGITS_MLP + """
[[sweeps]]
name = "erasure"
noise = "erasure"
levels = [0.0, 0.001, 0.01, 0.1, 0.5]
sites = {and4 = "gate", mlp = "product"}
"""


@pytest.fixture
def registered():
    """Register the toy noise kind (by defining its class) and the toy generator; unregister both after."""
    @dataclass(frozen=True)
    class WordErasure(NoiseModel):
        """Each word at the site is replaced by zero with probability p (level); a gate output is stuck at 0 for
        the whole trial with probability p."""

        kind: ClassVar[str] = "erasure"
        level_name: ClassVar[str] = "erasure probability per word"
        level_unit: ClassVar[str] = "p"
        summary: ClassVar[str] = "each word becomes 0 with probability p"

        def check_level(self, level):
            if not 0 <= level <= 1:
                raise NoiseError(f"erasure probability {level} is outside [0, 1]")

        def words(self, values, width, signed, rng, batch_axis=True):
            return np.where(rng.random(values.shape) < self.level, 0, values)

        def gate_faults(self, n_gates, rng):
            from circuits import GateFaults

            return GateFaults(stuck=[(int(g), 0) for g in np.flatnonzero(rng.random(n_gates) < self.level)])

    circuit("toy_and", "bitwise AND (a test's own generator)", reference=lambda **_: (lambda a, b: a & b),
            width=Param(int, lo=1, hi=8))(bitwise_and)
    yield
    GENERATORS.pop("toy_and")
    KINDS.pop("erasure")


def test_a_new_noise_kind_and_generator_run_through_a_suite(tmp_path, capsys, registered):
    text = listing(capsys)
    assert "toy_and" in text and "erasure" in text
    err = refused(tmp_path, capsys, SUITE.replace("width = 4", "width = 40"))
    assert "systems.and4.width: must be in 1..8, got 40" in err
    out, summary, units = run_sweep(tmp_path, SUITE, "erasure", "erasure probability per word")
    gate, product = units["erasure/and4@gate"], units["erasure/mlp@product"]
    assert gate["curve"][0]["value"] == 1.0 and gate["curve"][-1]["value"] < 0.99  # erased gates break it
    # a network's curve is its agreement with its own noise-free prediction (the one criterion)
    assert product["curve"][0]["value"] == 1.0 and product["curve"][-1]["value"] < 0.5
    assert summary["systems"]["and4"]["gates"] == 4
    assert (out / "report.html").is_file() and "erasure" in (out / "report.md").read_text()
