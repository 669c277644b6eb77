"""Data flow of a straight-line program: def-use chains, liveness, whole-step sympy forms.

A program's statements may reassign names, and a state variable's last value is read by
the *next* step. Every pass that moves or drops code asks these questions, so they are
answered once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from optsearch.analysis import names
from optsearch.program import INPUTS, Call, Expr, Program, Var, reads


@dataclass(frozen=True, slots=True)
class DefUse:
    """Who reads what.

    Attributes:
        uses: per statement, how many reads (later statements and the return) see its value.
        live_out: statements whose value a state variable carries into the next step.
        readers: per statement, indices of the statements reading it (``len(body)`` = return).
    """

    uses: tuple[int, ...]
    live_out: frozenset[int]
    readers: tuple[tuple[int, ...], ...]


def def_use(program: Program) -> DefUse:
    state = set(names(program).state)
    current: dict[str, int] = {}
    uses = [0] * len(program.body)
    readers: list[list[int]] = [[] for _ in program.body]
    exprs = [s.value for s in program.body] + [program.ret]
    for j, value in enumerate(exprs):
        for n in reads(value):
            d = current.get(n)
            if d is not None:
                uses[d] += 1
                readers[d].append(j)
        if j < len(program.body):
            current[program.body[j].target] = j
    live_out = frozenset(current[s] for s in state if s in current)
    return DefUse(tuple(uses), live_out, tuple(tuple(r) for r in readers))


def assigned_between(program: Program, start: int, stop: int) -> set[str]:
    """Names assigned by statements ``start .. stop-1``."""
    return {program.body[k].target for k in range(start, min(stop, len(program.body)))}


def live_statements(program: Program, live_out: set[str]) -> tuple[list[int], set[str]]:
    """Backward liveness: (indices of statements whose value is used, names live at entry).

    ``live_out`` is the set of state variables whose final value the next step reads.
    """
    live = set(reads(program.ret)) | set(live_out)
    kept: list[int] = []
    for j in range(len(program.body) - 1, -1, -1):
        s = program.body[j]
        if s.target in live:
            kept.append(j)
            live.discard(s.target)
            live.update(reads(s.value))
    kept.reverse()
    return kept, live


def with_body(program: Program, body, ret: Expr | None = None) -> Program:
    return Program(program.name, program.hyperparams, tuple(body),
                   program.ret if ret is None else ret, program.doc)


def roles(program: Program) -> dict[str, str]:
    """name -> ``"state" | "hyper" | "input" | "temp"`` (guides re-folding)."""
    n = names(program)
    out = {x: "input" for x in INPUTS}
    out.update({h: "hyper" for h in n.hyperparams})
    out.update({t: "temp" for t in n.temporaries})
    out.update({s: "state" for s in n.state})
    return out


def substitute(expr: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """``expr`` with each ``Var(name)`` in ``mapping`` replaced."""
    if isinstance(expr, Var):
        return mapping.get(expr.name, expr)
    if isinstance(expr, Call):
        args = tuple(substitute(a, mapping) for a in expr.args)
        return expr if args == expr.args else Call(expr.op, args)
    return expr


def map_exprs(program: Program, fn) -> Program:
    """Apply ``fn(expr) -> expr`` to every statement's value and the return."""
    body = [type(s)(s.target, fn(s.value)) for s in program.body]
    return with_body(program, body, fn(program.ret))


@dataclass(frozen=True)
class SympyFlow:
    """One step of a program as sympy expressions of the step's inputs.

    Attributes:
        update: the returned update.
        state_out: state variable -> its value at the end of the step.
        symbols: name -> the Symbol standing for it (inputs, hyperparameters, state at entry).
    """

    update: sp.Expr
    state_out: dict[str, sp.Expr]
    symbols: dict[str, sp.Symbol]


def sympy_flow(program: Program, hyper: Mapping[str, float] | None = None,
               nonnegative_hyper: bool = False, structural: bool = False) -> SympyFlow:
    """Whole-step sympy form: every temporary inlined, state read at entry as a Symbol.

    Args:
        hyper: hyperparameter values to substitute as exact rationals (None: symbols).
        nonnegative_hyper: hyperparameter symbols are ``nonnegative`` rather than real
            (recognition assumes known rules' hyperparameters are >= 0).
        structural: division as :class:`~.sympy_bridge.inv0s` (see there).
    """
    from optsearch.simplify.sympy_bridge import const_to_sympy, symbol_for, to_sympy

    n = names(program)
    env: dict[str, sp.Expr] = {}
    symbols: dict[str, sp.Symbol] = {}
    for x in INPUTS:
        symbols[x] = env[x] = symbol_for(x)
    for h, default in program.hyperparams:
        if hyper is not None:
            env[h] = const_to_sympy(float(hyper.get(h, default)))
        else:
            symbols[h] = env[h] = symbol_for(h, nonnegative=nonnegative_hyper)
    for s in n.state:
        symbols[s] = env[s] = symbol_for(s)
    memo: dict = {}
    for st in program.body:
        env[st.target] = to_sympy(st.value, env, memo, structural)
        memo = {}  # names were rebound: cached Var lookups are stale
    update = to_sympy(program.ret, env, {}, structural)
    return SympyFlow(update, {s: env[s] for s in n.state}, symbols)


__all__ = ["DefUse", "def_use", "live_statements", "assigned_between", "with_body", "roles",
           "substitute", "map_exprs", "SympyFlow", "sympy_flow"]
