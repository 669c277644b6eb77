"""Hypothesis strategies for valid programs (shared by parser, printer and simplifier tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from primitives import REGISTRY
from optsearch.program import Assign, Call, Const, Expr, Program, Var

_OPS = sorted(REGISTRY)
_HYPER = ("beta1", "beta2", "eps")

consts = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False,
                   allow_subnormal=False).map(lambda f: Const(f))


def exprs(names: list[str], max_depth: int = 4, ops: list[str] | None = None) -> st.SearchStrategy[Expr]:
    leaves = st.one_of(st.sampled_from(names).map(Var), consts)
    pool = ops or _OPS

    def extend(children):
        return st.sampled_from(pool).flatmap(
            lambda op: st.tuples(*([children] * REGISTRY[op].arity)).map(lambda a, op=op: Call(op, a)))

    return st.recursive(leaves, extend, max_leaves=2 ** max_depth)


@st.composite
def programs(draw, max_statements: int = 6, ops: list[str] | None = None,
             max_depth: int = 3) -> Program:
    n_hyper = draw(st.integers(0, len(_HYPER)))
    hyper = tuple((h, draw(st.floats(0.0, 1.0))) for h in _HYPER[:n_hyper])
    n_state = draw(st.integers(0, 2))
    state = [f"s{i}" for i in range(n_state)]
    readable = ["w", "g", "lr", "t", *[h for h, _ in hyper], *state]
    body: list[Assign] = []
    n = draw(st.integers(0, max_statements))
    for i in range(n):
        target = draw(st.sampled_from(state + [f"v{i}"])) if state else f"v{i}"
        body.append(Assign(target, draw(exprs(readable, max_depth, ops))))
        if target not in readable:
            readable.append(target)
    assigned = {s.target for s in body}
    for s in state:
        if s not in assigned:
            body.append(Assign(s, draw(exprs(readable, max_depth, ops))))
    ret = draw(exprs(readable, max_depth, ops))
    return Program("p", hyper, tuple(body), ret, None)
