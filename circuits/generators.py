"""Generators of arithmetic circuits: adders, multipliers (exact, approximate) and TMR.

Every generator returns a validated Netlist. Multiplier buses: inputs a (width n), b (width m),
output p (width n + m), bit 0 least significant; signed forms use two's complement
(Baugh-Wooley partial products).
"""

from __future__ import annotations

from circuits import blocks
from circuits.builder import Builder
from circuits.errors import NetlistError
from circuits.netlist import Netlist
from circuits.registry import Param, circuit

FORMS = ("array", "wallace", "dadda")


def _check_width(name: str, value, lo: int = 1, hi: int = 32) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise NetlistError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return value


WIDTH = Param(int, lo=1, hi=32, help="operand width in bits")
WIDTH_B = Param(int, None, 1, 32, help="width of b (default: width)")


def _add(**_params):
    return lambda a, b: a + b


def product(**_params):
    """The registry's reference of every multiplier: f(a, b) = a * b."""
    return lambda a, b: a * b


@circuit("ripple_carry_adder", "ripple-carry adder s = a + b", reference=_add, width=WIDTH)
def ripple_carry_adder(n: int) -> Netlist:
    """Ripple-carry adder s = a + b: n full adders (5n gates), depth about 2n; s has n + 1 bits."""
    _check_width("adder width", n, 1, 64)
    b = Builder(f"rca{n}")
    x, y = b.input("a", n), b.input("b", n)
    s, carry = _ripple(b, x, y, Builder.ZERO)
    b.output("s", s + [carry])
    return b.build()


@circuit("kogge_stone_adder", "Kogge-Stone prefix adder s = a + b", reference=_add, width=WIDTH)
def kogge_stone_adder(n: int) -> Netlist:
    """Kogge-Stone parallel-prefix adder s = a + b: about n log2(n) prefix cells, depth about 2 log2(n) + 2."""
    _check_width("adder width", n, 1, 64)
    b = Builder(f"ks{n}")
    x, y = b.input("a", n), b.input("b", n)
    gen = [b.gate("AND", x[i], y[i]) for i in range(n)]
    prop = [b.gate("XOR", x[i], y[i]) for i in range(n)]
    g, p = list(gen), list(prop)
    d = 1
    while d < n:
        g2, p2 = list(g), list(p)
        for i in range(d, n):
            g2[i] = b.gate("OR", g[i], b.gate("AND", p[i], g[i - d]))
            p2[i] = b.gate("AND", p[i], p[i - d])
        g, p, d = g2, p2, 2 * d
    s = [prop[0]] + [b.gate("XOR", prop[i], g[i - 1]) for i in range(1, n)]
    b.output("s", s + [g[n - 1]])
    return b.build()


def _ripple(b: Builder, x: list[int], y: list[int], carry: int) -> tuple[list[int], int]:
    s = []
    for xi, yi in zip(x, y, strict=True):
        si, carry = b.full_adder(xi, yi, carry)
        s.append(si)
    return s, carry


def _partial_products(b: Builder, a: list[int], x: list[int], signed: bool, keep=None) -> list[list[int]]:
    """Columns of partial products a_j*b_i at weight i+j (Baugh-Wooley when signed)."""
    n, m = len(a), len(x)
    cols: list[list[int]] = [[] for _ in range(n + m)]
    for i in range(m):
        for j in range(n):
            if keep is not None and not keep(i, j):
                continue
            negate = signed and ((j == n - 1) != (i == m - 1))
            cols[i + j].append(b.gate("NAND" if negate else "AND", a[j], x[i]))
    if signed:  # constant 2^(n-1) + 2^(m-1) - 2^(n+m-1) modulo 2^(n+m)
        add_constant(cols, 2 ** (n - 1) + 2 ** (m - 1) - 2 ** (n + m - 1))
    return cols


def add_constant(cols: list[list[int]], const: int) -> None:
    """Add the integer `const` (modulo 2^len(cols)) to the columns: a constant-1 net in column k per set bit k."""
    for k in range(len(cols)):
        if const % 2 ** len(cols) >> k & 1:
            cols[k].append(Builder.ONE)


