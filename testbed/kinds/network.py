"""The network kind: a model (trained from a config, or loaded from a file), exported to integers, on an
integer engine whose multiplier is exact, a lookup table or a circuit system's netlist at gate level."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import numpy as np

from circuits import NetlistError
from hardware import ARITHMETICS, MODES
from networks import (
    IntegerEngine,
    ModelConfig,
    Multiplier,
    NetworkError,
    export,
    load_model,
    size_report,
    trained_model,
)
from networks import data as datasets
from networks.load import fit_data
from networks.ops import OPERATIONS
from networks.ranges import PER, RangeRestriction, restrict_ranges
from networks.tasks import PARTITIONS
from testbed.errors import SuiteError, TestbedError
from testbed.kinds.base import BuildContext, SystemKind, check_sizes, num, refers_to, task_dataset
from testbed.progress import InputBar
from testbed.systems import NetworkSystem

KEYS = {"kind": str, "dataset": str, "arch": str, "hidden": list, "quant": str, "bits": int, "lam": float,
        "seed": int, "backward": str, "epochs": int, "weight_bits": int, "act_bits": int, "multiplier": str,
        "mode": str, "model": str, "data": str, "arithmetic": str, "training": str, "train_noise": dict,
        "finetune_epochs": int, "task": dict, "batch": int, "range_restriction": (bool, dict)}
RANGE_KEYS = {"percentile": float, "per": str}
MODEL_KEYS = ("dataset", "arch", "quant", "bits", "lam", "seed", "backward", "epochs", "training", "finetune_epochs")
ENTRY_POINT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # module:function, allowed only with --allow-code
ARCHS = {
    "mlp": "multilayer perceptron with ReLU; hidden widths, quant float|fixed|learned-noise",
    "cnn1d": "small 1-D convolutional network (signals); hidden = channels per conv layer, quant as for mlp",
    "cnn2d": "conv-conv-pool-linear on 8x8 images (digits); hidden = [c1, c2]",
    "rescnn": "a residual block with batch norm on 8x8 images (digits); hidden = [channels]",
    "resnet20": "CIFAR ResNet-20 on (channels, height, width) images; hidden = [16, 32, 64] stage widths",
    "model = FILE": "your own model: a torch.export archive, or a state_dict of an arch above (see README)",
}


@dataclass(frozen=True)
class NetworkSpec:
    """A network system: the model to train (or load from the cache), its integer export and its multiplier."""

    name: str
    config: ModelConfig
    weight_bits: int = 8
    act_bits: int = 8
    multiplier: str | None = None
    mode: str = "exact"
    model: str | None = None  # a saved model (path) or an entry point module:function; None: train config
    state_dict: bool = False  # model is a state_dict of config's built-in architecture (arch given)
    data: str | None = None  # an .npz test set (path) instead of config.dataset
    arithmetic: str = "sign-magnitude"  # of the multiplier (hardware.ARITHMETICS); twos-complement: a signed one
    batch: int | None = None  # test inputs per engine pass (None: NetworkSystem's default, by multiplies)
    range_restriction: RangeRestriction | None = None  # bounds profiled on the training inputs (networks.ranges)
    kind = "network"


def _model(spec: NetworkSpec, ds, progress: bool, allow_code: bool):
    """The float model of a network spec: loaded from its file, built by its entry point (only when code is
    allowed), or trained (cached) from its config."""
    if spec.model is None:
        return trained_model(spec.config, progress=progress)[0]
    if not ENTRY_POINT.fullmatch(spec.model):
        return load_model(spec.model, spec.config if spec.state_dict else None, ds)
    if not allow_code:
        raise SuiteError(f"systems.{spec.name}.model: {spec.model!r} is Python code; running a suite runs no code "
                         "unless you pass --allow-code")
    module, _, function = spec.model.partition(":")
    try:
        return getattr(importlib.import_module(module), function)()
    except (ImportError, AttributeError) as exc:
        raise SuiteError(f"systems.{spec.name}.model: cannot import {spec.model!r} ({exc})") from None


class Network(SystemKind):
    """dataset, arch, hidden (list), quant, bits, lam, seed, backward, epochs (see networks.ModelConfig);
    weight_bits (8), act_bits (8), multiplier (a circuit system), mode = "exact" | "lut" | "gates" | "pe"
    (default: gates with a multiplier, else exact); arithmetic = "sign-magnitude" (default) | "twos-complement"
    (a signed multiplier circuit, two's-complement operands: hardware.multipliers); model = a saved model
    instead of training one (a torch.export archive, or with arch/hidden a state_dict of that built-in
    architecture; loaded without unpickling code), or "module:function" returning an nn.Module (runs code: only
    with `testbed run --allow-code`); data = an .npz file with x_test, y_test and optionally x_calib;
    finetune_epochs (the quantization stages' and fault-aware fine-tune's);
    training = "plain" (default) | "fault-aware" | "gaussian" with train_noise = {kind = "bitflip", level = p,
    spread = decades, multiplier = form} (networks.fault_aware; multiplier defaults to the form of the network's
    multiplier when that is a generated 8-bit `multiplier`, else "array"); task = {keep, groups, test_inputs} on
    the built-in data set (networks.tasks: classes kept and merged into labels; the output width is the number of
    groups); batch = test inputs per engine pass (memory is one batch's; default: as many as keep a pass under
    testbed.systems.PRODUCTS_PER_BATCH multiplies);
    range_restriction = true (each ReLU layer's outputs bounded by their maximum per output channel over the
    training inputs) or {percentile = P in (0, 100], per = "channel" | "layer"} (networks.ranges)."""

    name, site_world, order = "network", "network", 1
    provides, rate_view = frozenset({"operands"}), True
    population_keys = ("seeds", "models")

    @classmethod
    def parse(cls, p, where, name, table, tables, base):
        before = len(p.items)
        p.check_keys(table, KEYS, where)
        mult = table.get("multiplier")
        mode = table.get("mode", "exact" if mult is None else "gates")
        if mode not in MODES:
            p.add(f"{where}.mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        if mult is not None:
            if not refers_to(tables, mult, "multiplier"):
                p.add(f"{where}.multiplier", f"{mult!r} does not name a circuit system")
        elif mode != "exact":
            p.add(f"{where}.multiplier", f"required for mode {mode!r}: a circuit system")
        if table.get("arithmetic", ARITHMETICS[0]) not in ARITHMETICS:
            p.add(f"{where}.arithmetic", f"must be one of {', '.join(ARITHMETICS)}, got {table['arithmetic']!r}")
        check_sizes(p, where, table, (("weight_bits", 2, 16), ("act_bits", 1, 16), ("bits", 1, 16),
                                      ("epochs", 1, 100_000), ("finetune_epochs", 1, 100_000), ("batch", 1, 1 << 20)),
                    layers=16, width=4096)
        files = {}
        for key in ("model", "data"):
            value = table.get(key)
            if isinstance(value, str) and not (key == "model" and ENTRY_POINT.fullmatch(value)):
                files[key] = base / value
                if not files[key].is_file():
                    p.add(f"{where}.{key}", f"no such file {files[key]}")
        ranges = _range_restriction(p, where, table.get("range_restriction", False))
        arrays = datasets.npz_arrays(files["data"]) if ranges is not None and "data" in files \
            and files["data"].is_file() else None
        if arrays is not None and "x_calib" not in arrays:
            p.add(f"{where}.range_restriction", f"data file {files['data']} has no x_calib: the bounds would be "
                  "profiled on the test inputs they are scored on; add profiling images as x_calib")
        if "task" in table and "data" in table:
            p.add(f"{where}.task", "applies to a built-in data set (dataset), not to data = FILE")
        dataset = task_dataset(p, where, table)
        if len(p.items) > before:
            return None
        kwargs = {k: table[k] for k in MODEL_KEYS if k in table} | {"dataset": dataset}
        if "hidden" in table:
            kwargs["hidden"] = tuple(table["hidden"])
        if "train_noise" in table or table.get("training", "plain") != "plain":
            kwargs["train_noise"] = _train_noise(table, tables)
        try:
            config = ModelConfig(**kwargs)
        except NetworkError as exc:
            p.add(where, str(exc))
            return None
        model = str(files["model"]) if "model" in files else table.get("model")
        return NetworkSpec(name, config, table.get("weight_bits", 8), table.get("act_bits", 8), mult, mode, model,
                           "model" in files and "arch" in table, str(files["data"]) if "data" in files else None,
                           table.get("arithmetic", ARITHMETICS[0]), table.get("batch"), ranges)

    @classmethod
    def build(cls, spec: NetworkSpec, ctx: BuildContext):
        if spec.multiplier is not None and spec.multiplier not in ctx.netlists:
            ctx.notes.append(f"systems.{spec.name} skipped: its multiplier {spec.multiplier} was skipped")
            return None
        netlist = ctx.netlists[spec.multiplier][0] if spec.multiplier is not None else None
        ds = datasets.from_npz(spec.data) if spec.data else datasets.load(spec.config.dataset)
        model = _model(spec, ds, ctx.progress, ctx.allow_code)
        ds = fit_data(ds, model, f"data file {spec.data}" if spec.data else f"data set {spec.config.dataset}")
        imodel = export(model, ds.x_train, act_bits=spec.act_bits, weight_bits=spec.weight_bits)
        if spec.range_restriction is not None:
            imodel = restrict_ranges(imodel, ds.x_train, spec.range_restriction)
        mag = netlist.inputs.get("b", 8) if netlist is not None else 8
        # the element's adder: the model's accumulator width, and the activation's sign where a layer takes signed
        # inputs
        options = {"acc_bits": imodel.acc_bits, "signed_a": any(lay.signed_input for lay in imodel.layers)} \
            if spec.mode == "pe" else {}
        multiplier = Multiplier(spec.mode, netlist, imodel.act_bits, mag, arithmetic=spec.arithmetic, **options)
        size = size_report(model) if spec.model is None and spec.config.quant != "float" else None
        return NetworkSystem(IntegerEngine(imodel, multiplier), ds, spec.name, runs_on=spec.multiplier, size=size,
                             batch=spec.batch, on_batch=InputBar(f"{spec.name}: noise-free pass",
                                                                 None if ctx.progress else False),
                             training=training_label(spec))

    @classmethod
    def site_problem(cls, spec: NetworkSpec, site, noise):
        """Gate sites need a netlist multiplier that realises the noise's gate faults (and the processing
        element's parts need mode 'pe')."""
        multiplier = MODES[spec.mode]
        if site.gate_level and not (multiplier.takes_flips or multiplier.takes_stuck):
            return (f"site {site.name!r} needs a network with a multiplier netlist (mode 'gates', or 'lut' for "
                    "stuck-at faults)")
        if site.gate_level and site.part not in multiplier.parts:
            return f"site {site.name!r} needs mode 'pe' (a processing element in the loop), got {spec.mode!r}"
        problem = super().site_problem(spec, site, noise)
        if problem is not None or noise is None or not site.gate_level:
            return problem
        try:
            multiplier.check(noise.gate_faults(1, np.random.default_rng(0)), site.part)
        except (TestbedError, NetworkError, NetlistError) as exc:
            return str(exc)
        return None

    @classmethod
    def catalog(cls):
        return (["networks (arch):"] + [f"  {k:<24} {v}" for k, v in ARCHS.items()]
                + [f"  data sets: {', '.join(datasets.DATASETS)} (or data = FILE.npz)"]
                + [f"  task = {{keep, groups, test_inputs}}: classes kept and merged (partitions: "
                   f"{', '.join(PARTITIONS)})"]
                + ["torch operations (model = FILE):"]
                + [f"  {k:<24} {op.summary}" for k, op in OPERATIONS.items() if op.summary])

    @classmethod
    def section(cls, name, d):
        size = d.get("size")
        after = []
        if size:
            after.append("learned bits per channel (I = log2(rms/alpha)): " + "; ".join(
                f"layer {lay['layer']}: mean {num(_mean(lay.get('learned_bits', [])))}, {lay['pruned']} of "
                f"{lay['channels']} channels pruned" for lay in size["layers"])
                + f"; model size {num(size['kb'])} KB (1 KB = 1024 bytes)")
        return {"title": f"{name} (network)",
                "items": [f"data set {d['dataset']} ({d['test_inputs']} test inputs), accuracy without noise "
                          f"{num(100 * d['clean_accuracy'])}%, label entropy {num(d['label_entropy_bits'])} bits; "
                          f"multiplier {d['multiplier']} in mode {d['mode']}"],
                "table": {"columns": ["layer", "kind", "weights", "weight bits", "pruned channels",
                                      "range bound (integer outputs)"],
                          "rows": [[lay["layer"], lay["kind"], str(lay["shape"]), lay["weight_bits"],
                                    lay["pruned_channels"], bound_text(lay.get("range_bound"))]
                                   for lay in d["layers"]]},
                "after": after}


def training_label(spec: NetworkSpec) -> str:
    """How a network was trained, in words: 'plain', 'loaded' (a model file), or its training recipe."""
    if spec.model is not None:
        return "loaded"
    training, noise = getattr(spec.config, "training", "plain"), getattr(spec.config, "train_noise", None)
    if noise is None:
        return training
    spread = f" +-{noise.spread:g} decades" if noise.spread else ""
    return f"{training} ({noise.kind} {noise.level:g}{spread})"


def bound_text(bound: list | None) -> str:
    """A layer's range restriction bounds in short: '-' (none), the one bound, or 'min-max per channel (median)'."""
    if not bound:
        return "-"
    lo, hi = min(bound), max(bound)
    return str(lo) if lo == hi else f"{lo}-{hi} per channel (median {num(float(np.median(bound)))})"


def _range_restriction(p, where: str, value) -> RangeRestriction | None:
    """The range restriction of a network table: None (false), the default rule (true) or the table's rule; bad
    keys or values are reported on p."""
    if value is False:
        return None
    if value is True:
        return RangeRestriction()
    where = f"{where}.range_restriction"
    before = len(p.items)
    p.check_keys(value, RANGE_KEYS, where)
    if len(p.items) > before:
        return None
    percentile, per = value.get("percentile", 100.0), value.get("per", "channel")
    if not 0 < percentile <= 100:
        p.add(f"{where}.percentile", f"must be in (0, 100], got {percentile}")
    if per not in PER:
        p.add(f"{where}.per", f"must be one of {', '.join(PER)}, got {per!r}")
    return RangeRestriction(float(percentile), per) if len(p.items) == before else None


def _train_noise(table: dict, tables: dict):
    """The train_noise table, its multiplier defaulting to the form of the network's generated 8-bit multiplier."""
    noise = dict(table.get("train_noise", {}))
    circuit = tables.get(table.get("multiplier")) if isinstance(table.get("multiplier"), str) else None
    circuit = circuit if isinstance(circuit, dict) else {}
    if "multiplier" not in noise and circuit.get("circuit") == "multiplier" and circuit.get("width") == 8 \
            and not circuit.get("signed") and circuit.get("m", 8) == 8:
        noise["multiplier"] = circuit.get("form", "array")
    return noise


def _mean(values) -> float | None:
    return sum(values) / len(values) if values else None
