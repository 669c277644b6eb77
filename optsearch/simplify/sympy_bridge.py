"""IR <-> sympy, built from the primitives' sympy forms in the registry.

Symbols are ``real=True`` (``t`` too: real, not positive, so that a known rule and a
program with numbers in place of its hyperparameters keep the same ``Abs`` structure).
Constants become exact rationals (``0.9 -> 9/10``), so ``1 - 0.9`` is exactly ``1/10``.

Safe semantics are kept exactly, not approximately:

* ``div(x, y)`` is ``x * inv0(y)``; :class:`inv0` is 0 at 0 and only evaluates to ``1/y``
  once sympy proves ``y != 0`` (so ``x*y/y`` is *not* cancelled to ``x``: at ``y == 0``
  the engine returns 0). ``rsqrt(x)`` is ``inv0(sqrt(|x|))`` for the same reason.
* ``sqrt``/``log``/``pow``/``arcsin``/``clip`` use the registry forms (``sqrt(|x|)``...).
* Reductions (``norm``, ``rms``, ``mean``, ``dot``) are opaque sympy Functions of their
  (elementwise) argument: equal arguments give equal reductions, nothing more.
* Shaped primitives (``rowdot``...) are opaque too. A primitive whose registry form
  :func:`from_sympy` cannot turn back into the same primitive (checked once, at first
  use, by a round trip) is also an opaque Function, with the positivity its registry form
  has. Adding a primitive therefore needs no change here.

``log(|x| + tiny)`` is treated as ``log|x|``: the two differ only where ``|x| < 1e-300``.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Callable, Mapping

import sympy as sp

from primitives import REGISTRY
from optsearch.program import Call, Const, Expr, Var


class Unconvertible(ValueError):
    """A sympy expression with no faithful form in the language (e.g. ``zoo``, ``I``)."""


class inv0(sp.Function):
    """Safe reciprocal: ``1/y`` where ``y != 0``, and 0 where ``y == 0`` (the engine's div)."""

    nargs = 1

    @classmethod
    def eval(cls, y):
        if y.is_zero:
            return sp.S.Zero
        if y.is_zero is False:
            return 1 / y
        if isinstance(y, inv0):  # inv0(inv0(y)) == y, at 0 too
            return y.args[0]
        if y.is_Mul:  # 1/(ab) = 1/a * 1/b, and 0 when either is 0: exact under safe div
            return sp.Mul(*(inv0(f) for f in y.args))
        if y.is_Pow and y.exp.is_Integer and y.exp > 0:
            return inv0(y.base) ** y.exp

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_nonnegative(self):
        return self.args[0].is_nonnegative

    def _eval_is_nonpositive(self):
        return self.args[0].is_nonpositive


class inv0s(inv0):
    """:class:`inv0` that never uses sympy's sign facts: ``inv0s(eps + |v|)`` stays put.

    Recognition compares a rule with symbolic hyperparameters against a program with
    numbers; sympy would prove ``1e-8 + |v|`` nonzero (and rewrite its reciprocal) but not
    ``eps + |v|``, so both sides use this structural form to stay alike.
    """

    @classmethod
    def eval(cls, y):
        if y.is_Number:
            return sp.S.Zero if y == 0 else 1 / y
        if isinstance(y, inv0):
            return y.args[0]
        if y.is_Mul:
            return sp.Mul(*(inv0s(f) for f in y.args))
        if y.is_Pow and y.exp.is_Integer and y.exp > 0:
            return inv0s(y.base) ** y.exp
        if y.is_Add:  # sympy spreads integers into sums: 1/(6x + 4) -> 1/(2 (3x + 2))
            content, prim = y.primitive()
            if content.is_Integer and content > 1:
                return inv0s(prim) / content


def _opaque(name: str, positive: bool | None, nonnegative: bool | None) -> type:
    """A sympy Function class standing for primitive ``name`` (real-valued)."""

    def is_real(self):
        return True

    def is_pos(self):
        return positive

    def is_nonneg(self):
        return nonnegative

    return type(f"op_{name}", (sp.Function,), {
        "_eval_is_real": is_real, "_eval_is_positive": is_pos,
        "_eval_is_nonnegative": is_nonneg, "_op": name,
    })


def const_to_sympy(value: float) -> sp.Expr:
    """Exact rational for a float: the simplest fraction that is the same double."""
    if value == int(value) and abs(value) < 2**53:
        return sp.Integer(int(value))
    frac = Fraction(value).limit_denominator(10**9)
    if float(frac) == value:
        return sp.Rational(frac.numerator, frac.denominator)
    return sp.Rational(repr(value))


def symbol_for(name: str, nonnegative: bool = False) -> sp.Symbol:
    return sp.Symbol(name, nonnegative=True) if nonnegative else sp.Symbol(name, real=True)


# ---------------------------------------------------------------------------------------
# Registry-derived tables (built once).

_X, _Y, _Z = sp.symbols("x_ y_ z_", real=True)


def _reduction_class(name: str) -> type:
    """Opaque Function for a reduction/shaped primitive, with its form's sign facts."""
    prim = REGISTRY[name]
    try:
        xs = [list(sp.symbols(f"e{i}_:2", real=True)) for i in range(prim.arity)]
        if prim.kind == "reduction":
            form = prim.sympy(*xs)
            pos, nonneg = form.is_positive, form.is_nonnegative
        else:  # shaped: a 0-d tensor can make counts 0, so claim at most non-negativity
            form = prim.sympy(*(sp.Array([x]) for x in xs))
            pos = None
            nonneg = True if all(v.is_nonnegative for v in form) else None
    except Exception:  # noqa: BLE001 -- an odd form only loses sign facts
        pos = nonneg = None
    return _opaque(name, pos, nonneg)


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, Callable], dict[type, str], frozenset[str]]:
    """(op -> sympy builder, sympy head -> op for plain heads, opaque op names)."""
    builders: dict[str, Callable] = {}
    heads: dict[type, str] = {}
    opaque: set[str] = set()
    for name, prim in REGISTRY.items():
        if prim.kind != "elementwise":  # reductions and shaped primitives
            builders[name] = _reduction_class(name)
            heads[builders[name]] = name
            opaque.add(name)
            continue
        builders[name] = prim.sympy
    builders["div"] = lambda x, y: x * inv0(y)
    builders["rsqrt"] = lambda x: inv0(sp.sqrt(sp.Abs(x)))
    for name, prim in REGISTRY.items():
        if prim.kind != "elementwise" or prim.arity != 1:
            continue
        form = builders[name](_X)
        if isinstance(form, sp.Function) and form.args == (_X,):
            heads.setdefault(type(form), name)
    # Round-trip check: an entry that does not come back as itself becomes opaque.
    for name, prim in REGISTRY.items():
        if prim.kind != "elementwise" or name in ("div", "rsqrt"):
            continue
        args = [_X, _Y, _Z][: prim.arity]
        form = builders[name](*args)
        try:
            roles = {"x_": "input", "y_": "state", "z_": "hyper"}
            back = from_sympy(form, roles, _raw=(builders, heads))
            ok = back == Call(name, tuple(Var(str(a)) for a in args))
        except Exception:  # noqa: BLE001 -- anything not invertible becomes opaque
            ok = False
        if not ok:
            builders[name] = _opaque(name, form.is_positive, form.is_nonnegative)
            heads[builders[name]] = name
            opaque.add(name)
    return builders, heads, frozenset(opaque)


