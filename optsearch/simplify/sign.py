"""Sign invariance: what a ``sign`` cannot see is removed from under it.

``sign(c * x) = sign(x)`` for ``c > 0`` (and ``-sign(x)`` for ``c < 0``); ``sign(x / p)``
and ``sign(x * p)`` with ``p`` provably positive (``exp``, ``cosh``, ``sigmoid``, ``|y| + c``
with ``c > 0``...) equal ``sign(x)``; ``sign(f(x)) = sign(x)`` for every odd, increasing
unary primitive ``f`` (``tanh``, ``arcsin``, ``arctan``, ``sinh``, ``sign``...),
``sign(clip(x, c))`` for a constant ``c != 0``, ``sign(x * x * x)`` and ``sign(x * |x|)``
equal ``sign(x)``; ``sign(p) = 1`` for positive ``p``; ``x / |x| = |x| / x = sign(x)``
(safe division makes these hold at 0 too).

Which primitives are sign-preserving is not listed by hand: each unary primitive's
``scalar`` form is probed on magnitudes from 1e-30 to 1e30 of both signs and 0; which are
positive / non-negative is read from its sympy form *and* confirmed by the same float64
probe (``exp`` underflows to 0, so ``sign(x * exp(y))`` is left alone). A new primitive
is handled without an edit here. Hyperparameters are never assumed positive (``eps`` may
be 0). A positive constant factor is dropped even though ``c * x`` could underflow for
``|c * x| < 1e-308``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from primitives import REGISTRY
from optsearch.program import Call, Const, Expr, Program
from optsearch.simplify.flow import map_exprs


def _grid() -> np.ndarray:
    mags = np.concatenate([10.0 ** np.linspace(-30, 30, 241), np.linspace(0.05, 5.0, 100)])
    return np.concatenate([mags, -mags, [0.0]])


@lru_cache(maxsize=None)
def _probe(name: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.array([REGISTRY[name].scalar(float(x)) for x in _grid()])


def _unary_elementwise() -> list[str]:
    return [n for n, p in REGISTRY.items() if p.kind == "elementwise" and p.arity == 1]


@lru_cache(maxsize=1)
def sign_preserving() -> frozenset[str]:
    """Unary primitives with ``sign(f(x)) == sign(x)`` for every probed x (in float64)."""
    return frozenset(n for n in _unary_elementwise()
                     if np.array_equal(np.sign(_probe(n)), np.sign(_grid())))


@lru_cache(maxsize=1)
def _unary_facts() -> dict[str, tuple[bool, bool]]:
    """op -> (always positive, always non-negative), from the registry's sympy forms."""
    from optsearch.simplify.sympy_bridge import builders

    x, y = sp.symbols("x y", real=True)
    facts = {}
    for name, prim in REGISTRY.items():
        if prim.kind == "elementwise":
            args = [x, y, sp.Symbol("z", real=True)][: prim.arity]
            try:
                form = builders()[name](*args)
            except Exception:  # noqa: BLE001 -- no facts for an odd form
                continue
        else:
            form = builders()[name](*([x] * prim.arity))
        pos, nonneg = form.is_positive is True, form.is_nonnegative is True
        if prim.kind == "elementwise" and prim.arity == 1:
            # float64 must agree: exp(-1000) is 0.0, so exp is only non-negative there
            pos = pos and bool(np.all(_probe(name) > 0))
            nonneg = nonneg and bool(np.all(_probe(name) >= 0))
        facts[name] = (pos, nonneg)
    return facts


