"""Sites, where noise enters, as one table: a new site is one row here (and, for a new network word site,
the integer engine's point where it applies the site's fault plan). Any network site can be restricted to one
layer by its module path: 'product@features.3'.

Each site states its world, whether it holds single bits (gate outputs: bitflip and stuck-at only) or integer
words, how the width and signedness of its words are found, and its batch rule (`batch_axis`: the first axis
of the words indexes samples, so a permanent fault sits at the same word position for every sample).
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.errors import NoiseError


@dataclass(frozen=True)
class Site:
    name: str
    world: str  # "circuit" or "network"
    holds: str  # "bits" (gate outputs) or "words"
    width: str  # how the word width and signedness are found
    description: str
    batch_axis: bool = True
    error_site: str = ""  # the word site whose error power it is measured at (default: itself)
    part: str = ""  # gate sites of a network: which gates of the processing element ('mul', 'add', 'all')

    @property
    def by_layer(self) -> bool:
        """Whether the site can be restricted to one layer ('SITE@LAYER'): the sites of networks."""
        return self.world == "network"

    @property
    def measured_at(self) -> str:
        return self.error_site or self.name


SITES: dict[str, Site] = {s.name: s for s in (
    Site("gate", "circuit", "bits", "-", "every gate output"),
    Site("output", "circuit", "words", "the output bus (two's complement when the netlist is signed)",
         "the result word"),
    Site("input", "circuit", "words", "each input bus (two's complement when the netlist is signed)",
         "the operand words (a classifier's feature bits)"),
    Site("weight", "network", "words", "the layer's weight bits, two's complement", "integer weights",
         batch_axis=False),
    Site("activation", "network", "words", "act_bits, unsigned", "layer inputs"),
    Site("accumulator", "network", "words", "acc_bits, two's complement", "accumulator words"),
    Site("product", "network", "words", "the multiplier's output width, unsigned magnitude",
         "each multiply's result word"),
    Site("mac-gate", "network", "bits", "-", "every gate of every multiplier (gate level)", error_site="product",
         part="mul"),
    Site("pe-add", "network", "bits", "-", "every gate of every accumulator adder (multiplier mode 'pe')",
         error_site="accumulator", part="add"),
    Site("pe-gate", "network", "bits", "-", "every gate of every processing element: multiplier and accumulator "
         "adder (mode 'pe')", error_site="accumulator", part="all"),
)}


def site_named(name: str, world: str | None = None) -> Site:
    """The site `name` (of `world`, when given), or NoiseError listing the allowed ones. A network site may be
    restricted to one layer, 'SITE@LAYER' (LAYER: the module path of a multiply layer); the row is SITE's."""
    base, _, layer = str(name).partition("@")
    site = SITES.get(base)
    if site is not None and layer and not site.by_layer:
        raise NoiseError(f"site {name!r}: only network sites can be restricted to one layer")
    if site is None or (world is not None and site.world != world):
        allowed = [s.name for s in SITES.values() if world is None or s.world == world]
        where = f" for a {world}" if world else ""
        raise NoiseError(f"site {name!r} does not exist{where} (allowed: {', '.join(allowed)})")
    return site


def sites_of(world: str) -> tuple[str, ...]:
    return tuple(s.name for s in SITES.values() if s.world == world)
