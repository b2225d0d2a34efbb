"""Building blocks for compiled classifiers, written against a Builder: constant comparators, OR trees,
popcounts, unsigned comparators and argmax. Every word is a list of nets, bit 0 (least significant) first.
"""

from __future__ import annotations

from collections import deque

from circuits.builder import Builder


def le_const(b: Builder, x: list[int], c: int) -> int:
    """Net of x <= c for the unsigned word x and an integer constant c: at most len(x) gates (constant
    bits fold), depth at most len(x)."""
    if c < 0:
        return Builder.ZERO
    if c >= (1 << len(x)) - 1:
        return Builder.ONE
    r = Builder.ONE  # the empty suffix compares equal
    for k, xk in enumerate(x):  # from the least significant bit up: r = (x[:k+1] <= c[:k+1])
        r = b.gate("ORNOT", r, xk) if c >> k & 1 else b.gate("ANDNOT", r, xk)
    return r


def ge_const(b: Builder, x: list[int], c: int) -> int:
    """Net of x >= c (unsigned x, integer c)."""
    return b.gate("NOT", le_const(b, x, c - 1))  # a constant comparison folds to a constant


def reduce_tree(b: Builder, kind: str, nets: list[int], empty: int) -> int:
    """A balanced tree of two-input `kind` gates over nets (depth ceil(log2 n)); `empty` when there are none."""
    level = list(nets)
    if not level:
        return empty
    while len(level) > 1:
        nxt = [b.gate(kind, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def encode(b: Builder, one_hot: list[int]) -> list[int]:
    """Binary index of the hot line of a one-hot vector (OR trees; all-zero gives 0): ceil(log2 n) bits."""
    width = max(1, (len(one_hot) - 1).bit_length())
    return [reduce_tree(b, "OR", [n for i, n in enumerate(one_hot) if i >> k & 1], Builder.ZERO)
            for k in range(width)]


def popcount(b: Builder, bits: list[int]) -> list[int]:
    """Number of ones among `bits` as an unsigned word of (len(bits)).bit_length() bits: a carry-save tree of
    full and half adders (about 5n gates, depth about 3 log1.5(n) + the final carries)."""
    width = max(1, len(bits).bit_length())
    cols: list[deque] = [deque() for _ in range(width + 1)]
    cols[0].extend(bits)
    out = []
    for k in range(width):
        col = cols[k]
        while len(col) >= 3:  # first in, first out: operands of equal depth meet, so the tree stays shallow
            s, c = b.full_adder(col.popleft(), col.popleft(), col.popleft())
            col.append(s)
            cols[k + 1].append(c)
        if len(col) == 2:
            s, c = b.half_adder(col.popleft(), col.popleft())
            col.append(s)
            cols[k + 1].append(c)
        out.append(col[0] if col else Builder.ZERO)
    return out


def less_than(b: Builder, x: list[int], y: list[int]) -> int:
    """Net of x < y for unsigned words (the borrow of x - y): two gates per bit (XOR, MUX)."""
    n = max(len(x), len(y))
    x = list(x) + [Builder.ZERO] * (n - len(x))
    y = list(y) + [Builder.ZERO] * (n - len(y))
    borrow = Builder.ZERO
    for xk, yk in zip(x, y, strict=True):  # differing bits decide (the higher one wins), equal bits pass the borrow
        borrow = b.gate("MUX", borrow, yk, b.gate("XOR", xk, yk))
    return borrow


def argmax(b: Builder, words: list[list[int]]) -> list[int]:
    """Index of the largest unsigned word, the lowest index among equal maxima (as numpy.argmax): a tournament
    of comparators and multiplexers, ceil(log2 n) levels; the index has ceil(log2 n) bits (at least 1)."""
    width = max(1, (len(words) - 1).bit_length())
    level = [(list(w), [Builder.ONE if i >> k & 1 else Builder.ZERO for k in range(width)])
             for i, w in enumerate(words)]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            (va, ia), (vb, ib) = level[i], level[i + 1]
            n = max(len(va), len(vb))
            va, vb = va + [Builder.ZERO] * (n - len(va)), vb + [Builder.ZERO] * (n - len(vb))
            right = less_than(b, va, vb)  # the right (higher-index) word wins only when strictly larger
            nxt.append(([b.gate("MUX", p, q, right) for p, q in zip(va, vb, strict=True)],
                        [b.gate("MUX", p, q, right) for p, q in zip(ia, ib, strict=True)]))
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    return level[0][1]
