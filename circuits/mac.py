"""The processing element: a multiply-accumulate unit acc_out = acc + sign * a * |w| as one netlist.

Buses (bit 0 least significant): a = activation magnitude (n bits; with signed_a, n + 1 bits, bit n the sign),
w = weight in sign-magnitude (m + 1 bits: magnitude in bits 0..m-1, sign in bit m), acc = accumulator
(acc_bits, two's complement), acc_out = acc + sgn(a) * sign(w) * MUL(|a|, |w|) wrapped to acc_bits, as the
integer engine computes it (hardware/multipliers.py; a zero weight adds nothing whatever its sign bit). The netlist is
unsigned (`signed` False): acc and acc_out are two's-complement bit patterns read as unsigned integers.

Structure: the registered unsigned multiplier (gate names prefixed `mul.`) and the registered adder of
acc_bits + 1 bits (prefixed `add.`), whose extra low bit position receives the product's sign on both operands so
that it becomes the carry-in of a conditional negation: acc + (P XOR neg) + neg. The XORs of the product with
the sign (and, with signed_a, the XOR of the two sign bits) are adder gates too (`add.neg[k]`, `add.sign`).

The requantizer ends a dot product as the engine does: q = clamp((acc * mult + 2^(shift-1)) >> shift,
0, 2^width - 1) (the ReLU clamp of hidden layers), with gates prefixed `req.mul.`, `req.rnd.` and `req.clamp.`.
"""

from __future__ import annotations

from circuits.builder import Builder
from circuits.errors import NetlistError
from circuits.generators import kogge_stone_adder, multiplier, ripple_carry_adder
from circuits.netlist import Netlist
from circuits.registry import Param, circuit

ADDERS = {"ripple": ripple_carry_adder, "kogge_stone": kogge_stone_adder}


@circuit("mac", "multiply-accumulate unit acc_out = acc + sign(w) * a * |w| (multiplier mul.*, adder add.*)",
         width=Param(int, 8, 1, 16, help="activation magnitude bits n"),
         m=Param(int, None, 1, 16, help="weight magnitude bits (default: width)"),
         acc_bits=Param(int, 32, 2, 64, help="accumulator bits, two's complement"),
         form=Param(str, "array", choices=("array", "wallace", "dadda"), help="multiplier structure"),
         adder=Param(str, "ripple", choices=tuple(ADDERS), help="accumulator adder"),
         signed_a=Param(bool, False, help="a carries a sign bit (sign-magnitude activations)"))
def mac(n: int = 8, m: int | None = None, acc_bits: int = 32, form: str = "array", adder: str = "ripple",
        signed_a: bool = False) -> Netlist:
    """Multiply-accumulate unit: the n x m multiplier (array about 6nm gates) plus n + m conditional-negation
    XORs and an (acc_bits + 1)-bit adder whose lowest cell folds into the carry-in (ripple: about 5 acc_bits
    gates, fewer above the product's width; depth about 2(n + m) + 2 acc_bits with the array multiplier)."""
    m = n if m is None else m
    b = Builder(f"mac{n}x{m}{'s' if signed_a else ''}_acc{acc_bits}_{form}_{adder}")
    a = b.input("a", n + signed_a)
    w = b.input("w", m + 1)
    acc = b.input("acc", acc_bits)
    neg = b.gate("XOR", a[n], w[m], name="add.sign") if signed_a else w[m]
    product = b.instantiate(multiplier(n, m, form), {"a": a[:n], "b": w[:m]}, prefix="mul.")["p"]
    b.output("acc_out", signed_accumulate(b, acc, product, neg, adder))
    return b.build()


def signed_accumulate(b: Builder, acc: list[int], product: list[int], neg: int, adder: str = "ripple") -> list[int]:
    """Nets of acc + (-1)^neg * product wrapped to len(acc) bits (two's complement; product an unsigned
    magnitude, bits at or above len(acc) ignored, bit 0 first): len(acc) XORs add.neg[k] (the product's bits
    XOR neg) and an (len(acc) + 1)-bit adder (gates add.*) whose lowest cell, fed neg on both operands, turns
    neg into the carry-in. The MAC adder of the `mac` circuit and of the processing element (hardware.pe)."""
    if adder not in ADDERS:
        raise NetlistError(f"accumulator adder must be one of {', '.join(ADDERS)}, got {adder!r}")
    acc_bits = len(acc)
    product = list(product[:acc_bits]) + [Builder.ZERO] * (acc_bits - min(acc_bits, len(product)))
    flipped = [b.gate("XOR", p, neg, name=f"add.neg[{k}]") for k, p in enumerate(product)]
    total = b.instantiate(ADDERS[adder](acc_bits + 1), {"a": [neg] + acc, "b": [neg] + flipped}, prefix="add.")
    return total["s"][1:acc_bits + 1]


@circuit("requantizer", "requantizer q = clamp((acc * mult + 2^(shift-1)) >> shift, 0, 2^width - 1)",
         width=Param(int, 8, 1, 16, help="output (activation) bits"),
         acc_bits=Param(int, 32, 2, 32, help="accumulator bits, two's complement"),
         mult_bits=Param(int, 16, 1, 31, help="multiplier bits, unsigned"),
         shift=Param(int, 16, 0, 62, help="right shift, at most acc_bits + mult_bits"))
def requantizer(n: int = 8, acc_bits: int = 32, mult_bits: int = 16, shift: int = 16) -> Netlist:
    """Requantizer: inputs acc (acc_bits, two's complement) and mult (mult_bits, unsigned), output q (n bits,
    unsigned) = clamp((acc * mult + 2^(shift-1)) >> shift, 0, 2^n - 1) (no rounding term when shift = 0),
    exact (no wrap-around). A Baugh-Wooley acc_bits x (mult_bits + 1) array multiplier (about
    6 acc_bits mult_bits gates), an incrementer for the rounding bit and an OR tree and AND row for the clamp."""
    if shift > acc_bits + mult_bits:
        raise NetlistError(f"requantizer shift must be at most acc_bits + mult_bits = {acc_bits + mult_bits}, "
                           f"got {shift}")
    b = Builder(f"req{n}_acc{acc_bits}_m{mult_bits}_s{shift}")
    acc, mult = b.input("acc", acc_bits), b.input("mult", mult_bits)
    product = b.instantiate(multiplier(acc_bits, mult_bits + 1, "array", signed=True),
                            {"a": acc, "b": mult + [Builder.ZERO]}, prefix="req.mul.")["p"]
    width = len(product)
    if shift:
        half = [Builder.ONE if k == shift - 1 else Builder.ZERO for k in range(width)]
        product = b.instantiate(ripple_carry_adder(width), {"a": product, "b": half}, prefix="req.rnd.")["s"][:width]
    y = product[shift:]  # two's complement, y[-1] the sign
    sign = y[-1]
    over = Builder.ZERO
    for k, bit in enumerate(y[n:-1]):
        over = b.gate("OR", over, bit, name=f"req.clamp.over{k}")
    q = [b.gate("ANDNOT", b.gate("OR", bit, over, name=f"req.clamp.sat[{k}]"), sign, name=f"req.clamp.q[{k}]")
         for k, bit in enumerate(y[:-1][:n])]
    b.output("q", q + [Builder.ZERO] * (n - len(q)))
    return b.build()
