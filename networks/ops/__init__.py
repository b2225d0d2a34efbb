"""Operations of the integer graph, one registered class each with its torch forms (module, `F.*`, `aten.*`,
tensor methods), its integer lowering and its integer evaluation; the registry `OPERATIONS` is both the
importer's table (networks.fx_import) and the engine's (networks.engine). Adding an operation is one subclass of
`Operation` (or of `PiecewiseLinear` for a piecewise-linear function), defined anywhere before the import.
A torch operation that lowers to a node of another (ReLU to clamp) subclasses that node's family (ClampForm,
Averaging)."""

from networks.ops import multiply as _multiply  # noqa: F401 (registers Linear, Conv1d, Conv2d first)
from networks.ops.activation import Clamp, ClampForm, PiecewiseLinear, piecewise
from networks.ops.base import OPERATIONS, Op, Operation, for_call, for_module, graph_operations, supported, unsupported
from networks.ops.clamps import Hardtanh, ReLU, ReLU6
from networks.ops.multiply import BatchNorm, Conv1d, Conv2d, Linear, Multiply
from networks.ops.pool import AdaptiveAvgPool, Averaging, AvgPool, AvgPoolForm, MaxPool, SpatialMean
from networks.ops.structure import Add, Cat, Input, Output, Pass, Reshape

__all__ = ["OPERATIONS", "AdaptiveAvgPool", "Add", "Averaging", "AvgPool", "AvgPoolForm", "BatchNorm", "Cat", "Clamp",
           "ClampForm", "Conv1d", "Conv2d", "Hardtanh", "Input", "Linear", "MaxPool", "Multiply", "Op", "Operation",
           "Output", "Pass", "PiecewiseLinear", "ReLU", "ReLU6", "Reshape", "SpatialMean", "for_call", "for_module",
           "graph_operations", "piecewise", "supported", "unsupported"]
