"""Random valid programs, for benchmarks, tests and mutation operators.

Programs look like the search's: a few state variables updated by EMA-like statements,
temporaries, constants, and usually ``return lr * x``. Every primitive of the registry can
appear (weights default to each entry's ``weight``). Deterministic for a given ``rng``.
"""

from __future__ import annotations

import random
from typing import Mapping

from primitives import REGISTRY
from optsearch.program import Assign, Call, Const, Expr, Program, Var

_HYPER = (("beta1", 0.9), ("beta2", 0.99), ("eps", 1e-8), ("wd", 0.01))
_HYPER_NAMES = frozenset(h for h, _ in _HYPER)
_SCALARISH = frozenset(("lr", "t"))


def random_const(rng: random.Random) -> Const:
    """A constant spread over magnitudes the search meets (0.001 .. 10, either sign)."""
    choice = rng.random()
    if choice < 0.3:
        return Const(rng.choice((0.5, 0.9, 0.99, 0.999, 1.0, 2.0, 0.1)))
    mag = 10 ** rng.uniform(-3, 1)
    return Const(round(mag if rng.random() < 0.8 else -mag, 6))


def random_expr(rng: random.Random, readable: list[str], ops: list[str], weights: list[float],
                depth: int = 2) -> Expr:
    """A call of a random primitive whose arguments are names, constants or (depth > 1) calls."""
    op = rng.choices(ops, weights)[0]
    args: list[Expr] = []
    for _ in range(REGISTRY[op].arity):
        r = rng.random()
        if depth > 1 and r < 0.25:
            args.append(random_expr(rng, readable, ops, weights, depth - 1))
        elif r < 0.45:
            args.append(random_const(rng))
        else:  # favour tensors (g, w, state, temporaries) over lr, t and hyperparameters
            weights_n = [1.0 if n in _SCALARISH or n in _HYPER_NAMES else 3.0 for n in readable]
            args.append(Var(rng.choices(readable, weights_n)[0]))
    return Call(op, tuple(args))


def random_program(rng: random.Random, n_statements: int = 8,
                   primitive_weights: Mapping[str, float] | None = None,
                   name: str = "rand") -> Program:
    """A random program with ``n_statements`` assignments (valid per the parser).

    Args:
        rng: the source of randomness (pass ``random.Random(seed)``).
        primitive_weights: sampling weight per primitive name (missing names: 0);
            default: every registry entry's ``weight``.
    """
    weights_map = dict(primitive_weights) if primitive_weights is not None else \
        {n: p.weight for n, p in REGISTRY.items()}
    unknown = sorted(set(weights_map) - set(REGISTRY))
    if unknown:
        raise ValueError(f"unknown primitive(s) in primitive_weights: {unknown}")
    ops = [n for n in sorted(weights_map) if weights_map[n] > 0]
    if not ops:
        raise ValueError("primitive_weights gives no primitive a positive weight")
    weights = [weights_map[n] for n in ops]
    hyper = tuple(rng.sample(_HYPER, rng.randint(0, 2)))
    states = [f"m{i}" for i in range(min(rng.randint(0, 2), n_statements))]
    readable = ["w", "g", "lr", "t", *[h for h, _ in hyper], *states]
    # every state variable is assigned at least once (the parser requires it)
    owner = dict(zip(rng.sample(range(n_statements), len(states)), states))
    body: list[Assign] = []
    for i in range(n_statements):
        if i in owner:
            target = owner[i]
        elif states and rng.random() < 0.2:
            target = rng.choice(states)
        else:
            target = f"v{i}"
        body.append(Assign(target, random_expr(rng, readable, ops, weights)))
        if target not in readable:
            readable.append(target)
    last = body[-1].target if body else "g"
    if rng.random() < 0.8:
        ret: Expr = Call("mul", (Var("lr"), Var(last)))
    else:
        ret = random_expr(rng, readable, ops, weights)
    return Program(name, hyper, tuple(body), ret, None)