def _reduce_array(b: Builder, cols: list[list[int]]) -> list[int]:
    """Add the partial-product rows one after another with ripple-carry rows (an array multiplier)."""
    width = len(cols)
    acc = [Builder.ZERO] * width
    rows: list[dict[int, int]] = []
    for k, col in enumerate(cols):
        for r, net in enumerate(col):
            while len(rows) <= r:
                rows.append({})
            rows[r][k] = net
    for row in rows:
        lo = min(row)
        carry = Builder.ZERO
        for k in range(lo, width):
            acc[k], carry = b.full_adder(acc[k], row.get(k, Builder.ZERO), carry)
    return acc


def _reduce_tree(b: Builder, cols: list[list[int]], form: str) -> list[int]:
    """Reduce columns to height 2 with full/half adders (Wallace: greedy; Dadda: minimal), then ripple-add."""
    cols = [list(c) for c in cols]
    width = len(cols)
    heights = [2]
    while heights[-1] < max(len(c) for c in cols):
        heights.append(heights[-1] * 3 // 2)
    targets = heights[-2::-1]  # Dadda's stage heights, largest first
    while max(len(c) for c in cols) > 2:
        target = targets.pop(0) if targets else 2
        carries: list[list[int]] = [[] for _ in range(width + 1)]
        new: list[list[int]] = []
        for k in range(width):
            col, out = list(cols[k]), []
            if form == "wallace":
                if len(col) > 2:
                    while len(col) >= 3:
                        s, c = b.full_adder(col.pop(0), col.pop(0), col.pop(0))
                        out.append(s)
                        carries[k + 1].append(c)
                    if len(col) == 2:
                        s, c = b.half_adder(col.pop(0), col.pop(0))
                        out.append(s)
                        carries[k + 1].append(c)
            else:
                height = len(col) + len(carries[k])
                while height > target and len(col) >= 2:
                    if height == target + 1 or len(col) == 2:
                        s, c = b.half_adder(col.pop(0), col.pop(0))
                        height -= 1
                    else:
                        s, c = b.full_adder(col.pop(0), col.pop(0), col.pop(0))
                        height -= 2
                    out.append(s)
                    carries[k + 1].append(c)
            new.append(col + out + carries[k])
        cols = new  # carries out of the top column are dropped: the product is taken modulo 2^(n+m)
    top = [c[0] if len(c) > 0 else Builder.ZERO for c in cols]
    bot = [c[1] if len(c) > 1 else Builder.ZERO for c in cols]
    s, _ = _ripple(b, top, bot, Builder.ZERO)
    return s


def reduce_columns(b: Builder, cols: list[list[int]], form: str) -> list[int]:
    """The sum of the bits in `cols` (column k has weight 2^k) modulo 2^len(cols), bit 0 first: rows of
    ripple-carry adders (form "array") or a Wallace / Dadda tree and a final ripple-carry adder."""
    return _reduce_array(b, cols) if form == "array" else _reduce_tree(b, cols, form)


@circuit("multiplier", "n x m multiplier p = a * b (array, Wallace or Dadda; unsigned or Baugh-Wooley signed)",
         reference=product, width=WIDTH, m=WIDTH_B,
         form=Param(str, "array", choices=FORMS), signed=Param(bool, False))
def multiplier(n: int, m: int | None = None, form: str = "array", signed: bool = False) -> Netlist:
    """n x m multiplier p = a * b (p has n + m bits): AND (Baugh-Wooley NAND) partial products reduced
    by rows of ripple-carry adders (array, about 6nm gates, depth about 2(n+m)) or by a Wallace/Dadda
    full-adder tree and a final ripple-carry adder (depth about 4 log1.5(m) + 2(n+m))."""
    b, a, x = start_multiplier("multiplier", f"{'s' if signed else 'u'}mul", n, m, form, FORMS, signed)
    b.output("p", reduce_columns(b, _partial_products(b, a, x, signed), form))
    return b.build()


def start_multiplier(what: str, prefix: str, n: int, m: int | None, form: str, forms: tuple, signed: bool):
    """(Builder named PREFIXnxm_FORM, nets of input a (n bits), nets of input b (m bits, default n)) after
    checking the widths and that `form` is one of `forms` (NetlistError naming `what` otherwise)."""
    m = n if m is None else m
    _check_width(f"{what} width n", n)
    _check_width(f"{what} width m", m)
    if form not in forms:
        raise NetlistError(f"{what} form must be one of {', '.join(forms)}, got {form!r}")
    b = Builder(f"{prefix}{n}x{m}_{form}", signed=signed)
    return b, b.input("a", n), b.input("b", m)


@circuit("truncated_multiplier", "approximate unsigned multiplier without the k lowest partial-product columns",
         approximates=product, width=WIDTH, k=Param(int, None, 0, 63, help="columns dropped (default: width - 2)"))
def truncated_multiplier(n: int = 8, k: int | None = None) -> Netlist:
    """Approximate unsigned n x n array multiplier without the partial products of the k lowest columns
    (default n - 2; no error compensation): about 6(n*n - k(k+1)/2) gates; always under-estimates."""
    k = n - 2 if k is None else k
    _check_width("multiplier width", n)
    _check_width("truncated columns k", k, 0, 2 * n - 1)
    b = Builder(f"umul{n}x{n}_trunc{k}")
    a, x = b.input("a", n), b.input("b", n)
    b.output("p", _reduce_array(b, _partial_products(b, a, x, False, keep=lambda i, j: i + j >= k)))
    return b.build()


@circuit("broken_array_multiplier", "approximate broken-array multiplier (Mahdiani 2010)", approximates=product,
         width=WIDTH,
         hbl=Param(int, 2, 0, 32, help="horizontal break line"),
         vbl=Param(int, None, 0, 63, help="vertical break line (default: width)"))
def broken_array_multiplier(n: int = 8, hbl: int = 2, vbl: int | None = None) -> Netlist:
    """Approximate broken-array multiplier (Mahdiani et al. 2010): an unsigned n x n array multiplier whose
    cells above the horizontal break line (rows i < hbl) and right of the vertical break line
    (columns i + j < vbl, default n) are omitted; gates and depth as the array form minus the omitted cells."""
    vbl = n if vbl is None else vbl
    _check_width("multiplier width", n)
    _check_width("horizontal break line hbl", hbl, 0, n)
    _check_width("vertical break line vbl", vbl, 0, 2 * n - 1)
    b = Builder(f"umul{n}x{n}_bam_h{hbl}_v{vbl}")
    a, x = b.input("a", n), b.input("b", n)
    keep = lambda i, j: not (i < hbl and i + j < vbl)  # noqa: E731
    b.output("p", _reduce_array(b, _partial_products(b, a, x, False, keep=keep)))
    return b.build()


def tmr(netlist: Netlist) -> Netlist:
    """Triple modular redundancy: three copies of `netlist` on shared inputs and one majority voter (MAJ
    gate) per output bit: 3G + (output bits) gates, depth + 1."""
    b = Builder(f"tmr_{netlist.name}", signed=netlist.signed)
    ins = {bus: b.input(bus, w) for bus, w in netlist.inputs.items()}
    copies = [b.instantiate(netlist, ins, prefix=f"r{r}.") for r in range(3)]
    for bus in netlist.outputs:
        b.output(bus, [b.gate("MAJ", *(c[bus][k] for c in copies), name=f"vote.{bus}[{k}]")
                       for k in range(len(netlist.outputs[bus]))])
    return b.build()


def _less(**_params):
    return lambda a, b: int(a < b)


@circuit("comparator", "unsigned comparator lt = a < b", reference=_less, width=WIDTH)
def comparator(n: int) -> Netlist:
    """Unsigned comparator lt = (a < b) of two n-bit words: the borrow chain of a - b, 2n gates, depth 2n."""
    _check_width("comparator width", n, 1, 64)
    b = Builder(f"lt{n}")
    x, y = b.input("a", n), b.input("b", n)
    b.output("lt", [blocks.less_than(b, x, y)])
    return b.build()


@circuit("popcount", "population count c = number of ones of a", width=Param(int, lo=1, hi=1024,
                                                                               help="input bits"))
def popcount(n: int) -> Netlist:
    """Population count of an n-bit word (c has n.bit_length() bits): a carry-save tree of full and half adders,
    about 5n gates, depth about 3 log1.5(n)."""
    _check_width("popcount width", n, 1, 1024)
    b = Builder(f"popcount{n}")
    b.output("c", blocks.popcount(b, b.input("a", n)))
    return b.build()
