"""The operation registry: one class per operation of the integer graph and the torch forms that import to it.

An `Operation` subclass with a `name` registers itself in `OPERATIONS` when it is defined (a duplicate name, or a
torch form another operation already claims, is a NetworkError at definition). It declares its torch forms
(`modules`: nn.Module types, matched by the module's class or its nearest registered base; `functions`:
{callable: parameter names} for `F.*`, `torch.*` and `aten.*` call targets; `methods`: {tensor method name:
parameter names}), describes a matched fx node as an `Op` (`from_module`, `from_call`), lowers it to integer
nodes (`lower`, with the importer's Builder) and, when it is a node of the integer graph, evaluates that node
(`evaluate(engine, node, ins, p)` -> int64 array; operations without it exist only during import: folded or
fused into a neighbour, or aliases).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from networks.errors import NetworkError

OPERATIONS: dict[str, Operation] = {}  # name -> the registered operation (one instance per class)


@dataclass
class Op:
    """One fx node described: the operation's name, the fx nodes of its tensor inputs, its parameters."""

    kind: str
    inputs: list
    params: dict = field(default_factory=dict)


class Operation:
    """Base class of operations; see the module docstring. `summary`: the torch forms in words (for error
    messages and `testbed list`)."""

    name: ClassVar[str] = ""  # "" for a family base that is not registered itself
    summary: ClassVar[str] = ""
    modules: ClassVar[tuple] = ()
    functions: ClassVar[dict] = {}
    methods: ClassVar[dict] = {}
    evaluate = None  # (engine, node, input values, pass) -> output values, for nodes of the integer graph

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        if cls.name in OPERATIONS:
            raise NetworkError(f"operation {cls.name!r} is already registered ({type(OPERATIONS[cls.name]).__name__})")
        for other in OPERATIONS.values():
            clash = ({m.__name__ for m in cls.modules if m in other.modules}
                     | {str(f) for f in cls.functions if f in other.functions}
                     | {m for m in cls.methods if m in other.methods})
            if clash:
                raise NetworkError(f"operation {cls.name!r}: {', '.join(sorted(clash))} already handled by "
                                   f"{other.name!r}")
        OPERATIONS[cls.name] = cls()

    def from_module(self, mod, node) -> Op:
        """The Op of a call of module `mod` (one of `modules`): by default the module's input alone."""
        return Op(self.name, [node.args[0]])

    def from_call(self, args: dict, node) -> Op:
        """The Op of a call of one of `functions` or `methods`, args bound by parameter name: by default the
        input alone."""
        return Op(self.name, [args["input"]])

    def lower(self, b, op: Op, nd) -> None:
        """Add the integer node(s) of `op` (fx node `nd`) to the Builder `b` (networks.fx_import)."""
        raise NotImplementedError(f"operation {self.name!r} has no integer lowering")


def supported() -> str:
    """The supported torch forms in words, from the registry."""
    return ", ".join(op.summary for op in OPERATIONS.values() if op.summary)


def for_module(mod):
    """The operation that handles module `mod` (its class, else its nearest base class), or None."""
    for t in type(mod).__mro__:
        for op in OPERATIONS.values():
            if t in op.modules:
                return op
    return None


def for_call(node) -> tuple:
    """(operation, parameter names) that handle a call_function or call_method fx node, or (None, ())."""
    table = "methods" if node.op == "call_method" else "functions"
    for op in OPERATIONS.values():
        try:
            names = getattr(op, table).get(node.target)
        except TypeError:  # an unhashable target
            return None, ()
        if names is not None:
            return op, names
    return None, ()


def graph_operations() -> list[str]:
    """Names of the operations that are nodes of the integer graph (those the engine evaluates)."""
    return [name for name, op in OPERATIONS.items() if op.evaluate is not None]


def unsupported(node, why: str = "unsupported operation") -> NetworkError:
    """One-line NetworkError naming fx node `node`, why, and what is supported."""
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
    return NetworkError(f"node {node.name!r} ({node.op} {target}): {why}; supported: {supported()}")
