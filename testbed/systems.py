"""Systems under test: a circuit or a network, each with a golden (noise-free) output and task metrics.

Every system follows one protocol (the System base class): `trial(noise, site, seed)` runs one trial and returns
a row of counts and measurements; `pool(rows, noise, confidence)` turns a level's rows into metrics with
intervals; `metric` and `threshold` define its break-down; `baselines` adds derived break-downs (and `secondary`
secondary task metrics' ones); `detail()` is
what a report shows; `netlists()` the netlists it simulates. Nothing outside these classes branches on a
system's kind. Circuit rows: exact outputs, bit errors per output bit, MRED, output SNR, the error SNR at the
site. Network rows: correct and agreeing predictions, the confusion matrix, the error SNR at the site, and
(per-task framing) how many inputs had every product exact, i.e. an exact digital computation of the same
operations would be right.
"""

from __future__ import annotations

import copy

import numpy as np

from circuits import Netlist, simulate_planes, static_timing
from circuits.metrics import ErrorStats, error_metrics
from circuits.simulate import (
    index_operands,
    last_engine,
    last_measured,
    measuring,
    pack_operands,
    to_signed,
    unpack_outputs,
)
from hardware.pe import REQ_PARTS
from networks import IntegerEngine
from networks.data import Dataset
from networks.tasks import input_set
from testbed.errors import TestbedError
from testbed.metrics import circuit_metrics, energy_point, network_metrics
from testbed.noise import NoiseModel
from testbed.rate import logit_margin
from testbed.rng import sub_seed, trial_rng
from testbed.settings import SETTINGS
from testbed.sites import Site, site_named
from testbed.stats import entropy_bits

CIRCUIT_THRESHOLD = SETTINGS.circuit_exact_rate  # exact-output rate
NETWORK_DROP = SETTINGS.network_accuracy_drop  # the secondary task metric: accuracy 1 point under noise-free
AGREEMENT = 1 - SETTINGS.disagreement  # the one criterion: predictions agree with noise-free ones in 99% of inputs
PRODUCTS_PER_BATCH = 2 ** 29  # a network's default batch: inputs per engine pass, up to this many multiplies in all

OPERAND_KINDS = ("exhaustive", "random", "recorded", "given")
EXHAUSTIVE_BITS = SETTINGS.exhaustive_bits


class System:
    """The protocol every system follows (see the module docstring)."""

    world = ""  # a name for summaries and reports: "circuit", "network" or "classifier"
    site_world = ""  # whose sites it has (testbed.sites): "circuit" or "network" (default: world)
    metric = ""  # the task metric whose threshold defines break-down
    default_site = ""  # where compare() puts noise when no site is given
    word_site = ""  # the result-word site of the per-bit view
    is_reference = False  # tolerance gaps are measured against reference systems (the digital side)
    runs_on: str | None = None  # the circuit system whose netlist it runs on (gaps against it are per operation)
    baselines: dict = {}  # name -> (metric, threshold): break-downs derived from the same trials (label "UNIT (NAME)")
    secondary: dict = {}  # name -> (metric, threshold): secondary task metrics' break-downs (reported, never gapped)
    metric_counts: dict = {}  # metric -> the row field that counts its successes (of row["n"])
    name = ""
    required_rate_bits = 0.0

    @property
    def threshold(self) -> float:
        raise NotImplementedError

    @property
    def word_width(self) -> int:
        """Bits of the word at word_site (the per-bit view sweeps each)."""
        raise NotImplementedError

    def site(self, noise: NoiseModel, site: str) -> Site:
        """The Site, checked to exist for this system and to hold `noise` (NoiseError otherwise)."""
        s = site_named(site, self.site_world or self.world)
        noise.plan(s)
        return s

    def trial(self, noise: NoiseModel, site: str, seed: int) -> dict:
        raise NotImplementedError

    def metric_reference(self, metric: str) -> float:
        """The metric without noise; failures are counted against it (reference * n - successes)."""
        return 1.0

    def pool(self, rows: list[dict], noise: NoiseModel, confidence: float) -> dict:
        raise NotImplementedError

    def curve_point(self, metrics: dict) -> dict:
        """The pooled measurements of one level that summary.json keeps beside the task metric."""
        return {}

    def summary_fields(self) -> dict:
        return {}

    def fault_locations(self, site: Site) -> int | None:
        """How many gates a gate site's faults are drawn from (None: not a gate site)."""
        return None

    def gates_per_evaluation(self, site: Site) -> float | None:
        """Gates that a gate site's faults fall on, evaluated per sample (input vector, network input), for the
        fault budget: the expected number of faulty gates per evaluation at per-gate probability p is p times
        this."""
        return None

    def detail(self) -> dict:
        raise NotImplementedError

    def closed_form(self, noise: NoiseModel, site: str) -> dict | None:
        """Where the break-down follows from a formula, not from the system: {"formula", "level"} (a row that is a
        check of the estimator, not a finding); None otherwise."""
        return None

    def netlists(self) -> list[Netlist]:
        return []


