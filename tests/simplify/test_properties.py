"""simplify keeps behaviour, is idempotent, undoes padding, and is fast enough."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings

import optsearch
from optsearch.program import size
from optsearch.simplify import equivalent, simplify, simplify_report
from tests.simplify.padding import pad, rename
from tests.strategies import programs


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(programs(max_statements=5))
def test_simplify_never_changes_behaviour_and_is_idempotent(p):
    s = simplify(p)
    v = equivalent(p, s, hyper="shared", symbolic=False, steps=5)
    assert v.equal, f"{v.detail}\n--- original\n{p}--- simplified\n{s}"
    assert simplify(s) == s


@pytest.mark.parametrize("name", optsearch.known_names())
def test_padded_known_rule_simplifies_back(name):
    rule = optsearch.known(name)
    padded = rename(pad(rule, seed=len(name)))
    assert size(padded) > size(rule)
    s = simplify(padded)
    assert equivalent(padded, s).equal
    assert equivalent(s, rule).equal
    assert len(s.body) <= len(rule.body), f"\n{rule}\n{s}"
    assert size(s) <= size(rule), f"\n{rule}\n{s}"
    assert simplify(s) == s  # idempotent
    for hidden in ("dead_", "junk_state", "tanh", "arctan", "0.125"):
        assert hidden not in str(s), hidden


def _big_program(n: int, seed: int = 0) -> str:
    """A deterministic n-statement program mixing the statements the passes see, with
    values that stay moderate (so float64 agrees with the real numbers to 1e-6)."""
    rng = random.Random(seed)
    unary = ["sign", "tanh", "sqrt", "arctan", "abs", "arcsin", "neg"]
    names = ["g", "w", "m", "v"]
    lines = []
    for i in range(n):
        a, b = rng.choice(names), rng.choice(names)
        r = rng.random()
        if r < 0.3:
            e = f"{rng.choice(unary)}({a})"
        elif r < 0.5:
            e = f"{a} * {rng.choice([0.5, 2.0, 0.9, 1.5])} + {b}"
        elif r < 0.6:
            e = f"interp({a}, {b}, beta1)"
        elif r < 0.7:
            e = f"clip({a}, 1.0) / ({b} * {b} + 1.0)"
        else:
            e = f"(tanh({a}) + {b}) * (tanh({a}) - 0.5 * {b})"
        target = rng.choice(["m", "v"]) if i in (n // 2, 3 * n // 4) else f"t{i}"
        lines.append(f"    {target} = {e}")
        names.append(target)
    tail = " + ".join(f"t{i}" for i in range(n - 6, n) if f"t{i}" in names)
    return ("def big(w, g, lr, beta1=0.9):\n" + "\n".join(lines) +
            "\n    m = interp(g, m, beta1)\n    v = interp(g * g, v, 0.99)\n"
            f"    return lr * ({tail} + m / (sqrt(v) + 1e-8))\n")


def test_forty_statements_in_under_two_cpu_seconds():
    p = optsearch.parse(_big_program(38))
    assert len(p.body) == 40
    simplify(optsearch.known("lion"))  # sympy warm-up (imports, registry tables)
    cpu = time.process_time()
    report = simplify_report(p)
    cpu = time.process_time() - cpu
    assert cpu < 2.0, f"{cpu:.2f} s CPU"
    assert not report.notes, report.notes  # finished within the sympy budget
    assert equivalent(p, report.result).equal
