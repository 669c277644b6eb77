"""Cheap filter run before training: reject programs that cannot be useful optimizers.

A program is run with the reference interpreter on small fixed probe inputs for a few
steps (float64, milliseconds). It is rejected, with a reason stored in the run, if

- an update is NaN or infinite ("nan on probe inputs");
- every update is exactly zero ("update identically zero");
- the updates do not change when the gradients do ("update independent of g");
- the update is not proportional to the learning rate ("update not proportional to lr").
  The evaluator tunes every program's lr; a rule that hides its own step size (``1.5 * g``,
  or ``lr`` only inside a ``maximum``) escapes that tuning and wins on the search task by a
  lucky fixed step rather than a better direction. (The first GPU discovery run found
  exactly such rules: docs/discovery.md.) The Lion paper's programs end in ``update * lr``
  likewise; an exported optimizer needs a working lr too.

This is the cheap half of the Lion paper's abstract execution; the fingerprint cache
(:mod:`optsearch.fingerprint`) is the other half.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from optsearch.analysis import lean
from optsearch.interpret import init_state, step
from optsearch.program import Program

STEPS = 3
SHAPE = (2, 6, 5)  # two lanes of a 6x5 parameter, so per-tensor reductions are exercised
LR = 0.01


@lru_cache(maxsize=1)
def _probes() -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    gen = torch.Generator().manual_seed(12345)
    w = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
    g1 = tuple(torch.randn(SHAPE, generator=gen, dtype=torch.float64) for _ in range(STEPS))
    g2 = tuple(torch.randn(SHAPE, generator=gen, dtype=torch.float64) * 3.0 for _ in range(STEPS))
    return w, g1, g2


def _updates(program: Program, grads: tuple[torch.Tensor, ...], lr: float = LR,
             move_w: bool = True) -> list[torch.Tensor]:
    w, _, _ = _probes()
    state = init_state(program, w)
    out = []
    for t, g in enumerate(grads, start=1):
        u, state = step(program, w, g, lr, t, state, lane_dims=1)
        out.append(u)
        if move_w:
            w = w - u
    return out


def invalid_reason(program: Program) -> str | None:
    """Why ``program`` should not be trained, or None if it may be (probed on its live
    statements only: dead ones change no update)."""
    program = lean(program)
    _, g1, g2 = _probes()
    try:
        first = _updates(program, g1)
        second = _updates(program, g2)
        fixed = _updates(program, g1, move_w=False)
        scaled = _updates(program, g1, lr=3.0 * LR, move_w=False)
    except (RuntimeError, ValueError, ArithmeticError, TypeError) as e:
        return f"error on probe inputs: {type(e).__name__}"
    if any(not torch.isfinite(u).all() for u in first + second + fixed + scaled):
        return "nan on probe inputs"
    if all(not u.any() for u in first):
        return "update identically zero"
    if all(torch.equal(a, b) for a, b in zip(first, second)):
        return "update independent of g"
    if not all(torch.allclose(3.0 * a, b, rtol=1e-6, atol=1e-12) for a, b in zip(fixed, scaled)):
        return "update not proportional to lr"
    return None