class CircuitSystem(System):
    """A netlist with its operand set. operands: 'exhaustive' (every input combination), 'random' (n_vectors
    uniform vectors from `seed`) or a (2^wa, 2^wb) histogram of (a, b) pairs recorded from a network
    (n_vectors pairs drawn from it), or a mapping {bus: values} given as is. The golden output is the netlist's
    own noise-free output. hardening: the facts of its hardening, for reports; intended: the exact f(a, b) it
    computes or approximates, for its errors against that function (None: not known)."""

    world, metric, default_site, word_site, is_reference = "circuit", "exact_rate", "gate", "output", True
    metric_counts = {"exact_rate": "correct"}
    threshold = CIRCUIT_THRESHOLD

    def __init__(self, netlist: Netlist, operands="exhaustive", n_vectors: int = SETTINGS.n_vectors, seed: int = 0,
                 name: str | None = None, hardening: dict | None = None, intended=None):
        self.netlist, self.name, self.hardening = netlist, name or netlist.name, hardening
        self.intended = intended  # the exact f(a, b) the circuit computes or approximates, when known
        self.operand_kind = operands if isinstance(operands, str) else (
            "given" if isinstance(operands, dict) else "recorded")
        if self.operand_kind not in OPERAND_KINDS:
            raise TestbedError(f"circuit {self.name}: operands must be one of {', '.join(OPERAND_KINDS)} "
                               f"or a histogram, got {operands!r}")
        if not netlist.outputs:
            raise TestbedError(f"circuit {self.name}: has no outputs")
        if self.operand_kind == "exhaustive" and netlist.n_input_bits > EXHAUSTIVE_BITS:
            raise TestbedError(f"circuit {self.name}: {netlist.n_input_bits} input bits are too many for exhaustive "
                               f"operands (at most {EXHAUSTIVE_BITS}); use operands = \"random\"")
        wide = [bus for bus, w in netlist.inputs.items() if w > 62]
        if wide:
            raise TestbedError(f"circuit {self.name}: input bus(es) {', '.join(wide)} wider than 62 bits cannot be "
                               "drawn as integer operands")
        rng = np.random.default_rng(seed)
        if self.operand_kind == "given":
            ops = {bus: np.asarray(v) for bus, v in operands.items()}
        elif self.operand_kind == "exhaustive":
            ops = index_operands(netlist, np.arange(1 << netlist.n_input_bits, dtype=np.int64))
        else:
            if self.operand_kind == "random":
                ops = {bus: rng.integers(0, 1 << w, n_vectors) for bus, w in netlist.inputs.items()}
            else:  # a (2^wa, 2^wb) histogram of (a, b) bit patterns
                hist = np.asarray(operands, dtype=np.float64)
                flat = rng.choice(hist.size, size=n_vectors, p=hist.reshape(-1) / hist.sum())
                a, b = np.divmod(flat, hist.shape[1])
                ops = {"a": a, "b": b}
            if netlist.signed:
                ops = {bus: to_signed(v, netlist.inputs[bus]) for bus, v in ops.items()}
        self.operands = ops
        self.planes, self.n = pack_operands(netlist, ops)
        self.out_bus, self.width = next(iter(netlist.output_widths.items()))
        if self.width > 62:
            raise TestbedError(f"circuit {self.name}: output bus {self.out_bus} is {self.width} bits wide; results "
                               "wider than 62 bits cannot be scored")
        self.golden = unpack_outputs(netlist, simulate_planes(netlist, self.planes), self.n)[self.out_bus]
        self.engine_used = last_engine()  # of the noise-free run (faulty runs may use another; see circuits.simulate)
        _, counts = np.unique(self.golden, return_counts=True)
        self.required_rate_bits = entropy_bits(counts)

    @property
    def word_width(self) -> int:
        return self.width

    def trial(self, noise: NoiseModel, site: str, seed: int) -> dict:
        plan = noise.plan(self.site(noise, site))
        rng = trial_rng(seed)
        measured = None
        if plan.site.gate_level:
            faults = plan.gates(self.netlist.n_gates, rng)
            out = simulate_planes(self.netlist, self.planes, faults=faults.with_seed(sub_seed(rng, 62)), n=self.n)
            measured = last_measured()
            noisy = unpack_outputs(self.netlist, out, self.n)[self.out_bus]
        elif plan.site.name == "input":  # every input bus's words, then the fault-free netlist
            ops = {bus: plan(np.asarray(v)[:, None], self.netlist.inputs[bus], self.netlist.signed, rng)[:, 0]
                   for bus, v in self.operands.items()}
            planes, _ = pack_operands(self.netlist, ops)
            noisy = unpack_outputs(self.netlist, simulate_planes(self.netlist, planes), self.n)[self.out_bus]
        else:
            noisy = plan(self.golden[:, None], self.width, self.netlist.signed, rng)[:, 0]
        row = self._row(noisy)
        if measured is not None:  # a timing plan: the energy per operation relative to nominal
            row["energy_ratio"] = measured.energy_ratio
        return row

    def closed_form(self, noise: NoiseModel, site: str) -> dict | None:
        """At the result word, the noise's own closed form (NoiseModel.word_closed_form), whatever the circuit."""
        if site != self.word_site:
            return None
        return noise.word_closed_form(self.width, self.golden, self.netlist.signed, SETTINGS.disagreement)

    def fault_locations(self, site: Site) -> int | None:
        return self.netlist.n_gates if site.gate_level else None

    def gates_per_evaluation(self, site: Site) -> float:
        return float(self.netlist.n_gates)

    def pool(self, rows, noise, confidence):
        return circuit_metrics(rows, self.width, not noise.transient, confidence)

    def curve_point(self, p):
        return {"surviving_bits": p["capacity_bits"], "ber": p["ber"][0], "mred": p["mred"],
                "ber_per_bit": p["ber_per_bit"], **energy_point(p)}

    def netlists(self):
        return [self.netlist]

    def detail(self) -> dict:
        """Size, depth, single stuck-at fault coverage and sensitivity S (exhaustive up to SETTINGS.exhaustive_bits
        input bits, else SETTINGS.campaign_vectors random vectors)."""
        from circuits.campaign import stuck_at_campaign

        net = self.netlist
        vectors = "exhaustive" if net.n_input_bits <= EXHAUSTIVE_BITS else SETTINGS.campaign_vectors
        camp = stuck_at_campaign(net, vectors=vectors, seed=0)
        return {"world": self.world, "gates": net.n_gates, "depth": net.depth(), "inputs": net.inputs,
                "outputs": net.output_widths, "operands": self.operand_kind, "vectors": int(self.n),
                "engine": self.engine_used,
                "output_entropy_bits": self.required_rate_bits, "fault_coverage": camp.coverage,
                "faults": len(camp.sites), "undetected_faults": len(camp.undetected()),
                "sensitivity_S": camp.sensitivity, "campaign_vectors": camp.n_vectors,
                "hardening": self.hardening,
                "timing": {"D_unit": static_timing(net).D, "D_cells": static_timing(net, "cells").D},
                "error_vs_exact": self.error_vs_exact()}

    def error_vs_exact(self) -> dict | None:
        """EP, MAE, WCE, MRED, MSE (and MAE%, WCE% of 2^width) of the noise-free outputs against the exact function
        the circuit stands in for (definitions in circuits.metrics), over its operand set; None when that is unknown."""
        if self.intended is None or set(self.operands) != {"a", "b"}:
            return None
        exact = np.asarray(self.intended(self.operands["a"], self.operands["b"]), dtype=np.int64)
        metrics = error_metrics(self.golden, exact, self.width)
        return {k: metrics[k] for k in ("ep", "mae", "wce", "mred", "mse", "mae_percent", "wce_percent")}

    def _row(self, noisy: np.ndarray) -> dict:
        stats = ErrorStats(self.width).update(noisy, self.golden)
        return {"n": int(self.n), "correct": stats.n - stats.wrong, "bit_errors": stats.bit_errors.tolist(),
                "rel_error_sum": stats.rel_sum, "signal_power": stats.signal_sq, "error_power": stats.sq_sum}


