"""recognize(): every known rule, disguised, is found with its hyperparameters."""

from __future__ import annotations

import pytest

import optsearch
from optsearch.simplify import recognize
from tests.simplify.padding import nondefault, pad, rename

# The raw program the Lion search found (Chen et al. 2023, Program 8), in this language.
RAW_LION = """def train(w, g, lr):
    g2 = clip(g, lr)
    g3 = arcsin(g2)
    m = interp(g3, v, 0.899)
    m2 = m * m
    v = interp(g3, m, 1.109)
    abs_m = sqrt(m2)
    update = m / abs_m
    wd = w * 0.4602
    update = update + wd
    lr2 = lr * 0.0002
    m = cosh(update)
    update = update * lr2
    return update
"""


@pytest.mark.parametrize("name", optsearch.known_names())
def test_disguised_known_rule_is_recognised_with_its_hyperparameters(name):
    rule = optsearch.known(name)
    values = nondefault(rule)
    disguised = rename(pad(rule.with_defaults(**values), seed=len(name) + 1), prefix="z")
    r = recognize(disguised)
    assert r.name == name, str(r)
    for k, v in values.items():
        assert r.hyperparams[k] == pytest.approx(v, rel=1e-6), (k, str(r))
    assert r.changed == {k: r.hyperparams[k] for k in values}
    assert r.lr_scale == 1.0 and not r.applied_to
    assert r.verdict is not None and r.verdict.equal


def test_known_rule_at_defaults_is_exact():
    r = recognize(optsearch.known("adam"))
    assert r.exact and str(r) == "adam"  # not "adamw with wd = 0"


def test_raw_lion_search_result_is_lion_with_its_differences():
    r = recognize(optsearch.parse(RAW_LION))
    assert r.name == "lion"
    assert r.hyperparams["beta1"] == pytest.approx(0.899)
    # v = interp(g, m_new, 1.109) with m_new = interp(g, v, 0.899): v weighs 1.109 * 0.899
    assert r.hyperparams["beta2"] == pytest.approx(1.109 * 0.899)
    assert r.hyperparams["wd"] == pytest.approx(0.4602)
    assert r.lr_scale == pytest.approx(0.0002)
    assert r.applied_to == {"g": "arcsin(clip(g, lr))"}
    assert "applied to arcsin(clip(g, lr))" in str(r)


def test_novel_program_is_novel_with_a_nearest_rule():
    p = optsearch.parse("""def p(w, g, lr):
    m = interp(g, m, 0.9)
    return lr * tanh(m) * sqrt(abs(g))
""")
    r = recognize(p)
    assert r.novel and r.name is None
    assert r.nearest in optsearch.known_names() and -1.0 <= r.similarity <= 1.0
    assert str(r).startswith("novel")
