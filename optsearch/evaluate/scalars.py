"""Scalar columns: the host-side (float64) part of every program, for all lanes and steps.

The reference interpreter computes subexpressions of constants, ``lr`` and ``t`` on the
host in float64 at each step. The batched executors get the same numbers from a table
computed up front: ``[lanes, steps, columns]``, vectorised over lr and t with each
primitive's torch form on float64 CPU tensors.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from primitives import REGISTRY
from optsearch.evaluate.encode import Encoded
from optsearch.program import Call, Const, Expr, Var, reads


def eval_column(expr: Expr | float, lr: Tensor, t: Tensor, memo: dict) -> Tensor | float:
    if isinstance(expr, float):
        return expr
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return lr if expr.name == "lr" else t
    if expr in memo:
        return memo[expr]
    assert isinstance(expr, Call)
    args = [eval_column(a, lr, t, memo) for a in expr.args]
    prim = REGISTRY[expr.op]
    if not any(isinstance(a, Tensor) for a in args):
        out = prim.scalar(*args)
    elif prim.kind == "elementwise":
        out = prim.torch(*args)
    else:  # a reduction/shaped op of host scalars: its scalar form, value by value
        shape = torch.broadcast_shapes(*(a.shape for a in args if isinstance(a, Tensor)))
        cols = [a.expand(shape).reshape(-1).tolist() if isinstance(a, Tensor)
                else [a] * math.prod(shape) for a in args]
        out = torch.tensor([prim.scalar(*v) for v in zip(*cols)],
                           dtype=torch.float64).view(shape)
    memo[expr] = out
    return out


def uses(expr: Expr | float) -> tuple[bool, bool]:
    """Whether a column reads ``lr`` and whether it reads ``t``."""
    if isinstance(expr, float):
        return False, False
    names = set(reads(expr))
    return "lr" in names, "t" in names


def column_values(expr: Expr | float, lrs: Sequence[float], steps: int, memo: dict | None = None) -> Tensor:
    """float64 ``[len(lrs), steps]``: one column's value per lr and step (t = 1..steps)."""
    lr = torch.tensor([float(x) for x in lrs], dtype=torch.float64).view(-1, 1)
    t = torch.arange(1, steps + 1, dtype=torch.float64).view(1, -1)
    val = eval_column(expr, lr, t, {} if memo is None else memo)
    return torch.as_tensor(val, dtype=torch.float64).expand(len(lrs), steps)


def column_table(enc: Encoded, lrs: Sequence[float], steps: int) -> Tensor:
    """float64 ``[len(lrs), steps, n_columns]``: column values per lr and step (t = 1..steps)."""
    out = torch.empty(len(lrs), steps, len(enc.columns), dtype=torch.float64)
    for c, expr in enumerate(enc.columns):
        if isinstance(expr, (float, Const)):
            out[:, :, c] = expr if isinstance(expr, float) else expr.value
        else:
            out[:, :, c] = column_values(expr, lrs, steps)
    return out
