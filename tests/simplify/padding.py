"""Make a known rule look like a raw search result: renamed, padded, with redundancy.

Used by the simplify and recognize tests. Every transformation keeps behaviour (the tests
check that too), so a correct simplifier must undo it.
"""

from __future__ import annotations

import random

from optsearch.analysis import names
from optsearch.program import INPUTS, Assign, Call, Const, Expr, Program, Var
from optsearch.simplify.flow import def_use, substitute


def rename(p: Program, prefix: str = "q") -> Program:
    """Every state variable and temporary renamed (hyperparameters and inputs kept)."""
    n = names(p)
    mapping = {x: Var(f"{prefix}_{x}") for x in (*n.state, *n.temporaries)}
    body = tuple(Assign(mapping[s.target].name, substitute(s.value, mapping)) for s in p.body)
    return Program(p.name, p.hyperparams, body, substitute(p.ret, mapping), None)


def _wrap_signs(e: Expr, k: float) -> Expr:
    """sign(x) -> sign(tanh(k * arcsin(x ...))): a positive multiplier and monotone wrappers."""
    if not isinstance(e, Call):
        return e
    args = tuple(_wrap_signs(a, k) for a in e.args)
    if e.op == "sign":
        inner = Call("tanh", (Call("mul", (Const(k), Call("arctan", args)),),))
        return Call("sign", (inner,))
    return Call(e.op, args)


def pad(p: Program, seed: int = 0) -> Program:
    """``p`` with dead statements, a redundant recomputation, constant multipliers that
    cancel or vanish under ``sign``, and odd monotone wrappers under ``sign``."""
    rng = random.Random(seed)
    body = [Assign(s.target, _wrap_signs(s.value, 2.5)) for s in p.body]
    ret = _wrap_signs(p.ret, 2.5)
    # a redundant recomputation: duplicate a statement just before it, redirect one reader
    du = def_use(Program(p.name, p.hyperparams, tuple(body), ret, None))
    calls = [i for i, s in enumerate(body) if isinstance(s.value, Call)]
    if calls:
        i = rng.choice(calls)
        target, dup = body[i].target, f"dup_{i}"
        readers = du.readers[i]
        body.insert(i, Assign(dup, body[i].value))
        if readers:
            j = readers[0]
            if j < len(body) - 1:  # a statement, shifted by the insertion
                body[j + 1] = Assign(body[j + 1].target,
                                     substitute(body[j + 1].value, {target: Var(dup)}))
            else:
                ret = substitute(ret, {target: Var(dup)})
    # constant multipliers that cancel: ret * 8.0 * 0.125
    ret = Call("mul", (Call("mul", (ret, Const(8.0))), Const(0.125)))
    # dead statements at random places, reading live values
    for k in range(3):
        at = rng.randint(0, len(body))
        readable = list(INPUTS) + [s.target for s in body[:at]]
        x = rng.choice(readable)
        dead = Assign(f"dead_{k}", Call("exp", (Call("mul", (Var(x), Const(0.5 + k)),),)))
        body.insert(at, dead)
    # an unused state variable that feeds only itself
    body.append(Assign("junk_state", Call("interp", (Var("g"), Var("junk_state"), Const(0.9)))))
    return Program(p.name, p.hyperparams, tuple(body), ret, None)


def nondefault(p: Program) -> dict[str, float]:
    """Hyperparameter values different from the defaults (0 -> 0.05, betas closer to 1,
    others x1.3)."""
    out = {}
    for k, v in p.hyperparams:
        if v == 0:
            out[k] = 0.05
        elif 0.5 <= v < 1:  # betas: move towards 1
            out[k] = round(1 - (1 - v) * 0.7, 12)
        else:
            out[k] = float(f"{v * 1.3:.12g}")
    return out