def builders() -> Mapping[str, Callable]:
    return _tables()[0]


def opaque_ops() -> frozenset[str]:
    """Primitives sympy treats as opaque functions (reductions, and any non-invertible form)."""
    return _tables()[2]


# ---------------------------------------------------------------------------------------
# IR -> sympy

_STRUCTURAL = {"div": lambda x, y: x * inv0s(y), "rsqrt": lambda x: inv0s(sp.sqrt(sp.Abs(x)))}


def to_sympy(expr: Expr, env: Mapping[str, sp.Expr] | None = None,
             memo: dict | None = None, structural: bool = False) -> sp.Expr:
    """Sympy form of ``expr``; names take ``env[name]`` or a real Symbol of that name.

    With ``env`` mapping temporaries to their sympy values this inlines a whole program
    (see :func:`optsearch.simplify.flow.sympy_flow`). ``memo`` (Expr -> sympy) lets
    callers share work between expressions. ``structural`` uses :class:`inv0s` for
    division (recognition).
    """
    build = dict(builders(), **_STRUCTURAL) if structural else builders()
    memo = {} if memo is None else memo
    env = env or {}

    def go(e: Expr) -> sp.Expr:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if isinstance(e, Const):
            out = const_to_sympy(e.value)
        elif isinstance(e, Var):
            out = env[e.name] if e.name in env else symbol_for(e.name)
        else:
            out = build[e.op](*(go(a) for a in e.args))
        memo[e] = out
        return out

    return go(expr)


# ---------------------------------------------------------------------------------------
# sympy -> IR

def _const(value) -> Const:
    f = float(value)
    if f != f or f in (float("inf"), float("-inf")):
        raise Unconvertible(f"non-finite constant {value}")
    return Const(f)


