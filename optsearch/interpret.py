"""Reference interpreter: the oracle every compiled path and the batched evaluator match.

It walks the IR statement by statement. Subexpressions whose inputs are all Python
floats (hyperparameters, constants, ``lr``, ``t``) are computed on the host in float64
with each primitive's ``scalar`` form, exactly as torch.optim computes bias corrections;
everything else uses the ``torch`` form. Hyperparameters may also be tensors that
broadcast against the parameter (one value per lane in the batched evaluator).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from primitives import REGISTRY
from optsearch.analysis import state_vars
from optsearch.program import Const, Expr, Program, Var

Value = Tensor | float


def init_state(program: Program, w: Tensor, dtype: torch.dtype | None = None) -> dict[str, Tensor]:
    """Zero state for every state variable of ``program``, shaped like ``w``."""
    return {n: torch.zeros_like(w, dtype=dtype or w.dtype) for n in state_vars(program)}


def eval_expr(expr: Expr, env: Mapping[str, Value], lane_dims: int = 0) -> Value:
    """Value of ``expr`` given the names in ``env``."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return env[expr.name]
    args = [eval_expr(a, env, lane_dims) for a in expr.args]
    prim = REGISTRY[expr.op]
    if not any(isinstance(a, Tensor) for a in args):
        return prim.scalar(*args)
    if prim.kind != "elementwise":  # reductions and shaped primitives see the lanes
        ref = next(a for a in args if isinstance(a, Tensor))  # floats take its dtype and device
        tensor_args = [a if isinstance(a, Tensor) else torch.as_tensor(a, dtype=ref.dtype,
                                                                        device=ref.device)
                       for a in args]
        return prim.torch(*tensor_args, lane_dims=lane_dims)
    return prim.torch(*args)


def step(program: Program, w: Tensor, g: Tensor, lr: Value, t: int | float,
         state: Mapping[str, Tensor], hyper: Mapping[str, Value] | None = None,
         lane_dims: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
    """Run one step of ``program``.

    Args:
        w, g: parameter and gradient (same shape; any dtype/device).
        lr: learning rate (float, or a tensor broadcasting against ``w``).
        t: step number, 1-based.
        state: current state (see :func:`init_state`); not modified.
        hyper: hyperparameter values; missing ones take the program's defaults.
        lane_dims: leading dimensions that are lanes, kept apart by reductions.

    Returns:
        ``(update, new_state)``; the caller applies ``w - update``. The update is
        broadcast to ``w``'s shape (a rule may return a per-tensor scalar).
    """
    env: dict[str, Value] = dict(program.defaults)
    if hyper:
        env.update(hyper)
    env.update(state)
    env.update(w=w, g=g, lr=lr, t=float(t))
    for s in program.body:
        env[s.target] = eval_expr(s.value, env, lane_dims)
    update = eval_expr(program.ret, env, lane_dims)
    update = _as_full(update, w)
    new_state = {n: _as_full(env[n], w) for n in state}
    return update, new_state


def _as_full(v: Value, like: Tensor) -> Tensor:
    if not isinstance(v, Tensor):
        return torch.full_like(like, v)
    if v.shape != like.shape:
        v = v.expand_as(like) if v.dim() <= like.dim() else v
    return v.to(like.dtype) if v.dtype != like.dtype else v
