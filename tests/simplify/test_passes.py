"""Each simplification pass alone: what it must do, what it must not do."""

from __future__ import annotations

import pytest

import optsearch
from optsearch.simplify import equivalent
from optsearch.simplify.canonical import canonicalize
from optsearch.simplify.cse import eliminate_common_subexpressions
from optsearch.simplify.dead_code import remove_dead_code, remove_unread_state
from optsearch.simplify.fold import fold_constants
from optsearch.simplify.inline import inline_temporaries
from optsearch.simplify.lr import absorb_lr
from optsearch.simplify.sign import sign_invariance, sign_preserving


def P(text: str):
    return optsearch.parse(text)


def body(p) -> list[str]:
    return str(p).splitlines()[1:]


def same(p, q) -> None:
    v = equivalent(p, q, hyper="shared") if p.defaults.keys() == q.defaults.keys() else \
        equivalent(p, q)
    assert v.equal, v.detail


def test_dead_code_keeps_state_and_drops_unread():
    p = P("""def p(w, g, lr):
    a = exp(g)
    b = g * 2.0
    a = b + 1.0
    m = interp(g, m, 0.9)
    return lr * b
""")
    q = remove_dead_code(p)
    assert body(q) == ["    b = g * 2.0", "    m = interp(g, m, 0.9)", "    return lr * b"]
    same(p, q)


def test_unread_state_is_removed_but_read_state_kept():
    p = P("""def p(w, g, lr):
    u = sign(c)
    c = interp(g, m, 0.9)
    junk = interp(g, junk, 0.5)
    m = interp(g, m, 0.99)
    return lr * u
""")
    q = remove_unread_state(p)
    # c (read at entry by u) and m (read by c) are live across steps; junk is not
    assert [s.target for s in q.body] == ["u", "c", "m"]
    same(p, q)


def test_fold_constants_and_identities():
    p = P("""def p(w, g, lr, b=0.9):
    a = (1.0 - 0.5) * g + 0.0 * w
    c = a * 1.0 / 1.0 + sign(sign(g)) - -(-g)
    d = g / 0.0
    e = interp(g, w, 0.0) + never
    never = g
    return lr * (c + d + e)
""")
    # the parser insists state is assigned somewhere; a search result need not be
    p = optsearch.Program(p.name, p.hyperparams, p.body[:-1], p.ret)
    q = fold_constants(p)
    assert "0.5 * g" in str(q) and "0.0 * w" not in str(q)
    assert "    d = 0.0" in str(q)  # safe division by zero
    assert "never" not in str(q)  # state never assigned is always zero
    assert "sign(sign" not in str(q)
    same(p, q)


def test_fold_keeps_non_finite_constants_unfolded():
    p = P("def p(w, g, lr):\n    return lr * g * exp(1000.0)\n")
    assert "exp(1000.0)" in str(fold_constants(p))


def test_cse_replaces_recomputation_only_while_valid():
    p = P("""def p(w, g, lr):
    a = interp(g, m, 0.9)
    b = interp(g, m, 0.9)
    m = interp(g, m, 0.99)
    c = interp(g, m, 0.9)
    return lr * (a + b + c)
""")
    q = eliminate_common_subexpressions(p)
    text = str(q)
    assert "    b = a" in text  # same value as a
    assert "    c = interp(g, m, 0.9)" in text  # m was reassigned: not the same value
    same(p, q)


def test_inline_single_use_and_copies_but_not_across_reassignment():
    p = P("""def p(w, g, lr):
    a = g * 2.0
    b = a
    old = m
    m = interp(g, m, 0.9)
    return lr * (b + old + m)
""")
    q = inline_temporaries(p)
    text = str(q)
    assert "    old = m" in text  # inlining would read the new m
    assert "lr * (g * 2.0 + old + m)" in text
    same(p, q)


def test_inline_coalesces_copy_into_state():
    p = P("""def p(w, g, lr):
    x = interp(g, v, 0.9)
    v = x
    return lr * x / (1.0 + abs(x))
""")
    q = inline_temporaries(p)
    assert body(q) == ["    v = interp(g, v, 0.9)", "    return lr * v / (1.0 + abs(v))"]
    same(p, q)


