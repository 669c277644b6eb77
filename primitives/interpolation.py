"""Binary/ternary elementwise primitives that mix values: interp, clip, maximum, minimum, pow."""

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


def _interp_np(x, y, a):
    return (1 - a) * x + a * y


def _clip_np(x, c):
    return np.minimum(np.maximum(x, -np.abs(c)), np.abs(c))


def _pow_np(x, y):
    return np.power(np.abs(x), y)


def _sp_interp(x, y, a):
    return (1 - a) * x + a * y


def _sp_clip(x, c):
    return sp.Max(-sp.Abs(c), sp.Min(x, sp.Abs(c)))


def _sp_pow(x, y):
    return sp.Abs(x) ** y


ENTRIES: tuple[Primitive, ...] = (
    Primitive("interp", 3, "elementwise", interp, np_scalar(_interp_np), _sp_interp,
              "((1 - {2}) * {0} + {2} * {1})", "((1.0 - {2}) * {0} + {2} * {1})",
              "(1 - a) * x + a * y: an exponential moving average step", weight=2.0),
    Primitive("clip", 2, "elementwise", clip, np_scalar(_clip_np), _sp_clip,
              "torch.clamp({0}, -torch.abs({1}), torch.abs({1}))",
              "tl.minimum(tl.maximum({0}, -tl.abs({1})), tl.abs({1}))",
              "x clamped to [-|c|, |c|]"),
    Primitive("maximum", 2, "elementwise", maximum, np_scalar(np.maximum), sp.Max,
              "torch.maximum({0}, {1})", "tl.maximum({0}, {1})", "elementwise max",
              weight=0.7),
    Primitive("minimum", 2, "elementwise", minimum, np_scalar(np.minimum), sp.Min,
              "torch.minimum({0}, {1})", "tl.minimum({0}, {1})", "elementwise min",
              weight=0.7),
    Primitive("pow", 2, "elementwise", pow_, np_scalar(_pow_np), _sp_pow,
              "torch.pow(torch.abs({0}), {1})", "libdevice.pow(tl.abs({0}), {1})",
              "|x| ** y (safe power: the base's sign is dropped)", infix="**", weight=0.5),
)
