"""The simplifier: small passes run in order until none changes the program.

Each pass is a function ``Program -> Program`` that keeps behaviour (see the module of
each); the pipeline records every pass that changed something, so ``optsearch simplify``
can show the path from a raw search result to its readable form. Because the loop stops
at a fixed point, ``simplify(simplify(p)) == simplify(p)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from optsearch.program import Program
from optsearch.simplify.canonical import DEFAULT_BUDGET_S, canonicalize
from optsearch.simplify.cse import eliminate_common_subexpressions
from optsearch.simplify.dead_code import remove_dead_code, remove_unread_state
from optsearch.simplify.fold import fold_constants
from optsearch.simplify.inline import inline_temporaries
from optsearch.simplify.lr import absorb_lr
from optsearch.simplify.sign import sign_invariance
from optsearch.simplify.timebox import SympyTimeout, hard_limit

MAX_ROUNDS = 8
HARD_GRACE_S = 1.5  # on top of the sympy budget, for the cheap passes and one slow call

CHEAP_PASSES: tuple[tuple[str, Callable[[Program], Program]], ...] = (
    ("fold constants", fold_constants),
    ("remove dead code", remove_dead_code),
    ("remove unread state", remove_unread_state),
    ("remove common subexpressions", eliminate_common_subexpressions),
    ("inline single-use temporaries", inline_temporaries),
    ("sign invariance", sign_invariance),
)


@dataclass(frozen=True)
class Step:
    """One pass that changed the program: its name and the program after it."""

    name: str
    program: Program


@dataclass(frozen=True)
class SimplifyReport:
    """What :func:`simplify_report` did.

    Attributes:
        original, result: before and after.
        steps: every pass that changed something, in order.
        lr_scale: the factor absorbed into ``lr`` (1.0 unless ``absorb_lr``): ``result``
            at ``lr`` equals ``original`` at ``lr * lr_scale``... and vice versa
            ``original(lr) == result(lr * lr_scale)``.
        notes: fallbacks taken (sympy time box, expressions too large).
        seconds: wall time.
    """

    original: Program
    result: Program
    steps: tuple[Step, ...]
    lr_scale: float = 1.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def simplify_report(program: Program, *, use_sympy: bool = True, absorb: bool = False,
                    budget_s: float = DEFAULT_BUDGET_S) -> SimplifyReport:
    """Simplify ``program`` and say how.

    Args:
        use_sympy: run the sympy canonicalisation (off: only the cheap passes).
        absorb: also drop a positive constant factor of the update into ``lr``
            (changes the rule by that factor, reported as ``lr_scale``).
        budget_s: time budget for sympy over the whole call; once spent, only the
            cheap passes run (and ``notes`` says so).
    """
    start = time.perf_counter()
    steps: list[Step] = []
    notes: list[str] = []
    p = program

    def run(name: str, fn: Callable[[Program], Program]) -> None:
        nonlocal p
        new = fn(p)
        if new != p:
            steps.append(Step(name, new))
            p = new

    try:
        # A hard cap on top of the cooperative budget: a rare sympy call can run for
        # minutes. Each pass's result is only kept once complete, so ``p`` is always valid.
        with hard_limit(budget_s + HARD_GRACE_S):
            for _ in range(MAX_ROUNDS):
                before = p
                for name, fn in CHEAP_PASSES:
                    run(name, fn)
                if use_sympy:
                    left = budget_s - (time.perf_counter() - start)
                    if left > 0:
                        canon, note = canonicalize(p, left)
                        if note and note not in notes:
                            notes.append(note)
                        run("sympy canonical form", lambda _p, c=canon: c)
                    elif not any("budget" in n for n in notes):
                        notes.append(f"sympy time budget ({budget_s:.1f} s) spent; "
                                     "finished with the cheaper passes")
                if p == before:
                    break
    except SympyTimeout:
        notes.append(f"hard time limit ({budget_s + HARD_GRACE_S:.1f} s) reached; "
                     "kept the result of the passes finished so far")
    lr_scale = 1.0
    if absorb:
        new, lr_scale = absorb_lr(p)
        if new != p:
            steps.append(Step(f"absorb constant {lr_scale:g} into lr", new))
            p = new
    return SimplifyReport(program, p, tuple(steps), lr_scale, tuple(notes),
                          time.perf_counter() - start)


def simplify(program: Program, *, use_sympy: bool = True, absorb: bool = False,
             budget_s: float = DEFAULT_BUDGET_S) -> Program:
    """The simplified program (see :func:`simplify_report`)."""
    return simplify_report(program, use_sympy=use_sympy, absorb=absorb,
                           budget_s=budget_s).result


__all__ = ["simplify", "simplify_report", "SimplifyReport", "Step", "CHEAP_PASSES"]
