"""Sparse transient flips: the flips the simulator's stream draws over a run of vectors, listed as (vector, gate)
pairs, and the netlist evaluated with those flips on the vectors they touch only.

A caller computes every untouched vector fault-free (a table of the netlist's outputs, or a fault-free kernel
pass) and replaces the touched ones by `simulate_touched`: the result is bit for bit the result of simulating
every vector with flips (`simulate_planes(..., faults=plan)` on planes of the same number of words), because
`flip_sites` draws the same stream (circuits.rng: per block of layout.B words a binomial count and distinct
positions, streams keyed by (seed, chunk of CHUNK_BLOCKS blocks)) and a flip at (gate g, vector v) is realised
as the force mask of gate g in v's lane: out = ((gate & keep) ^ force) ^ flip, as the kernels apply it.
Pays off while a vector is rarely touched (n_gates * flip_p well below 1).
"""

from __future__ import annotations

import numpy as np

from circuits.cache import load_source
from circuits.faults import DENSE_P, GateFaultPlan, GateMasks
from circuits.layout import CHUNK_BLOCKS, WORDS, B
from circuits.netlist import Netlist
from circuits.rng import RNG_SOURCE, binomial_cdf
from circuits.simulate import fault_masks, pack_operands, simulate_planes, unpack_outputs

SPARSE_TOUCHED = 0.05  # sparse pays off while n_gates * flip_p (about the fraction of touched vectors) is below this

_DRAW_SOURCE = "\n".join(["import numpy as np", "from numba import njit", RNG_SOURCE, f'''

@njit(cache=True, nogil=True)
def draw(nblocks, ng, p, seed, k0, cdf):
    """(vectors, gates) of every flip of blocks 0..nblocks-1 (block: {B} words of ng gates), in draw order."""
    nw = ng * {B}
    fm = np.zeros(nw, np.uint64)
    touched = np.empty(int(min(p, DENSE_P) * nw * 128) + 256, np.int64)
    vec = np.empty(1024, np.int64)
    gat = np.empty(1024, np.int64)
    m = 0
    state = np.uint64(0)
    for blk in range(nblocks):
        if blk % {CHUNK_BLOCKS} == 0:
            state = _seed_chunk(seed, blk // {CHUNK_BLOCKS})
        state, nt = _fill_flips(fm, 0, nw, p, state, touched, k0, cdf)
        count = nw if nt < 0 else nt
        for q in range(count):
            w = q if nt < 0 else touched[q]
            word = fm[w]
            fm[w] = 0  # a word listed twice is read once
            while word:
                bit = 0
                while not (word >> np.uint64(bit)) & np.uint64(1):
                    bit += 1
                word &= ~(np.uint64(1) << np.uint64(bit))
                if m == vec.shape[0]:
                    vec = np.concatenate((vec, np.empty(m, np.int64)))
                    gat = np.concatenate((gat, np.empty(m, np.int64)))
                vec[m] = (blk * {B} + w % {B}) * 64 + bit
                gat[m] = w // {B}
                m += 1
    return vec[:m], gat[:m]
'''])


def _drawer():
    return load_source(_DRAW_SOURCE, "flipdraw", ("draw",))


def pays_off(netlist: Netlist, faults: GateFaultPlan) -> bool:
    """Whether the sparse path is the faster way to realise `faults`' flips on `netlist`."""
    return 0 < faults.flip_p <= DENSE_P and netlist.n_gates * faults.flip_p < SPARSE_TOUCHED


def flip_sites(netlist: Netlist, n_words: int, faults: GateFaultPlan) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, gates), sorted by vector then gate: every transient flip of `faults` that simulate_planes
    draws over input planes of `n_words` words (a multiple of layout.WORDS) of this netlist."""
    if n_words % WORDS:
        raise ValueError(f"n_words must be a multiple of {WORDS}, got {n_words}")
    p = float(faults.flip_p)
    if p <= 0 or netlist.n_gates == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    k0, cdf = binomial_cdf(netlist.n_gates, p)
    vec, gat = _drawer().draw(n_words // B, netlist.n_gates, p, int(faults.seed) & 0x7FFFFFFFFFFFFFFF, k0, cdf)
    order = np.lexsort((gat, vec))
    return vec[order], gat[order]


def simulate_touched(netlist: Netlist, operands: dict, lane: np.ndarray, gates: np.ndarray,
                     faults: GateFaultPlan) -> dict[str, np.ndarray]:
    """Outputs {bus: (T,) values} of the netlist on T touched vectors, operands {bus: (T,) values}, with the
    permanent faults of `faults` and the flips (lane[f], gates[f]): flip f hits gate gates[f] of vector lane[f]
    (lane sorted ascending). 64 vectors per simulation: each flip is a force mask of its gate in its vector's
    lane."""
    n = len(next(iter(operands.values())))
    keep, force = fault_masks(netlist, faults)
    planes, _ = pack_operands(netlist, operands)
    outs = np.zeros((sum(netlist.output_widths.values()), max(1, -(-n // 64))), np.uint64)
    one = np.zeros((netlist.n_input_bits, WORDS), np.uint64)
    bounds = np.searchsorted(lane, np.arange(0, n + 64, 64))
    for q in range(outs.shape[1]):
        one[:, 0] = planes[:, q]
        f = force.copy()
        sel = slice(bounds[q], bounds[q + 1])
        np.bitwise_xor.at(f, gates[sel], np.left_shift(np.uint64(1), (lane[sel] & 63).astype(np.uint64)))
        outs[:, q] = simulate_planes(netlist, one, faults=GateMasks(keep, f), engine="interpreter")[:, 0]
    return unpack_outputs(netlist, outs, n)
