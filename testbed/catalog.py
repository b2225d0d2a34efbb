"""`testbed list`: what the testbed knows by name, read from the registries (system kinds, noise kinds, sites)."""

from __future__ import annotations

from testbed.kinds import SYSTEM_KINDS
from testbed.noise import KINDS
from testbed.sites import SITES


def describe() -> str:
    """The text of `testbed list`."""
    lines = [line for kind in SYSTEM_KINDS.values() for line in kind.catalog()]
    lines += ["noise models:"] + [f"  {k:<24} {cls.summary}" for k, cls in KINDS.items()]
    lines += ["sites:"] + [f"  {s.world} {s.name:<16} {s.description}" for s in SITES.values()]
    return "\n".join(lines)