def is_positive(e: Expr) -> bool:
    """True when ``e`` is > 0 for every input (False means: not proven)."""
    if isinstance(e, Const):
        return e.value > 0
    if not isinstance(e, Call):
        return False
    if _unary_facts().get(e.op, (False, False))[0]:
        return True
    a = e.args
    if e.op == "add":
        return (is_positive(a[0]) and is_nonnegative(a[1])) or \
            (is_nonnegative(a[0]) and is_positive(a[1]))
    if e.op in ("mul", "div"):
        return is_positive(a[0]) and is_positive(a[1])
    if e.op == "maximum":
        return is_positive(a[0]) or is_positive(a[1])
    if e.op == "minimum":
        return is_positive(a[0]) and is_positive(a[1])
    if e.op == "sqrt":
        return is_positive(a[0]) or _is_negative_const(a[0])
    return False


def is_nonnegative(e: Expr) -> bool:
    if isinstance(e, Const):
        return e.value >= 0
    if not isinstance(e, Call):
        return False
    if any(_unary_facts().get(e.op, (False, False))):
        return True
    a = e.args
    if e.op in ("add", "mul", "div", "minimum"):
        return is_nonnegative(a[0]) and is_nonnegative(a[1])
    if e.op == "maximum":
        return is_nonnegative(a[0]) or is_nonnegative(a[1])
    return is_positive(e)


def _is_negative_const(e: Expr) -> bool:
    return isinstance(e, Const) and e.value < 0


def _strip(x: Expr) -> tuple[Expr | None, bool]:
    """(what ``sign(x)`` equals ``±sign`` of, negated?) -- or (None, _) for ``sign(x) == 1``."""
    flip = False
    while isinstance(x, Call):
        op, a = x.op, x.args
        if is_positive(x):
            return None, flip
        if op == "neg":
            x, flip = a[0], not flip
        elif op in ("mul", "div") and (is_positive(a[1]) or _is_negative_const(a[1])):
            flip ^= _is_negative_const(a[1])
            x = a[0]
        elif op == "mul" and (is_positive(a[0]) or _is_negative_const(a[0])):
            flip ^= _is_negative_const(a[0])
            x = a[1]
        elif op == "div" and is_positive(a[0]):
            x = a[1]  # sign(c / y) == sign(y) for c > 0 (and 0 where y == 0)
        elif op == "mul" and _odd_power_pair(a[0], a[1]):
            x = a[0] if not _wraps(a[0]) else a[1]
        elif op in sign_preserving() and len(a) == 1:
            x = a[0]
        elif op == "clip" and isinstance(a[1], Const) and a[1].value != 0:
            x = a[0]
        else:
            break
    return x, flip


def _wraps(e: Expr) -> bool:
    return isinstance(e, Call) and e.op in ("square", "abs")


def _odd_power_pair(p: Expr, q: Expr) -> bool:
    """``x * x**2`` or ``x * |x|`` (either order): the product has the sign of ``x``."""
    for u, v in ((p, q), (q, p)):
        if _wraps(v) and v.args[0] == u:
            return True
    return False


def rewrite_signs(e: Expr) -> Expr:
    """Apply the sign rules everywhere in ``e`` (bottom-up)."""
    if not isinstance(e, Call):
        return e
    args = tuple(rewrite_signs(a) for a in e.args)
    if e.op == "div" and _abs_pair(args[0], args[1]):
        inner = args[0] if not _is_abs(args[0]) else args[1]
        return rewrite_signs(Call("sign", (inner,)))
    if e.op == "sign":
        x, flip = _strip(args[0])
        if x is None:
            return Const(-1.0 if flip else 1.0)
        out: Expr = Call("sign", (x,))
        return Call("neg", (out,)) if flip else out
    return e if args == e.args else Call(e.op, args)


def _is_abs(e: Expr) -> bool:
    return isinstance(e, Call) and e.op == "abs"


def _abs_pair(p: Expr, q: Expr) -> bool:
    return (_is_abs(q) and q.args[0] == p) or (_is_abs(p) and p.args[0] == q)


def sign_invariance(program: Program) -> Program:
    """Remove positive factors and odd increasing wrappers from under every ``sign``."""
    return map_exprs(program, rewrite_signs)


__all__ = ["sign_invariance", "rewrite_signs", "sign_preserving", "is_positive", "is_nonnegative"]
