"""Import a float torch module as an integer model graph: traced with torch.fx, calibrated, quantized.

`from_torch(module, calibration)` traces the module (torch.fx symbolic tracing; a torch.export graph module of
ATen operations is read as it is), runs it on the calibration inputs (float, in [0, 1]) to record every value,
then converts node by node: each fx node is described as an Op by the operation of networks.ops that handles
its module, function or method (the registry `OPERATIONS`: an operation is one class there, with its torch
forms and its integer lowering), then each Op is lowered to integer nodes (networks.graph) with a `Builder`.
Shape arithmetic (x.size(0), ...) is folded away, and so are computations on parameters alone (a weight times
its mask). Anything else: NetworkError naming the node and listing what
is supported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from networks.errors import NetworkError
from networks.graph import IntegerModel, Node
from networks.ops import OPERATIONS, Op, for_call, for_module, supported, unsupported


class _Tracer(fx.Tracer):
    """Keeps every Linear / Conv (subclasses with quantizers included) a leaf."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) or super().is_leaf_module(m, qualname)


class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.values: dict = {}

    def run_node(self, n):
        if n.op == "call_module" and n.target == "_guards_fn":  # torch.export's input checks
            return None
        out = super().run_node(n)
        self.values[n.name] = out
        return out


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def trace(module: nn.Module) -> fx.GraphModule:
    """The fx graph module of `module` (graph modules are used as they are)."""
    if isinstance(module, fx.GraphModule):
        return module
    try:
        return fx.GraphModule(module, _Tracer().trace(module))
    except Exception as exc:  # torch.fx raises many kinds for untraceable Python
        raise NetworkError(f"cannot trace {type(module).__name__} with torch.fx ({_one_line(exc)}); supported: "
                           f"{supported()}") from None


def _bind(node, names: tuple, values: dict, constants: set) -> dict:
    """Arguments of a call by parameter name ('self' read as 'input'); parameters and constants as tensors."""
    out = dict(zip(names, node.args, strict=False))
    out.update({("input" if k == "self" else k): v for k, v in node.kwargs.items()})
    return {k: values[v.name] if isinstance(v, fx.Node) and v.name in constants else v for k, v in out.items()}


RANDOM = ("rand", "normal", "bernoulli", "uniform", "multinomial", "poisson", "exponential", "dropout")


def constants(gm: fx.GraphModule) -> set:
    """Names of the nodes that do not depend on the input: parameters (get_attr) and deterministic calls on them
    alone, such as a weight times its mask in an exported graph (folded: their calibration values are used as
    constants; a random draw (RANDOM in its name) is not folded, and stays unsupported)."""
    out: set = set()
    for nd in gm.graph.nodes:
        if nd.op == "get_attr" or (nd.op in ("call_function", "call_method") and nd.all_input_nodes
                                   and all(a.name in out for a in nd.all_input_nodes)
                                   and not any(r in str(nd.target) for r in RANDOM)):
            out.add(nd.name)
    return out


def describe(node, gm, values, consts: set = frozenset()) -> Op | None:
    """The Op of one fx node; None for nodes that compute no tensor of the data path (shapes, parameters,
    constants: `consts`)."""
    v = values.get(node.name)
    if node.name in consts or (node.op != "output" and not isinstance(v, torch.Tensor) and _is_shape_value(v)):
        return None
    if node.op == "placeholder":
        return Op("input", [])
    if node.op == "output":
        return Op("output", [node.args[0]])
    if node.op == "call_module":
        mod = gm.get_submodule(node.target)
        op = for_module(mod)
        if op is None:
            raise unsupported(node, f"module {type(mod).__name__} is not supported")
        return op.from_module(mod, node)
    op, names = for_call(node)
    if op is None:
        raise unsupported(node)
    return op.from_call(_bind(node, names, values, consts), node)


def _is_shape_value(v) -> bool:
    if v is None or isinstance(v, (int, float, bool, torch.Size)):
        return True
    return isinstance(v, (tuple, list)) and all(isinstance(t, (int, float)) for t in v)


@dataclass
class Value:
    """An integer value of the graph being built: its node, scale, and whether it may be negative."""

    node: str
    scale: float
    signed: bool


