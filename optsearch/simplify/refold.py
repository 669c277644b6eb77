"""Re-folding sympy forms into the language's readable primitives.

Sympy flattens ``interp(g, m, 0.9)`` into ``g/10 + 9*m/10`` and ``clip(x, c)`` into
``Max(-|c|, Min(x, |c|))``. These helpers, called by :func:`~.sympy_bridge.from_sympy`,
fold them back, picking the smallest form (node count) and, on ties, the one that reads
like the literature: ``interp(g, m, beta1)`` with the hyperparameter as ``a`` and the
state variable as the carried value ``y``. ``x / |x|`` and ``|x| / x`` become ``sign(x)``
(equal everywhere, at 0 too, under safe division).
"""

from __future__ import annotations

from typing import Callable, Mapping

import sympy as sp

from optsearch.program import Call, Expr, walk

Go = Callable[[sp.Expr], Expr]
_TOL = 1e-12


def _terms(e: sp.Expr) -> list[sp.Expr]:
    return list(e.as_ordered_terms())


def plain_add(terms: list[sp.Expr], go: Go) -> Expr:
    """``t1 + t2 - t3 ...``: positive terms first (in sympy's order), then subtractions."""
    pos, neg = [], []
    for t in terms:
        c, _ = t.as_coeff_Mul()
        (neg if c.is_negative else pos).append(t)
    if pos:
        out = go(pos[0])
        rest_pos = pos[1:]
    else:
        out = Call("neg", (go(-neg[0]),))
        neg = neg[1:]
        rest_pos = []
    for t in rest_pos:
        out = Call("add", (out, go(t)))
    for t in neg:
        out = Call("sub", (out, go(-t)))
    return out


def _with_rest(core: Expr, rest: sp.Expr, go: Go) -> Expr:
    if rest == 0:
        return core
    if not rest.is_Add and rest.as_coeff_Mul()[0].is_negative:
        return Call("sub", (core, go(-rest)))
    return Call("add", (core, go(rest)))


