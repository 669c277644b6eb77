"""Random expressions and statements drawn from the primitive registry, for mutations.

(Whole random programs, for a random start and the random-search control, come from
:func:`optsearch.evaluate.random_programs.random_program`.)

Every draw takes an explicit ``random.Random`` so a search is reproducible from its seed.
Primitives are drawn with the registry's ``weight`` (overridable per run: weight 0
disables one); leaves are readable names (inputs, hyperparameters, program variables) or
constants: 1.0, as the Lion code offers for inserted calls, or X ~ N(0, 1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from primitives import REGISTRY
from optsearch.program import Assign, Call, Const, Expr, Var

_NAME_WEIGHT = {"lr": 0.3, "t": 0.3}
"""lr and t are scalars: reading them everywhere mostly makes rules that ignore g."""


@dataclass(frozen=True)
class Grammar:
    """What random code may use.

    Attributes:
        weights: sampling weight per primitive (registry defaults merged with overrides).
        const_prob: probability that a leaf is a constant.
        new_depth: maximum depth of a drawn expression (a leaf has depth 1).
    """

    weights: Mapping[str, float] = field(default_factory=dict)
    const_prob: float = 0.15
    new_depth: int = 2

    @classmethod
    def build(cls, overrides: Mapping[str, float] | None = None, const_prob: float = 0.15,
              new_depth: int = 2) -> "Grammar":
        weights = {n: p.weight for n, p in REGISTRY.items()}
        weights.update(overrides or {})
        weights = {n: float(w) for n, w in weights.items() if w > 0}
        if not weights:
            raise ValueError("every primitive has weight 0: nothing to draw from")
        return cls(weights, const_prob, new_depth)


def random_const(rng: random.Random) -> Const:
    """1.0 half the time (a neutral constant the search can then scale), else N(0, 1)."""
    return Const(1.0 if rng.random() < 0.5 else round(rng.gauss(0.0, 1.0), 6) or 1.0)


def random_name(rng: random.Random, names: Sequence[str]) -> Var:
    weights = [_NAME_WEIGHT.get(n, 1.0) for n in names]
    return Var(rng.choices(names, weights)[0])


def random_leaf(rng: random.Random, names: Sequence[str], grammar: Grammar) -> Expr:
    if not names or rng.random() < grammar.const_prob:
        return random_const(rng)
    return random_name(rng, names)


def random_call(rng: random.Random, names: Sequence[str], grammar: Grammar,
                depth: int | None = None) -> Call:
    """A primitive call whose arguments are leaves or, while depth allows, further calls."""
    depth = grammar.new_depth if depth is None else depth
    ops = list(grammar.weights)
    op = rng.choices(ops, [grammar.weights[o] for o in ops])[0]
    args = []
    for _ in range(REGISTRY[op].arity):
        if depth > 2 and rng.random() < 0.3:
            args.append(random_call(rng, names, grammar, depth - 1))
        else:
            args.append(random_leaf(rng, names, grammar))
    if all(isinstance(a, Const) for a in args) and names:
        # An all-constant call is a constant in disguise: give it a name to read.
        i = rng.randrange(len(args))
        args[i] = random_name(rng, names)
    return Call(op, tuple(args))


def random_expr(rng: random.Random, names: Sequence[str], grammar: Grammar) -> Expr:
    """A leaf (one time in four) or a call."""
    if rng.random() < 0.25:
        return random_leaf(rng, names, grammar)
    return random_call(rng, names, grammar)


def random_statement(rng: random.Random, readable: Sequence[str], targets: Sequence[str],
                     fresh: str, grammar: Grammar) -> Assign:
    """``target = call(...)``; the target is an existing variable or the ``fresh`` name."""
    target = rng.choice(list(targets)) if targets and rng.random() < 0.5 else fresh
    return Assign(target, random_call(rng, readable, grammar))
