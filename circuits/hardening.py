"""Selective hardening: netlist transforms that protect chosen gates, each reporting its gate overhead.

TMR of a gate set P (`harden_gates`): every gate of P is built three times (copies r0., r1., r2. of its name),
copy r reading copy r of its protected operands and the single net of the others; every net of P that is read
outside P or drives an output bit gets one MAJ voter (vote.NAME), and everything outside P reads the voted net.
A single fault in any copy is out-voted at every voter, so no output changes; faults of the voters and of
unprotected gates are not masked (voters are ordinary gates and take faults like any other). P may be the
fan-in cone of chosen output bits (`harden_cone`), gates named or by a name prefix (`harden_gates`), or the
fraction of gates with the largest share of the stuck-at sensitivity S (`harden_by_sensitivity`).
`duplicate_and_compare` detects instead of correcting. `apply_hardening(netlist, spec)` applies a suite's string
("tmr", "dwc", "cone:K", "block:PREFIX", "sensitivity:F", "none"); `parse_hardening(spec)` checks one alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from circuits.builder import Builder
from circuits.campaign import stuck_at_campaign
from circuits.errors import NetlistError
from circuits.gates import BY_OPCODE, KINDS
from circuits.netlist import Netlist

COPIES = ("r0.", "r1.", "r2.")
SPEC_FORMS = ("none", "tmr", "dwc", "cone:K", "block:PREFIX", "sensitivity:F")
EXHAUSTIVE_BITS = 16  # sensitivity ranking: exhaustive vectors up to this many input bits, else RANDOM_VECTORS
RANDOM_VECTORS = 1 << 16


@dataclass(frozen=True)
class Hardened:
    """A hardened netlist. protected: names (in `netlist`) of the gates whose single faults the transform
    masks (TMR) or flags (duplicate-and-compare); gates_added: gates beyond the base netlist's;
    overhead: gates_added / base gates (full TMR: 2 + voters / G)."""

    netlist: Netlist
    protected: tuple[str, ...]
    gates_added: int
    overhead: float


def _result(base: Netlist, new: Netlist, intended: set[str]) -> Hardened:
    added = new.n_gates - base.n_gates
    return Hardened(new, tuple(n for n in new.gate_names if n in intended), added,
                    added / base.n_gates if base.n_gates else 0.0)


def harden_gates(netlist: Netlist, gates: Iterable = (), prefix: str | None = None) -> Hardened:
    """TMR of the gates named (or indexed) in `gates` and of every gate whose name starts with `prefix`, with a
    MAJ voter on each protected net read outside the set or driving an output bit.
    Gates: 3|P| + (|G| - |P|) + voters."""
    chosen = {netlist.gate_index(g) for g in gates}
    if prefix is not None:
        block = [g for g, name in enumerate(netlist.gate_names) if name.startswith(prefix)]
        if not block:
            raise NetlistError(f"netlist {netlist.name!r}: no gate name starts with {prefix!r}")
        chosen.update(block)
    protect = np.zeros(netlist.n_gates, bool)
    protect[list(chosen)] = True
    b = Builder(f"tmr{int(protect.sum())}_{netlist.name}", signed=netlist.signed)
    single = np.zeros(netlist.n_nets, np.int64)  # net as read by unprotected logic (voted when protected)
    single[1] = Builder.ONE
    for bus, width in netlist.inputs.items():
        single[netlist.input_nets(bus)] = b.input(bus, width)
    copies = np.repeat(single[:, None], 3, axis=1)  # net as read by copy r
    base = netlist.first_gate_net
    voted = np.zeros(netlist.n_gates, bool)

    def read(net: int) -> int:
        g = net - base
        if g >= 0 and protect[g] and not voted[g]:
            single[net] = b.gate("MAJ", *copies[net], name=f"vote.{netlist.gate_names[g]}")
            voted[g] = True
        return int(single[net])

    intended = set()
    for g in range(netlist.n_gates):
        kind = BY_OPCODE[int(netlist.ops[g])]
        ins = [int(n) for n in netlist.args[g, :KINDS[kind].arity]]
        name = netlist.gate_names[g]
        if protect[g]:
            for r, tag in enumerate(COPIES):
                copies[base + g, r] = b.gate(kind, *(int(copies[n, r]) for n in ins), name=tag + name)
                intended.add(tag + name)
        else:
            single[base + g] = b.gate(kind, *(read(n) for n in ins), name=name)
            copies[base + g] = single[base + g]
    for bus, nets in netlist.outputs.items():
        b.output(bus, [read(int(n)) for n in nets])
    return _result(netlist, b.build(), intended)


def fanin_cone(netlist: Netlist, bits: Iterable[tuple[str, int]]) -> list[int]:
    """Indices of the gates that output bits (bus, k) depend on, themselves included, in topological order."""
    base = netlist.first_gate_net
    need = np.zeros(netlist.n_gates, bool)
    for bus, k in bits:
        if bus not in netlist.outputs or not 0 <= k < len(netlist.outputs[bus]):
            raise NetlistError(f"netlist {netlist.name!r}: no output bit {bus}[{k}]")
        net = int(netlist.outputs[bus][k])
        if net >= base:
            need[net - base] = True
    for g in range(netlist.n_gates - 1, -1, -1):
        if need[g]:
            for a in netlist.args[g, :KINDS[BY_OPCODE[int(netlist.ops[g])]].arity]:
                if a >= base:
                    need[a - base] = True
    return np.flatnonzero(need).tolist()


def harden_cone(netlist: Netlist, top_k: int | None = None, bits: Iterable[tuple[str, int]] = ()) -> Hardened:
    """TMR of the fan-in cone of the `top_k` most significant bits of every output bus (all bits of a
    narrower bus) and of the output bits (bus, k) in `bits`."""
    chosen = list(bits)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise NetlistError(f"top_k must be a positive number of output bits, got {top_k!r}")
        for bus, nets in netlist.outputs.items():
            chosen += [(bus, k) for k in range(max(0, len(nets) - top_k), len(nets))]
    if not chosen:
        raise NetlistError(f"netlist {netlist.name!r}: harden_cone needs top_k or bits")
    return harden_gates(netlist, fanin_cone(netlist, chosen))


def sensitivity_shares(netlist: Netlist, vectors=None, seed: int = 0) -> np.ndarray:
    """Each gate's share of S: its detection rates stuck at 0 plus stuck at 1, over S (sums to 1; zeros when
    S = 0). vectors: as for stuck_at_campaign; default exhaustive up to EXHAUSTIVE_BITS input bits, else
    RANDOM_VECTORS random vectors from `seed`."""
    if vectors is None:
        vectors = "exhaustive" if netlist.n_input_bits <= EXHAUSTIVE_BITS else RANDOM_VECTORS
    rates = stuck_at_campaign(netlist, vectors=vectors, seed=seed).detection_rate.reshape(-1, 2).sum(axis=1)
    total = rates.sum()
    return rates / total if total > 0 else rates


def harden_by_sensitivity(netlist: Netlist, fraction: float, vectors=None, seed: int = 0) -> Hardened:
    """Sensitivity-ranked partial TMR: TMR of the round(fraction * G) gates with the largest share of S
    (ties: lower gate index first); fraction in [0, 1]. Every protected net read by unprotected logic gets a
    voter whose faults act like the original gate's, so isolated gates gain nothing to first order: S falls
    only by the sensitivity of gates whose outputs stay inside the protected set."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise NetlistError(f"fraction of gates must be in [0, 1], got {fraction!r}")
    count = math.floor(fraction * netlist.n_gates + 0.5)
    order = np.argsort(-sensitivity_shares(netlist, vectors, seed), kind="stable")
    return harden_gates(netlist, order[:count].tolist())


