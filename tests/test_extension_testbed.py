"""Extension in one place, proven for the testbed's own registries: a system kind and a classifier compiled to
gates, each defined in this file, run through a suite end to end (validation, run, summary, `list`, the report)
without any change to the packages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from circuits import blocks
from circuits.builder import Builder
from networks.compilers import CompiledClassifier, quantize
from networks.data import digits
from testbed.classifier import CLASSIFIERS, Classifier
from testbed.kinds import SYSTEM_KINDS, SystemKind
from testbed.store import read_summary
from testbed.systems import CircuitSystem
from tests.conftest import listing, refused, run_suite_text, units_by_label

SUITE = """
[suite]
name = "kinds"
seed = 4

[defaults]
min_trials = 2
max_trials = 2
refine = 0
budget = 0

[systems.par]
kind = "parity"
bits = 6

[systems.stump]
kind = "classifier"
model = "stump"
bits = 3
feature = 36

[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [1e-4, 1e-2, 0.2, 0.5]
sites = {par = "gate", stump = "gate"}
"""


def parity_chain(bits: int):
    """y = x0 ^ x1 ^ ... of `bits` input bits: bits - 1 XOR gates in a chain."""
    b = Builder(f"parity{bits}")
    x = b.input("a", bits)
    y = x[0]
    for k in range(1, bits):
        y = b.gate("XOR", y, x[k])
    b.output("y", [y])
    return b.build()


@pytest.fixture
def registered():
    """Define (and so register) the toy system kind and the toy classifier; unregister both after."""
    @dataclass(frozen=True)
    class ParitySpec:
        name: str
        bits: int
        kind = "parity"

    class Parity(SystemKind):
        """bits: the parity of that many input bits, as a circuit system over every input."""

        name, site_world = "parity", "circuit"

        @classmethod
        def parse(cls, p, where, name, table, tables, base):
            before = len(p.items)
            p.check_keys(table, {"kind": str, "bits": int}, where)
            bits = table.get("bits", 4)
            if isinstance(bits, int) and not 2 <= bits <= 12:
                p.add(f"{where}.bits", f"must be in 2..12, got {bits}")
            return ParitySpec(name, bits) if len(p.items) == before else None

        @classmethod
        def build(cls, spec, ctx):
            return CircuitSystem(parity_chain(spec.bits), "exhaustive", name=spec.name)

        @classmethod
        def catalog(cls):
            return ["parity (a test's own system kind):", "  parity                   XOR chain; bits"]

        @classmethod
        def section(cls, name, d):
            return {"title": f"{name} (parity chain)", "items": [f"{d['gates']} XOR gates, depth {d['depth']}"]}

    @dataclass(frozen=True)
    class Stump(Classifier):
        """One feature against its median: the commonest class on each side."""

        bits: int = 4
        feature: int = 0
        model: ClassVar[str] = "stump"
        summary: ClassVar[str] = "a decision stump on one feature (a test's own classifier); bits, feature"
        ranges: ClassVar[tuple] = (("bits", 1, 8), ("feature", 0, 63))

        def compile(self, ds):
            q = quantize(ds.x_train, self.bits)[:, self.feature]
            t = int(np.median(q)) + 1
            hi, lo = (int(np.bincount(ds.y_train[side]).argmax()) for side in (q >= t, q < t))
            b = Builder("stump")
            xs = [b.input(f"x{f}", self.bits) for f in range(ds.x_train.shape[1])]
            ge = blocks.ge_const(b, xs[self.feature], t)
            lines = [Builder.ZERO] * 16
            lines[hi], lines[lo] = ge, b.gate("NOT", ge)
            b.output("class", blocks.encode(b, lines))
            feature = self.feature
            return CompiledClassifier(b.build(), self.bits, len(xs),
                                      lambda qx: np.where(qx[:, feature] >= t, hi, lo))

    yield Stump
    SYSTEM_KINDS.pop("parity")
    CLASSIFIERS.pop("stump")


def test_a_new_system_kind_and_classifier_run_through_a_suite(tmp_path, capsys, registered):
    text = listing(capsys)
    assert "parity (a test's own system kind):" in text and "a decision stump on one feature" in text
    for wrong, right, message in (
            ("bits = 6", "bits = 99", "systems.par.bits: must be in 2..12, got 99"),
            ("feature = 36", "feature = 99", "systems.stump.feature: must be in 0..63, got 99"),
            ("feature = 36", "feature = 36\nhidden = [4]", "systems.stump.hidden: unknown key")):  # another model's
        assert message in refused(tmp_path, capsys, SUITE.replace(wrong, right))
    out = run_suite_text(tmp_path, SUITE)
    summary = read_summary(out)
    par, stump = summary["systems"]["par"], summary["systems"]["stump"]
    assert par["kind"] == "parity" and par["gates"] == 5 and stump["kind"] == "classifier"
    ds = digits()
    compiled = registered(bits=3, feature=36).compile(ds)
    expect = np.mean(compiled.model_predict(quantize(ds.x_test, 3)) == ds.y_test)
    assert stump["classifier"] == "stump" and stump["clean_accuracy"] == pytest.approx(expect)
    units = units_by_label(summary)
    curve = units["flips/par@gate"]["curve"]
    # a flip on any of the 5 XOR gates flips y: wrong with probability (1 - (1 - 2p)^5) / 2
    assert abs(curve[1]["value"] - (1 + (1 - 2e-2) ** 5) / 2) < 0.02 and curve[-1]["value"] == pytest.approx(0.5, 0.1)
    # the primary metric of a classifier is agreement with its own noise-free prediction (1 at the least noise)
    stump_unit = units["flips/stump@gate"]
    assert stump_unit["metric"] == "agreement" and stump_unit["curve"][0]["value"] == pytest.approx(1.0, abs=0.01)
    page = (out / "report.html").read_text()
    assert "par (parity chain)" in page and "5 XOR gates, depth 5" in page and "stump on digits" in page
