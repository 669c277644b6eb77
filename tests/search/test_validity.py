"""The validity filter rejects useless programs before any training."""

from __future__ import annotations

import pytest

from optsearch import known, known_names, parse
from optsearch.search.validity import invalid_reason


@pytest.mark.parametrize("text, reason", [
    ("def f(w, g, lr):\n    return lr * log(0.0 * g) / 0.0 + exp(exp(exp(exp(g * 100.0))))\n", "nan"),
    ("def f(w, g, lr):\n    return 0.0 * g\n", "zero"),
    ("def f(w, g, lr):\n    return lr * w\n", "independent of g"),
    ("def f(w, g, lr):\n    return lr * sign(w) + 0.0 * g\n", "independent of g"),
    ("def f(w, g, lr):\n    return cos(0.6) * g\n", "not proportional to lr"),
    ("def f(w, g, lr):\n    return 1.5 * g + maximum(g, lr * w)\n", "not proportional to lr"),
    ("def f(w, g, lr):\n    return lr * lr * g\n", "not proportional to lr"),
])
def test_useless_programs_are_rejected(text, reason):
    assert reason in (invalid_reason(parse(text)) or "")


@pytest.mark.parametrize("rule", known_names())
def test_known_rules_pass(rule):
    assert invalid_reason(known(rule)) is None