def duplicate_and_compare(netlist: Netlist, flag: str = "error") -> Hardened:
    """Two copies (r0., r1.) on shared inputs; the outputs come from r0 and the 1-bit output `flag` is the OR
    tree of XORs of the copies' output bits: 1 when they differ. Detects, does not correct.
    Gates: 2G + B XORs + (B - 1) ORs for B output bits driven by gates."""
    if flag in netlist.outputs or flag in netlist.inputs:
        raise NetlistError(f"netlist {netlist.name!r} already has a bus named {flag!r}")
    b = Builder(f"dwc_{netlist.name}", signed=netlist.signed)
    ins = {bus: b.input(bus, w) for bus, w in netlist.inputs.items()}
    copies = [b.instantiate(netlist, ins, prefix=tag) for tag in COPIES[:2]]
    diffs = [b.gate("XOR", x, y, name=f"dwc.diff.{bus}[{k}]")
             for bus in netlist.outputs for k, (x, y) in enumerate(zip(copies[0][bus], copies[1][bus], strict=True))]
    level = 0
    while len(diffs) > 1:
        odd = diffs[-1:] if len(diffs) % 2 else []
        diffs = [b.gate("OR", x, y, name=f"dwc.or{level}.{i}")
                 for i, (x, y) in enumerate(zip(diffs[::2], diffs[1::2], strict=False))] + odd
        level += 1
    for bus in netlist.outputs:
        b.output(bus, copies[0][bus])
    b.output(flag, diffs or [Builder.ZERO])
    intended = {tag + name for tag in COPIES[:2] for name in netlist.gate_names}
    return _result(netlist, b.build(), intended)