class NetworkSystem(System):
    """An integer network on a data set's test inputs, with the engine's multiplier (exact, lut, gates).
    runs_on: the name of the circuit system of its multiplier; size: the model's size report, if quantized."""

    world, metric, default_site, word_site = "network", "agreement", "mac-gate", "product"
    baselines = {"exact digital": ("digital_task_rate", CIRCUIT_THRESHOLD)}
    metric_counts = {"accuracy": "correct", "agreement": "agree", "digital_task_rate": "all_products_exact"}

    def __init__(self, engine: IntegerEngine, dataset: Dataset, name: str = "network", runs_on: str | None = None,
                 size: dict | None = None, batch: int | None = None, on_batch=None, training: str = "plain"):
        self.engine, self.dataset, self.name = engine, dataset, name
        self.runs_on, self.size, self.training = runs_on, size, training
        self.x, self.labels = dataset.x_test, dataset.y_test
        self.n = len(self.x)
        self.on_batch = on_batch  # called (inputs done, inputs in all) as a pass goes, or None
        self.batch = min(self.n, int(batch)) if batch else self._auto_batch()
        golden, logits, self.operand_histogram, self.outputs = [], [], 0, {}
        for clean in self._passes(lambda x, _: engine.run(x, record=True)):
            golden.append(clean.predictions)
            logits.append(clean.logits)
            self.operand_histogram = self.operand_histogram + clean.operands
            for layer, count in clean.outputs.items():
                self.outputs[layer] = self.outputs.get(layer, 0) + count
        self.golden = np.concatenate(golden)
        self.clean_accuracy = float(np.mean(self.golden == self.labels))
        self.required_rate_bits = entropy_bits(np.bincount(self.labels))
        self.logit_margin = logit_margin(np.concatenate(logits))

    def _auto_batch(self) -> int:
        """Inputs per engine pass when none is given: as many as keep one pass under PRODUCTS_PER_BATCH multiplies
        (measured on the first input), at least 1, at most the whole test set."""
        products = int(self.engine.run(self.x[:1], record=True).operands.sum())
        return max(1, min(self.n, PRODUCTS_PER_BATCH // max(1, products)))

    def _passes(self, run):
        """run(inputs, k) for each batch k of `batch` test inputs in order, yielding its results; reports progress
        to on_batch (0 before the first). Memory is bounded by one batch's activations (the engine holds one pass
        at a time)."""
        if self.on_batch is not None:
            self.on_batch(0, self.n)
        for k, start in enumerate(range(0, self.n, self.batch)):
            stop = min(start + self.batch, self.n)
            yield run(self.x[start:stop], k)
            if self.on_batch is not None:
                self.on_batch(stop, self.n)

    threshold = AGREEMENT

    @property
    def secondary(self) -> dict:
        return {"net accuracy drop": ("accuracy", self.clean_accuracy - NETWORK_DROP)}

    @property
    def word_width(self) -> int:
        return self.engine.multiplier.out_bits

    @property
    def layer_names(self) -> list[str]:
        """The multiply layers (module paths) that a site can be restricted to: 'product@LAYER'."""
        return list(self.engine.layer_names)

    def site(self, noise: NoiseModel, site: str) -> Site:
        layer = site.partition("@")[2]
        if layer and layer not in self.layer_names:
            raise TestbedError(f"{self.name}: site {site!r}: no layer {layer!r} "
                               f"(layers: {', '.join(self.layer_names)})")
        return super().site(noise, site)

    def metric_reference(self, metric: str) -> float:
        return self.clean_accuracy if metric == "accuracy" else 1.0

    def trial(self, noise: NoiseModel, site: str, seed: int) -> dict:
        """One trial over the test set, streamed in batches of `batch` inputs. The first batch draws from the
        trial's generator as one pass over everything would. What one pass draws once for all its inputs, permanent
        faults (stuck-at, timing) and the words of a parameter site (weights), every later batch draws alike (the
        same fault set, seed and generator state), so those counts do not depend on the batch size; transient noise
        on per-input words and gates is drawn from a stream of each batch's own ((seed, batch))."""
        plan = noise.plan(self.site(noise, site))
        rng = trial_rng(seed)
        seed = sub_seed(rng, 31)
        kwargs: dict = {"measure_error": True}
        faults = None
        if plan.site.gate_level:
            faults = plan.gates(self._gates(plan.site), rng).with_seed(seed)
            kwargs["fault_part"] = plan.site.part
        elif not noise.is_clean:
            kwargs["noise"] = {site: plan}
        layer = site.partition("@")[2] or None
        if layer is not None and plan.site.gate_level:
            kwargs["faults_layer"] = layer
        first = copy.deepcopy(rng)

        def run(x, k):
            if k == 0:
                batch_rng, batch_faults = rng, faults
            elif noise.transient and plan.site.batch_axis:
                batch_rng = np.random.default_rng([seed, k])
                batch_faults = faults.with_seed(sub_seed(batch_rng, 31)) if faults is not None else None
            else:
                batch_rng, batch_faults = copy.deepcopy(first), faults
            return self.engine.run(x, rng=batch_rng, faults=batch_faults, **kwargs)

        pred, power, exact = [], np.zeros(2), 0
        with measuring() as timed:  # timing noise: what each layer's timed products measured
            for k, result in enumerate(self._passes(run)):
                pred.append(result.predictions)
                if k == 0 or plan.site.batch_axis:  # a parameter's words (weights) count once, as in one pass
                    power += result.site_error[plan.site.measured_at]
                exact += int(np.count_nonzero(result.wrong_products == 0))
        pred = np.concatenate(pred)
        k = self.dataset.n_classes
        confusion = np.bincount(self.labels * k + pred, minlength=k * k).reshape(k, k)
        was_right = self.golden == self.labels
        now_right = pred == self.labels
        return {"n": int(self.n), "correct": int(np.count_nonzero(now_right)),
                "lost": int(np.count_nonzero(was_right & ~now_right)),
                "gained": int(np.count_nonzero(~was_right & now_right)),
                "agree": int(np.count_nonzero(pred == self.golden)),
                "all_products_exact": exact,
                "confusion": confusion.tolist(), "signal_power": float(power[0]), "error_power": float(power[1]),
                **({"energy_ratio": sum(r.energy for r in timed) / sum(r.nominal_energy for r in timed)}
                   if timed and sum(r.nominal_energy for r in timed) else {})}

    def pool(self, rows, noise, confidence):
        return network_metrics(rows, not noise.transient, confidence)

    def curve_point(self, p):
        return {"surviving_bits": p["mi_bits"], "mi_plugin_bits": p["mi_plugin_bits"],
                "agreement": p["agreement"][0], "digital_task_rate": list(p["digital_task_rate"]),
                "confusion": p["confusion"], **energy_point(p)}

    def summary_fields(self):
        """Noise-free accuracy, the multiplier's circuit and the multiplies per test input (the per-task gap is
        derived from the per-operation one by log10 of these)."""
        return {"clean_accuracy": self.clean_accuracy, "multiplier": self.runs_on,
                "multiplies_per_input": float(self.operand_histogram.sum() / self.n)}

    def _gates(self, site: Site) -> int:
        """The gates of one multiply(-accumulate) that a gate site's faults fall on."""
        return self.engine.multiplier.gates(site.part)

    def fault_locations(self, site: Site) -> int | None:
        return self._gates(site) if site.gate_level else None

    def gates_per_evaluation(self, site: Site):
        """Each part's gates times the times it runs per test input: the multiplier and the accumulator adder once
        per multiply, the requantizer (sites pe-req, pe-whole) once per output of the layers it requantizes."""
        gates = self._gates(site)
        if not gates:
            return None
        mul = self.engine.multiplier
        req = getattr(mul, "req", None) if site.part in REQ_PARTS else None
        req_gates = req.n_gates if req is not None else 0
        req_outputs = sum(self.outputs.get(layer, 0) for layer in mul.req_layers) if req is not None else 0
        return float(((gates - req_gates) * self.operand_histogram.sum() + req_gates * req_outputs) / self.n)

    def netlists(self):
        net = self.engine.multiplier.netlist
        return [net] if net is not None else []

    def detail(self) -> dict:
        """Accuracy, label entropy, the input set and the normalised logit margin (testbed.rate), the multiplier,
        per-layer weight bits, pruned channels and range restriction bounds (networks.ranges; None: unbounded), the
        size report, the test inputs per engine pass (batch), how it was trained ('plain' or a fault-aware recipe,
        in words)."""
        layers = [{"layer": k, "kind": lay.kind, "shape": list(lay.weight.shape), "weight_bits": lay.weight_bits,
                   "pruned_channels": int((abs(lay.weight).sum(axis=1) == 0).sum()),
                   "range_bound": None if lay.bound is None else lay.bound.tolist()}
                  for k, lay in enumerate(self.engine.model.layers)]
        return {"world": self.world, "dataset": self.dataset.name, "test_inputs": int(self.n),
                "clean_accuracy": self.clean_accuracy, "label_entropy_bits": self.required_rate_bits,
                "input_set": input_set(self.dataset.name), "logit_margin": self.logit_margin,
                "multiplier": self.runs_on, "mode": self.engine.multiplier.mode, "layers": layers, "size": self.size,
                "batch": self.batch, "training": self.training}