def test_sign_preserving_primitives_are_probed_from_the_registry():
    assert {"tanh", "arcsin", "arctan", "sinh", "sign"} <= sign_preserving()
    assert not {"sin", "cos", "exp", "square", "abs", "sigmoid"} & sign_preserving()


def test_sign_invariance_rewrites():
    p = P("""def p(w, g, lr, eps=1e-8):
    a = sign(2.5 * tanh(arcsin(g)))
    b = sign(-0.3 * g)
    c = sign(g * cosh(w))
    d = sign(g / (abs(w) + 1.0))
    e = sign(g * square(g))
    f = g / abs(g)
    h = sign(exp(w) * g)
    k = sign(g / (abs(w) + eps))
    return lr * (a + b + c + d + e + f + h + k)
""")
    q = sign_invariance(p)
    lines = body(q)
    assert lines[:6] == ["    a = sign(g)", "    b = -sign(g)", "    c = sign(g)",
                         "    d = sign(g)", "    e = sign(g)", "    f = sign(g)"]
    # exp can underflow to 0 and eps may be 0: both stay
    assert lines[6] == "    h = sign(exp(w) * g)"
    assert lines[7] == "    k = sign(g / (abs(w) + eps))"
    same(p, q)


def test_canonicalize_collapses_algebra_and_refolds_interp_and_clip():
    p = P("""def p(w, g, lr, beta=0.9):
    a = (g + w) - w + 0.0
    b = 0.1 * g + 0.9 * m
    c = g - beta * g + beta * m2
    d = maximum(-2.0, minimum(g, 2.0))
    m = b
    m2 = c
    return lr * (a + b + c + d)
""")
    q, note = canonicalize(p)
    assert note is None
    lines = body(q)
    assert lines[:4] == ["    a = g", "    b = interp(g, m, 0.9)", "    c = interp(g, m2, beta)",
                         "    d = clip(g, 2.0)"]
    same(p, q)


def test_canonicalize_keeps_safe_division():
    p = P("def p(w, g, lr):\n    return lr * g * w / w\n")
    q, _ = canonicalize(p)
    assert "/ w" in str(q)  # x*y/y is 0 where y == 0: not x
    same(p, q)


def test_canonicalize_time_box_falls_back_and_says_so():
    p = P("def p(w, g, lr):\n    a = g + g\n    b = a * 2.0 - a\n    return lr * b\n")
    q, note = canonicalize(p, budget_s=0.0)
    assert q == p and note and "budget" in note


def test_absorb_lr_reports_the_factor_and_is_exact_at_scaled_lr():
    p = P("def p(w, g, lr):\n    u = sign(g) + 0.5 * w\n    return lr * 0.0002 * u\n")
    q, k = absorb_lr(p)
    assert k == 0.0002
    assert "0.0002" not in str(q)
    from optsearch.simplify.fit import scaled

    same(p, scaled(q, k))
    _, k2 = absorb_lr(P("def p(w, g, lr):\n    return -0.5 * lr * g\n"))
    assert k2 == 1.0  # a negative factor is not a learning rate


def test_hard_limit_interrupts_a_long_pure_python_call():
    import time

    from optsearch.simplify.timebox import SympyTimeout, hard_limit

    start = time.perf_counter()
    with pytest.raises(SympyTimeout):
        with hard_limit(0.2):
            while True:  # stands in for a sympy call that never returns
                sum(range(1000))
    assert time.perf_counter() - start < 2.0
    with hard_limit(0.5):  # a block that finishes in time is untouched
        assert sum(range(10)) == 45


def test_simplify_keeps_finished_passes_when_the_hard_limit_fires(monkeypatch):
    import time

    from optsearch.simplify import pipeline

    def slow(program, budget_s):
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(pipeline, "canonicalize", slow)
    p = optsearch.parse("def f(w, g, lr):\n    dead = g * 3.0\n    return lr * sign(g)\n")
    report = pipeline.simplify_report(p, budget_s=0.2)
    assert "dead" not in str(report.result)  # the cheap passes before sympy were kept
    assert any("hard time limit" in n for n in report.notes)