def parse_hardening(spec) -> tuple[str, object]:
    """(transform, argument) of a hardening spec, checked without a netlist (a suite validates with it at load):
    ("none" | "tmr" | "dwc", None), ("cone", K int >= 1), ("block", PREFIX str), ("sensitivity", F in [0, 1]).
    NetlistError naming the bad part otherwise."""
    if not isinstance(spec, str):
        raise NetlistError(f"harden must be a string ({', '.join(SPEC_FORMS)}), got {spec!r}")
    kind, sep, arg = spec.partition(":")
    if kind in ("none", "tmr", "dwc"):
        if sep:
            raise NetlistError(f"harden {spec!r}: {kind!r} takes no argument, got {arg!r}")
        return kind, None
    if kind not in ("cone", "block", "sensitivity"):
        raise NetlistError(f"harden {spec!r}: unknown transform {kind!r} (allowed: {', '.join(SPEC_FORMS)})")
    if not arg:
        raise NetlistError(f"harden {spec!r}: {kind!r} needs an argument ({kind}:"
                           f"{dict(cone='K', block='PREFIX', sensitivity='F')[kind]})")
    if kind == "block":
        return kind, arg
    if kind == "cone":
        if not arg.isdigit() or int(arg) < 1:
            raise NetlistError(f"harden {spec!r}: K = {arg!r} must be a positive whole number of output bits")
        return kind, int(arg)
    try:
        fraction = float(arg)
    except ValueError:
        fraction = math.nan
    if not 0.0 <= fraction <= 1.0:
        raise NetlistError(f"harden {spec!r}: F = {arg!r} must be a fraction of gates in [0, 1]")
    return kind, fraction


def apply_hardening(netlist: Netlist, spec: str) -> Hardened:
    """The transform a suite names (see parse_hardening): "none", "tmr" (every gate), "dwc" (duplicate and
    compare), "cone:K" (the fan-in cone of the top K bits of each output bus), "block:PREFIX" (gates whose names
    start with PREFIX, e.g. "block:add." for a MAC's adder) or "sensitivity:F" (the fraction F of gates with the
    largest share of S)."""
    kind, arg = parse_hardening(spec)
    if kind == "none":
        return Hardened(netlist, (), 0, 0.0)
    if kind == "tmr":
        return harden_gates(netlist, range(netlist.n_gates))
    if kind == "dwc":
        return duplicate_and_compare(netlist)
    if kind == "cone":
        return harden_cone(netlist, top_k=arg)
    if kind == "block":
        return harden_gates(netlist, prefix=arg)
    return harden_by_sensitivity(netlist, arg)
