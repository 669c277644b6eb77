"""Mutations: always valid, reproducible from the seed, within limits."""

from __future__ import annotations

import random

import pytest

from optsearch import known, parse
from optsearch.printer import to_text
from optsearch.program import Const, depth, walk
from optsearch.search.mutate import (MUTATIONS, Limits, crossover, is_valid, mutate,
                                     mutate_constant, mutate_delete, mutate_hyperparam)
from optsearch.search.random_stmt import Grammar

GRAMMAR = Grammar.build()
LIMITS = Limits(max_statements=12, max_depth=8)
RULES = ["adamw", "lion", "sgd"]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_every_child_parses_back_and_is_within_limits(rule, kind):
    program = known(rule)
    rng = random.Random(kind + rule)
    made = 0
    for _ in range(60):
        child = MUTATIONS[kind](program, rng, GRAMMAR, LIMITS)
        if child is None:
            continue
        made += is_valid(child, LIMITS)
        if is_valid(child, LIMITS):
            assert parse(to_text(child)) == child
    nothing_to_act_on = {("delete", "sgd"), ("constant", "lion"), ("constant", "sgd")}
    assert (made > 0) == ((kind, rule) not in nothing_to_act_on)


def test_mutate_is_a_function_of_the_seed():
    program = known("adamw")
    weights = {"insert": 1, "delete": 1, "modify": 1, "constant": 1, "hyperparam": 1}

    def chain(seed):
        rng, p, out = random.Random(seed), program, []
        for _ in range(30):
            p, kind = mutate(p, rng, weights, GRAMMAR, LIMITS)
            out.append((to_text(p), kind))
        return out

    assert chain(1) == chain(1)
    assert chain(1) != chain(2)


def test_limits_hold_along_a_long_chain():
    rng, p = random.Random(0), known("lion")
    limits = Limits(max_statements=6, max_depth=5)
    for _ in range(300):
        p, _ = mutate(p, rng, {"insert": 3, "modify": 2, "delete": 1}, GRAMMAR, limits)
        assert len(p.body) <= 6 and all(depth(s.value) <= 5 for s in p.body)


def test_delete_bypasses_a_needed_statement():
    child = mutate_delete(known("adamw"), random.Random(0), GRAMMAR, LIMITS)
    assert child is not None and len(child.body) == len(known("adamw").body) - 1
    assert is_valid(child, LIMITS)


def test_constant_mutation_changes_one_constant():
    program = known("adamw")
    before = [n.value for s in program.body for n in walk(s.value) if isinstance(n, Const)]
    rng = random.Random(3)
    for _ in range(20):
        child = mutate_constant(program, rng, GRAMMAR, LIMITS)
        after = [n.value for s in child.body for n in walk(s.value) if isinstance(n, Const)]
        assert len(after) == len(before) and sum(a != b for a, b in zip(after, before)) == 1


def test_hyperparameter_mutation_keeps_betas_in_unit_interval():
    rng = random.Random(0)
    p = known("adamw")
    for _ in range(200):
        p = mutate_hyperparam(p, rng, GRAMMAR, LIMITS) or p
        assert 0.0 < p.defaults["beta1"] < 1.0 and 0.0 < p.defaults["beta2"] < 1.0


def test_crossover_mixes_statements_of_both_parents():
    rng = random.Random(0)
    a, b = known("adamw"), known("lion")
    children = [crossover(a, b, rng, LIMITS) for _ in range(20)]
    children = [c for c in children if c is not None]
    assert children and all(is_valid(c, LIMITS) for c in children)
    assert any(c.ret == b.ret for c in children)
