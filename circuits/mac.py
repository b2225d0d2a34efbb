"""The processing element: a multiply-accumulate unit acc_out = acc + sign * a * |w| as one netlist.

Buses (bit 0 least significant): a = activation magnitude (n bits; with signed_a, n + 1 bits, bit n the sign),
w = weight in sign-magnitude (m + 1 bits: magnitude in bits 0..m-1, sign in bit m), acc = accumulator
(acc_bits, two's complement), acc_out = acc + sgn(a) * sign(w) * MUL(|a|, |w|) wrapped to acc_bits, as the
integer engine computes it (networks/engine.py; a zero weight adds nothing whatever its sign bit). The netlist is
unsigned (`signed` False): acc and acc_out are two's-complement bit patterns read as unsigned integers.

Structure: the registered unsigned multiplier (gate names prefixed `mul.`) and the registered adder of
acc_bits + 1 bits (prefixed `add.`), whose extra low bit position receives the product's sign on both operands so
that it becomes the carry-in of a conditional negation: acc + (P XOR neg) + neg. The XORs of the product with
the sign (and, with signed_a, the XOR of the two sign bits) are adder gates too (`add.neg[k]`, `add.sign`).
"""

from __future__ import annotations

from circuits.builder import Builder
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
    product = b.instantiate(multiplier(n, m, form), {"a": a[:n], "b": w[:m]}, prefix="mul.")["p"][:acc_bits]
    product += [Builder.ZERO] * (acc_bits - len(product))
    flipped = [b.gate("XOR", p, neg, name=f"add.neg[{k}]") for k, p in enumerate(product)]
    total = b.instantiate(ADDERS[adder](acc_bits + 1), {"a": [neg] + acc, "b": [neg] + flipped}, prefix="add.")
    b.output("acc_out", total["s"][1:acc_bits + 1])
    return b.build()