def _linear(t: sp.Expr, a: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``(t0, t1)`` with ``t == t0 + a * t1`` and neither containing ``a``, else None."""
    if not t.has(a):
        return t, sp.S.Zero
    if t == a:
        return sp.S.Zero, sp.S.One
    if t.is_Add:
        parts = [_linear(x, a) for x in t.args]
        if any(p is None for p in parts):
            return None
        return sp.Add(*(p[0] for p in parts)), sp.Add(*(p[1] for p in parts))
    if t.is_Mul:
        with_a = [f for f in t.args if f.has(a)]
        if len(with_a) != 1:
            return None
        inner = _linear(with_a[0], a)
        if inner is None:
            return None
        rest = sp.Mul(*(f for f in t.args if f is not with_a[0]))
        return rest * inner[0], rest * inner[1]
    return None


def _symbolic_interps(e: sp.Expr, roles: Mapping[str, str], go: Go) -> list[tuple[Expr, int]]:
    """``e = e0 + a*e1`` for a hyperparameter ``a`` -> ``interp(x, x + e1, a) + rest``."""
    out = []
    hypers = sorted((s for s in e.free_symbols if roles.get(s.name) == "hyper"), key=str)
    for a in hypers:
        split = _linear(e, a)
        if split is None or split[1] == 0:
            continue
        e0, e1 = split
        e1_terms = set(sp.Add.make_args(e1))
        x = sp.Add(*[t for t in sp.Add.make_args(e0) if -t in e1_terms])
        if x == 0:
            x = e0
        rest = e0 - x
        y = x + e1
        if x == 0 or y == 0:  # (1 - a) * x reads better than interp(x, 0, a)
            continue
        core = Call("interp", (go(x), go(y), go(a)))
        pref = 2 if _is_role(y, roles, "state") else 1
        out.append((_with_rest(core, rest, go), pref))
    return out


def _is_role(e: sp.Expr, roles: Mapping[str, str], role: str) -> bool:
    return e.is_Symbol and roles.get(e.name) == role


def _numeric_interps(e: sp.Expr, roles: Mapping[str, str], go: Go) -> list[tuple[Expr, int]]:
    """Terms grouped by numeric coefficient; two groups with c1 + c2 == 1 -> interp."""
    groups: dict[sp.Expr, list[sp.Expr]] = {}
    for t in sp.Add.make_args(e):
        c, r = t.as_coeff_Mul()
        groups.setdefault(c, []).append(r)
    coeffs = [c for c in groups if c.is_Rational and 0 < c < 1]
    out = []
    for i, ca in enumerate(coeffs):
        for cb in coeffs[i + 1:]:
            if abs(float(ca + cb) - 1.0) > _TOL:
                continue
            xa, xb = sp.Add(*groups[ca]), sp.Add(*groups[cb])
            rest = e - ca * xa - cb * xb
            # y (weight a) is the carried state if one side is one; else the larger weight.
            a_is_b = _is_role(xb, roles, "state") or (not _is_role(xa, roles, "state") and cb > ca)
            x, y, a = (xa, xb, cb) if a_is_b else (xb, xa, ca)
            core = Call("interp", (go(x), go(y), go(a)))
            out.append((_with_rest(core, rest, go), 2 if _is_role(y, roles, "state") else 1))
    return out


def from_add(e: sp.Expr, go: Go, roles: Mapping[str, str]) -> Expr:
    """The smallest readable form of a sympy Add (plain sum, or with an ``interp``)."""
    plain = plain_add(_terms(e), go)
    candidates: list[tuple[Expr, int]] = [(plain, 0)]
    try:
        candidates += _symbolic_interps(e, roles, go)
        candidates += _numeric_interps(e, roles, go)
    except Exception as err:  # noqa: BLE001 -- a failed re-fold keeps the plain form
        from optsearch.simplify.sympy_bridge import Unconvertible

        if not isinstance(err, Unconvertible):
            raise
    # smallest; on a tie prefer the interp whose carried value is a state variable
    best = min(candidates, key=lambda c: (_expr_size(c[0]), -c[1]))
    return best[0]


def _expr_size(e: Expr) -> int:
    return sum(1 for _ in walk(e))


def _strip_abs(u: sp.Expr) -> sp.Expr | None:
    """``c`` for a bound written ``|c|``, or a non-negative bound itself."""
    if isinstance(u, sp.Abs):
        return u.args[0]
    if u.is_nonnegative:
        return u
    return None


def _clip_parts(e: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """``(x, c)`` when ``e`` is ``Max(-|c|, Min(x, |c|))`` or ``Min(|c|, Max(-|c|, x))``."""
    outer, inner_cls = (sp.Max, sp.Min) if isinstance(e, sp.Max) else (sp.Min, sp.Max)
    if not isinstance(e, outer) or len(e.args) != 2:
        return None
    for inner, bound in ((e.args[0], e.args[1]), (e.args[1], e.args[0])):
        if not isinstance(inner, inner_cls) or len(inner.args) != 2:
            continue
        for x, other in ((inner.args[0], inner.args[1]), (inner.args[1], inner.args[0])):
            upper, lower = (other, bound) if outer is sp.Max else (bound, other)
            if sp.expand(upper + lower) != 0:
                continue
            c = _strip_abs(upper)
            if c is not None:
                return x, c
    return None


def from_function(e: sp.Expr, go: Go) -> Expr | None:
    """``clip`` from its Max/Min form, or None."""
    parts = _clip_parts(e) if isinstance(e, (sp.Max, sp.Min)) else None
    if parts is None:
        return None
    x, c = parts
    return Call("clip", (go(x), go(c)))


def unclamp_unit(a: sp.Expr) -> sp.Expr | None:
    """``u`` for ``Max(-1, Min(1, u))`` (the clamp inside arcsin), else None."""
    parts = _clip_parts(a) if isinstance(a, (sp.Max, sp.Min)) else None
    if parts is not None and parts[1] == 1:
        return parts[0]
    return None


def sign_from_factors(factors: list[sp.Expr]) -> list[sp.Expr]:
    """Replace ``u * inv0(|u|)`` and ``|u| * inv0(u)`` by ``sign(u)`` in a product."""
    from optsearch.simplify.sympy_bridge import inv0

    out = list(factors)
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(out):
            if not isinstance(f, inv0):
                continue
            d = f.args[0]
            partner = d.args[0] if isinstance(d, sp.Abs) else sp.Abs(d)
            if partner in out:
                j = out.index(partner)
                u = partner if isinstance(d, sp.Abs) else d
                out = [x for k, x in enumerate(out) if k not in (i, j)] + [sp.sign(u)]
                changed = True
                break
    return out


__all__ = ["from_add", "from_function", "unclamp_unit", "sign_from_factors", "plain_add"]
