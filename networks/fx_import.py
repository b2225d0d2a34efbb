"""Import a float torch module as an integer model graph: traced with torch.fx, calibrated, quantized.

`from_torch(module, calibration)` traces the module (torch.fx symbolic tracing; a torch.export graph module of
ATen operations is read as it is), runs it on the calibration inputs (float, in [0, 1]) to record every value,
then converts node by node: each fx node is first described as one of the kinds below (modules by class,
functions by FUNCTIONS, methods by METHODS), then the kinds become integer nodes (networks.graph).

- multiply (Linear, Conv1d, Conv2d with stride, padding, dilation, groups): weights per output channel
  symmetric `weight_bits` (or the steps of a networks.quant.WeightQuantizer the module carries), a BatchNorm
  right after it folded in (w' = w g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps) + beta), and a ReLU /
  ReLU6 / Hardtanh right after that fused as the output clamp; output scale = calibrated peak / (2^act_bits - 1).
- act (ReLU, ReLU6, Hardtanh elsewhere): an integer clamp at its input's scale.
- maxpool, avgpool (fixed and adaptive, 1-D and 2-D, a mean over spatial dimensions): integer maximum;
  integer window sums times a per-position multiply-and-shift by 1 / window size (the scale is kept).
- reshape (Flatten, Unflatten, flatten, view, reshape), add and cat (branches requantized to a common scale by
  multiply-and-shift; an activation after an add is fused), pass (Dropout, Identity, contiguous).
Shape arithmetic (x.size(0), ...) is folded away. Anything else: NetworkError naming the node.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from networks.errors import NetworkError
from networks.graph import IntegerModel, IntLayer, Node, quantize_weights, requantizer, weight_width

aten = torch.ops.aten

SUPPORTED = ("Linear, Conv1d, Conv2d, BatchNorm1d/2d (folded), ReLU, ReLU6, Hardtanh, MaxPool1d/2d, AvgPool1d/2d, "
             "AdaptiveAvgPool1d/2d, spatial mean, Flatten/Unflatten/flatten/view/reshape, add, cat, Dropout, Identity")


@dataclass
class Op:
    """One fx node described: kind, the fx nodes of its tensor inputs, its parameters."""

    kind: str  # input | multiply | bn | act | maxpool | avgpool | reshape | add | cat | pass | output
    inputs: list
    params: dict = field(default_factory=dict)


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
                           f"{SUPPORTED}") from None


def _unsupported(node, why: str = "unsupported operation") -> NetworkError:
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
    return NetworkError(f"node {node.name!r} ({node.op} {target}): {why}; supported: {SUPPORTED}")


def _bind(node, names: tuple, values: dict) -> dict:
    """Arguments of a call by parameter name ('self' read as 'input'); parameters (get_attr nodes) as tensors."""
    out = dict(zip(names, node.args, strict=False))
    out.update({("input" if k == "self" else k): v for k, v in node.kwargs.items()})
    return {k: values[v.name] if isinstance(v, fx.Node) and v.op == "get_attr" else v for k, v in out.items()}


def _tuple(v, d: int) -> tuple:
    return tuple(int(t) for t in v) if isinstance(v, (tuple, list)) else (int(v),) * d


def _multiply_params(kind, weight, bias, stride=1, padding=0, dilation=1, groups=1, name="", quant=None) -> dict:
    d = {"linear": 0, "conv1d": 1, "conv2d": 2}[kind]
    if isinstance(padding, str):
        raise NetworkError(f"layer {name}: padding {padding!r} is not supported (give integer padding)")
    return {"kind": kind, "weight": weight.detach(), "bias": None if bias is None else bias.detach(),
            "stride": _tuple(stride, d), "padding": _tuple(padding, d), "dilation": _tuple(dilation, d),
            "groups": int(groups), "name": name, "quant": quant}


def _module_op(node, mod) -> Op:
    x = node.args[0] if node.args else None
    if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        kind = "linear" if isinstance(mod, nn.Linear) else "conv1d" if isinstance(mod, nn.Conv1d) else "conv2d"
        if kind != "linear" and mod.padding_mode != "zeros":
            raise _unsupported(node, f"padding_mode {mod.padding_mode!r}")
        quant = getattr(mod, "quant", None)
        params = (_multiply_params(kind, mod.weight, mod.bias, name=node.target, quant=quant) if kind == "linear" else
                  _multiply_params(kind, mod.weight, mod.bias, mod.stride, mod.padding, mod.dilation, mod.groups,
                                   node.target, quant))
        return Op("multiply", [x], params)
    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return Op("bn", [x], {"weight": mod.weight, "bias": mod.bias, "mean": mod.running_mean,
                              "var": mod.running_var, "eps": mod.eps})
    if isinstance(mod, nn.ReLU6):
        return Op("act", [x], {"lo": 0.0, "hi": 6.0})
    if isinstance(mod, nn.Hardtanh):
        return Op("act", [x], {"lo": float(mod.min_val), "hi": float(mod.max_val)})
    if isinstance(mod, nn.ReLU):
        return Op("act", [x], {"lo": 0.0, "hi": math.inf})
    if isinstance(mod, (nn.MaxPool1d, nn.MaxPool2d)):
        d = 1 if isinstance(mod, nn.MaxPool1d) else 2
        return Op("maxpool", [x], {"fn": f"max_pool{d}d", "kwargs": {
            "kernel_size": mod.kernel_size, "stride": mod.stride, "padding": mod.padding,
            "dilation": mod.dilation, "ceil_mode": mod.ceil_mode}})
    if isinstance(mod, (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        return Op("avgpool", [x], {"fn": mod})
    if isinstance(mod, (nn.Flatten, nn.Unflatten)):
        return Op("reshape", [x])
    if isinstance(mod, (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)):
        return Op("pass", [x])
    raise _unsupported(node, f"module {type(mod).__name__} is not supported")


_CONV = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_MAXPOOL = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
_AVGPOOL = ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
_RELU = {"lo": 0.0, "hi": math.inf}


def _multiply_fn(kind):
    return lambda a, node: Op("multiply", [a["input"]], _multiply_params(
        kind, a["weight"], a.get("bias"), a.get("stride", 1), a.get("padding", 0), a.get("dilation", 1),
        a.get("groups", 1), _module_path(node)))


def _bn_fn(a, node):
    return Op("bn", [a["input"]], {"weight": a.get("weight"), "bias": a.get("bias"), "mean": a["running_mean"],
                                   "var": a["running_var"], "eps": float(a.get("eps", 1e-5))})


def _maxpool_fn(name):
    def make(a, node):
        kwargs = {k: a[k] for k in _MAXPOOL[1:] if a.get(k) not in (None, [], ())}
        return Op("maxpool", [a["input"]], {"fn": name, "kwargs": kwargs})
    return make


def _avgpool_fn(fn):
    def make(a, node):
        rest = {k: v for k, v in a.items() if k != "input"}
        return Op("avgpool", [a["input"]], {"fn": lambda v: fn(v, **rest)})
    return make


def _add_fn(a, node):
    return Op("add", [a["input"], a["other"]])


def _cat_fn(a, node):
    return Op("cat", list(a["tensors"]), {"dim": int(a.get("dim", 0))})


def _mean_fn(a, node):
    """x.mean(dims) over spatial dims (not batch, not channels): an average pool over them."""
    dims = a.get("dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    keep = bool(a.get("keepdim", False))
    if dims == (None,) or any(d in (0, 1) for d in dims):
        raise _unsupported(node, "mean over the batch or channel dimension")
    return Op("avgpool", [a["input"]], {"fn": lambda v: v.mean(dim=dims, keepdim=keep)})


def _same(kind, params=None):
    return lambda a, node: Op(kind, [a["input"]], dict(params or {}))


# call_function targets: (parameter names, maker of the Op from the bound arguments)
FUNCTIONS = {
    F.linear: (("input", "weight", "bias"), _multiply_fn("linear")),
    aten.linear.default: (("input", "weight", "bias"), _multiply_fn("linear")),
    F.conv1d: (_CONV, _multiply_fn("conv1d")), aten.conv1d.default: (_CONV, _multiply_fn("conv1d")),
    F.conv2d: (_CONV, _multiply_fn("conv2d")), aten.conv2d.default: (_CONV, _multiply_fn("conv2d")),
    F.batch_norm: (("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
                   _bn_fn),
    aten.batch_norm.default: (("input", "weight", "bias", "running_mean", "running_var", "training", "momentum",
                               "eps"), _bn_fn),
    F.relu: (("input",), _same("act", _RELU)), torch.relu: (("input",), _same("act", _RELU)),
    aten.relu.default: (("input",), _same("act", _RELU)), aten.relu_.default: (("input",), _same("act", _RELU)),
    F.relu6: (("input",), _same("act", {"lo": 0.0, "hi": 6.0})),
    aten.relu6.default: (("input",), _same("act", {"lo": 0.0, "hi": 6.0})),
    F.hardtanh: (("input", "min_val", "max_val"), lambda a, node: Op("act", [a["input"]], {
        "lo": float(a.get("min_val", -1.0)), "hi": float(a.get("max_val", 1.0))})),
    aten.hardtanh.default: (("input", "min_val", "max_val"), lambda a, node: Op("act", [a["input"]], {
        "lo": float(a.get("min_val", -1.0)), "hi": float(a.get("max_val", 1.0))})),
    F.max_pool1d: (_MAXPOOL, _maxpool_fn("max_pool1d")), F.max_pool2d: (_MAXPOOL, _maxpool_fn("max_pool2d")),
    aten.max_pool1d.default: (_MAXPOOL, _maxpool_fn("max_pool1d")),
    aten.max_pool2d.default: (_MAXPOOL, _maxpool_fn("max_pool2d")),
    F.avg_pool1d: (_AVGPOOL[:-1], _avgpool_fn(F.avg_pool1d)), F.avg_pool2d: (_AVGPOOL, _avgpool_fn(F.avg_pool2d)),
    aten.avg_pool1d.default: (_AVGPOOL[:-1], _avgpool_fn(aten.avg_pool1d.default)),
    aten.avg_pool2d.default: (_AVGPOOL, _avgpool_fn(aten.avg_pool2d.default)),
    F.adaptive_avg_pool1d: (("input", "output_size"), _avgpool_fn(F.adaptive_avg_pool1d)),
    F.adaptive_avg_pool2d: (("input", "output_size"), _avgpool_fn(F.adaptive_avg_pool2d)),
    aten.adaptive_avg_pool1d.default: (("input", "output_size"), _avgpool_fn(aten.adaptive_avg_pool1d.default)),
    aten.adaptive_avg_pool2d.default: (("input", "output_size"), _avgpool_fn(aten.adaptive_avg_pool2d.default)),
    torch.flatten: (("input",), _same("reshape")), torch.reshape: (("input",), _same("reshape")),
    aten.flatten.using_ints: (("input",), _same("reshape")), aten.view.default: (("input",), _same("reshape")),
    aten.reshape.default: (("input",), _same("reshape")),
    F.dropout: (("input",), _same("pass")), aten.dropout.default: (("input",), _same("pass")),
    aten.clone.default: (("input",), _same("pass")),
    operator.add: (("input", "other"), _add_fn), torch.add: (("input", "other"), _add_fn),
    aten.add.Tensor: (("input", "other"), _add_fn),
    torch.cat: (("tensors", "dim"), _cat_fn), aten.cat.default: (("tensors", "dim"), _cat_fn),
    torch.mean: (("input", "dim", "keepdim"), _mean_fn), aten.mean.dim: (("input", "dim", "keepdim"), _mean_fn),
}

# call_method targets (x.view(...), ...)
METHODS = {"view": _same("reshape"), "reshape": _same("reshape"), "flatten": _same("reshape"),
           "relu": _same("act", _RELU), "contiguous": _same("pass"), "add": _add_fn, "mean": _mean_fn}


def _function_op(node, values) -> Op:
    if node.op == "call_method":
        if node.target not in METHODS:
            raise _unsupported(node)
        names = ("input", "dim", "keepdim") if node.target == "mean" else ("input", "other")
        return METHODS[node.target](_bind(node, names, values), node)
    try:
        names, make = FUNCTIONS[node.target]
    except (KeyError, TypeError):
        raise _unsupported(node) from None
    if node.target in (operator.add, torch.add, aten.add.Tensor) and node.kwargs.get("alpha", 1) != 1:
        raise _unsupported(node, "add with alpha")
    return make(_bind(node, names, values), node)


def _module_path(node) -> str:
    """The module path of a node of a torch.export graph (its nn_module_stack), else the node's name."""
    stack = node.meta.get("nn_module_stack")
    return list(stack.values())[-1][0] if stack else node.name


