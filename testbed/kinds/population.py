"""Populations: one [systems.NAME] table that stands for several trained members, `seeds = [0, 1, ...]` (one member
per training seed, the rest of the table the recipe) or `models = [FILE, ...]` (one member per model file). Any
kind that lists a population key (SystemKind.population_keys, e.g. ("seeds",)) gets
populations from here: each member is parsed by its kind as an ordinary system named 'NAME[seed S]' or
'NAME[model I]' ('[' is not allowed in a user's name, so member names never collide), and a sweep that names the
population sweeps every member. Building, running and storing see only members; summary.json pools them
(testbed.stats.population_breakdown and population_gap).
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.kinds.base import Problems

POPULATION_KEYS = {"seeds": "seed", "models": "model"}  # a table's population key -> the member key it sets
MAX_MEMBERS = 64


@dataclass(frozen=True)
class PopulationSpec:
    """A population: its name, its members' kind, the member key ("seed" or "model"), each member's value of it
    and each member's system name (in the same order)."""

    name: str
    kind: str
    key: str
    values: tuple
    members: tuple


def member_name(name: str, key: str, index: int, value) -> str:
    """'NAME[seed S]' for a seed, 'NAME[model I]' (the I-th file of the list) for a model file."""
    return f"{name}[seed {value}]" if key == "seed" else f"{name}[model {index}]"


def parse_system(kind, p: Problems, where: str, name: str, table: dict, tables: dict, base):
    """The specs of one system table by system name (one spec, or one per member of a population) and its
    PopulationSpec (None for a plain system); ({}, None) after adding every problem to p."""
    keys = [k for k in POPULATION_KEYS if k in table]
    before = len(p.items)
    if not keys:
        spec = kind.parse(p, where, name, table, tables, base)
        return ({name: spec} if spec is not None else {}), None
    allowed = kind.population_keys
    for k in keys:
        if k not in allowed:
            p.add(f"{where}.{k}", f"a {kind.name} system cannot be a population by {k}"
                                  + (f" (it can by {', '.join(allowed)})" if allowed else ""))
    if len(keys) > 1:
        p.add(where, "give seeds or models, not both")
    key = keys[0]
    member_key, values = POPULATION_KEYS[key], table[key]
    want = int if member_key == "seed" else str
    if member_key in table:
        p.add(f"{where}.{member_key}", f"give {key} (a population) or {member_key} (one system), not both")
    if not (isinstance(values, list) and 2 <= len(values) <= MAX_MEMBERS
            and all(isinstance(v, want) and not isinstance(v, bool) for v in values)
            and len(set(values)) == len(values)
            and (want is str or all(0 <= v < 2 ** 31 for v in values))):
        what = "integers in 0..2^31-1" if want is int else "file names"
        p.add(f"{where}.{key}", f"must be a list of 2..{MAX_MEMBERS} distinct {what}, got {values!r}")
    if len(p.items) > before:
        return {}, None
    specs, names = {}, []
    for i, value in enumerate(values):
        member = member_name(name, member_key, i, value)
        row = {k: v for k, v in table.items() if k != key} | {member_key: value}
        # the members differ only in the member key: the first one's problems are every member's
        spec = kind.parse(p if i == 0 else Problems(p.path), where, member, row, tables, base)
        if spec is None:
            return {}, None
        specs[member] = spec
        names.append(member)
    return specs, PopulationSpec(name, kind.name, member_key, tuple(values), tuple(names))


def expand(sites: dict, populations: dict) -> dict:
    """A sweep's sites with each population's name replaced by its members (same site)."""
    out = {}
    for name, site in sites.items():
        pop = populations.get(name)
        out.update({m: site for m in pop.members} if pop else {name: site})
    return out


def owner(name: str, populations: dict) -> str:
    """The system table a name belongs to: a member's population, else the name itself (a sweep may name one
    member, 'NAME[seed S]')."""
    return next((p.name for p in populations.values() if name in p.members), name)


def resolve(name: str, populations: dict) -> str:
    """The system another system means by `name`: a population's first member (e.g. the network whose operands
    a circuit records), else the name itself."""
    pop = populations.get(name)
    return pop.members[0] if pop else name
