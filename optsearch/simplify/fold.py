"""Constant folding and exact algebraic identities, without sympy (cheap, always on).

* A primitive applied to constants only becomes its value (the primitive's ``scalar``
  form: exactly what the interpreter computes on the host), if finite.
* Identities that hold for every real input under the safe semantics: ``x + 0``,
  ``x * 1``, ``x * 0``, ``x / 1``, ``x / 0 -> 0`` (safe division), ``0 / x``,
  ``--x``, ``sign(sign(x))``, ``|-x|``, ``interp(x, y, 0) -> x``, ``pow(x, 1) -> |x|``...
  (``x * 0 -> 0`` and ``x - x -> 0`` assume ``x`` finite: the engine's inf/NaN from
  overflow is not behaviour a rule is written for.)
* A state variable that is read but never assigned is always zero, so it becomes ``0.0``.
"""

from __future__ import annotations

import math

from primitives import REGISTRY
from optsearch.analysis import names
from optsearch.program import Call, Const, Expr, Program
from optsearch.simplify.flow import map_exprs, substitute

ZERO, ONE = Const(0.0), Const(1.0)


def _value(e: Expr) -> float | None:
    return e.value if isinstance(e, Const) else None


def _identity(op: str, args: tuple[Expr, ...]) -> Expr | None:
    """The simpler equal form of ``op(*args)``, or None."""
    a = args[0]
    b = args[1] if len(args) > 1 else None
    va, vb = _value(a), _value(b) if b is not None else None
    if op == "add":
        if va == 0:
            return b
        if vb == 0:
            return a
    elif op == "sub":
        if vb == 0:
            return a
        if va == 0:
            return Call("neg", (b,))
        if a == b:
            return ZERO
    elif op == "mul":
        if va == 0 or vb == 0:
            return ZERO
        if va == 1:
            return b
        if vb == 1:
            return a
        if va == -1:
            return Call("neg", (b,))
        if vb == -1:
            return Call("neg", (a,))
    elif op == "div":
        if vb == 0 or va == 0:
            return ZERO  # safe division: x / 0 is 0
        if vb == 1:
            return a
    elif op == "neg":
        if isinstance(a, Call) and a.op == "neg":
            return a.args[0]
    elif op in ("sign", "abs"):
        if isinstance(a, Call) and a.op == op:
            return a
        if op == "abs" and isinstance(a, Call) and a.op == "neg":
            return Call("abs", a.args)
    elif op == "pow":
        if vb == 1:
            return Call("abs", (a,))
        if vb == 0:
            return ONE
    elif op == "interp":
        c = _value(args[2])
        if c == 0 or args[0] == args[1]:
            return args[0]
        if c == 1:
            return args[1]
    elif op in ("maximum", "minimum") and a == b:
        return a
    return None


def fold_expr(e: Expr) -> Expr:
    """Fold constants and identities bottom-up."""
    if not isinstance(e, Call):
        return e
    args = tuple(fold_expr(x) for x in e.args)
    if all(isinstance(x, Const) for x in args):
        value = REGISTRY[e.op].scalar(*(x.value for x in args))
        if math.isfinite(value):
            return Const(value)
    simpler = _identity(e.op, args)
    if simpler is not None:
        return fold_expr(simpler) if simpler != e else simpler
    return e if args == e.args else Call(e.op, args)


def fold_constants(program: Program) -> Program:
    """Fold constants everywhere; never-assigned state becomes 0."""
    assigned = {s.target for s in program.body}
    zeros = {s: ZERO for s in names(program).state if s not in assigned}
    if zeros:
        program = map_exprs(program, lambda e: substitute(e, zeros))
    return map_exprs(program, fold_expr)


__all__ = ["fold_constants", "fold_expr"]
