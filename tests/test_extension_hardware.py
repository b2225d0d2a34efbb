"""Extension in one place for the hardware side, proven: a gate-level noise kind (a burst of k adjacent inverted
gates, realised as its own fault plan) defined in this file runs through the simulator against an independent
reference, and through a circuit suite and a network suite end to end (validation, run, summary, list, report),
on the multiplier at gate level and on the processing element, without any change to the packages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import circuits
from circuits import GateFaultPlan, simulate
from testbed.errors import NoiseError
from testbed.noise import KINDS, NoiseModel
from testbed.store import read_summary
from tests.conftest import (
    DIGITS_MLP,
    MLP_ON_MUL4,
    MUL4,
    listing,
    refused,
    run_suite_text,
    run_sweep,
    two_trials,
    units_by_label,
)
from tests.reference import reference_simulate


@dataclass(frozen=True)
class BurstPlan(GateFaultPlan):
    """k adjacent gates (in topological order) from `start` inverted for every vector of the evaluation."""

    start: int = 0
    k: int = 0
    flip_p: float = 0.0
    seed: int = 0

    @property
    def permanent(self):
        return self.k > 0

    def masks(self, n_gates, gate_index):
        if not self.permanent:
            return None
        keep = np.full(n_gates, ~np.uint64(0), np.uint64)
        force = np.zeros(n_gates, np.uint64)
        force[self.start:self.start + self.k] = ~np.uint64(0)  # (gate & all ones) ^ all ones: inverted
        return keep, force


SUITE = (two_trials("burst", 5) + MUL4 + "[systems.mlp]\n" + MLP_ON_MUL4 + 'mode = "gates"\n[systems.mlp_pe]\n'
         + MLP_ON_MUL4 + '''mode = "pe"
[[sweeps]]
name = "bursts"
noise = "burst"
levels = [0, 2, 30]
sites = {mul4 = "gate", mlp = "mac-gate", mlp_pe = "pe-gate"}
''')


@pytest.fixture
def burst():
    """Register the burst noise kind (by defining its class); unregister it after."""
    @dataclass(frozen=True)
    class Burst(NoiseModel):
        """k (level) adjacent gates inverted for the whole trial, at a random start drawn once per trial."""

        kind: ClassVar[str] = "burst"
        transient: ClassVar[bool] = False  # drawn once per trial
        summary: ClassVar[str] = "k adjacent gates inverted for a whole trial"
        level_name: ClassVar[str] = "burst length k (gates)"
        level_unit: ClassVar[str] = "k"

        def check_level(self, level):
            if level < 0 or level != int(level):
                raise NoiseError(f"burst length {level} must be a whole number >= 0")

        def words(self, values, width, signed, rng, batch_axis=True):
            raise NoiseError("burst noise acts on gates only")

        def gate_faults(self, n_gates, rng):
            return BurstPlan(int(rng.integers(0, max(n_gates, 1))), int(self.level))

    yield Burst
    KINDS.pop("burst")


def test_the_simulator_runs_a_plan_it_does_not_know_like_the_reference():
    net = circuits.multiplier(4)
    a, b = np.repeat(np.arange(16), 16), np.tile(np.arange(16), 16)
    for start, k in [(0, 1), (7, 3), (net.n_gates - 1, 5)]:  # the last clipped to the netlist
        plan = BurstPlan(start, k)
        want = reference_simulate(net, {"a": a, "b": b}, inverted=range(start, start + k))["p"]
        assert simulate(net, {"a": a, "b": b}, faults=plan)["p"].tolist() == want
        assert want != (a * b).tolist()  # the inverted gates change some product
    assert simulate(net, {"a": a, "b": b}, faults=BurstPlan(3, 0))["p"].tolist() == (a * b).tolist()


def test_a_gate_level_noise_kind_runs_through_circuit_and_network_suites(tmp_path, capsys, burst):
    assert "k adjacent gates inverted for a whole trial" in listing(capsys)
    err = refused(tmp_path, capsys, SUITE.replace("[0, 2, 30]", "[0, 2.5]"))
    assert "burst length 2.5 must be a whole number" in err
    out, _, units = run_sweep(tmp_path, SUITE, "burst", "burst length k (gates)")
    gate = units["bursts/mul4@gate"]["curve"]
    assert gate[0]["value"] == 1.0 and gate[-1]["value"] < 1.0  # k = 0 is clean; 30 inverted gates break it
    for label in ("bursts/mlp@mac-gate", "bursts/mlp_pe@pe-gate"):
        unit = units[label]
        # the curve is the agreement with the noise-free prediction (the one criterion): 1 when clean
        assert unit["curve"][0]["value"] == 1.0, label
        assert unit["curve"][-1]["value"] < 1.0, label
    assert (out / "report.html").is_file()
    rows = {line.split(" | ")[1]: line for line in (out / "report.md").read_text().splitlines()
            if line.startswith("| bursts | break-down of ")}
    for label in ("mul4@gate", "mlp@mac-gate", "mlp\\_pe@pe-gate"):  # on the kind's own axis unit, k
        assert "| k |" in rows[f"break-down of {label}"], label


BIAS_SUITE = two_trials("bias", 9) + DIGITS_MLP + """
[[sweeps]]
name = "bias-flips"
noise = "bitflip"
levels = [0.0, 0.01, 0.3]
sites = {mlp = "bias"}
"""


@pytest.fixture
def bias_site():
    """Register a network word site on every multiply layer's bias words (two's complement, acc_bits wide)."""
    from networks.engine import WORD_SITES, WordSite, word_site

    yield word_site(WordSite("bias", "acc_bits, two's complement", "layer biases", batch_axis=False, field="bias",
                             bits=lambda model, layer: model.acc_bits))
    WORD_SITES.pop("bias")


def test_a_registered_word_site_is_applied_where_declared(bias_site):
    from networks import IntegerEngine, ModelConfig, digits, export, trained_model

    model, _ = trained_model(ModelConfig(dataset="digits", hidden=(8,), epochs=20), progress=False)
    ds = digits()
    engine = IntegerEngine(export(model, ds.x_train))
    x = ds.x_test[:50]
    clean = engine.run(x)
    shift = 1 << 20  # a huge bias on class 3 of the logits layer: every input is then classified 3
    last = engine.layer_names[-1]

    def push(values, bits, signed, rng):
        assert bits == engine.model.acc_bits and signed and values.shape == (10,)
        return values + np.where(np.arange(10) == 3, shift, 0)

    pushed = engine.run(x, noise={f"bias@{last}": push}, measure_error=True)
    assert (pushed.predictions == 3).all() and not (clean.predictions == 3).all()
    assert pushed.site_error["bias"][1] == float(shift) ** 2  # the error power of the site, measured where declared
    assert (engine.run(x, noise={f"bias@{engine.layer_names[0]}": lambda v, *_: v}).logits == clean.logits).all()


def test_a_registered_word_site_runs_through_a_suite(tmp_path, capsys, bias_site):
    text = listing(capsys)
    assert "network bias" in text and "layer biases" in text
    assert "no layer 'nope'" in refused(tmp_path, capsys, BIAS_SUITE.replace('mlp = "bias"', 'mlp = "bias@nope"'))
    out = run_suite_text(tmp_path, BIAS_SUITE)
    (unit,) = units_by_label(read_summary(out)).values()
    assert unit["label"] == "bias-flips/mlp@bias"
    assert unit["curve"][0]["value"] == 1.0 and unit["curve"][-1]["value"] < 1.0  # agreement with noise-free
    assert "| bias-flips | break-down of mlp@bias |" in (out / "report.md").read_text()
