"""Per-tensor reductions (norm, rms, mean, dot, amax, numel), for LAMB/AdamP-style rules.

The result is a scalar per tensor that broadcasts back against the tensor. The torch form
takes ``lane_dims``: how many leading dimensions are lanes (not reduced). The reference
interpreter uses 0 (reduce everything); the batched evaluator passes 1 so each lane
(one model of the population) is reduced separately.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch
from torch import Tensor

from primitives._safe import np_scalar
from primitives.spec import Primitive


def _dims(x: Tensor, lane_dims: int) -> tuple[int, ...]:
    return tuple(range(lane_dims, x.ndim))


def _reduce_shape(r: Tensor, lane_dims: int) -> Tensor:
    return r if lane_dims else r.reshape(())


def norm(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    return _reduce_shape(torch.sqrt(torch.sum(x * x, dim=_dims(x, lane_dims), keepdim=True)), lane_dims)


def rms(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    return _reduce_shape(torch.sqrt(torch.mean(x * x, dim=_dims(x, lane_dims), keepdim=True)), lane_dims)


def mean(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    return _reduce_shape(torch.mean(x, dim=_dims(x, lane_dims), keepdim=True), lane_dims)


def dot(x: Tensor, y: Tensor, *, lane_dims: int = 0) -> Tensor:
    p = x * y
    return _reduce_shape(torch.sum(p, dim=_dims(p, lane_dims), keepdim=True), lane_dims)


def amax(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    return _reduce_shape(torch.amax(x, dim=_dims(x, lane_dims), keepdim=True), lane_dims)


def numel(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    count = 1
    for size in x.shape[lane_dims:]:
        count *= size
    shape = tuple(x.shape[:lane_dims]) + (1,) * (x.ndim - lane_dims)
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return _reduce_shape(torch.full(shape, float(count), dtype=dtype, device=x.device), lane_dims)


def _abs_np(x):
    return np.abs(x)


def _sp_norm(xs):
    return sp.sqrt(sum(x**2 for x in xs))


def _sp_rms(xs):
    return sp.sqrt(sum(x**2 for x in xs) / len(xs))


def _sp_mean(xs):
    return sum(xs) / len(xs)


def _sp_dot(xs, ys):
    return sum(x * y for x, y in zip(xs, ys))


def _sp_amax(xs):
    return sp.Max(*xs)


def _sp_numel(xs):
    return sp.Integer(len(xs))


def _one_np(x):
    return np.float64(1.0)


# Scalar forms: a Python float is a one-element tensor.
ENTRIES: tuple[Primitive, ...] = (
    Primitive("norm", 1, "reduction", norm, np_scalar(_abs_np), _sp_norm,
              "_norm({0})", "tl.sqrt_rn(_sum({0} * {0}))", "L2 norm of the whole tensor", weight=0.3),
    Primitive("rms", 1, "reduction", rms, np_scalar(_abs_np), _sp_rms,
              "_rms({0})", "tl.sqrt_rn(tl.div_rn(_sum({0} * {0}), _numel))", "root mean square of the whole tensor", weight=0.3),
    Primitive("mean", 1, "reduction", mean, np_scalar(np.positive), _sp_mean,
              "_mean({0})", "tl.div_rn(_sum({0}), _numel)", "mean of the whole tensor", weight=0.3),
    Primitive("dot", 2, "reduction", dot, np_scalar(np.multiply), _sp_dot,
              "_dot({0}, {1})", "_sum({0} * {1})", "sum of x * y over the whole tensor", weight=0.3),
    Primitive("amax", 1, "reduction", amax, np_scalar(np.positive), _sp_amax,
              "_amax({0})", "_max({0})", "largest element of the whole tensor (NaN if any is NaN)",
              weight=0.2),
    Primitive("numel", 1, "reduction", numel, np_scalar(_one_np), _sp_numel,
              "_numel({0})", "_numel", "number of elements of the tensor (per lane), as a float",
              weight=0.1),
)
