"""``build_toolbox(config, rng)``: the DEAP toolbox of one run, built fresh per run.

Every registered operator is bound to the run's own ``random.Random``, never the global
``random`` module (DEAP's own ``selTournament`` and ``varOr`` use the global one, so the
search uses the equivalents below), which makes a run a function of its seed. Nothing is
registered at import time and nothing is decorated, so no state leaks between runs.
"""

from __future__ import annotations

import random
from operator import attrgetter
from typing import Sequence

from deap import base, tools

from optsearch.program import Program, depth
from optsearch.search.config import RunConfig
from optsearch.search.individual import Individual
from optsearch.search.mutate import Limits, crossover, is_valid, mutate
from optsearch.search.random_stmt import Grammar


def select_tournament(population: Sequence[Individual], rng: random.Random,
                      tournsize: int) -> Individual:
    """Best of ``tournsize`` distinct random individuals (first wins ties), as in Lion."""
    aspirants = rng.sample(list(population), tournsize)
    return max(aspirants, key=attrgetter("fitness"))


def select_random(population: Sequence[Individual], rng: random.Random) -> Individual:
    return population[rng.randrange(len(population))]


def limits_for(config: RunConfig, initial: Program | None = None) -> Limits:
    """The configured limits, raised to fit the initial program (a warm start from a long
    rule must be able to mutate)."""
    m = config.mutation
    if initial is None:
        return Limits(m.max_statements, m.max_depth)
    deepest = max(depth(e) for e in [s.value for s in initial.body] + [initial.ret])
    return Limits(max(m.max_statements, len(initial.body)), max(m.max_depth, deepest))


def build_toolbox(config: RunConfig, rng: random.Random,
                  initial: Program | None = None) -> base.Toolbox:
    """Operators of one run: ``select``, ``select_random``, ``select_best``, ``mutate``,
    ``mate`` and ``random_program``, all bound to ``rng``. The search adds ``map``
    (its backend's).
    """
    m = config.mutation
    grammar = Grammar.build(m.primitives, m.const_prob, m.new_depth)
    limits = limits_for(config, initial)
    tb = base.Toolbox()
    tb.register("select", select_tournament, rng=rng, tournsize=config.search.tournament)
    tb.register("select_random", select_random, rng=rng)
    tb.register("select_best", tools.selBest)
    tb.register("mutate", mutate, rng=rng, weights=m.weights, grammar=grammar, limits=limits)
    tb.register("mate", crossover, rng=rng, limits=limits)
    tb.register("random_program", new_random_program, rng=rng, grammar=grammar,
                max_statements=limits.max_statements)
    return tb


def new_random_program(rng: random.Random, grammar: Grammar, max_statements: int,
                       name: str = "rand") -> Program:
    """A random valid program of 2..8 statements (the evaluator's generator, with the
    run's primitive weights; draws that read an undefined name are drawn again)."""
    from optsearch.evaluate.random_programs import random_program

    limits = Limits(max_statements, 64)
    while True:
        n = rng.randint(min(2, max_statements), min(8, max_statements))
        program = random_program(rng, n, dict(grammar.weights), name)
        if is_valid(program, limits):
            return program
