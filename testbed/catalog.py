"""What the testbed knows by name: built-in circuits, networks, noise models and sites (`testbed list`)."""

from __future__ import annotations

CIRCUITS = {
    "multiplier": "n x m multiplier; width, m (default width), form array|wallace|dadda, signed",
    "truncated_multiplier": "approximate unsigned multiplier without the k lowest partial-product columns; width, k",
    "broken_array_multiplier": "approximate broken-array multiplier (Mahdiani 2010); width, hbl, vbl",
    "ripple_carry_adder": "ripple-carry adder; width",
    "kogge_stone_adder": "Kogge-Stone prefix adder; width",
    "verilog": "a combinational Verilog module synthesized by Yosys; path, top",
    "yosys_json": "a Yosys write_json netlist; path, top",
}
FILE_CIRCUITS = ("verilog", "yosys_json")  # read from a file; every other circuit is a generator with a width
NETWORKS = {
    "mlp": "multilayer perceptron with ReLU; dataset digits|signals, hidden widths, quant float|fixed|learned-noise",
    "cnn1d": "small 1-D convolutional network (signals); hidden = channels per conv layer, quant as for mlp",
}
NOISE_MODELS = {
    "bitflip": "each bit at the site flips independently with probability p (level: p in [0, 1])",
    "stuck_at": "k random permanent stuck-at faults drawn once per trial (level: k >= 0)",
    "additive": "q = f - alpha*r, E|r|^2 = 1, r gaussian|uniform (level: SNR in bits)",
}
SITES = {
    "circuit": {"gate": "every gate output", "output": "the result word"},
    "network": {"weight": "integer weights", "activation": "layer inputs", "accumulator": "accumulator words",
                "product": "each multiply's result word", "mac-gate": "every gate of every multiplier (gate level)"},
}


def describe() -> str:
    """The text of `testbed list`."""
    lines = ["circuits:"]
    lines += [f"  {k:<24} {v}" for k, v in CIRCUITS.items()]
    lines += ["networks:"] + [f"  {k:<24} {v}" for k, v in NETWORKS.items()]
    lines += ["noise models:"] + [f"  {k:<24} {v}" for k, v in NOISE_MODELS.items()]
    lines += ["sites:"]
    for world, sites in SITES.items():
        lines += [f"  {world} {k:<16} {v}" for k, v in sites.items()]
    return "\n".join(lines)
