"""Which known rule is this program? ``recognize`` answers "Lion with beta2 = 0.998, applied
to arcsin(clip(g, 1.0))", or "novel (nearest: signum, cosine 0.83)".

For every rule in ``optsearch.known_names()``: both programs are simplified and put in
whole-step sympy form (:func:`~.flow.sympy_flow`), the known rule with its hyperparameters
(and a learning-rate scale) as unknowns, the program with its own hyperparameters at their
defaults. :mod:`.match` pairs the two forms and collects equations for the unknowns,
which :func:`~.match.solve` solves. A solution is only accepted once :func:`~.equivalent`
confirms the known rule, at the solved values, with the same input substitution, *is* the
program. Among confirmed matches the simplest explanation wins: no substitution, then no
learning-rate scale, then fewest vanished terms (adam over adamw with wd = 0), then fewest
changed hyperparameters.

A program no rule explains is novel; it is reported with the known rule whose updates
point most the same way (mean cosine similarity over random trajectories, with both at
their defaults), which says what family it is closest to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp
import torch

from optsearch.interpret import init_state, step
from optsearch.known import known, known_names
from optsearch.printer import expr_text
from optsearch.program import Call, Const, Program, walk
from optsearch.simplify.equivalence import Verdict, equivalent
from optsearch.simplify.fit import fit, scaled
from optsearch.simplify.flow import SympyFlow, roles, substitute, sympy_flow, with_body
from optsearch.simplify.match import Ctx, Matcher, normal, solve
from optsearch.simplify.pipeline import simplify
from optsearch.simplify.sympy_bridge import Unconvertible, from_sympy

LR_SCALE = sp.Symbol("lr_scale", nonnegative=True)
MAX_CANDIDATES = 40
FIT_CANDIDATES = 2
FIT_MIN_SIMILARITY = 0.8


@dataclass(frozen=True)
class Recognition:
    """What a program is.

    Attributes:
        name: the known rule it is (None: novel).
        hyperparams: the rule's hyperparameters that reproduce the program (all of them).
        changed: those that differ from the rule's defaults.
        lr_scale: the program equals the rule run at ``lr * lr_scale``.
        applied_to: input -> the expression (program text) the rule is applied to instead.
        verdict: the equivalence check that confirmed the match.
        nearest, similarity: for a novel program, the behaviourally closest known rule
            and the mean cosine similarity of their updates.
        description: one readable line.
    """

    name: str | None
    description: str
    hyperparams: dict[str, float] = field(default_factory=dict)
    changed: dict[str, float] = field(default_factory=dict)
    lr_scale: float = 1.0
    applied_to: dict[str, str] = field(default_factory=dict)
    verdict: Verdict | None = None
    nearest: str | None = None
    similarity: float | None = None

    @property
    def novel(self) -> bool:
        return self.name is None

    @property
    def exact(self) -> bool:
        """The known rule itself, at its defaults."""
        return self.name is not None and not self.changed and self.lr_scale == 1.0 \
            and not self.applied_to

    def __str__(self) -> str:
        return self.description


@lru_cache(maxsize=64)
def _template(name: str, program: Program) -> tuple[Program, SympyFlow]:
    simple = simplify(program)
    return simple, sympy_flow(simple, None, nonnegative_hyper=True, structural=True)


def _relevant(flow: SympyFlow) -> dict[sp.Symbol, sp.Expr]:
    """state symbol -> transition, for state reaching the update."""
    by_sym = {flow.symbols[s]: s for s in flow.state_out}
    out: dict[sp.Symbol, sp.Expr] = {}
    todo = [flow.update]
    while todo:
        e = todo.pop()
        for sym in e.free_symbols:
            if sym in by_sym and sym not in out:
                out[sym] = flow.state_out[by_sym[sym]]
                todo.append(out[sym])
    return out


def _matches(kflow: SympyFlow, kprog: Program, pflow: SympyFlow):
    """Complete matches (Ctx) of the template against the program, best first."""
    theta = frozenset(kflow.symbols[h] for h, _ in kprog.hyperparams) | {LR_SCALE}
    k_rel, p_rel = _relevant(kflow), _relevant(pflow)
    if len(k_rel) < len(p_rel):  # (the rule may have more: state whose terms vanish)
        return
    m = Matcher(theta, frozenset(k_rel), frozenset(p_rel),
                frozenset({kflow.symbols["g"], kflow.symbols["w"]}))
    k_update = normal(LR_SCALE * kflow.update)
    p_update = normal(pflow.update)
    k_norm = {s: normal(e) for s, e in k_rel.items()}
    p_norm = {s: normal(e) for s, e in p_rel.items()}

    def states(ctx: Ctx, done: frozenset):
        pending = [(a, b) for a, b in ctx.states if a not in done]
        if not pending:
            if len(ctx.states) == len(p_rel):
                yield ctx
            return
        a, b = pending[0]
        for c in m.match(k_norm[a], p_norm[b], ctx):
            yield from states(c, done | {a})

    for ctx in m.match(k_update, p_update, Ctx()):
        yield from states(ctx, frozenset())


def _apply(kprog: Program, values: dict[str, float], scale: float,
           applied: dict[str, object]) -> Program:
    """The known rule at ``values``, on substituted inputs, scaled by ``scale``."""
    rule = kprog.with_defaults(**values)
    if applied:
        body = [type(s)(s.target, substitute(s.value, applied)) for s in rule.body]
        rule = with_body(rule, body, substitute(rule.ret, applied))
    if scale != 1.0:
        rule = with_body(rule, rule.body, Call("mul", (Const(scale), rule.ret)))
    return rule


def _rounded(v: float) -> float:
    return float(f"{v:.10g}")


def _describe(name: str, changed: dict[str, float], scale: float, applied: dict[str, str]) -> str:
    parts = [name]
    if changed:
        parts.append("with " + ", ".join(f"{k} = {v:g}" for k, v in changed.items()))
    if applied:
        parts.append(", ".join(f"applied to {v}" + ("" if k == "g" else f" in place of {k}")
                               for k, v in applied.items()))
    if scale != 1.0:
        parts.append(f"with lr scaled by {scale:g}")
    return " ".join(parts[:2]) + ("" if len(parts) <= 2 else ", " + ", ".join(parts[2:]))


def _try_rule(name: str, pprog: Program, pflow: SympyFlow, proles: dict[str, str]):
    kprog, kflow = _template(name, known(name))
    defaults = kprog.defaults
    guesses = {kflow.symbols[h]: v for h, v in defaults.items()}
    guesses[LR_SCALE] = 1.0
    seen = set()
    for n, ctx in enumerate(_matches(kflow, kprog, pflow)):
        if n >= MAX_CANDIDATES:
            break
        key = (ctx.equations, ctx.inputs)
        if key in seen:
            continue
        seen.add(key)
        sol = solve(ctx.equations, guesses)
        if sol is None:
            continue
        values = {h: _rounded(sol[kflow.symbols[h]]) for h in defaults}
        scale = _rounded(sol.get(LR_SCALE, 1.0))
        applied_ir, applied_txt = {}, {}
        try:
            for k, e in ctx.inputs:
                if e != k:
                    applied_ir[k.name] = from_sympy(e, proles)
                    applied_txt[k.name] = expr_text(applied_ir[k.name])
        except Unconvertible:
            continue
        candidate = _apply(known(name), values, scale, applied_ir)
        verdict = equivalent(pprog, candidate)
        if not verdict.equal:
            continue
        changed = {h: v for h, v in values.items() if v != _rounded(defaults[h])}
        rank = (len(applied_txt), scale != 1.0, len(changed), ctx.vanished, len(defaults))
        rec = Recognition(name, _describe(name, changed, scale, applied_txt), values, changed,
                          scale, applied_txt, verdict)
        return rank, rec
    return None


_ARITHMETIC = frozenset({"add", "sub", "mul", "div", "neg", "interp", "square"})


def _ops(program: Program) -> frozenset[str]:
    """Primitives a program uses beyond arithmetic (a cheap structural signature)."""
    exprs = [s.value for s in program.body] + [program.ret]
    return frozenset(e.op for x in exprs for e in walk(x)
                     if isinstance(e, Call) and e.op not in _ARITHMETIC)


def _fit_rule(name: str, pprog: Program, pflow: SympyFlow):
    """Numeric fallback (see :mod:`.fit`) for a rule with as much state as the program."""
    kprog, kflow = _template(name, known(name))
    if len(_relevant(kflow)) != len(_relevant(pflow)):
        return None
    got = fit(pprog, known(name))
    if got is None:
        return None
    values, scale = got
    candidate = scaled(known(name).with_defaults(**values), scale)
    verdict = equivalent(pprog, candidate)
    if not verdict.equal:
        return None
    defaults = kprog.defaults
    changed = {h: v for h, v in values.items() if v != _rounded(defaults[h])}
    rank = (0, scale != 1.0, len(changed), 0, len(defaults))
    return rank, Recognition(name, _describe(name, changed, scale, {}) + " (fitted numerically)",
                             values, changed, scale, {}, verdict)


def similarity(p: Program, q: Program, steps: int = 6, seed: int = 0) -> float:
    """Mean cosine similarity of the two programs' updates on shared random trajectories."""
    sims = []
    for shape, scale in (((48,), 1.0),):
        gen = torch.Generator().manual_seed(seed)
        w = torch.randn(shape, generator=gen, dtype=torch.float64)
        sp_, sq_ = init_state(p, w), init_state(q, w)
        for t in range(1, steps + 1):
            g = torch.randn(shape, generator=gen, dtype=torch.float64) * scale + 0.3 * w * scale
            with np.errstate(all="ignore"):
                up, sp_ = step(p, w, g, 1e-3, t, sp_)
                uq, sq_ = step(q, w, g, 1e-3, t, sq_)
            a, b = up.flatten(), uq.flatten()
            if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
                sims.append(0.0)
                continue
            na, nb = float(a.norm()), float(b.norm())
            sims.append(float(a @ b) / (na * nb) if na > 0 and nb > 0 else float(na == nb))
            w = w - up
    return float(np.mean(sims))