def from_sympy(expr: sp.Expr, roles: Mapping[str, str] | None = None, *,
               _raw: tuple | None = None) -> Expr:
    """Language form of a sympy expression produced by :func:`to_sympy` (and rewritten).

    Args:
        roles: program name -> ``"state" | "hyper" | "input" | "temp"``; guides
            re-folding into ``interp`` (a hyperparameter is the natural ``a``, a state
            variable the natural carried value ``y``).

    Raises:
        Unconvertible: when some part has no faithful form in the language.
    """
    from optsearch.simplify import refold

    heads = (_raw if _raw else _tables())[1]
    roles = roles or {}
    memo: dict[sp.Expr, Expr] = {}

    def go(e: sp.Expr) -> Expr:
        hit = memo.get(e)
        if hit is None:
            hit = memo[e] = convert(e)
        return hit

    def convert(e: sp.Expr) -> Expr:
        if e.is_Symbol:
            return Var(e.name)
        if not e.free_symbols:
            try:
                value = complex(e.evalf(20))
            except TypeError:  # an opaque function of a constant: convert structurally
                value = None
            if value is not None:
                if value.imag != 0:
                    raise Unconvertible(f"{e} is not a real number")
                return _const(value.real)
        if e.is_Add:
            return refold.from_add(e, go, roles)
        if e.is_Mul:
            return _from_mul(e, go)
        if e.is_Pow:
            return _from_pow(e, go)
        folded = refold.from_function(e, go)
        if folded is not None:
            return folded
        if type(e) in heads:
            return Call(heads[type(e)], tuple(go(a) for a in e.args))
        if isinstance(e, inv0):
            return Call("div", (Const(1.0), go(e.args[0])))
        if isinstance(e, (sp.Max, sp.Min)):
            op = "maximum" if isinstance(e, sp.Max) else "minimum"
            args = [go(a) for a in e.args]
            out = args[0]
            for a in args[1:]:
                out = Call(op, (out, a))
            return out
        if isinstance(e, sp.log):
            (a,) = e.args
            inner = nice_abs_arg(a.args[0]) if isinstance(a, sp.Abs) else a
            if isinstance(a, sp.Abs) or a.is_positive:
                return Call("log", (go(inner),))
        if isinstance(e, sp.asin):
            (a,) = e.args
            inner = refold.unclamp_unit(a)
            if inner is not None:
                return Call("arcsin", (go(inner),))
        raise Unconvertible(f"no language form for {type(e).__name__}: {e}")

    return go(expr)


def _from_mul(e: sp.Expr, go: Callable[[sp.Expr], Expr]) -> Expr:
    coeff, rest = e.as_coeff_Mul()
    factors = list(sp.Mul.make_args(rest)) if rest != 1 else []
    from optsearch.simplify.refold import sign_from_factors

    factors = sign_from_factors(factors)
    num: list[Expr] = []
    den: list[Expr] = []
    factors.sort(key=lambda f: 0 if f == _LR else 1)  # "lr * ..." reads as in the papers
    for f in factors:
        if isinstance(f, inv0):
            den.append(go(f.args[0]))
        elif f.is_Pow and f.exp.is_Number and f.exp < 0 and f.base.is_zero is False:
            den.append(go(f.base ** (-f.exp)))
        else:
            num.append(go(f))
    neg = coeff < 0
    c = -coeff if neg else coeff
    if c != 1 and c.is_Rational and c.p == 1 and c.q <= 1000 and len(repr(float(c))) > 8:
        den.append(_const(c.q))  # x / 3 rather than 0.3333333333333333 * x
    elif c != 1:
        num.insert(0, _const(c))
    numer = _product(num) if num else Const(1.0)
    body = Call("div", (numer, _product(den))) if den else numer
    return Call("neg", (body,)) if neg else body


_LR = sp.Symbol("lr", real=True)


def _product(items: list[Expr]) -> Expr:
    out = items[0]
    for x in items[1:]:
        out = Call("mul", (out, x))
    return out


def nice_abs_arg(u: sp.Expr) -> sp.Expr:
    """``u`` with sums flipped to a non-negative constant term (``|1 - b| == |b - 1|``).

    Inside ``|.|`` any factor may change sign, so each factor (and each reciprocal's
    argument: ``inv0(-u) == -inv0(u)``) is flipped on its own.
    """
    if u.is_Add and u.as_coeff_Add()[0].is_negative:
        return -u
    if isinstance(u, inv0):
        return inv0(nice_abs_arg(u.args[0]))
    if u.is_Mul:
        return sp.Mul(*(nice_abs_arg(f) for f in u.args))
    if u.is_Pow and u.exp.is_Integer:
        return nice_abs_arg(u.base) ** u.exp
    return u


def _from_pow(e: sp.Expr, go: Callable[[sp.Expr], Expr]) -> Expr:
    base, exp = e.base, e.exp
    if exp.is_Integer:
        n = int(exp)
        if n == 2:
            return Call("square", (go(base),))
        if n < 0:
            if base.is_zero is False:
                return Call("div", (Const(1.0), go(base ** (-n))))
            if n % 2 == 0:  # b**-2k == |b|**-2k, inf at 0 exactly as pow
                return Call("pow", (go(base), _const(n)))
            raise Unconvertible(f"odd negative power of a possibly-zero base: {e}")
        if n % 2 == 0:
            return Call("pow", (go(base), _const(n)))
        return Call("mul", (go(base ** (n - 1)), go(base)))
    inner = nice_abs_arg(base.args[0]) if isinstance(base, sp.Abs) else \
        (base if base.is_nonnegative else None)
    if inner is None:
        raise Unconvertible(f"non-integer power of a possibly-negative base: {e}")
    if exp == sp.Rational(1, 2):
        return Call("sqrt", (go(inner),))
    return Call("pow", (go(inner), go(exp)))


__all__ = ["Unconvertible", "inv0", "to_sympy", "from_sympy", "const_to_sympy", "symbol_for",
           "builders", "opaque_ops", "inv0s"]
