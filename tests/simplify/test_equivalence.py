"""equivalent(): symbolic proofs, numeric verdicts, counterexamples."""

from __future__ import annotations

import pytest

import optsearch
from optsearch.simplify import equivalent

LION = optsearch.known("lion")


def P(text: str):
    return optsearch.parse(text)


def test_reordered_renamed_rewritten_lion_is_proved_equal():
    q = P("""def lion2(w, g, lr, b1=0.9, b2=0.99, decay=0.0):
    step_dir = sign(b1 * mom + (1.0 - b1) * g)
    mom = mom * b2 + g * (1.0 - b2)
    return step_dir * lr + lr * w * decay
""")
    v = equivalent(LION, q)
    assert v.equal and v.method == "symbolic" and v.counterexample is None


def test_shared_hyperparameters_are_equal_for_all_values():
    q = optsearch.parse(str(LION).replace("interp(g, m, beta1)", "beta1 * m + (1 - beta1) * g"))
    v = equivalent(LION, q, hyper="shared")
    assert v.equal and v.method == "symbolic" and "all hyperparameter values" in v.detail


def test_shared_requires_same_names():
    q = P("def p(w, g, lr, a=0.9):\n    return lr * g\n")
    with pytest.raises(ValueError, match="same hyperparameters"):
        equivalent(LION, q, hyper="shared")


def test_different_state_encoding_is_equal_numerically():
    # q stores twice the momentum: sympy cannot match the state variables, the numbers can
    p = P("def p(w, g, lr):\n    m = interp(g, m, 0.9)\n    return lr * m\n")
    q = P("def q(w, g, lr):\n    n = 0.9 * n + 0.2 * g\n    return lr * 0.5 * n\n")
    v = equivalent(p, q)
    assert v.equal and v.method == "numeric"


def test_difference_gives_counterexample():
    q = LION.with_defaults(beta2=0.98)
    v = equivalent(LION, q)
    assert not v.equal and v.method == "numeric"
    ce = v.counterexample
    assert ce is not None and ce.step >= 2  # beta2 only shows once the state is read
    assert ce.p_update != ce.q_update
    assert str(ce.step) in v.detail


def test_safe_division_difference_is_caught_at_zero():
    # g / g is 0 where g == 0, so it is not 1: the zero-gradient trials show it
    p = P("def p(w, g, lr):\n    return lr * (g / g + w)\n")
    q = P("def q(w, g, lr):\n    return lr * (1.0 + w)\n")
    v = equivalent(p, q)
    assert not v.equal
    assert "zero gradients" in v.counterexample.trial


def test_reductions_see_shape():
    p = P("def p(w, g, lr):\n    return lr * g / norm(g)\n")
    q = P("def q(w, g, lr):\n    return lr * g / (rms(g) * 3.0)\n")
    assert not equivalent(p, q).equal


def test_overflow_in_one_program_only_is_not_evidence():
    # identical over the reals; p is inf / inf = NaN where |g| > 710, q stays finite
    p = P("def p(w, g, lr):\n    return lr * cosh(g) / cosh(g)\n")
    q = P("def q(w, g, lr):\n    return lr + 0.0 * g\n")
    v = equivalent(p, q, symbolic=False)
    assert v.equal and "overflowed" in v.detail
