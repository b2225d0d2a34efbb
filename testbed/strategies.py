"""Hypothesis strategies for property-based fault testing of circuits and networks.

Everything shrinks towards small, readable counterexamples: fewer gates, fewer faults, fewer and smaller
operand vectors, lower noise levels.

    netlists(inputs={"a": 3, "b": 2}, n_outputs=2)   random gate DAGs of every supported kind
    generated_circuits(max_width=6)                 (netlist, reference) from the registered generators
    operands(netlist)                               {bus: [values]} in range for the netlist's buses
    stuck_faults(netlist, max_faults=1)             [(gate index, 0 or 1)], distinct gates
    flip_masks(width, size)                         integer masks of word bits to flip
    noise_models(kind=None, site=None)              valid NoiseModels (levels in their domain)
    sites(world)                                    the sites of a 'circuit' or a 'network'
    small_networks()                                small torch QuantNets with quantized weights, and inputs
    malformed_suites(valid_text)                    a valid suite's text with 1-3 problems injected
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from circuits.gates import KINDS
from circuits.netlist import Netlist
from circuits.registry import GENERATORS
from testbed.noise import KINDS as NOISE_KINDS
from testbed.noise import Additive, BitFlip, StuckAt
from testbed.sites import site_named, sites_of

_KIND_NAMES = list(KINDS)  # BUF first: gate kinds shrink towards the simplest


@st.composite
def netlists(draw, inputs: dict | None = None, n_outputs: int | None = None, max_gates: int = 12) -> Netlist:
    """A random combinational netlist: each gate reads earlier nets (inputs, constants or gates)."""
    inputs = inputs or {"a": draw(st.integers(1, 4))}
    n_in = sum(inputs.values())
    n_gates = draw(st.integers(1, max_gates))
    ops, args = [], []
    for g in range(n_gates):
        kind = draw(st.sampled_from(_KIND_NAMES))
        ops.append(KINDS[kind].opcode)
        last = 2 + n_in + g  # nets below this exist
        operands = [draw(st.integers(0, last - 1).map(lambda v, last=last: last - 1 - v))
                    for _ in range(KINDS[kind].arity)]
        args.append(operands + [0] * (3 - len(operands)))
    n_out = n_outputs or draw(st.integers(1, 3))
    top = 2 + n_in + n_gates
    outs = [draw(st.integers(0, top - 1).map(lambda v: top - 1 - v)) for _ in range(n_out)]
    return Netlist(inputs, ops, args, {"y": outs}, name="drawn")


def _references() -> list[str]:
    """Registered generators that state the exact function they compute (read when a strategy is built, so
    generators registered later are included)."""
    return [name for name, gen in GENERATORS.items() if gen.reference is not None]


@st.composite
def generated_circuits(draw, max_width: int = 6, kinds=None):
    """(netlist, reference) of a registered generator with a reference function, its parameters drawn from
    their declared ranges (integers capped at max_width); reference(a, b) gives the exact result (the
    netlist's output is that result modulo its output width)."""
    gen = GENERATORS[draw(st.sampled_from(list(kinds or _references())))]
    values = {}
    for key, param in gen.params.items():
        if param.type is bool:
            values[key] = draw(st.booleans())
        elif param.choices:
            values[key] = draw(st.sampled_from(param.choices))
        elif param.type is int:
            values[key] = draw(st.integers(param.lo or 0, min(param.hi or max_width, max_width)))
    return gen(**values), gen.reference(**values)


@st.composite
def operands(draw, netlist: Netlist, min_size: int = 1, max_size: int = 8) -> dict:
    """Operand vectors {bus: [values]} for the netlist (two's complement range when it is signed)."""
    size = draw(st.integers(min_size, max_size))
    out = {}
    for bus, w in netlist.inputs.items():
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if netlist.signed else (0, (1 << w) - 1)
        out[bus] = draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size))
    return out


def stuck_faults(netlist: Netlist, min_faults: int = 1, max_faults: int = 1, gates=None):
    """Stuck-at fault sets [(gate index, value)] on distinct gates (optionally only among `gates`)."""
    pool = list(range(netlist.n_gates)) if gates is None else [netlist.gate_index(g) for g in gates]
    return st.lists(st.tuples(st.sampled_from(pool), st.integers(0, 1)), min_size=min_faults,
                    max_size=max_faults, unique_by=lambda f: f[0])


def flip_masks(width: int, size: int):
    """Arrays of `size` integer masks over `width`-bit words (bits set = bits to flip)."""
    return st.lists(st.integers(0, (1 << width) - 1), min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=np.int64))


_LEVELS = {BitFlip: lambda max_p: st.floats(0.0, max_p, allow_nan=False),
           StuckAt: lambda max_p: st.integers(0, 4),
           Additive: lambda max_p: st.floats(-4.0, 30.0, allow_nan=False)}


@st.composite
def noise_models(draw, kind: str | None = None, site: str | None = None, max_p: float = 0.5):
    """A valid noise model of a registered kind (levels in their domain, parameters drawn); with `site`,
    one that site can hold (no additive noise at gate sites)."""
    held = site_named(site) if site else None
    kinds = [k for k, cls in NOISE_KINDS.items() if cls in _LEVELS and (held is None or not held.gate_level
                                                                   or cls.gate_level)]
    cls = NOISE_KINDS[kind or draw(st.sampled_from(kinds))]
    params = {"dist": draw(st.sampled_from(Additive.DISTS))} if cls is Additive else {}
    return cls(draw(_LEVELS[cls](max_p)), **params)


def sites(world: str):
    return st.sampled_from(sites_of(world))


@st.composite
def small_networks(draw, max_inputs: int = 8, max_hidden: int = 6, n_classes: int = 3, max_batch: int = 16):
    """(model, x): a small MLP with per-channel quantized weights (steps frozen) and inputs x in [0, 1]."""
    import torch

    from networks.models import mlp

    n_in = draw(st.integers(2, max_inputs))
    hidden = draw(st.integers(1, max_hidden))
    seed = draw(st.integers(0, 2 ** 16))
    torch.manual_seed(seed)
    model = mlp(n_in, (hidden,), n_classes)
    bits = draw(st.integers(2, 8))
    with torch.no_grad():
        for layer in model.weight_layers():
            w = layer.weight
            steps = w.abs().amax(dim=1).clamp_min(1e-3) / (2 ** (bits - 1) - 1)
            layer.quant.freeze_steps(steps)
    model.eval()
    batch = draw(st.integers(1, max_batch))
    x = np.random.default_rng(seed).random((batch, n_in)).astype(np.float32)
    return model, x


MUTATIONS = (
    ("[suite]", "[suite]\nunknown_key = 1"),
    ("seed = ", "seed = -"),
    ('kind = "circuit"', 'kind = "circuitry"'),
    ("[[sweeps]]", "[[sweeps]]\nnoise = 3"),
    ("levels = ", "levels = 'many'\nignored = "),
    ("[systems.", "[oops]\n[systems."),
)


@st.composite
def malformed_suites(draw, valid_text: str):
    """The text of a valid suite with one to three of MUTATIONS applied (each breaks the schema)."""
    picks = draw(st.lists(st.sampled_from(range(len(MUTATIONS))), min_size=1, max_size=3, unique=True))
    text = valid_text
    for i in picks:
        old, new = MUTATIONS[i]
        text = text.replace(old, new, 1)
    return text
