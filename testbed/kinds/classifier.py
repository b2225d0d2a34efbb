"""The classifier kind: a model of testbed.classifier.CLASSIFIERS trained on a data set and compiled to gates
(its own hyperparameters as keys), optionally hardened; sites as a circuit's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from networks import data as datasets
from testbed.classifier import CLASSIFIERS, Classifier, ClassifierSystem
from testbed.kinds.base import BuildContext, SystemKind, check_sizes, num, task_dataset
from testbed.kinds.circuit import check_harden, harden

KEYS = {"kind": str, "model": str, "dataset": str, "harden": str, "task": dict}


@dataclass(frozen=True)
class ClassifierSpec:
    """A netlist classifier: the classifier (its class and hyperparameters), its data set and its hardening."""

    name: str
    classifier: Classifier
    dataset: str = "digits"
    harden: str = "none"
    kind = "classifier"


class NetlistClassifier(SystemKind):
    """model = a registered classifier (`testbed list`) and its hyperparameters; dataset; task = {keep, groups,
    test_inputs} on it (networks.tasks); harden (as a circuit's)."""

    name, site_world = "classifier", "circuit"
    population_keys = ("seeds",)

    @classmethod
    def parse(cls, p, where, name, table, tables, base):
        before = len(p.items)
        model = CLASSIFIERS.get(table.get("model")) if isinstance(table.get("model"), str) else None
        if model is None:
            p.add(f"{where}.model", f"must be one of {', '.join(CLASSIFIERS)}, got {table.get('model')!r}")
        keys = {**KEYS, **(model.keys() if model else {})}
        p.check_keys(table if model else {k: v for k, v in table.items() if k in KEYS}, keys, where)
        if table.get("dataset", "digits") not in datasets.DATASETS:
            p.add(f"{where}.dataset", f"must be one of {', '.join(datasets.DATASETS)}, got {table.get('dataset')!r}")
        if model is not None:
            check_sizes(p, where, table, model.ranges, layers=4, width=1024)
        check_harden(p, where, table.get("harden"))
        dataset = task_dataset(p, where, table) if len(p.items) == before else None
        if len(p.items) > before:
            return None
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in table.items() if k not in KEYS}
        return ClassifierSpec(name, model(**params), dataset, table.get("harden", "none"))

    @classmethod
    def build(cls, spec: ClassifierSpec, ctx: BuildContext):
        ds = datasets.load(spec.dataset)
        compiled = spec.classifier.compile(ds)
        net, facts = harden(compiled.netlist, spec.harden, spec.name)
        return ClassifierSystem(dataclasses.replace(compiled, netlist=net), ds, spec.name, spec.classifier.model,
                                facts)

    @classmethod
    def catalog(cls):
        return ["classifiers (model):"] + [f"  {k:<24} {c.summary}" for k, c in CLASSIFIERS.items()]

    @classmethod
    def section(cls, name, d):
        hard = d.get("hardening") or {}
        return {"title": f"{name} (classifier netlist)", "items": [
            f"{d['classifier']} on {d['dataset']}: {d['features']} features of {d['input_bits']} bits; {d['gates']} "
            f"gates, logic depth {d['depth']}; noise-free run on the {d['engine_noise_free']} engine (the simulator "
            "chooses; faulty runs may use the other)",
            f"accuracy without noise {num(100 * d['clean_accuracy'])}% on {d['test_inputs']} test inputs; hardening "
            f"{hard.get('spec', 'none')}"]}
