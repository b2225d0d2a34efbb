"""Gate-level products of a layer: operands packed into bit planes, the netlist simulated, products read back.

Vector v = (s * out + o) * in + i holds the operands (a[s, i], mag[o, i]) of row s, output channel o and input
i; planes follow circuits.bitplanes (vector v at bit v % 64 of word v // 64, bus bit 0 first), so the flips a
GateFaults draws land on the same products whichever way the planes are built.
"""

from __future__ import annotations

import numpy as np

from circuits import GateFaults, Netlist, simulate


def products(netlist: Netlist, a: np.ndarray, mag: np.ndarray, faults: GateFaults) -> np.ndarray:
    """MUL(a[s, i], mag[o, i]) by the netlist (inputs a, b; one output bus): (N, out, in) int64."""
    n, k = a.shape
    out = mag.shape[0]
    aa = np.broadcast_to(a[:, None, :], (n, out, k)).reshape(-1)
    bb = np.broadcast_to(mag[None, :, :], (n, out, k)).reshape(-1)
    bus = next(iter(netlist.outputs))
    return simulate(netlist, {"a": aa, "b": bb}, faults=faults)[bus].reshape(n, out, k)
