"""Matching a program against a rule template whose hyperparameters are unknowns.

The template is a known rule in whole-step sympy form (:func:`~.flow.sympy_flow`) with its
hyperparameters as symbols; the program is in the same form with numbers. Matching walks
both trees together and collects equations ``hyperparameter expression == number``:

* a sum is matched term by term after grouping terms by their *variable part* (the
  product of factors that mention inputs or state); the template's coefficients (in the
  hyperparameters) equal the program's (numbers). A template term may be missing from the
  program when its coefficient can be 0 (``wd * w`` with ``wd = 0``);
* a product: the coefficients form an equation, the variable factors are matched one to
  one (any order);
* a template state variable binds to one program state variable (one to one);
* the input ``g`` (or ``w``) may bind to a whole expression of the program's inputs, the
  same everywhere: "Lion applied to arcsin(clip(g))";
* anything else must have the same head and matching arguments.

Sums and products are tried in every pairing (backtracking), which is cheap for the small
trees of update rules. Equations are solved by :func:`solve`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Iterator

import sympy as sp

from optsearch.simplify.sympy_bridge import inv0, inv0s



@dataclass(frozen=True)
class Ctx:
    """A partial match: bindings and collected equations (immutable, for backtracking)."""

    states: tuple[tuple[sp.Symbol, sp.Symbol], ...] = ()
    inputs: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    equations: tuple[tuple[sp.Expr, sp.Expr], ...] = ()
    vanished: int = 0

    def bind_state(self, k: sp.Symbol, p: sp.Symbol) -> "Ctx | None":
        for a, b in self.states:
            if a == k or b == p:
                return self if (a == k and b == p) else None
        return replace(self, states=self.states + ((k, p),))

    def bind_input(self, k: sp.Symbol, p: sp.Expr) -> "Ctx | None":
        for a, b in self.inputs:
            if a == k:
                return self if b == p else None
        return replace(self, inputs=self.inputs + ((k, p),))

    def equate(self, k: sp.Expr, p: sp.Expr, vanished: int = 0) -> "Ctx":
        if k == p:
            return self if not vanished else replace(self, vanished=self.vanished + vanished)
        return replace(self, equations=self.equations + ((k, p),),
                       vanished=self.vanished + vanished)


def normal(e: sp.Expr) -> sp.Expr:
    """Negative integer powers as ``inv0`` powers, so proven-nonzero divisions (``Pow(x, -1)``
    on the numeric side) and unproven ones (``inv0(x)`` on the symbolic side) look alike."""
    def neg_pow(x):
        return x.is_Pow and x.exp.is_Integer and x.exp < 0

    return e.replace(neg_pow, lambda x: sp.Pow(inv0s(x.base, evaluate=False), -x.exp))


@dataclass
class Matcher:
    """Template symbols: ``theta`` (unknowns), ``k_states``; program: ``p_states``."""

    theta: frozenset[sp.Symbol]
    k_states: frozenset[sp.Symbol]
    p_states: frozenset[sp.Symbol]
    substitutable: frozenset[sp.Symbol]
    budget: list[int] = field(default_factory=lambda: [5000])
    _terms: dict = field(default_factory=dict)
    _const: dict = field(default_factory=dict)

    def const_k(self, e: sp.Expr) -> bool:
        hit = self._const.get(e)
        if hit is None:
            hit = self._const[e] = e.free_symbols <= self.theta
        return hit

    def const_p(self, e: sp.Expr) -> bool:
        return e.is_number

    def split(self, e: sp.Expr, const) -> tuple[sp.Expr, list[sp.Expr]]:
        """(constant coefficient, variable factors) of a product."""
        factors = sp.Mul.make_args(e)
        coeff = sp.Mul(*(f for f in factors if const(f)))
        return coeff, [f for f in factors if not const(f)]

    def terms(self, e: sp.Expr, const) -> dict[sp.Expr, sp.Expr]:
        """variable part -> summed coefficient, after distributing products over sums."""
        key = (e, const == self.const_k)
        if key not in self._terms:
            self._terms[key] = self._terms_of(e, const)
        return dict(self._terms[key])

    @staticmethod
    def _flat(e: sp.Expr, const, top: bool) -> list[sp.Expr]:
        """Terms of ``e``. Products are distributed over sums at the top; below, only
        constant multipliers are (as sympy's own evaluation does with numbers, so the
        template's ``beta * (beta * m + g)`` looks like the program's ``0.81*m + 0.9*g``)."""
        out: list[sp.Expr] = []
        for t in sp.Add.make_args(e):
            factors = sp.Mul.make_args(t)
            adds = [f for f in factors if f.is_Add]
            others = [f for f in factors if not f.is_Add]
            if adds and (top or (len(adds) == 1 and all(const(f) for f in others))):
                rest = sp.Mul(*others)
                first, more = adds[0], sp.Mul(*adds[1:])
                for x in Matcher._flat(first, const, top):
                    out += Matcher._flat(sp.Mul(rest, more, x, evaluate=True), const, top) \
                        if more != 1 else Matcher._flat(rest * x, const, False)
            else:
                out.append(t)
        return out

    def _terms_of(self, e: sp.Expr, const) -> dict[sp.Expr, sp.Expr]:
        out: dict[sp.Expr, sp.Expr] = {}
        for t in self._flat(e, const, True):
            c, fs = self.split(t, const)
            mono = sp.Mul(*fs)
            out[mono] = out.get(mono, sp.S.Zero) + c
        return out

    # ----------------------------------------------------------------------------------
    def match(self, k: sp.Expr, p: sp.Expr, ctx: Ctx) -> Iterator[Ctx]:
        self.budget[0] -= 1
        if self.budget[0] < 0:
            return
        if self.const_k(k):
            if self.const_p(p):
                yield ctx.equate(k, p)
            return
        if k.is_Symbol:
            yield from self._symbol(k, p, ctx)
            return
        if self.const_p(p) and not (k.is_Add or k.is_Mul):
            yield from self._to_const(k, p, ctx)
            return
        if k.is_Add or (k.is_Mul and any(f.is_Add for f in k.args)):
            yield from self._sum(k, p, ctx)
            return
        if k.is_Mul:
            yield from self._product(k, p, ctx)
            return
        if isinstance(k, sp.Abs) and not isinstance(p, sp.Abs) and p.is_nonnegative:
            yield from self.match(k.args[0], p, ctx)
        if type(k) is not type(p) or len(k.args) != len(p.args):
            if k.is_Pow and not p.is_Pow and not self.const_p(p):
                # the numeric side may have folded a power of 1 away: x ** theta ~ x
                yield from self._args([k.base, k.exp], [p, sp.S.One], ctx)
            return
        if isinstance(k, (sp.Max, sp.Min)):
            for perm in itertools.permutations(p.args):
                yield from self._args(list(k.args), list(perm), ctx)
            return
        yield from self._args(list(k.args), list(p.args), ctx)

    def _to_const(self, k: sp.Expr, p: sp.Expr, ctx: Ctx) -> Iterator[Ctx]:
        """A template expression the program's hyperparameters made constant
        (``inv0(1 + lr_decay * (t - 1))`` is 1 when ``lr_decay = 0``)."""
        if isinstance(k, inv0) and p != 0:
            yield from self.match(k.args[0], 1 / p, ctx)
        elif isinstance(k, sp.Abs) and p.is_nonnegative:
            yield from self.match(k.args[0], p, ctx)
        elif k.is_Pow and self.const_k(k.exp) and k.exp.is_number and p.is_positive:
            yield from self.match(k.base, p ** (1 / k.exp), ctx)

    def _args(self, ks: list[sp.Expr], ps: list[sp.Expr], ctx: Ctx) -> Iterator[Ctx]:
        if not ks:
            yield ctx
            return
        for c in self.match(ks[0], ps[0], ctx):
            yield from self._args(ks[1:], ps[1:], c)

    def _symbol(self, k: sp.Symbol, p: sp.Expr, ctx: Ctx) -> Iterator[Ctx]:
        if k in self.k_states:
            if p in self.p_states:
                c = ctx.bind_state(k, p)
                if c is not None:
                    yield c
            return
        if k == p:
            c = ctx.bind_input(k, p) if k in self.substitutable else ctx
            if c is not None:
                yield c
            return
        if k in self.substitutable and not (p.free_symbols & self.p_states) and \
                k in p.free_symbols and not self.const_p(p):
            c = ctx.bind_input(k, p)
            if c is not None:
                yield c

    def _product(self, k: sp.Expr, p: sp.Expr, ctx: Ctx) -> Iterator[Ctx]:
        kc, kf = self.split(k, self.const_k)
        pc, pf = self.split(p, self.const_p)
        if len(kf) == 1 and kc == 1 and len(pf) != 1:
            yield from self.match(kf[0], p, ctx)
            return
        if len(kf) < len(pf):
            return
        ctx = ctx.equate(kc, pc)
        # template factors the program's values made 1 (see _to_const) drop out
        for ones in itertools.combinations(range(len(kf)), len(kf) - len(pf)):
            base: list[Ctx] = [ctx]
            for i in ones:
                base = [c2 for c in base for c2 in self.match(kf[i], sp.S.One, c)]
            rest = [f for i, f in enumerate(kf) if i not in ones]
            for c in base:
                yield from self._pair(rest, pf, c)

    def _pair(self, ks: list[sp.Expr], ps: list[sp.Expr], ctx: Ctx) -> Iterator[Ctx]:
        """Match ``ks`` to ``ps`` one to one, in any order."""
        if not ks:
            yield ctx
            return
        head, rest = ks[0], ks[1:]
        for i, p in enumerate(ps):
            for c in self.match(head, p, ctx):
                yield from self._pair(rest, ps[:i] + ps[i + 1:], c)

    def _sum(self, k: sp.Expr, p: sp.Expr, ctx: Ctx) -> Iterator[Ctx]:
        kt = self.terms(k, self.const_k)
        pt = self.terms(p, self.const_p)
        k0 = kt.pop(sp.S.One, sp.S.Zero)
        p0 = pt.pop(sp.S.One, sp.S.Zero)
        if len(pt) > len(kt):
            return
        yield from self._assign(list(kt), list(pt), kt, pt, ctx.equate(k0, p0))

    def _assign(self, ks: list, ps: list, kt: dict, pt: dict, ctx: Ctx) -> Iterator[Ctx]:
        """Pair template terms with program terms; a template term may vanish instead."""
        if not ks:
            if not ps:
                yield ctx
            return
        if len(ks) < len(ps):
            return
        head, rest = ks[0], ks[1:]
        for i, p in enumerate(ps):
            for c in self.match(head, p, ctx):
                yield from self._assign(rest, ps[:i] + ps[i + 1:], kt, pt,
                                        c.equate(kt[head], pt[p]))
        if len(ks) > len(ps):  # this term's coefficient is 0 in the program
            yield from self._assign(rest, ps, kt, pt, ctx.equate(kt[head], sp.S.Zero, 1))


def solve(equations, unknowns: dict[sp.Symbol, float], tol: float = 1e-9
          ) -> dict[sp.Symbol, float] | None:
    """Values for ``unknowns`` (name -> starting guess) satisfying every ``lhs == rhs``.

    One-unknown equations are solved exactly with sympy, substituting as they go; what is
    left is refined by Gauss-Newton from the starting guesses. Returns None when the
    residuals do not vanish (to ``tol``, relative).
    """
    eqs = [sp.sympify(a) - sp.sympify(b) for a, b in equations]
    known: dict[sp.Symbol, sp.Expr] = {}
    progress = True
    while progress:
        progress = False
        for e in eqs:
            e2 = e.xreplace(known)
            free = e2.free_symbols
            if len(free) != 1:
                continue
            (x,) = free
            slope = sp.diff(e2, x)
            if not slope.has(x) and slope != 0:  # linear: no need for sympy's solver
                sols = [-e2.xreplace({x: sp.S.Zero}) / slope]
            elif sp.count_ops(e2) > 40:  # leave hard ones to Gauss-Newton
                continue
            else:
                try:
                    sols = [s for s in sp.solve(e2, x) if s.is_real is not False]
                except (NotImplementedError, TypeError, ValueError):
                    continue
            sols = [complex(s.evalf()) for s in sols]
            sols = [s.real for s in sols if abs(s.imag) < 1e-12]
            if not sols:
                return None
            guess = unknowns.get(x, 0.0)
            best = min(sols, key=lambda s: (s < -1e-15, abs(s - guess)))
            known[x] = sp.Float(best, 30)
            progress = True
    left = [e.xreplace(known) for e in eqs]
    for (_, b), e in zip(equations, left):
        if not e.free_symbols and not _small(e, b, tol):
            return None  # fully determined and violated: no need to iterate
    rest = sorted({s for e in left for s in e.free_symbols}, key=str)
    if rest:
        values = _gauss_newton([e.xreplace(known) for e in eqs], rest,
                               [unknowns.get(s, 0.5) for s in rest])
        if values is None:
            return None
        known.update({s: sp.Float(v, 30) for s, v in zip(rest, values)})
    for (_, b), e in zip(equations, eqs):
        if not _small(e.xreplace(known), b, tol):
            return None
    out = {s: float(v) for s, v in known.items()}
    for s, guess in unknowns.items():
        out.setdefault(s, guess)  # not constrained by any equation: keep the default
    return out


def _small(residual: sp.Expr, rhs, tol: float) -> bool:
    try:
        r = complex(residual.evalf())
        scale = 1.0 + abs(complex(sp.sympify(rhs).evalf()))
    except TypeError:
        return False
    return abs(r) <= tol * scale


def _gauss_newton(eqs, syms, x0, iters: int = 20):
    import numpy as np

    x = np.array(x0, dtype=float)

    def resid(v):
        sub = {s: sp.Float(float(a), 30) for s, a in zip(syms, v)}
        return np.array([complex(e.xreplace(sub).evalf()).real for e in eqs])

    try:
        best = np.inf
        for _ in range(iters):
            r = resid(x)
            norm = float(np.max(np.abs(r)))
            if norm < 1e-13 or norm > 0.999 * best:  # converged, or stalled
                break
            best = norm
            jac = np.empty((len(eqs), len(syms)))
            for j in range(len(syms)):
                h = 1e-7 * max(1.0, abs(x[j]))
                xp = x.copy()
                xp[j] += h
                jac[:, j] = (resid(xp) - r) / h
            step, *_ = np.linalg.lstsq(jac, -r, rcond=None)
            x = x + step
    except (TypeError, ValueError, np.linalg.LinAlgError):
        return None
    return list(x)


__all__ = ["Matcher", "Ctx", "normal", "solve"]
