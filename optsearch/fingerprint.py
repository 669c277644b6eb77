"""Behavioural fingerprint of a program: a hash of what it does, not how it is written.

The search uses it to evaluate functionally identical programs once (the Lion paper's
cache). A program is run with the reference interpreter in float64 on fixed random
inputs: one float64 tensor of two lanes (``lane_dims=1``: per-tensor reductions
such as ``norm`` reduce each lane apart, so a lane is one parameter tensor), a few steps
carrying state, ``w`` updated between steps,
hyperparameters at their defaults. The updates are rounded to ``DIGITS`` significant
digits and hashed. Renamed variables, dead code, reordered independent statements or
``a*b`` vs ``b*a`` give the same updates up to float64 rounding, hence the same hash.

Rounding can, very rarely, split two equal programs whose values straddle a rounding
boundary; that only costs the cache one extra evaluation. Values below ``FLUSH`` times the
tensor's largest finite magnitude are flushed to zero, so cancellation noise
(``(g + w) - w - g``) does not count as behaviour.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import torch

from optsearch.analysis import lean
from optsearch.interpret import init_state, step
from optsearch.program import Program

DIGITS = 9
"""Significant digits kept from each update value."""

FLUSH = 1e-12
"""Values smaller than this times the tensor's largest finite magnitude count as zero."""

STEPS = 4
SHAPE: tuple[int, ...] = (2, 8, 16)
"""Two lanes of an 8x16 parameter. Time is per-op overhead, not per-element, and many
elements matter: a rule ending in ``sign`` reveals one bit per element."""
LR = 0.01
VERSION = "fp2"
"""Changes whenever the inputs or the rounding change, so stored fingerprints never mix."""


@lru_cache(maxsize=1)
def _inputs() -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Fixed ``(w0, (g_1..g_STEPS))``: log-uniform magnitudes 1e-4..1e1, mixed signs.

    Wide magnitudes make ``clip``, ``tanh``, ``arcsin`` and friends visibly non-linear;
    one exact zero in the first gradient exposes the safe forms (div by 0, sign(0)).
    """
    gen = np.random.default_rng(20230213)  # fixed forever: fingerprints are stored in runs
    n = int(np.prod(SHAPE))

    def draw(lo: float, hi: float) -> torch.Tensor:
        mag = 10.0 ** gen.uniform(lo, hi, n)
        sgn = gen.choice([-1.0, 1.0], n)
        return torch.tensor(mag * sgn, dtype=torch.float64).reshape(SHAPE)

    w0 = draw(-2, 0.5)
    grads = [draw(-4, 1) for _ in range(STEPS)]
    grads[0].view(-1)[0] = 0.0
    return w0, tuple(grads)


def _digest_tensor(x: torch.Tensor, h: "hashlib._Hash") -> None:
    """Hash ``x`` rounded to DIGITS significant digits (vectorised: mantissa and exponent)."""
    a = x.detach().to(torch.float64).reshape(-1).numpy()
    finite = np.isfinite(a)
    mag = np.abs(np.where(finite, a, 0.0))
    scale = float(mag.max()) if mag.size else 0.0
    zero = finite & ((mag <= FLUSH * scale) | (mag < 1e-300))
    safe = np.where(finite & ~zero, a, 1.0)
    exp10 = np.floor(np.log10(np.abs(safe)))
    mant = np.rint(safe * 10.0 ** (DIGITS - 1 - exp10))
    over = np.abs(mant) >= 10.0 ** DIGITS  # 9.9999999996 rounds up to 10.00000000
    mant = np.where(over, np.rint(mant / 10.0), mant)
    exp10 = exp10 + over
    code = np.where(np.isnan(a), 1, np.where(np.isposinf(a), 2, np.where(np.isneginf(a), 3, 0)))
    code = np.where(zero, 4, code)
    mant = np.where(code == 0, mant, 0.0).astype(np.int64)
    exp10 = np.where(code == 0, exp10, 0.0).astype(np.int64)
    h.update(code.astype(np.int8).tobytes())
    h.update(mant.tobytes())
    h.update(exp10.tobytes())


def behaviour(program: Program) -> list[torch.Tensor]:
    """The raw float64 updates the fingerprint hashes (one per step). Only the live
    statements run (analysis.lean): the updates are the same, bit for bit."""
    program = lean(program)
    updates: list[torch.Tensor] = []
    w, grads = _inputs()
    state = init_state(program, w)
    for t, g in enumerate(grads, start=1):
        update, state = step(program, w, g, LR, t, state, lane_dims=1)
        updates.append(update)
        w = w - update
    return updates


def fingerprint(program: Program) -> str:
    """sha256 hex digest of the program's rounded updates on the fixed inputs.

    A program whose evaluation raises (it should not: every primitive has a safe form)
    hashes the exception type instead, so the search never stops on one.
    """
    h = hashlib.sha256(VERSION.encode())
    with np.errstate(all="ignore"):
        try:
            for u in behaviour(program):
                _digest_tensor(u, h)
        except (RuntimeError, ValueError, ArithmeticError, TypeError) as e:
            h.update(f"error:{type(e).__name__}".encode())
    return h.hexdigest()


__all__ = ["fingerprint", "behaviour", "DIGITS", "VERSION"]
