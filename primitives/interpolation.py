"""Binary/ternary elementwise primitives that mix values: interp, clip, maximum, minimum, pow, gt.

``gt`` is the language's only comparison: 1.0 where x > y, else 0.0 (also for NaN), so a
rule selects between branches by arithmetic, ``c * a + (1 - c) * b``, as LAMB's trust-ratio
guard and AdamP's projection test need.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from primitives._safe import Value, np_scalar, tensor_like
from primitives.spec import Primitive


def interp(x: Value, y: Value, a: Value) -> Value:
    return (1 - a) * x + a * y


def clip(x: Value, c: Value) -> Value:
    bound = torch.abs(tensor_like(c, x))
    return torch.minimum(torch.maximum(tensor_like(x, c), -bound), bound)


def maximum(x: Value, y: Value) -> Value:
    return torch.maximum(tensor_like(x, y), tensor_like(y, x))


def minimum(x: Value, y: Value) -> Value:
    return torch.minimum(tensor_like(x, y), tensor_like(y, x))


def pow_(x: Value, y: Value) -> Value:
    base = torch.abs(x) if isinstance(x, torch.Tensor) else abs(x)
    return torch.pow(base, y)


def gt(x: Value, y: Value) -> Value:
    if not isinstance(x, torch.Tensor) and not isinstance(y, torch.Tensor):
        return 1.0 if x > y else 0.0
    return torch.gt(tensor_like(x, y), tensor_like(y, x)).to(torch.result_type(x, y))


def _interp_np(x, y, a):
    return (1 - a) * x + a * y


def _clip_np(x, c):
    return np.minimum(np.maximum(x, -np.abs(c)), np.abs(c))


def _pow_np(x, y):
    return np.power(np.abs(x), y)


def _gt_np(x, y):
    return np.float64(1.0) if x > y else np.float64(0.0)


def _sp_interp(x, y, a):
    return (1 - a) * x + a * y


def _sp_clip(x, c):
    return sp.Max(-sp.Abs(c), sp.Min(x, sp.Abs(c)))


def _sp_pow(x, y):
    return sp.Abs(x) ** y


def _sp_gt(x, y):
    return sp.Piecewise((1, sp.StrictGreaterThan(x, y)), (0, True))


ENTRIES: tuple[Primitive, ...] = (
    Primitive("interp", 3, "elementwise", interp, np_scalar(_interp_np), _sp_interp,
              "((1 - {2}) * {0} + {2} * {1})", "((1.0 - {2}) * {0} + {2} * {1})",
              "(1 - a) * x + a * y: an exponential moving average step", weight=2.0),
    Primitive("clip", 2, "elementwise", clip, np_scalar(_clip_np), _sp_clip,
              "_clip({0}, {1})",
              "tl.minimum(tl.maximum({0}, -tl.abs({1}), propagate_nan=tl.PropagateNan.ALL), "
              "tl.abs({1}), propagate_nan=tl.PropagateNan.ALL)",
              "x clamped to [-|c|, |c|]"),
    Primitive("maximum", 2, "elementwise", maximum, np_scalar(np.maximum), sp.Max,
              "_maximum({0}, {1})",
              "tl.maximum({0}, {1}, propagate_nan=tl.PropagateNan.ALL)", "elementwise max",
              weight=0.7),
    Primitive("minimum", 2, "elementwise", minimum, np_scalar(np.minimum), sp.Min,
              "_minimum({0}, {1})",
              "tl.minimum({0}, {1}, propagate_nan=tl.PropagateNan.ALL)", "elementwise min",
              weight=0.7),
    Primitive("pow", 2, "elementwise", pow_, np_scalar(_pow_np), _sp_pow,
              "torch.pow(abs({0}), {1})", "libdevice.pow(tl.abs({0}), {1})",
              "|x| ** y (safe power: the base's sign is dropped)", infix="**", weight=0.5),
    Primitive("gt", 2, "elementwise", gt, np_scalar(_gt_np), _sp_gt,
              "({0} > {1}).to(torch.result_type({0}, {1}))", "tl.where({0} > {1}, 1.0, 0.0)",
              "1.0 where x > y, else 0.0 (NaN compares false): a branch-free condition",
              weight=0.3),
)
