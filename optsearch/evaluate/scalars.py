"""Scalar columns: the host-side (float64) part of every program, for all lanes and steps.

The reference interpreter computes subexpressions of constants, ``lr`` and ``t`` on the
host in float64 at each step. The batched executors get the same numbers from a table
computed up front: ``[lanes, steps, columns]``, vectorised over lr and t with each
primitive's torch form on float64 CPU tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from primitives import REGISTRY
from optsearch.evaluate.encode import Encoded
from optsearch.program import Call, Const, Expr, Var, reads


def eval_column(expr: Expr | float, lr: Tensor, t: Tensor, memo: dict) -> Tensor | float:
    """Value of a column expression over ``lr`` and ``t``; ``memo`` is keyed by node
    identity (encodings intern equal columns, so this shares them without deep hashing)."""
    if isinstance(expr, float):
        return expr
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return lr if expr.name == "lr" else t
    hit = memo.get(id(expr))
    if hit is not None:
        return hit[1]
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
        fn = getattr(prim.scalar, "np_fn", None)
        if fn is None:
            vals = [prim.scalar(*v) for v in zip(*cols)]
        else:                   # np_scalar's body, with its errstate entered once
            f64 = np.float64
            with np.errstate(all="ignore"):
                vals = [float(fn(*[f64(x) for x in v])) for v in zip(*cols)]
        out = torch.tensor(vals, dtype=torch.float64).view(shape)
    memo[id(expr)] = (expr, out)          # the node is kept alive with its id
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


def column_table(enc: Encoded, lrs: Sequence[float], steps: int, memo: dict | None = None) -> Tensor:
    """float64 ``[len(lrs), steps, n_columns]``: column values per lr and step (t = 1..steps).

    Pass one ``memo`` (and the same lrs/steps) to share columns across programs."""
    out = torch.empty(len(lrs), steps, len(enc.columns), dtype=torch.float64)
    lr = torch.tensor([float(x) for x in lrs], dtype=torch.float64).view(-1, 1)
    t = torch.arange(1, steps + 1, dtype=torch.float64).view(1, -1)
    memo = {} if memo is None else memo
    for c, expr in enumerate(enc.columns):
        if isinstance(expr, (float, Const)):
            out[:, :, c] = expr if isinstance(expr, float) else expr.value
        else:
            out[:, :, c] = torch.as_tensor(eval_column(expr, lr, t, memo), dtype=torch.float64)
    return out


def column_tables(encoded: Sequence[Encoded], lrs: Sequence[float], steps: int) -> list[Tensor]:
    """:func:`column_table` of every program, each distinct column computed once."""
    memo: dict = {}
    return [column_table(e, lrs, steps, memo) for e in encoded]


@dataclass(frozen=True)
class ColumnData:
    """Every program's scalar columns, compactly: distinct values, and where they go.

    ``table[prog[i], :, :, col[i]] = values[src[i]]`` for the lr/t-dependent columns and
    ``table[cprog[j], :, :, ccol[j]] = consts[j]`` for the constant ones (float32, as the
    kernel reads them; cast from the float64 host values)."""

    values: np.ndarray          # float32 [K, M, T]
    prog: np.ndarray            # int64 [V]
    col: np.ndarray
    src: np.ndarray
    consts: np.ndarray          # float32 [C]
    cprog: np.ndarray
    ccol: np.ndarray


_VALUES: dict[tuple[int, tuple], tuple[Expr, np.ndarray]] = {}
_VALUES_MAX = 1 << 14
"""float32 values of recently used columns, keyed by the interned column's identity (held
alive in the entry) and the (lrs, steps) grid: a search's children share most columns."""


def clear_values() -> None:
    _VALUES.clear()


def column_data(encoded: Sequence[Encoded], lrs: Sequence[float], steps: int) -> ColumnData:
    """Evaluate each distinct column once (by identity: encodings intern them), in float64
    with the same torch/scalar forms as :func:`column_table`, then cast to float32."""
    uid: dict[int, int] = {}
    exprs: list[Expr] = []
    prog, col, src, consts, cprog, ccol = [], [], [], [], [], []
    for n, e in enumerate(encoded):
        for c, expr in enumerate(e.columns):
            if isinstance(expr, (float, Const)):
                consts.append(expr if isinstance(expr, float) else expr.value)
                cprog.append(n)
                ccol.append(c)
                continue
            k = uid.get(id(expr))
            if k is None:
                k = uid[id(expr)] = len(exprs)
                exprs.append(expr)
            prog.append(n)
            col.append(c)
            src.append(k)
    lr = torch.tensor([float(x) for x in lrs], dtype=torch.float64).view(-1, 1)
    t = torch.arange(1, steps + 1, dtype=torch.float64).view(1, -1)
    vals32 = np.empty((len(exprs), len(lrs), steps), dtype=np.float32)
    memo: dict = {}
    grid = (tuple(float(x) for x in lrs), steps)
    cache = _VALUES
    with np.errstate(over="ignore", invalid="ignore"):   # float32 overflow gives inf, as torch
        for k, expr in enumerate(exprs):
            hit = cache.get((id(expr), grid))
            if hit is None:
                v = eval_column(expr, lr, t, memo)
                row = np.empty((len(lrs), steps), dtype=np.float64)
                row[...] = v.numpy() if isinstance(v, Tensor) else v
                hit = (expr, row.astype(np.float32))
                while len(cache) >= _VALUES_MAX:
                    del cache[next(iter(cache))]
                cache[(id(expr), grid)] = hit
            vals32[k] = hit[1]
        consts32 = np.array(consts, dtype=np.float64).astype(np.float32)
    i64 = np.int64
    return ColumnData(vals32, np.array(prog, i64), np.array(col, i64), np.array(src, i64),
                      consts32, np.array(cprog, i64), np.array(ccol, i64))
