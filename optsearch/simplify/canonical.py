"""Sympy canonical form of each expression, time-boxed.

Each statement's value (after inlining, a whole chain of single-use arithmetic) goes to
sympy (:func:`~.sympy_bridge.to_sympy`), where automatic evaluation already orders
commutative arguments, merges like terms and folds numbers; the expanded form is tried
too when the expression is small. Each candidate comes back through
:func:`~.sympy_bridge.from_sympy` (which re-folds ``interp`` and ``clip``), and the
smallest is kept, the original included: sympy never makes a program longer.

Sympy can be slow on large expressions, and a single call cannot be interrupted, so the
pass bounds the work instead: expressions over ``MAX_NODES`` nodes are left as they are,
expansion is only tried below ``EXPAND_NODES``, and once the time budget is spent the
remaining expressions are left to the cheaper passes. The returned note says so.
"""

from __future__ import annotations

import time

import sympy as sp

from optsearch.program import Assign, Call, Expr, Program, walk
from optsearch.simplify.flow import roles as program_roles
from optsearch.simplify.flow import with_body
from optsearch.simplify.sympy_bridge import Unconvertible, from_sympy, to_sympy

MAX_NODES = 160
EXPAND_NODES = 40
DEFAULT_BUDGET_S = 1.5


def expr_size(e: Expr) -> int:
    return sum(1 for _ in walk(e))


def canonical_expr(e: Expr, roles: dict[str, str], deadline: float | None = None) -> Expr:
    """The smallest of ``e`` and its sympy forms (ties go to the sympy form).

    When no sympy form of the whole is as small as ``e``, the arguments are canonicalised
    one by one instead (until ``deadline``, a ``time.perf_counter()`` value).
    """
    best = _whole(e, roles)
    if best is not e or not isinstance(e, Call):
        return best
    if deadline is not None and time.perf_counter() > deadline:
        return e
    args = tuple(canonical_expr(a, roles, deadline) for a in e.args)
    return e if args == e.args else Call(e.op, args)


def _whole(e: Expr, roles: dict[str, str]) -> Expr:
    n = expr_size(e)
    if n > MAX_NODES or not isinstance(e, Call):
        return e
    try:
        s = to_sympy(e)
    except (TypeError, ValueError, ZeroDivisionError):
        return e
    forms = [s]
    if n <= EXPAND_NODES:
        expanded = sp.expand(s)
        if expanded != s:
            forms.append(expanded)
    best, best_size = e, n + 1  # a tie with the original goes to the canonical form
    for f in forms:
        try:
            cand = from_sympy(f, roles)
        except (Unconvertible, TypeError, ValueError, ZeroDivisionError):
            continue
        size = expr_size(cand)
        if size < best_size:
            best, best_size = cand, size
    return best


def canonicalize(program: Program,
                 budget_s: float = DEFAULT_BUDGET_S) -> tuple[Program, str | None]:
    """Canonicalise every expression; returns ``(program, note)``.

    ``note`` is None when every expression was handled, else what was skipped and why.
    """
    roles = program_roles(program)
    start = time.perf_counter()
    exprs = [s.value for s in program.body] + [program.ret]
    out: list[Expr] = []
    skipped_time = skipped_big = 0
    for e in exprs:
        if time.perf_counter() - start > budget_s:
            out.append(e)
            skipped_time += 1
            continue
        if expr_size(e) > MAX_NODES:
            skipped_big += 1
        out.append(canonical_expr(e, roles, start + budget_s))
    notes = []
    if skipped_time:
        notes.append(f"sympy time budget ({budget_s:.1f} s) spent: {skipped_time} of "
                     f"{len(exprs)} expressions left to the cheaper passes")
    if skipped_big:
        notes.append(f"{skipped_big} expression(s) over {MAX_NODES} nodes left as they are")
    body = [Assign(s.target, v) for s, v in zip(program.body, out)]
    return with_body(program, body, out[-1]), "; ".join(notes) or None


__all__ = ["canonicalize", "canonical_expr", "expr_size"]
