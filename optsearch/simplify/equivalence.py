"""Are two programs the same rule? Symbolic when sympy can decide, otherwise numeric.

*Symbolic*: both programs become one step of sympy (update and state transitions as
functions of the inputs and the state at entry, :func:`~.flow.sympy_flow`). They are
equal when, for some matching of their state variables, the updates and the matched
transitions agree (difference 0, also after expansion). Safe division and roots are exact
in these forms (see :mod:`.sympy_bridge`), so a symbolic "equal" is a proof over the
reals. Sympy cannot prove programs *different*, and it cannot see equality through a
different state encoding (one rule storing ``2 * m``), so then the numeric check decides.

*Numeric*: both programs run side by side for ``steps`` steps on random gradients, with
state carried, over several trials: shapes from a vector to a 3-d tensor (reductions see
different sizes), gradient scales from 1e-6 to 1e4, a gradient with exact zeros (safe
forms), learning rates 1e-3 and 0.3, and parameters updated between steps. Updates agree
when ``|a - b| <= rtol * max(|a|, |b|) + atol * scale`` (``scale`` = the step's largest
update). Positions where only one program overflows to inf/NaN are not evidence either
way (the rules are compared as functions over the reals), nor are inf-vs-NaN positions;
the same inf or NaN in both agrees. Skipped positions are counted in ``detail``, and a
verdict resting on no comparison at all is "not equal (undecided)".

Hyperparameters: ``"defaults"`` compares the programs at their own defaults (names may
differ); ``"shared"`` requires the same hyperparameter names and compares for all values
(symbolic: hyperparameters stay symbols; numeric: defaults and random perturbations).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sympy as sp
import torch

from optsearch.interpret import init_state, step
from optsearch.program import Program
from optsearch.simplify.flow import SympyFlow, sympy_flow
from optsearch.simplify.timebox import SympyTimeout, hard_limit

Method = Literal["symbolic", "numeric"]
MAX_STATE_PERMUTATIONS = 24
EXPAND_OPS = 400


@dataclass(frozen=True)
class Counterexample:
    """Where two programs first disagree."""

    trial: str
    step: int
    index: tuple[int, ...]
    p_update: float
    q_update: float
    hyper_p: dict[str, float] = field(default_factory=dict)
    hyper_q: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        idx = ", ".join(map(str, self.index))
        return (f"{self.trial}, step {self.step}, element [{idx}]: "
                f"{self.p_update!r} vs {self.q_update!r}")


@dataclass(frozen=True)
class Verdict:
    """``equal``; how it was decided; a counterexample when not equal; a readable detail."""

    equal: bool
    method: Method
    counterexample: Counterexample | None
    detail: str

    def __bool__(self) -> bool:
        return self.equal


# --------------------------------------------------------------------------- symbolic

def _relevant_states(flow: SympyFlow) -> list[str]:
    """State variables whose value reaches the update (directly or through other state)."""
    by_symbol = {flow.symbols[s]: s for s in flow.state_out}
    seen: list[str] = []
    frontier = [flow.update]
    while frontier:
        e = frontier.pop()
        for sym in sorted(e.free_symbols, key=str):
            s = by_symbol.get(sym)
            if s is not None and s not in seen:
                seen.append(s)
                frontier.append(flow.state_out[s])
    return sorted(seen)


def is_zero(d: sp.Expr) -> bool:
    """True when ``d`` is provably 0 (automatic evaluation, then bounded expansion)."""
    if d == 0:
        return True
    if sp.count_ops(d) > EXPAND_OPS:
        return False
    try:
        return sp.expand(d) == 0
    except (TypeError, ValueError, RecursionError):
        return False


def symbolic_equal(p: Program, q: Program, shared: bool, budget_s: float = 2.0) -> bool | None:
    """True if sympy proves p == q; None if it cannot decide (or ``budget_s`` is spent)."""
    try:
        with hard_limit(budget_s + 1.0):  # a rare sympy call can run for minutes
            return _symbolic_equal(p, q, shared, budget_s)
    except SympyTimeout:
        return None


def _symbolic_equal(p: Program, q: Program, shared: bool, budget_s: float) -> bool | None:
    deadline = time.perf_counter() + budget_s
    try:
        fp = sympy_flow(p, None if shared else p.defaults)
        fq = sympy_flow(q, None if shared else q.defaults)
    except (TypeError, ValueError, ZeroDivisionError, RecursionError):
        return None
    sp_states, sq_states = _relevant_states(fp), _relevant_states(fq)
    if len(sp_states) != len(sq_states):
        return None
    perms = itertools.permutations(sq_states)
    for perm in itertools.islice(perms, MAX_STATE_PERMUTATIONS):
        mapping = {fq.symbols[b]: fp.symbols[a] for a, b in zip(sp_states, perm)}

        def ren(e: sp.Expr) -> sp.Expr:
            return e.xreplace(mapping)

        if time.perf_counter() > deadline or not is_zero(fp.update - ren(fq.update)):
            continue
        if all(is_zero(fp.state_out[a] - ren(fq.state_out[b])) for a, b in zip(sp_states, perm)):
            return True
    return None


# --------------------------------------------------------------------------- numeric

@dataclass(frozen=True)
class Trial:
    shape: tuple[int, ...]
    g_scale: float
    lr: float
    zeros: bool
    seed: int

    def __str__(self) -> str:
        z = ", with zero gradients" if self.zeros else ""
        return f"shape {self.shape}, gradient scale {self.g_scale:g}, lr {self.lr:g}{z}"


TRIALS: tuple[Trial, ...] = (
    Trial((7,), 1.0, 1e-3, False, 1),
    Trial((3, 5), 1e-3, 1e-3, True, 2),
    Trial((2, 3, 4), 1e2, 0.3, False, 3),
    Trial((4, 4), 1e-6, 1e-3, False, 4),
    Trial((11,), 1e4, 1e-3, False, 5),
    Trial((1,), 1.0, 0.3, True, 6),
)


def _hyper_sets(p: Program, q: Program, shared: bool, seed: int) -> list[tuple[dict, dict]]:
    sets = [(p.defaults, p.defaults if shared else q.defaults)]
    if shared:
        rng = np.random.default_rng(seed)
        for _ in range(2):
            h = {}
            for k, v in p.hyperparams:
                h[k] = float(v * rng.uniform(0.5, 1.5)) if v != 0 else float(rng.uniform(0.01, 0.2))
                if 0 < v < 1:
                    h[k] = float(min(h[k], 1 - (1 - v) * rng.uniform(0.5, 1.0)))
            sets.append((h, dict(h)))
    return sets


def _compare(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float):
    """(index of first real mismatch or None, #agreeing, #positions not compared).

    Positions finite in both must agree to tolerance; the same inf (or NaN) in both
    agrees. Other overflows (inf in one only, inf vs NaN) are the float format's limit,
    not the rule -- which of them comes out depends on the order of operations -- so they
    are not compared."""
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    both = fa & fb
    scale = float(torch.maximum(a[both].abs().max(), b[both].abs().max())) if both.any() else 0.0
    bad = both & ((a - b).abs() > rtol * torch.maximum(a.abs(), b.abs()) + atol * scale)
    same_overflow = ~fa & ~fb & ((a == b) | (torch.isnan(a) & torch.isnan(b)))
    skipped = int((~both & ~same_overflow).sum())
    if bad.any():
        idx = tuple(int(i) for i in torch.nonzero(bad)[0])
        return idx, int(both.sum() + same_overflow.sum()), skipped
    return None, int(both.sum() + same_overflow.sum()), skipped


def numeric_equal(p: Program, q: Program, shared: bool = False, steps: int = 8,
                  rtol: float = 1e-6, atol: float = 1e-9, seed: int = 0) -> Verdict:
    """Run both programs side by side (see the module docstring)."""
    compared = one_sided = 0
    for hp, hq in _hyper_sets(p, q, shared, seed):
        for trial in TRIALS:
            gen = torch.Generator().manual_seed(seed * 1000 + trial.seed)
            w = torch.randn(trial.shape, generator=gen, dtype=torch.float64)
            sp_, sq_ = init_state(p, w), init_state(q, w)
            for t in range(1, steps + 1):
                g = torch.randn(trial.shape, generator=gen, dtype=torch.float64) * trial.g_scale
                if trial.zeros and t % 2 == 1:
                    g = torch.where(torch.rand(trial.shape, generator=gen) < 0.4, 0.0, g)
                with np.errstate(all="ignore"):
                    up, sp_ = step(p, w, g, trial.lr, t, sp_, hp)
                    uq, sq_ = step(q, w, g, trial.lr, t, sq_, hq)
                idx, n, one = _compare(up, uq, rtol, atol)
                compared += n
                one_sided += one
                if idx is not None:
                    ce = Counterexample(str(trial), t, idx, float(up[idx]), float(uq[idx]),
                                        dict(hp), dict(hq))
                    return Verdict(False, "numeric", ce, f"updates differ: {ce}")
                w = torch.where(torch.isfinite(up), w - up, w)
    note = f"; {one_sided} element(s) overflowed differently (inf/NaN) and were not " \
        "compared" if one_sided else ""
    if compared == 0:
        return Verdict(False, "numeric", None,
                       f"undecided: no update value could be compared{note}")
    n_sets = len(_hyper_sets(p, q, shared, seed))
    return Verdict(True, "numeric", None,
                   f"equal on {compared} update values ({len(TRIALS)} trials x {steps} steps"
                   f" x {n_sets} hyperparameter set(s)){note}")


# --------------------------------------------------------------------------- public

def equivalent(p: Program, q: Program, *, hyper: Literal["defaults", "shared"] = "defaults",
               symbolic: bool = True, steps: int = 8, seed: int = 0) -> Verdict:
    """Whether ``p`` and ``q`` are the same rule.

    Args:
        hyper: ``"defaults"``: each program at its own defaults; ``"shared"``: the
            programs have the same hyperparameter names and must agree for all values.
        symbolic: try sympy first (off: numeric only, faster for large batches).
        steps: steps per numeric trial.
        seed: numeric trials' seed.
    """
    shared = hyper == "shared"
    if shared:
        if [k for k, _ in p.hyperparams] != [k for k, _ in q.hyperparams]:
            raise ValueError(f"hyper='shared' needs the same hyperparameters: "
                             f"{p.name} has {list(p.defaults)}, {q.name} has {list(q.defaults)}")
    if symbolic and symbolic_equal(p, q, shared):
        return Verdict(True, "symbolic", None,
                       "sympy proves the updates and state transitions equal"
                       + (" for all hyperparameter values" if shared else " at the defaults"))
    return numeric_equal(p, q, shared, steps, seed=seed)


__all__ = ["equivalent", "Verdict", "Counterexample", "symbolic_equal", "numeric_equal",
           "is_zero"]
