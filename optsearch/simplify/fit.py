"""Numeric fit of a known rule's hyperparameters (and a learning-rate scale) to a program.

Structural matching (:mod:`.match`) fails where numbers fold into a rule's constants in
ways symbols do not (RAdam's rectifier, say). For such rules this fits the values
instead: Levenberg-Marquardt on the relative difference of the two programs' updates over
fixed random trajectories (state carried), from the rule's defaults. Values are then
snapped to short decimals where that changes nothing, and the caller confirms the result
with :func:`~.equivalent`: a fit is only ever a candidate.
"""

from __future__ import annotations

import numpy as np
import torch

from optsearch.interpret import init_state, step
from optsearch.program import Call, Const, Program
from optsearch.simplify.flow import with_body

SHAPE = (12,)
STEPS = 9
SCALES = (1.0, 1e-3, 0.1)
"""Gradient scale by step (cycled): large and small gradients make eps-like terms visible."""


def _updates(program: Program, hyper: dict[str, float], scale: float) -> np.ndarray:
    out = []
    gen = torch.Generator().manual_seed(11)
    w = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
    state = init_state(program, w)
    for t in range(1, STEPS + 1):
        g = torch.randn(SHAPE, generator=gen, dtype=torch.float64) * SCALES[t % len(SCALES)]
        with np.errstate(all="ignore"):
            u, state = step(program, w, g, 1e-2, t, state, hyper)
        out.append(u.flatten().numpy() * scale)
        w = w - torch.nan_to_num(u)
    return np.concatenate(out)


def fit(target: Program, rule: Program, iters: int = 15) -> tuple[dict[str, float], float] | None:
    """``(hyperparameters, lr_scale)`` making ``rule`` reproduce ``target``'s updates, or None."""
    want = _updates(target, target.defaults, 1.0)
    if not np.all(np.isfinite(want)):
        return None
    weight = 1.0 / (np.abs(want) + np.mean(np.abs(want)) + 1e-300)
    names = [k for k, _ in rule.hyperparams]
    x = np.array([v for _, v in rule.hyperparams] + [1.0], dtype=float)

    def resid(v: np.ndarray) -> np.ndarray:
        got = _updates(rule, dict(zip(names, v[:-1])), v[-1])
        r = (got - want) * weight
        return np.where(np.isfinite(r), r, 1e6)

    r = resid(x)
    lam = 1e-3
    for _ in range(iters):
        cost = float(r @ r)
        if cost < 1e-26:
            break
        jac = np.empty((r.size, x.size))
        for j in range(x.size):
            h = 1e-7 * abs(x[j]) if x[j] != 0 else 1e-9
            xp = x.copy()
            xp[j] += h
            jac[:, j] = (resid(xp) - r) / h
        jtj, jtr = jac.T @ jac, jac.T @ r
        improved = False
        for _ in range(8):
            try:
                delta = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj) + 1e-30), -jtr)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            xn = x + delta
            rn = resid(xn)
            if float(rn @ rn) < cost:
                x, r, lam, improved = xn, rn, lam / 3, True
                break
            lam *= 10
        if not improved:
            break
    if float(np.max(np.abs(r))) > 1e-5:
        return None
    values = {k: _snap(v, lambda v2, k=k: _ok(rule, names, x, k, v2, resid)) for k, v in
              zip(names, x[:-1])}
    return values, _snap(float(x[-1]), lambda s: True)


def _ok(rule, names, x, key, value, resid) -> bool:
    v = x.copy()
    v[names.index(key)] = value
    return float(np.max(np.abs(resid(v)))) < 1e-6


def _snap(value: float, accept) -> float:
    """The shortest decimal (up to 8 significant digits) near ``value`` that ``accept``s."""
    if abs(value) < 1e-12 and accept(0.0):
        return 0.0
    for digits in range(1, 9):
        short = float(f"{value:.{digits}g}")
        if abs(short - value) <= 1e-6 * max(abs(value), 1e-300) and accept(short):
            return short
    return float(f"{value:.10g}")


def scaled(rule: Program, scale: float) -> Program:
    """``rule`` with its update multiplied by ``scale``."""
    if scale == 1.0:
        return rule
    return with_body(rule, rule.body, Call("mul", (Const(scale), rule.ret)))


__all__ = ["fit", "scaled"]