def recognize(program: Program, rules: list[str] | None = None) -> Recognition:
    """Which known rule ``program`` is (see the module docstring)."""
    simple = simplify(program)
    pflow = sympy_flow(simple, simple.defaults, structural=True)
    proles = roles(simple)
    found = []
    for name in rules or known_names():
        hit = _try_rule(name, program, pflow, proles)
        if hit is not None:
            found.append(hit)
    if found:
        return min(found, key=lambda h: h[0])[1]
    sims = {name: similarity(program, known(name)) for name in rules or known_names()}
    # numeric fallback (costly): rules using the same primitives, else the closest ones
    same_ops = [n for n in sims if _ops(_template(n, known(n))[0]) == _ops(simple)]
    closest = [n for n in sorted(sims, key=lambda k: -sims[k])[:FIT_CANDIDATES]
               if sims[n] >= FIT_MIN_SIMILARITY]
    for name in dict.fromkeys(same_ops + closest):
        hit = _fit_rule(name, program, pflow)
        if hit is not None:
            found.append(hit)
    if found:
        return min(found, key=lambda h: h[0])[1]
    nearest = max(sims, key=lambda k: sims[k])
    return Recognition(None, f"novel (nearest: {nearest}, update cosine similarity "
                             f"{sims[nearest]:.2f})", nearest=nearest, similarity=sims[nearest])


__all__ = ["recognize", "Recognition", "similarity"]
