"""`testbed list`: what the testbed knows by name, read from the registries (circuits, noise kinds, sites)."""

from __future__ import annotations

from circuits import GENERATORS
from networks.data import DATASETS
from testbed.classifier import CLASSIFIERS, SUMMARIES
from testbed.noise import KINDS
from testbed.sites import SITES

NETWORKS = {
    "mlp": "multilayer perceptron with ReLU; hidden widths, quant float|fixed|learned-noise",
    "cnn1d": "small 1-D convolutional network (signals); hidden = channels per conv layer, quant as for mlp",
    "cnn2d": "conv-conv-pool-linear on 8x8 images (digits); hidden = [c1, c2]",
    "rescnn": "a residual block with batch norm on 8x8 images (digits); hidden = [channels]",
    "resnet20": "CIFAR ResNet-20 on (channels, height, width) images; hidden = [16, 32, 64] stage widths",
    "model = FILE": "your own model: a torch.export archive, or a state_dict of an arch above (see README)",
}



def describe() -> str:
    """The text of `testbed list`."""
    lines = ["circuits:"]
    for name, gen in GENERATORS.items():
        params = ", ".join(gen.params)
        lines.append(f"  {name:<24} {gen.summary}; {params}")
    lines += ["networks (arch):"] + [f"  {k:<24} {v}" for k, v in NETWORKS.items()]
    lines += [f"  data sets: {', '.join(DATASETS)} (or data = FILE.npz)"]
    lines += ["classifiers (model):"] + [f"  {k:<24} {SUMMARIES[k]}" for k in CLASSIFIERS]
    lines += ["noise models:"] + [f"  {k:<24} {cls.summary}" for k, cls in KINDS.items()]
    lines += ["sites:"] + [f"  {s.world} {s.name:<16} {s.description}" for s in SITES.values()]
    return "\n".join(lines)
