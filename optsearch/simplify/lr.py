"""Absorbing a constant factor into the learning rate (opt-in: it rescales the rule).

A search often finds ``lr * 0.0002 * sign(...)``; the constant only moves the best
learning rate, so the Lion paper dropped it by hand. This pass does the same when the
update is ``lr * c * X`` with a positive constant ``c`` (after pulling common numeric
factors out of sums), and reports ``c``: the rescaled program with ``lr`` matches the
original with ``lr * c`` exactly. It is off by default in :func:`~.simplify` because the
result is *not* the same rule at the same ``lr``.
"""

from __future__ import annotations

import sympy as sp

from optsearch.program import Program
from optsearch.simplify.flow import roles, with_body
from optsearch.simplify.sympy_bridge import Unconvertible, from_sympy, symbol_for, to_sympy


def absorb_lr(program: Program) -> tuple[Program, float]:
    """``(program with the factor dropped, factor)``; factor 1.0 when nothing applies."""
    lr = symbol_for("lr")
    try:
        s = sp.factor_terms(to_sympy(program.ret))
    except (TypeError, ValueError):
        return program, 1.0
    coeff, rest = s.as_coeff_Mul()
    if coeff == 1 or not coeff.is_positive or lr not in rest.free_symbols:
        return program, 1.0
    if lr in (rest / lr).free_symbols:  # the update must be lr * (...)
        return program, 1.0
    try:
        ret = from_sympy(rest, roles(program))
    except Unconvertible:
        return program, 1.0
    return with_body(program, program.body, ret), float(coeff)


__all__ = ["absorb_lr"]
