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


def booth_digits(b: Builder, x: list[int]) -> list[tuple[int, int, int, int]]:
    """Radix-4 Booth encoder of the two's-complement word x (m bits): per digit i (weight 4^i, ceil(m/2) digits)
    the nets (neg, one, two, nonzero) of d_i = -2 x[2i+1] + x[2i] + x[2i-1] in {-2..2} (x[-1] = 0, x
    sign-extended): neg = x[2i+1], one = |d_i| == 1, two = |d_i| == 2, nonzero = d_i != 0; at most 4 gates per
    digit, depth 2."""
    m = len(x)
    bit = lambda k: Builder.ZERO if k < 0 else x[min(k, m - 1)]  # noqa: E731
    out = []
    for i in range((m + 1) // 2):
        hi, mid, lo = bit(2 * i + 1), bit(2 * i), bit(2 * i - 1)
        one = b.gate("XOR", mid, lo, name=f"booth{i}.one")
        differ = b.gate("XOR", hi, mid, name=f"booth{i}.hm")
        two = b.gate("ANDNOT", differ, one, name=f"booth{i}.two")
        out.append((hi, one, two, b.gate("OR", differ, one, name=f"booth{i}.nz")))
    return out


def booth_row(b: Builder, a: list[int], neg: int, two: int, nonzero: int, tag: str) -> list[int]:
    """The bits of d * a for a Booth digit d (two's complement, before the +neg that completes the negation) with
    the sign bit inverted (the sign-extension trick: -s 2^k = (1 - s) 2^k - 2^k, the caller adds the -2^k): bit j
    is nonzero ? (two ? a[j-1] : a[j]) ^ neg : neg, a[-1] = 0, a[n] = a[n-1]; n + 1 bits, or n where `two` is
    the constant 0 (the top digit of an odd-width operand, |d| <= 1); 3 gates per bit (XOR, MUX, MUX), depth 2
    after the encoder."""
    n = len(a)
    width = n if two == Builder.ZERO else n + 1
    flipped = [neg] + [b.gate("XOR", a[j], neg, name=f"{tag}.x[{j}]") for j in range(n)]  # a[j-1] ^ neg at [j]
    row = []
    for j in range(width):
        pick = flipped[n] if j == n else b.gate("MUX", flipped[j + 1], flipped[j], two, name=f"{tag}.sel[{j}]")
        row.append(b.gate("NMUX" if j == width - 1 else "MUX", neg, pick, nonzero, name=f"{tag}.pp[{j}]"))
    return row


@circuit("booth_multiplier", "n x m radix-4 Booth multiplier p = a * b of two's-complement operands (Wallace or "
         "Dadda tree)", reference=product, width=WIDTH, m=WIDTH_B,
         form=Param(str, "dadda", choices=TREES))
def booth_multiplier(n: int, m: int | None = None, form: str = "dadda") -> Netlist:
    """Signed n x m radix-4 Booth multiplier (p has n + m bits): ceil(m/2) digits of b encoded (4 gates each),
    one row of n + 1 partial-product bits per digit (3 gates a bit) plus its negation bit, sign extension by
    inverted sign bits and one constant, reduced by a Wallace / Dadda tree and a final ripple-carry adder.
    8 x 8: 274 gates, depth 33 (dadda), 276 / 29 (wallace); Baugh-Wooley 323 / 30 (dadda), 337 / 24 (wallace).
    16 x 16: 1062 / 65 (dadda), 1070 / 55 (wallace); Baugh-Wooley 1411 / 62, 1459 / 49."""
    b, a, x = start_multiplier("booth_multiplier", "sbooth", n, m, form, TREES, True)
    cols: list[list[int]] = [[] for _ in range(len(a) + len(x))]
    extension = 0  # the rows' sign extensions: -2^k for a row whose inverted sign bit has weight 2^k
    for i, (neg, _one, two, nonzero) in enumerate(booth_digits(b, x)):
        row = booth_row(b, a, neg, two, nonzero, f"pp{i}")
        for j, net in enumerate(row):
            cols[2 * i + j].append(net)
        cols[2 * i].append(neg)
        extension -= 2 ** (2 * i + len(row) - 1)
    add_constant(cols, extension)
    b.output("p", reduce_columns(b, cols, form))
    return b.build()
