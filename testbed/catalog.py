"""`testbed list`: what the testbed knows by name, read from the registries (circuits, noise kinds, sites)."""

from __future__ import annotations

from circuits import GENERATORS
from testbed.noise import KINDS
from testbed.sites import SITES

NETWORKS = {
    "mlp": "multilayer perceptron with ReLU; dataset digits|signals, hidden widths, quant float|fixed|learned-noise",
    "cnn1d": "small 1-D convolutional network (signals); hidden = channels per conv layer, quant as for mlp",
}


def describe() -> str:
    """The text of `testbed list`."""
    lines = ["circuits:"]
    for name, gen in GENERATORS.items():
        params = ", ".join(gen.params)
        lines.append(f"  {name:<24} {gen.summary}; {params}")
    lines += ["networks:"] + [f"  {k:<24} {v}" for k, v in NETWORKS.items()]
    lines += ["noise models:"] + [f"  {k:<24} {cls.summary}" for k, cls in KINDS.items()]
    lines += ["sites:"] + [f"  {s.world} {s.name:<16} {s.description}" for s in SITES.values()]
    return "\n".join(lines)