def describe(node, gm, values) -> Op | None:
    """The Op of one fx node; None for nodes that compute no tensor of the data path (shapes, parameters)."""
    v = values.get(node.name)
    if node.op in ("get_attr",) or (node.op != "output" and not isinstance(v, torch.Tensor)
                                    and _is_shape_value(v)):
        return None
    if node.op == "placeholder":
        return Op("input", [])
    if node.op == "output":
        return Op("output", [node.args[0]])
    if node.op == "call_module":
        return _module_op(node, gm.get_submodule(node.target))
    return _function_op(node, values)


def _is_shape_value(v) -> bool:
    if v is None or isinstance(v, (int, float, bool, torch.Size)):
        return True
    return isinstance(v, (tuple, list)) and all(isinstance(t, (int, float)) for t in v)


@dataclass
class _Value:
    """An integer value of the graph being built: its node, scale, and whether it may be negative."""

    node: str
    scale: float
    signed: bool


class _Builder:
    def __init__(self, gm, values, act_bits, weight_bits, shift_bits):
        self.gm, self.values = gm, values
        self.amax = 2 ** act_bits - 1
        self.weight_bits, self.shift_bits = weight_bits, shift_bits
        self.nodes: list[Node] = []
        self.env: dict[str, _Value] = {}
        self.ops: dict = {}

    def users(self, node) -> list:
        """Users of a node on the data path (shape reads excluded)."""
        return [u for u in node.users if self.ops.get(u.name) is not None]

    def follow(self, node, kinds) -> tuple:
        """(next node, its Op) when `node` has exactly one data user and its kind is in `kinds`, else (None, None)."""
        users = self.users(node)
        if len(users) == 1 and self.ops[users[0].name].kind in kinds:
            return users[0], self.ops[users[0].name]
        return None, None

    def value(self, node) -> _Value:
        if not isinstance(node, fx.Node) or node.name not in self.env:
            raise NetworkError(f"node {getattr(node, 'name', node)!r}: a tensor input that is not computed from the "
                               "network input (a constant or parameter) is not supported")
        return self.env[node.name]

    def float_of(self, node) -> np.ndarray:
        return self.values[node.name].detach().double().numpy()

    def out_scale(self, node) -> float:
        return max(float(np.abs(self.float_of(node)).max(initial=0.0)), 1e-12) / self.amax

    def clamp(self, scale, lo, hi) -> tuple:
        lo_i = -self.amax if lo == -math.inf else max(-self.amax, round(lo / scale))
        hi_i = self.amax if hi == math.inf else min(self.amax, round(hi / scale))
        return (int(lo_i), int(hi_i))

    def add(self, node: Node, *fx_nodes) -> None:
        self.nodes.append(node)
        for f in fx_nodes:
            self.env[f.name] = _Value(node.name, node.scale, node.signed)

    def build(self, op: Op, nd) -> None:
        getattr(self, f"_{op.kind}")(op, nd)

    def _input(self, op, nd):
        self.add(Node("input", "input", scale=1.0 / self.amax), nd)

    def _pass(self, op, nd):
        self.env[nd.name] = self.value(op.inputs[0])

    def _output(self, op, nd):
        out = op.inputs[0]
        if isinstance(out, (tuple, list)) and len(out) == 1:  # torch.export returns a tuple
            out = out[0]
        if not isinstance(out, fx.Node):
            raise _unsupported(nd, "the module must return one tensor")
        self.output = self.value(out)

    def _bn(self, op, nd):
        raise _unsupported(nd, "a BatchNorm must follow a Linear or Conv (it is folded into it)")

    def _act(self, op, nd):
        src = self.value(op.inputs[0])
        lo, hi = self.clamp(src.scale, op.params["lo"], op.params["hi"])
        self.add(Node(nd.name, "clamp", (src.node,), params={"clamp": (lo, hi)}, scale=src.scale, signed=lo < 0), nd)

    def _reshape(self, op, nd):
        src = self.value(op.inputs[0])
        shape = tuple(self.values[nd.name].shape)
        if shape[0] != self.values[op.inputs[0].name].shape[0]:
            raise _unsupported(nd, f"a reshape must keep the batch dimension (got {shape})")
        self.add(Node(nd.name, "reshape", (src.node,), params={"shape": shape[1:]}, scale=src.scale,
                      signed=src.signed), nd)

    def _maxpool(self, op, nd):
        src = self.value(op.inputs[0])
        self.add(Node(nd.name, "maxpool", (src.node,), params=op.params, scale=src.scale, signed=src.signed), nd)

    def _avgpool(self, op, nd):
        """0/1 pooling matrix and divisors read off the float pooling of a one-hot basis."""
        src = self.value(op.inputs[0])
        shape = tuple(self.values[op.inputs[0].name].shape[2:])
        size = int(np.prod(shape))
        basis = torch.eye(size, dtype=torch.float64).reshape(size, 1, *shape)
        with torch.no_grad():
            pooled = op.params["fn"](basis)
        out_shape = tuple(pooled.shape[2:])
        weights = pooled.reshape(size, -1).numpy()
        matrix = (weights > 0).astype(np.float64)
        divisor = np.round(1.0 / weights.max(axis=0)).astype(np.int64)
        if np.abs(weights - matrix / divisor).max() > 1e-9:
            raise _unsupported(nd, "pooling weights are not 1 / window size")
        mult, shift = requantizer(1.0 / divisor, self.shift_bits)
        self.add(Node(nd.name, "avgpool", (src.node,), params={"matrix": matrix, "mult": mult, "shift": shift,
                                                               "out_shape": out_shape},
                      scale=src.scale, signed=src.signed), nd)

    def _add(self, op, nd):
        srcs = [self.value(x) for x in op.inputs]
        last, lo, hi = nd, -math.inf, math.inf
        act_node, act = self.follow(nd, ("act",))
        if act_node is not None:
            last, lo, hi = act_node, act.params["lo"], act.params["hi"]
        scale = self.out_scale(last)
        mults, shift = requantizer(np.array([s.scale / scale for s in srcs]), self.shift_bits)
        lo_i, hi_i = self.clamp(scale, lo, hi)
        self.add(Node(nd.name, "add", tuple(s.node for s in srcs),
                      params={"mults": [int(m) for m in mults], "shift": shift, "clamp": (lo_i, hi_i)},
                      scale=scale, signed=lo_i < 0), nd, last)

    def _cat(self, op, nd):
        srcs = [self.value(x) for x in op.inputs]
        rank = self.values[nd.name].dim()
        dim = op.params["dim"] % rank
        if dim == 0:
            raise _unsupported(nd, "concatenation along the batch dimension")
        scale = max(s.scale for s in srcs)
        mults, shift = requantizer(np.array([s.scale / scale for s in srcs]), self.shift_bits)
        self.add(Node(nd.name, "cat", tuple(s.node for s in srcs),
                      params={"mults": [int(m) for m in mults], "shift": shift, "dim": dim},
                      scale=scale, signed=any(s.signed for s in srcs)), nd)

    def _multiply(self, op, nd):
        p = op.params
        src = self.value(op.inputs[0])
        if p["kind"] == "linear" and self.values[op.inputs[0].name].dim() != 2:
            raise _unsupported(nd, "a Linear layer needs a (batch, features) input; flatten before it")
        w = p["weight"].double()
        b = p["bias"].double() if p["bias"] is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        steps = None
        if p["quant"] is not None and p["quant"].mode != "float":
            q = p["quant"]
            with torch.no_grad():
                q.eval()
                w = q(p["weight"].detach()).double()
                steps = q.current_steps(p["weight"].detach()).double()
                steps = torch.where(steps > 0, steps, torch.ones_like(steps))
        fused = [nd]
        bn_node, bn = self.follow(nd, ("bn",))
        if bn_node is not None:
            bp = bn.params
            g = (bp["weight"].detach().double() if bp["weight"] is not None else torch.ones_like(bp["mean"]).double())
            beta = bp["bias"].detach().double() if bp["bias"] is not None else torch.zeros_like(g)
            f = g / torch.sqrt(bp["var"].double() + bp["eps"])
            w = w * f.view(-1, *([1] * (w.dim() - 1)))
            b = (b - bp["mean"].double()) * f + beta
            if steps is not None:
                steps = steps * f.abs()
            fused.append(bn_node)
        lo, hi = -math.inf, math.inf
        act_node, act = self.follow(fused[-1], ("act",))
        if act_node is not None:
            lo, hi = act.params["lo"], act.params["hi"]
            fused.append(act_node)
        w2 = w.reshape(w.shape[0], -1).numpy()
        w_int, steps_np = quantize_weights(w2, self.weight_bits, None if steps is None else steps.numpy())
        w_int = w_int.astype(np.int64)
        acc_scale = steps_np * src.scale
        bias = np.round(b.numpy() / acc_scale).astype(np.int64)
        logits = act_node is None and [u.op for u in self.users(fused[-1])] == ["output"]
        if logits:
            out_scale, clamp = float(acc_scale.max()), None
        else:
            out_scale = self.out_scale(fused[-1])
            clamp = self.clamp(out_scale, lo, hi)
        mult, shift = requantizer(acc_scale / out_scale, self.shift_bits)
        kernel = tuple(p["weight"].shape[2:]) or (1,)
        layer = IntLayer(p["kind"], w_int, bias, mult, shift, clamp, steps_np, src.scale, out_scale,
                         weight_width(w_int), name=p["name"], kernel=kernel, stride=p["stride"] or (1,),
                         padding=p["padding"] or (0,), dilation=p["dilation"] or (1,), groups=p["groups"],
                         signed_input=src.signed)
        self.add(Node(p["name"], p["kind"], (src.node,), layer, scale=out_scale,
                      signed=clamp is None or clamp[0] < 0), *fused)


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
    b = _Builder(gm, recorder.values, act_bits, weight_bits, shift_bits)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise NetworkError(f"{type(module).__name__}: the module must take one input tensor, it takes "
                           f"{len(placeholders)}")
    for nd in gm.graph.nodes:
        b.ops[nd.name] = describe(nd, gm, recorder.values)
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
