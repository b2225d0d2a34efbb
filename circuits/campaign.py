"""Single stuck-at fault campaigns by parallel-pattern single-fault propagation (PPSFP).

For each block of 512 vectors (layout.B words) the fault-free circuit is simulated once; then each fault (every
gate output stuck at 0 and at 1) is injected and only the gates of its fan-out cone are re-evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from circuits import layout
from circuits.bitplanes import counter_planes
from circuits.errors import NetlistError
from circuits.interpreter import interpreter
from circuits.netlist import Netlist
from circuits.simulate import pack_operands

_CHUNK_WORDS = 1 << 14  # 2^20 vectors per call


@dataclass
class FaultCampaign:
    """Per-fault detection counts: fault f is gate `sites[f]` stuck at `stuck[f]`.

    detected[f]: vectors on which some output differs; per_bit[f, k]: vectors on which output bit k
    (output buses concatenated, bit 0 first) differs; n_vectors: size of the vector set.
    """

    netlist_name: str
    gate_names: list
    sites: np.ndarray
    stuck: np.ndarray
    detected: np.ndarray
    per_bit: np.ndarray
    n_vectors: int

    @property
    def detection_rate(self) -> np.ndarray:
        return self.detected / max(self.n_vectors, 1)

    @property
    def coverage(self) -> float:
        """Fraction of faults detected by at least one vector."""
        return float(np.count_nonzero(self.detected)) / max(len(self.detected), 1)

    @property
    def sensitivity(self) -> float:
        """S = sum over faults (both polarities) of their detection rates. A flip of gate g on a vector acts as
        the stuck-at of the opposite value, which only that vector's polarity can detect, so under per-gate
        flips with small p a word is wrong with probability about 1 - exp(-p*S)."""
        return float(self.detection_rate.sum())

    def undetected(self) -> list[tuple[str, int]]:
        return [(self.gate_names[g], int(s)) for g, s, d in zip(self.sites, self.stuck, self.detected, strict=True)
                if d == 0]


def fanout_cones(netlist: Netlist) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr, gates): the gates downstream of each gate, in topological order (the gate itself excluded)."""
    base, ng = netlist.first_gate_net, netlist.n_gates
    readers: list[list[int]] = [[] for _ in range(ng)]
    for g in range(ng):
        for a in set(int(x) for x in netlist.args[g]):
            if a >= base:
                readers[a - base].append(g)
    cones: list[np.ndarray] = [np.zeros(0, np.int64)] * ng
    for g in range(ng - 1, -1, -1):  # reverse topological order: readers' cones are already known
        parts = [np.asarray(readers[g], np.int64)] + [cones[r] for r in readers[g]]
        cones[g] = np.unique(np.concatenate(parts)) if readers[g] else np.zeros(0, np.int64)
    ptr = np.zeros(ng + 1, np.int64)
    ptr[1:] = np.cumsum([len(c) for c in cones])
    flat = np.concatenate(cones) if ng else np.zeros(0, np.int64)
    return ptr, flat


def stuck_at_campaign(netlist: Netlist, vectors="exhaustive", seed: int = 0, operands: dict | None = None,
                      gates=None, threads: int = 1) -> FaultCampaign:
    """Detection counts of every single stuck-at fault (both polarities on each gate output, or on `gates`).

    vectors: "exhaustive" (all 2^inputs vectors, inputs <= 32 bits), an int n (n uniform random vectors
    from `seed`), or "operands" with operands={bus: values} (for example the operands a network feeds
    its multiplier). threads: vector blocks are split over this many threads (same counts).
    """
    sites_g = np.arange(netlist.n_gates) if gates is None else np.array([netlist.gate_index(g) for g in gates])
    sites = np.repeat(sites_g, 2).astype(np.int64)
    stuck = np.tile(np.array([0, 1], np.int64), len(sites_g))
    n_out = sum(netlist.output_widths.values())
    detected = np.zeros(len(sites), np.int64)
    per_bit = np.zeros((len(sites), n_out), np.int64)
    ptr, cone = fanout_cones(netlist)
    out_nets = np.concatenate(list(netlist.outputs.values())).astype(np.int64)
    args = netlist.args.astype(np.int64)
    run = interpreter().detect_counts
    nbits = netlist.n_input_bits

    def chunks():
        if operands is not None or vectors == "operands":
            if operands is None:
                raise NetlistError("vectors='operands' needs operands={bus: values}")
            planes, n = pack_operands(netlist, operands)
            for w in range(0, planes.shape[1], _CHUNK_WORDS):
                part = np.ascontiguousarray(planes[:, w:w + _CHUNK_WORDS])
                yield part, min(n - w * 64, part.shape[1] * 64)
        elif vectors == "exhaustive":
            if nbits > 32:
                raise NetlistError(f"netlist {netlist.name!r} has {nbits} input bits: too many for an exhaustive "
                                   "campaign; give a number of random vectors")
            total = 1 << nbits
            step = _CHUNK_WORDS * 64
            for start in range(0, total, step):
                n = min(step, total - start)
                planes = np.zeros((nbits, -(-n // (64 * layout.WORDS)) * layout.WORDS), np.uint64)
                counter_planes(start, nbits, planes)
                yield planes, n
        elif isinstance(vectors, (int, np.integer)) and not isinstance(vectors, bool) and vectors > 0:
            rng = np.random.default_rng(seed)
            for start in range(0, int(vectors), _CHUNK_WORDS * 64):
                n = min(_CHUNK_WORDS * 64, int(vectors) - start)
                nwords = -(-n // (64 * layout.WORDS)) * layout.WORDS
                yield rng.integers(0, 2 ** 64, size=(nbits, nwords), dtype=np.uint64, endpoint=False), n
        else:
            raise NetlistError(f"vectors must be 'exhaustive', 'operands' or a positive count, got {vectors!r}")

    if threads > 1:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    total = 0
    for planes, n in chunks():
        run(planes, planes.shape[1] // layout.B, n, netlist.ops, args, out_nets, sites, stuck, ptr, cone,
            detected, per_bit, max(1, threads))
        total += n
    return FaultCampaign(netlist.name, netlist.gate_names, sites, stuck, detected, per_bit, total)
