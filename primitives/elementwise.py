"""Elementwise primitives: arithmetic and unary math, each with its safe form.

Safe forms (so that no input makes a primitive raise or produce a value its inputs do
not justify): ``div`` returns 0 where the divisor is 0, ``sqrt`` takes |x|, ``rsqrt`` is
``div(1, sqrt(x))``, ``log`` takes |x| + tiny (tiny = smallest normal of the dtype),
``arcsin`` clamps to [-1, 1], ``pow`` takes |x| as its base. Overflow gives inf, as torch.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch
from torch import Tensor

from primitives._safe import Value, np_scalar, tiny
from primitives.spec import Primitive


# --- torch forms (named functions, not lambdas, so entries import cleanly) -----------
def add(x: Value, y: Value) -> Value:
    return x + y


def sub(x: Value, y: Value) -> Value:
    return x - y


def mul(x: Value, y: Value) -> Value:
    return x * y


def div(x: Value, y: Value) -> Value:
    if not isinstance(y, Tensor):
        if y == 0:
            return x * 0.0
        return x / y
    return torch.where(y == 0, 0.0, x / y)


def neg(x: Value) -> Value:
    return -x


def abs_(x: Tensor) -> Tensor:
    return torch.abs(x)


def sign(x: Tensor) -> Tensor:
    return torch.sign(x)


def sqrt(x: Tensor) -> Tensor:
    return torch.sqrt(torch.abs(x))


def rsqrt(x: Tensor) -> Tensor:
    return torch.where(x == 0, 0.0, torch.rsqrt(torch.abs(x)))


def square(x: Tensor) -> Tensor:
    return x * x


def exp(x: Tensor) -> Tensor:
    return torch.exp(x)


def log(x: Tensor) -> Tensor:
    return torch.log(torch.abs(x) + tiny(x))


def sigmoid(x: Tensor) -> Tensor:
    return torch.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return torch.tanh(x)


def arcsin(x: Tensor) -> Tensor:
    return torch.asin(torch.clamp(x, -1.0, 1.0))


def arctan(x: Tensor) -> Tensor:
    return torch.atan(x)


def sinh(x: Tensor) -> Tensor:
    return torch.sinh(x)


def cosh(x: Tensor) -> Tensor:
    return torch.cosh(x)


def sin(x: Tensor) -> Tensor:
    return torch.sin(x)


def cos(x: Tensor) -> Tensor:
    return torch.cos(x)


# --- scalar forms ---------------------------------------------------------------------
def _div_np(x, y):
    return np.float64(0.0) * x if y == 0 else x / y


def _sqrt_np(x):
    return np.sqrt(np.abs(x))


def _sigmoid_np(x):
    return 1.0 / (1.0 + np.exp(-x))


def _rsqrt_np(x):
    return np.float64(0.0) if x == 0 else 1.0 / np.sqrt(np.abs(x))


def _log_np(x):
    return np.log(np.abs(x) + np.finfo(np.float64).tiny)


def _asin_np(x):
    return np.arcsin(np.clip(x, -1.0, 1.0))


# --- sympy forms ----------------------------------------------------------------------
def _sp_add(x, y):
    return x + y


def _sp_sub(x, y):
    return x - y


def _sp_mul(x, y):
    return x * y


def _sp_div(x, y):
    return x / y


def _sp_neg(x):
    return -x


def _sp_sqrt(x):
    return sp.sqrt(sp.Abs(x))


def _sp_rsqrt(x):
    return 1 / sp.sqrt(sp.Abs(x))


def _sp_square(x):
    return x**2


def _sp_log(x):
    return sp.log(sp.Abs(x))


def _sp_sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def _sp_asin(x):
    return sp.asin(sp.Max(-1, sp.Min(1, x)))


ENTRIES: tuple[Primitive, ...] = (
    Primitive("add", 2, "elementwise", add, np_scalar(np.add), _sp_add,
              "({0} + {1})", "({0} + {1})", "x + y", infix="+", weight=2.0),
    Primitive("sub", 2, "elementwise", sub, np_scalar(np.subtract), _sp_sub,
              "({0} - {1})", "({0} - {1})", "x - y", infix="-", weight=2.0),
    Primitive("mul", 2, "elementwise", mul, np_scalar(np.multiply), _sp_mul,
              "({0} * {1})", "({0} * {1})", "x * y", infix="*", weight=2.0),
    Primitive("div", 2, "elementwise", div, np_scalar(_div_np), _sp_div,
              "_div({0}, {1})", "tl.where({1} == 0.0, 0.0, tl.div_rn({0}, {1}))",
              "x / y, and 0 where y == 0 (safe division)", infix="/", weight=1.5),
    Primitive("neg", 1, "elementwise", neg, np_scalar(np.negative), _sp_neg,
              "(-{0})", "(-{0})", "-x"),
    Primitive("abs", 1, "elementwise", abs_, np_scalar(np.abs), sp.Abs,
              "torch.abs({0})", "tl.abs({0})", "|x|"),
    Primitive("sign", 1, "elementwise", sign, np_scalar(np.sign), sp.sign,
              "torch.sign({0})",
              "tl.where({0} > 0.0, 1.0, tl.where({0} < 0.0, -1.0, 0.0))",
              "sign(x) in {-1, 0, 1}", weight=1.5),
    Primitive("sqrt", 1, "elementwise", sqrt, np_scalar(_sqrt_np),
              _sp_sqrt, "torch.sqrt(torch.abs({0}))", "tl.sqrt_rn(tl.abs({0}))",
              "sqrt(|x|) (safe square root)"),
    Primitive("rsqrt", 1, "elementwise", rsqrt, np_scalar(_rsqrt_np), _sp_rsqrt,
              "_rsqrt({0})", "tl.where({0} == 0.0, 0.0, tl.div_rn(1.0, tl.sqrt_rn(tl.abs({0}))))",
              "1 / sqrt(|x|), and 0 where x == 0", weight=0.5),
    Primitive("square", 1, "elementwise", square, np_scalar(np.square), _sp_square,
              "({0} * {0})", "({0} * {0})", "x * x"),
    Primitive("exp", 1, "elementwise", exp, np_scalar(np.exp), sp.exp,
              "torch.exp({0})", "tl.exp({0})", "e^x", weight=0.5),
    Primitive("log", 1, "elementwise", log, np_scalar(_log_np), _sp_log,
              "_log({0})", "tl.log(tl.abs({0}) + 1.1754943508222875e-38)",
              "log(|x| + tiny), tiny = smallest normal of the dtype", weight=0.5),
    Primitive("sigmoid", 1, "elementwise", sigmoid,
              np_scalar(_sigmoid_np), _sp_sigmoid,
              "torch.sigmoid({0})", "tl.sigmoid({0})", "1 / (1 + e^-x)", weight=0.5),
    Primitive("tanh", 1, "elementwise", tanh, np_scalar(np.tanh), sp.tanh,
              "torch.tanh({0})", "libdevice.tanh({0})", "hyperbolic tangent", weight=0.5),
    Primitive("arcsin", 1, "elementwise", arcsin, np_scalar(_asin_np), _sp_asin,
              "torch.asin(torch.clamp({0}, -1.0, 1.0))",
              "libdevice.asin(tl.minimum(tl.maximum({0}, -1.0), 1.0))",
              "arcsin of x clamped to [-1, 1]", weight=0.3),
    Primitive("arctan", 1, "elementwise", arctan, np_scalar(np.arctan), sp.atan,
              "torch.atan({0})", "libdevice.atan({0})", "arctangent", weight=0.3),
    Primitive("sinh", 1, "elementwise", sinh, np_scalar(np.sinh), sp.sinh,
              "torch.sinh({0})", "libdevice.sinh({0})", "hyperbolic sine", weight=0.3),
    Primitive("cosh", 1, "elementwise", cosh, np_scalar(np.cosh), sp.cosh,
              "torch.cosh({0})", "libdevice.cosh({0})", "hyperbolic cosine", weight=0.3),
    Primitive("sin", 1, "elementwise", sin, np_scalar(np.sin), sp.sin,
              "torch.sin({0})", "tl.sin({0})", "sine", weight=0.3),
    Primitive("cos", 1, "elementwise", cos, np_scalar(np.cos), sp.cos,
              "torch.cos({0})", "tl.cos({0})", "cosine", weight=0.3),
)