class Builder:
    """The integer graph being built, as the operations' `lower` methods see it: `values` (fx node name ->
    calibration tensor), `env` (fx node name -> Value), `ops` (fx node name -> Op or None), `amax` = 2^act_bits - 1,
    `weight_bits`, `shift_bits`, `nodes` (integer nodes so far), `output` (the Value returned)."""

    def __init__(self, gm, values, act_bits, weight_bits, shift_bits):
        self.gm, self.values = gm, values
        self.amax = 2 ** act_bits - 1
        self.weight_bits, self.shift_bits = weight_bits, shift_bits
        self.nodes: list[Node] = []
        self.env: dict[str, Value] = {}
        self.ops: dict = {}

    def users(self, node) -> list:
        """Users of a node on the data path (shape reads excluded)."""
        return [u for u in node.users if self.ops.get(u.name) is not None]

    def follow(self, node, family: type) -> tuple:
        """(next node, its Op) when `node` has exactly one data user and its operation is a `family` (an Operation
        class), else (None, None)."""
        users = self.users(node)
        if len(users) == 1 and isinstance(OPERATIONS[self.ops[users[0].name].kind], family):
            return users[0], self.ops[users[0].name]
        return None, None

    def value(self, node) -> Value:
        if not isinstance(node, fx.Node) or node.name not in self.env:
            raise NetworkError(f"node {getattr(node, 'name', node)!r}: a tensor input that is not computed from the "
                               "network input (a constant or parameter) is not supported")
        return self.env[node.name]

    def float_of(self, node) -> np.ndarray:
        return self.values[node.name].detach().double().numpy()

    def out_scale(self, node) -> float:
        """Calibrated peak |value| of fx node `node` / amax: the scale of an output that spans the whole range."""
        return max(float(np.abs(self.float_of(node)).max(initial=0.0)), 1e-12) / self.amax

    def clamp(self, scale, lo, hi) -> tuple:
        """Integer bounds of the real clamp [lo, hi] at `scale`, within +-amax."""
        lo_i = -self.amax if lo == -math.inf else max(-self.amax, round(lo / scale))
        hi_i = self.amax if hi == math.inf else min(self.amax, round(hi / scale))
        return (int(lo_i), int(hi_i))

    def add(self, node: Node, *fx_nodes) -> None:
        """Append integer node `node`; it is the value of every fx node in `fx_nodes` (fused ones included)."""
        self.nodes.append(node)
        for f in fx_nodes:
            self.env[f.name] = Value(node.name, node.scale, node.signed)

    def build(self, op: Op, nd) -> None:
        OPERATIONS[op.kind].lower(self, op, nd)


def check_widths(act_bits: int, weight_bits: int, acc_bits: int) -> None:
    """NetworkError unless the integer widths of an export are in range (bits)."""
    for name, value, lo, hi in (("act_bits", act_bits, 1, 16), ("weight_bits", weight_bits, 2, 16),
                                ("acc_bits", acc_bits, 8, 62)):
        if not lo <= value <= hi:
            raise NetworkError(f"{name} must be in {lo}..{hi}, got {value}")


def from_torch(module: nn.Module, calibration, *, act_bits: int = 8, weight_bits: int = 8, acc_bits: int = 32,
               shift_bits: int = 30) -> IntegerModel:
    """Integer model of a float torch module (eval mode). calibration: float inputs in [0, 1] shaped
    (N, *input shape); they set every activation scale (peak |value| / (2^act_bits - 1)). Weights: symmetric
    per output channel, `weight_bits` signed bits (or the module's own WeightQuantizer steps)."""
    check_widths(act_bits, weight_bits, acc_bits)
    x = torch.as_tensor(np.asarray(calibration, dtype=np.float32))
    if x.dim() < 2 or len(x) == 0:
        raise NetworkError(f"calibration must be a non-empty batch (N, *input shape), got shape {tuple(x.shape)}")
    gm = trace(module)
    if not isinstance(module, fx.GraphModule):  # a torch.export graph module is already in eval mode
        module.eval()
    recorder = _Recorder(gm)
    try:
        with torch.no_grad():
            recorder.run(x)
    except NetworkError:
        raise
    except Exception as exc:  # the user's module fails on the calibration inputs
        raise NetworkError(f"{type(module).__name__} fails on calibration inputs of shape {tuple(x.shape)} "
                           f"({_one_line(exc)}; a torch.export model needs a dynamic batch dimension)") from None
    b = Builder(gm, recorder.values, act_bits, weight_bits, shift_bits)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise NetworkError(f"{type(module).__name__}: the module must take one input tensor, it takes "
                           f"{len(placeholders)}")
    consts = constants(gm)
    for nd in gm.graph.nodes:
        b.ops[nd.name] = describe(nd, gm, recorder.values, consts)
    for nd in gm.graph.nodes:
        op = b.ops[nd.name]
        if op is not None and nd.name not in b.env:
            b.build(op, nd)
    nodes = _reachable(b.nodes, b.output.node)
    layers = [n.layer for n in nodes if n.layer is not None]
    if not layers:
        raise NetworkError(f"{type(module).__name__} has no Linear or Conv layer")
    return IntegerModel(layers, tuple(x.shape[1:]), act_bits, acc_bits, nodes)


def _reachable(nodes: list[Node], output: str) -> list[Node]:
    """The nodes the output depends on, in order, the output last."""
    by_name = {n.name: n for n in nodes}
    need, todo = set(), [output]
    while todo:
        name = todo.pop()
        if name not in need:
            need.add(name)
            todo.extend(by_name[name].inputs)
    return [n for n in nodes if n.name in need]
