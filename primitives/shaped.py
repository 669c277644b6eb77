"""Shaped primitives: they need a tensor's shape, not only its elements (kind ``"shaped"``).

AdamP's projection (Heo et al. 2021) works per output channel: on the view
``x.view(x.size(0), -1)`` of a weight, one row per output unit, and only for tensors of
more than one dimension. These primitives express that honestly:

- ``rowdot(x, y)``: sum of x * y over each row, kept as ``[rows, 1, ...]`` so it broadcasts
  back (the per-row analogue of ``dot``);
- ``rowsize(x)``: number of elements in a row;
- ``ndim(x)``: number of dimensions.

Rows are slices along the first non-lane dimension. A 1-d tensor's rows are its elements
and a 0-d tensor (or a Python float) is one row of one element, as ``view(size(0), -1)``
gives. As for reductions, ``torch`` takes ``lane_dims`` (leading dimensions that are lanes of
the batched evaluator: kept apart and not counted). The sympy forms take ``sympy.Array``s
and return what the torch form returns, elementwise.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch
from torch import Tensor

from primitives._safe import np_scalar
from primitives.spec import Primitive


def _float_dtype(x: Tensor) -> torch.dtype:
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def _constant(x: Tensor, lane_dims: int, keep: int, value: float) -> Tensor:
    """``value`` shaped to broadcast against ``x``: its first ``keep`` dims, then ones."""
    keep = min(keep, x.ndim)
    shape = tuple(x.shape[:keep]) + (1,) * (x.ndim - keep)
    if lane_dims == 0 and keep == 0:
        shape = ()
    return torch.full(shape, value, dtype=_float_dtype(x), device=x.device)


def rowdot(x: Tensor, y: Tensor, *, lane_dims: int = 0) -> Tensor:
    p = x * y
    dims = tuple(range(lane_dims + 1, p.ndim))
    # sum(dim=()) would reduce everything: rows of one element are the products themselves
    return torch.sum(p, dim=dims, keepdim=True) if dims else p


def rowsize(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    count = 1
    for size in x.shape[lane_dims + 1:]:
        count *= size
    return _constant(x, lane_dims, lane_dims, float(count))


def ndim(x: Tensor, *, lane_dims: int = 0) -> Tensor:
    return _constant(x, lane_dims, lane_dims, float(max(x.ndim - lane_dims, 0)))


def _rowdot_np(x, y):
    return x * y


def _one_np(x):
    return np.float64(1.0)


def _zero_np(x):
    return np.float64(0.0)


def _rows(a: sp.Array) -> list[list]:
    """The rows of a sympy Array (0-d: one row of one element)."""
    if a.rank() == 0:
        return [[a[()]]]
    return [list(sp.flatten([row])) for row in a.tolist()]


def _keepdim(a: sp.Array, values: list) -> sp.Array:
    if a.rank() == 0:
        return sp.Array(values[0])
    return sp.Array(values, (a.shape[0],) + (1,) * (a.rank() - 1))


def _sp_rowdot(x: sp.Array, y: sp.Array) -> sp.Array:
    sums = [sum(u * v for u, v in zip(rx, ry)) for rx, ry in zip(_rows(x), _rows(y))]
    return _keepdim(x, sums)


def _sp_rowsize(x: sp.Array) -> sp.Expr:
    return sp.Integer(len(_rows(x)[0]))


def _sp_ndim(x: sp.Array) -> sp.Expr:
    return sp.Integer(x.rank())


ENTRIES: tuple[Primitive, ...] = (
    Primitive("rowdot", 2, "shaped", rowdot, np_scalar(_rowdot_np), _sp_rowdot,
              "_rowdot({0}, {1})", "_rowsum({0} * {1})",
              "sum of x * y over each row (first dimension), broadcast back", weight=0.1),
    Primitive("rowsize", 1, "shaped", rowsize, np_scalar(_one_np), _sp_rowsize,
              "_rowsize({0})", "_rowsize", "number of elements in one row of x (1 for a vector)",
              weight=0.05),
    Primitive("ndim", 1, "shaped", ndim, np_scalar(_zero_np), _sp_ndim,
              "_ndim({0})", "_ndim", "number of dimensions of x (per lane), as a float",
              weight=0.05),
)
