"""Mutations of programs (Lion paper, section 2.1) and statement crossover.

Each ``mutate_*`` takes a program and an explicit ``random.Random`` and returns a new
program, or None when it has nothing to act on (no constant to mutate, a one-statement
program to delete from...). :func:`mutate` picks a kind by weight and retries until the
child is valid (every name read is defined somewhere, limits respected), as the Lion code
re-mutates until abstract execution succeeds. Redundant statements are allowed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Mapping

from optsearch.program import INPUTS, Assign, Call, Const, Expr, Program, Var, depth, reads, walk
from optsearch.search.random_stmt import Grammar, random_call, random_const, random_name, \
    random_statement

MAX_CONST = 1e10
"""Constants are clipped to +-MAX_CONST after scaling, as in the Lion code."""

KINDS = ("insert", "delete", "modify", "constant", "hyperparam", "crossover")


@dataclass(frozen=True)
class Limits:
    """Bloat control: a child beyond these is rejected and re-drawn."""

    max_statements: int = 10
    max_depth: int = 4


def assigned(program: Program) -> list[str]:
    """Variables the program assigns, in order of first assignment."""
    seen: list[str] = []
    for s in program.body:
        if s.target not in seen:
            seen.append(s.target)
    return seen


def readable(program: Program) -> list[str]:
    """Names a new expression may read anywhere in the program.

    A variable read before its assignment is state (last step's value), so every
    assigned variable is readable at every position.
    """
    return list(INPUTS) + [k for k, _ in program.hyperparams] + assigned(program)


def fresh_name(program: Program) -> str:
    taken = set(readable(program))
    k = 0
    while f"v{k}" in taken:
        k += 1
    return f"v{k}"


def is_valid(program: Program, limits: Limits) -> bool:
    """Every name read is defined, and the program is within the limits."""
    if len(program.body) > limits.max_statements:
        return False
    ok = set(readable(program))
    exprs = [s.value for s in program.body] + [program.ret]
    return all(set(reads(e)) <= ok and depth(e) <= limits.max_depth for e in exprs)


def _replace_node(expr: Expr, target_index: int, new: Expr) -> Expr:
    """``expr`` with its ``target_index``-th node (``walk`` order) replaced by ``new``."""
    counter = [0]

    def go(node: Expr) -> Expr:
        i = counter[0]
        counter[0] += 1
        if i == target_index:
            # Skip the counter past the replaced subtree so later indices stay consistent.
            counter[0] += sum(1 for _ in walk(node)) - 1
            return new
        if isinstance(node, Call):
            return Call(node.op, tuple(go(a) for a in node.args))
        return node

    return go(expr)


def _with_exprs(program: Program, exprs: list[Expr]) -> Program:
    body = tuple(Assign(s.target, e) for s, e in zip(program.body, exprs[:-1]))
    return Program(program.name, program.hyperparams, body, exprs[-1], program.doc)


def mutate_insert(program: Program, rng: random.Random, grammar: Grammar,
                  limits: Limits) -> Program | None:
    """Insert a random statement at a random position (disabled at max_statements)."""
    if len(program.body) >= limits.max_statements:
        return None
    pos = rng.randint(0, len(program.body))
    stmt = random_statement(rng, readable(program), assigned(program), fresh_name(program), grammar)
    body = program.body[:pos] + (stmt,) + program.body[pos:]
    return Program(program.name, program.hyperparams, body, program.ret, program.doc)


def _substitute(expr: Expr, name: str, new: Expr) -> Expr:
    if isinstance(expr, Var):
        return new if expr.name == name else expr
    if isinstance(expr, Call):
        return Call(expr.op, tuple(_substitute(a, name, new) for a in expr.args))
    return expr


def _bypass(program: Program, pos: int) -> Program | None:
    """Delete statement ``pos`` and let readers of its target read the statement's first
    input instead (``mhat = m / c`` deleted: ``mhat`` becomes ``m``)."""
    stmt = program.body[pos]
    body = program.body[:pos] + program.body[pos + 1:]
    if any(s.target == stmt.target for s in body):
        return None
    defined = set(INPUTS) | {k for k, _ in program.hyperparams} | {s.target for s in body}
    source = next((n for n in reads(stmt.value) if n != stmt.target and n in defined), None)
    if source is None:
        return None
    new_body = tuple(Assign(s.target, _substitute(s.value, stmt.target, Var(source))) for s in body)
    return Program(program.name, program.hyperparams, new_body,
                   _substitute(program.ret, stmt.target, Var(source)), program.doc)


def mutate_delete(program: Program, rng: random.Random, grammar: Grammar,
                  limits: Limits) -> Program | None:
    """Delete a random statement, trying positions in random order until the child is valid.

    Where deleting a statement would leave its variable undefined (every statement of
    AdamW is like that), the readers are bypassed to the statement's first input instead.
    """
    order = list(range(len(program.body)))
    rng.shuffle(order)
    for pos in order:
        body = program.body[:pos] + program.body[pos + 1:]
        child = Program(program.name, program.hyperparams, body, program.ret, program.doc)
        if is_valid(child, limits):
            return child
    for pos in order:
        child = _bypass(program, pos)
        if child is not None and is_valid(child, limits):
            return child
    return None


def mutate_modify(program: Program, rng: random.Random, grammar: Grammar,
                  limits: Limits) -> Program | None:
    """Change one argument of one statement: to a variable, a new constant, a new
    sub-expression, a call wrapping the old argument, or swap a call's primitive."""
    exprs = [s.value for s in program.body] + [program.ret]
    which = rng.randrange(len(exprs))
    nodes = list(walk(exprs[which]))
    index = rng.randrange(len(nodes))
    old = nodes[index]
    names = readable(program)
    choice = rng.random()
    if choice < 0.35:
        new: Expr = random_name(rng, names)
    elif choice < 0.5:
        new = random_const(rng)
    elif choice < 0.75:
        new = random_call(rng, names, grammar)
    elif choice < 0.9:
        new = random_call(rng, names, grammar, depth=2)
        args = list(new.args)
        args[rng.randrange(len(args))] = old
        new = Call(new.op, tuple(args))
    else:
        if not isinstance(old, Call):
            return None
        from primitives import REGISTRY

        same = [o for o in grammar.weights if REGISTRY[o].arity == len(old.args) and o != old.op]
        if not same:
            return None
        new = Call(rng.choices(same, [grammar.weights[o] for o in same])[0], old.args)
    if new == old:
        return None
    exprs[which] = _replace_node(exprs[which], index, new)
    return _with_exprs(program, exprs)


def scale_value(value: float, rng: random.Random) -> float:
    """``value * 2**a`` with a ~ N(0, 1), clipped to +-MAX_CONST."""
    v = value * 2.0 ** rng.gauss(0.0, 1.0)
    return max(-MAX_CONST, min(MAX_CONST, v))


def mutate_constant(program: Program, rng: random.Random, grammar: Grammar,
                    limits: Limits) -> Program | None:
    """Multiply a random constant by 2^N(0,1) (4 times in 5) or resample it from N(0, 1)."""
    exprs = [s.value for s in program.body] + [program.ret]
    sites = [(i, j) for i, e in enumerate(exprs) for j, n in enumerate(walk(e))
             if isinstance(n, Const)]
    if not sites:
        return None
    i, j = rng.choice(sites)
    node = list(walk(exprs[i]))[j]
    assert isinstance(node, Const)
    if rng.random() < 0.2 or node.value == 0.0:
        value = rng.gauss(0.0, 1.0)
    else:
        value = scale_value(node.value, rng)
    exprs[i] = _replace_node(exprs[i], j, Const(round(value, 8) if value else 0.0))
    return _with_exprs(program, exprs)


def mutate_hyperparam(program: Program, rng: random.Random, grammar: Grammar,
                      limits: Limits) -> Program | None:
    """Mutate one hyperparameter default.

    Values in (0.5, 1) (decay rates such as betas) are mutated as
    ``1 - (1 - v) * 2^a``, a ~ N(0, 1), so 0.999 can move to 0.9995 or 0.998 and never past
    1 (where ``1 - (1 - v) * 2^a`` would drop below 0, v shrinks by ``2^-|a|`` instead).
    Others (eps, wd, scales) are multiplied by 2^a; a value in (0, 1) stays there (else it
    shrinks by ``2^-|a|``). A zero becomes a small positive value (turning on, say, weight
    decay).
    """
    if not program.hyperparams:
        return None
    k = rng.randrange(len(program.hyperparams))
    name, v = program.hyperparams[k]
    if 0.5 < v < 1.0:
        a = rng.gauss(0.0, 1.0)
        new = 1.0 - (1.0 - v) * 2.0 ** a
        if new <= 0.0:
            new = v * 2.0 ** -abs(a)
    elif v == 0.0:
        new = 1e-3 * 2.0 ** rng.gauss(0.0, 1.0)
    else:
        a = rng.gauss(0.0, 1.0)
        new = max(-MAX_CONST, min(MAX_CONST, v * 2.0 ** a))
        if 0.0 < v < 1.0 and new >= 1.0:
            new = v * 2.0 ** -abs(a)
    new = float(f"{new:.8g}")
    if new == v or not math.isfinite(new) or (0.0 < v < 1.0 and not 0.0 < new < 1.0):
        return None
    hp = program.hyperparams[:k] + ((name, new),) + program.hyperparams[k + 1:]
    return Program(program.name, hp, program.body, program.ret, program.doc)


def crossover(a: Program, b: Program, rng: random.Random, limits: Limits) -> Program | None:
    """One-point statement crossover: ``a``'s first statements, then ``b``'s tail and return.

    Hyperparameters are ``a``'s plus any of ``b``'s that ``a`` lacks.
    """
    for _ in range(8):
        i = rng.randint(0, len(a.body))
        j = rng.randint(0, len(b.body))
        hp = a.hyperparams + tuple((k, v) for k, v in b.hyperparams if k not in a.defaults)
        child = Program(a.name, hp, a.body[:i] + b.body[j:], b.ret, a.doc)
        if child != a and is_valid(child, limits):
            return child
    return None


MUTATIONS: Mapping[str, Callable[..., Program | None]] = {
    "insert": mutate_insert, "delete": mutate_delete, "modify": mutate_modify,
    "constant": mutate_constant, "hyperparam": mutate_hyperparam,
}


def mutate(program: Program, rng: random.Random, weights: Mapping[str, float],
           grammar: Grammar, limits: Limits, tries: int = 20) -> tuple[Program, str]:
    """A valid child of ``program`` and the kind of mutation that made it.

    Draws a kind by weight (crossover excluded: it needs two parents) and re-draws until
    the child is valid and differs from the parent. Returns ``(program, "none")`` if
    ``tries`` attempts all fail (e.g. only constant mutation on a program without any).
    """
    kinds = [k for k in MUTATIONS if weights.get(k, 0.0) > 0]
    if not kinds:
        return program, "none"
    w = [weights[k] for k in kinds]
    for _ in range(tries):
        kind = rng.choices(kinds, w)[0]
        child = MUTATIONS[kind](program, rng, grammar, limits)
        if child is not None and child != program and is_valid(child, limits):
            return child, kind
    return program, "none"
