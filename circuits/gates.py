"""The gate table: every gate kind's opcode, arity and semantics, in one place.

Every evaluator (generated straight-line kernels, the interpreter, the fault campaign, Verilog
export) is generated from `KINDS`, so a gate's meaning is written exactly once. Inputs are named
a, b, c in the order the gate takes them; MUX is (A, B, S) -> S ? B : A, as in Yosys `$_MUX_`.
"""

from typing import NamedTuple


class Kind(NamedTuple):
    opcode: int
    arity: int
    expr: str  # bitwise expression over a, b, c (works on Python ints masked to a width, uint64 words)


KINDS: dict[str, Kind] = {
    "BUF": Kind(0, 1, "a"),
    "NOT": Kind(1, 1, "~a"),
    "AND": Kind(2, 2, "a & b"),
    "NAND": Kind(3, 2, "~(a & b)"),
    "OR": Kind(4, 2, "a | b"),
    "NOR": Kind(5, 2, "~(a | b)"),
    "XOR": Kind(6, 2, "a ^ b"),
    "XNOR": Kind(7, 2, "~(a ^ b)"),
    "ANDNOT": Kind(8, 2, "a & ~b"),
    "ORNOT": Kind(9, 2, "a | ~b"),
    "MUX": Kind(10, 3, "(a & ~c) | (b & c)"),
    "NMUX": Kind(11, 3, "~((a & ~c) | (b & c))"),
    "MAJ": Kind(12, 3, "(a & b) | (a & c) | (b & c)"),
    "AOI3": Kind(13, 3, "~((a & b) | c)"),
    "OAI3": Kind(14, 3, "~((a | b) & c)"),
}

BY_OPCODE: dict[int, str] = {k.opcode: name for name, k in KINDS.items()}
assert sorted(BY_OPCODE) == list(range(len(KINDS))), "opcodes must be 0..n-1"


def evaluate(kind: str, a: int, b: int = 0, c: int = 0, width: int = 1) -> int:
    """Evaluate one gate kind on Python ints holding `width` parallel bits (reference semantics)."""
    mask = (1 << width) - 1
    return eval(KINDS[kind].expr, {}, {"a": a, "b": b, "c": c}) & mask  # noqa: S307 (table-controlled)


def render(kind: str, *operands: str) -> str:
    """The gate's expression with its operands substituted (same syntax in Python, Numba and Verilog)."""
    names = dict(zip("abc", operands, strict=False))
    return "".join(f"({names[ch]})" if ch in names else ch for ch in KINDS[kind].expr)
