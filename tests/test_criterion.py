"""One failure criterion for every world: a network breaks down when its predictions disagree with its own
noise-free ones in 1% of inputs. A noise that makes as many inputs right as it makes wrong leaves the net accuracy
(the secondary task metric) unchanged, so that metric never sees it; disagreement does, at the crossing a closed
form of the synthetic response gives."""

import math

import numpy as np
import pytest

from networks import IntegerEngine, ModelConfig, Multiplier, export, trained_model
from networks import data as datasets
from testbed.compare import Sweep
from testbed.noise import bitflip
from testbed.settings import SETTINGS
from testbed.systems import NetworkSystem

C = 1000.0  # synthetic response: a fraction 1 - exp(-C p) of the inputs change their prediction at level p


@pytest.fixture(scope="module")
def network():
    ds = datasets.load("digits")
    model, _ = trained_model(ModelConfig(dataset="digits", hidden=(8,), epochs=30, seed=0), progress=False)
    imodel = export(model, ds.x_train, act_bits=4, weight_bits=4)
    return NetworkSystem(IntegerEngine(imodel, Multiplier("exact", None, imodel.act_bits, 8)), ds, "net")


def _row(system: NetworkSystem, changed: int) -> dict:
    """A trial whose noise changed `changed` predictions: half of them right-to-wrong, half wrong-to-right."""
    lost = changed // 2
    correct = int(np.count_nonzero(system.golden == system.labels))
    return {"n": system.n, "correct": correct, "lost": lost, "gained": lost, "agree": system.n - 2 * lost,
            "all_products_exact": system.n - 2 * lost, "confusion": np.eye(10, dtype=int).tolist(),
            "signal_power": 1.0, "error_power": 1e-3}


def test_disagreement_catches_what_the_net_accuracy_drop_hides(network):
    levels = np.logspace(-7, -3, 9)
    sweep = Sweep(network, "product", bitflip(0.0), levels, budget=0, max_trials=2)
    rng = np.random.default_rng(5)
    for lv in levels:
        for t in range(2):
            changed = rng.binomial(network.n, 1 - math.exp(-C * lv))
            sweep.add(float(lv), t, _row(network, 2 * (changed // 2)))
    assert network.metric == "agreement" and network.threshold == pytest.approx(1 - SETTINGS.disagreement)
    primary = sweep.breakdown()
    metric, threshold = network.secondary["net accuracy drop"]
    secondary = sweep.breakdown(metric, threshold)
    assert secondary.censored == "above"  # the net drop never reaches 1 point: gains hide the losses
    truth = math.log10(-math.log(1 - SETTINGS.disagreement) / C)  # closed form of the crossing
    assert not primary.censored
    assert math.log10(primary.lo) <= truth <= math.log10(primary.hi)
