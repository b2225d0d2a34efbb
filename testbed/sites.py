"""Sites, where noise enters, as one table derived from the code that realises them: the circuit sites below, the
network word sites the integer engine declares (networks.engine.word_site) and the gate sites of the datapath
(hardware.GATE_SITES). A new network word site is one `word_site(WordSite(...))` registration; the table sees it.
Any network site can be restricted to one layer by its module path: 'product@features.3'.

Each site states its world, whether it holds single bits (gate outputs: gate-level noise only) or integer
words, how the width and signedness of its words are found, and its batch rule (`batch_axis`: the first axis
of the words indexes samples, so a permanent fault sits at the same word position for every sample).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hardware import GATE_SITES, TIMED_PARTS, Part
from networks.engine import WORD_SITES
from testbed.errors import NoiseError


class Holds(StrEnum):
    """What a site's noise acts on."""

    BITS = "bits"  # single gate outputs
    WORDS = "words"  # integer words


@dataclass(frozen=True)
class Site:
    name: str
    world: str  # "circuit" or "network"
    holds: Holds
    width: str  # how the word width and signedness are found
    description: str
    batch_axis: bool = True
    error_site: str = ""  # the word site whose error power it is measured at (default: itself)
    part: Part | None = None  # gate sites of a network: which gates of the processing element

    @property
    def gate_level(self) -> bool:
        """Whether the site's faults are faults of single gate outputs (a fault plan of the netlist's gates)."""
        return self.holds is Holds.BITS

    @property
    def by_layer(self) -> bool:
        """Whether the site can be restricted to one layer ('SITE@LAYER'): the sites of networks."""
        return self.world == "network"

    @property
    def timed(self) -> bool:
        """Whether a timing model covers the site's gates (a circuit's netlist; a network's multipliers, the
        processing element's accumulator adders or both: hardware.TIMED_PARTS), so that timing noise applies."""
        return self.gate_level and (self.world == "circuit" or self.part in TIMED_PARTS)

    @property
    def measured_at(self) -> str:
        return self.error_site or self.name


CIRCUIT_SITES = (
    Site("gate", "circuit", Holds.BITS, "-", "every gate output"),
    Site("output", "circuit", Holds.WORDS, "the output bus (two's complement when the netlist is signed)",
         "the result word"),
    Site("input", "circuit", Holds.WORDS, "each input bus (two's complement when the netlist is signed)",
         "the operand words (a classifier's feature bits)"),
)


class _Table(Mapping):
    """{name: Site}: the circuit sites, then the engine's word sites and the datapath's gate sites as declared now."""

    def _rows(self) -> dict[str, Site]:
        words = [Site(w.name, "network", Holds.WORDS, w.width, w.description, w.batch_axis)
                 for w in WORD_SITES.values()]
        gates = [Site(g.name, "network", Holds.BITS, "-", g.description, error_site=g.error_site, part=g.part)
                 for g in GATE_SITES]
        return {s.name: s for s in (*CIRCUIT_SITES, *words, *gates)}

    def __getitem__(self, name: str) -> Site:
        return self._rows()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows())

    def __len__(self) -> int:
        return len(self._rows())


SITES: Mapping[str, Site] = _Table()


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


def gate_level(name: str) -> bool:
    """Whether the site `name` ('SITE' or 'SITE@LAYER') is a gate-level site; False for a name no table row has."""
    site = SITES.get(str(name).partition("@")[0])
    return site is not None and site.gate_level


def sites_of(world: str) -> tuple[str, ...]:
    return tuple(s.name for s in SITES.values() if s.world == world)
