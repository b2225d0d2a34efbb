"""Signed (two's-complement) multipliers beyond Baugh-Wooley: radix-4 Booth.

Buses as every multiplier: inputs a (n bits), b (m bits), output p (n + m bits), bit 0 least significant, all
two's complement. (Baugh-Wooley is `circuits.generators.multiplier(..., signed=True)`.)
"""

from __future__ import annotations

from circuits.builder import Builder
from circuits.generators import WIDTH, WIDTH_B, add_constant, product, reduce_columns, start_multiplier
from circuits.netlist import Netlist
from circuits.registry import Param, circuit

TREES = ("wallace", "dadda")


def booth_digits(b: Builder, x: list[int]) -> list[tuple[int, int, int]]:
    """Radix-4 Booth encoder of the two's-complement word x (m bits): per digit i (weight 4^i, ceil(m/2) digits)
    the nets (neg, one, two) of d_i = -2 x[2i+1] + x[2i] + x[2i-1] in {-2..2} (x[-1] = 0, x sign-extended):
    neg = x[2i+1], one = |d_i| == 1, two = |d_i| == 2; at most 3 gates per digit."""
    m = len(x)
    bit = lambda k: Builder.ZERO if k < 0 else x[min(k, m - 1)]  # noqa: E731
    out = []
    for i in range((m + 1) // 2):
        hi, mid, lo = bit(2 * i + 1), bit(2 * i), bit(2 * i - 1)
        one = b.gate("XOR", mid, lo, name=f"booth{i}.one")
        two = b.gate("ANDNOT", b.gate("XOR", hi, mid, name=f"booth{i}.hm"), one, name=f"booth{i}.two")
        out.append((hi, one, two))
    return out


def booth_row(b: Builder, a: list[int], neg: int, one: int, two: int, tag: str) -> list[int]:
    """The n + 1 bits of d * a for a Booth digit d (two's complement, before the +neg that completes the
    negation), its sign bit inverted (the sign-extension trick: -s 2^n = (1 - s) 2^n - 2^n): bit j is
    ((two ? a[j-1] : a[j]) & (one | two)) ^ neg, a[-1] = 0, a[n] = a[n-1]; 3 gates per bit, 1 per row."""
    n = len(a)
    nonzero = b.gate("OR", one, two, name=f"{tag}.nz")
    row = []
    for j in range(n + 1):
        if j == 0:
            pick = b.gate("ANDNOT", a[0], two, name=f"{tag}.sel[0]")
        elif j == n:
            pick = a[n - 1]
        else:
            pick = b.gate("MUX", a[j], a[j - 1], two, name=f"{tag}.sel[{j}]")
        bit = b.gate("AND", pick, nonzero, name=f"{tag}.and[{j}]")
        row.append(b.gate("XNOR" if j == n else "XOR", bit, neg, name=f"{tag}.pp[{j}]"))
    return row


@circuit("booth_multiplier", "n x m radix-4 Booth multiplier p = a * b of two's-complement operands (Wallace or "
         "Dadda tree)", reference=product, width=WIDTH, m=WIDTH_B,
         form=Param(str, "dadda", choices=TREES))
def booth_multiplier(n: int, m: int | None = None, form: str = "dadda") -> Netlist:
    """Signed n x m radix-4 Booth multiplier (p has n + m bits): ceil(m/2) digits of b encoded (3 gates each),
    one row of n + 1 partial-product bits per digit (3 gates a bit) plus its negation bit, sign extension by
    inverted sign bits and one constant, reduced by a Wallace / Dadda tree and a final ripple-carry adder.
    8 x 8: 298 gates, depth 34 (dadda), 304 / 29 (wallace); Baugh-Wooley 323 / 30 (dadda), 337 / 24 (wallace)."""
    b, a, x = start_multiplier("booth_multiplier", "sbooth", n, m, form, TREES, True)
    cols: list[list[int]] = [[] for _ in range(len(a) + len(x))]
    for i, (neg, one, two) in enumerate(booth_digits(b, x)):
        for j, net in enumerate(booth_row(b, a, neg, one, two, f"pp{i}")):
            cols[2 * i + j].append(net)
        cols[2 * i].append(neg)
        add_constant(cols, -(2 ** (2 * i + n)))
    b.output("p", reduce_columns(b, cols, form))
    return b.build()
