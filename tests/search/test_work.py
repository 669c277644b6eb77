"""The job function every backend runs: program text in, plain dicts out."""

from __future__ import annotations

import pytest

from optsearch.search.backends.work import eval_spec, score_job
from optsearch.search.individual import WORST_FITNESS

GOOD = "def a(w, g, lr):\n    return lr * g\n"
BAD = "def b(w, g, lr):\n    return lr * sin(g)\n"


def test_scores_come_back_in_order_as_json_data():
    spec = eval_spec("tests.search.standin:make", {})
    scores, seconds = score_job((spec, [GOOD, BAD]))
    assert [s["per_task"][0]["task"] for s in scores] == ["quadratic", "quadratic"]
    assert scores[0]["fitness"] != scores[1]["fitness"] and seconds >= 0


def test_a_program_that_breaks_the_evaluator_scores_worst_alone():
    spec = eval_spec("tests.search.standin:make", {"fail_on": "sin("})
    scores, _ = score_job((spec, [GOOD, BAD]))
    assert scores[0]["failure"] is None
    assert scores[1]["fitness"] == WORST_FITNESS
    assert scores[1]["failure"].startswith("evaluator error: ValueError")
    with pytest.raises(ValueError):  # every program failing means a broken evaluator
        score_job((spec, [BAD, BAD.replace("def b", "def c")]))


def test_same_worst_fitness_as_the_evaluator():
    from optsearch.evaluate import WORST_FITNESS as EVALUATOR_WORST

    assert WORST_FITNESS == EVALUATOR_WORST
