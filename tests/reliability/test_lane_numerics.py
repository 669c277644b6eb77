"""Overflow and denormals in some lanes: worst score with the reason, the rest unaffected."""

from __future__ import annotations

import math

import pytest
import torch

import optsearch
from optsearch.evaluate import WORST_FITNESS, EvalConfig, Evaluator, evaluate, task_scores
from optsearch.parse import parse
from proxy_tasks import make_task

MULTS = (0.3, 1.0, 3.0)         # digits_mlp: lr 0.003, 0.01, 0.03
# exp(lr * 2500) is finite in float32 in every lane, but (g * exp(75))^2 overflows to inf
# at lr x3 only; at x0.3 and x1 the second term is negligible (plain SGD).
OVERFLOW = parse("def overflow(w, g, lr):\n    a = g * exp(lr * 2500.0)\n"
                 "    return lr * g + 1e-30 * square(a)\n")
# The first step zeroes w (w - c rounds to w); from then on w = c * sign(g) exactly, with
# c = lr * 1e-36: subnormal at x0.3 (3e-39) and x1 (1e-38), normal at x3 (3e-38).
DENORMAL = parse("def denormal(w, g, lr):\n    return w - lr * 1e-36 * sign(g)\n")
OTHERS = [optsearch.known(k) for k in ("adamw", "lion", "sgd")]


@pytest.fixture(scope="module")
def lanes():
    task = make_task("digits_mlp")
    return evaluate(OTHERS + [OVERFLOW, DENORMAL], task, (0, 1), MULTS, steps=12,
                    hurdles=[(6, 1e9)])


def test_overflow_and_denormal_lanes_are_flagged_where_they_happen(lanes):
    div, den, loss = lanes.diverged_step, lanes.denormal_step, lanes.final_loss
    assert (div[:3] == 0).all() and (den[:3] == 0).all() and torch.isfinite(loss[:3]).all()
    assert div[3].tolist() == [[0, 0, 1]] * 2 and (den[3] == 0).all()
    assert (div[4] == 0).all()
    assert den[4].tolist() == [[6, 6, 0]] * 2       # found at the hurdle check, step 6
    assert torch.isnan(loss[4, :, :2]).all() and torch.isfinite(loss[4, :, 2]).all()
    assert torch.isnan(lanes.hurdle_loss[6][4, :, :2]).all()


def test_other_programs_get_the_numbers_they_get_alone(lanes):
    task = make_task("digits_mlp")
    for i, p in enumerate(OTHERS):
        alone = evaluate([p], task, (0, 1), MULTS, steps=12, hurdles=[(6, 1e9)])
        assert torch.equal(alone.final_loss[0], lanes.final_loss[i])


def test_denormals_found_at_the_end_without_hurdles():
    res = evaluate([DENORMAL], make_task("digits_mlp"), (0,), MULTS, steps=5)
    assert res.denormal_step[0].tolist() == [[5, 5, 0]]


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    return Evaluator(EvalConfig(tasks=("digits_mlp",), steps=30, baseline_seeds=(0,),
                                baseline_dir=str(tmp_path_factory.mktemp("baselines"))))


def test_scores_worst_with_reason_and_neighbours_unchanged(evaluator):
    batch = evaluator.score(OTHERS[:1] + [OVERFLOW] + OTHERS[1:] + [DENORMAL])
    over, den = batch[1], batch[4]
    assert over.fitness == WORST_FITNESS
    assert over.failure == "digits_mlp: non-finite value at step 1 (seed #0, lr x3)"
    assert den.fitness == WORST_FITNESS
    first_hurdle = evaluator.baseline(evaluator.tasks[0]).hurdle_steps[0]   # checked there
    assert den.failure == f"digits_mlp: denormal values at step {first_hurdle} (seed #0, lr x0.3)"
    assert den.per_task[0].loss is None and den.per_task[0].best_lr_multiplier is None
    alone = [evaluator.score([p])[0] for p in OTHERS]
    assert [batch[0], batch[2], batch[3]] == alone
    assert all(s.failure is None and s.fitness > WORST_FITNESS for s in alone)


def test_per_lr_policy_keeps_the_normal_lane(evaluator):
    cfg = EvalConfig(**{**evaluator.config.__dict__, "nan_policy": "per_lr"})
    ev = Evaluator(cfg)
    ev._baselines = evaluator._baselines
    den, over = ev.score([DENORMAL, OVERFLOW])
    assert den.failure is None and den.per_task[0].best_lr_multiplier == 3.0
    assert WORST_FITNESS < den.fitness < 0
    assert over.failure is None and over.per_task[0].best_lr_multiplier in (0.3, 1.0)


def test_task_scores_denormal_reason():
    loss = torch.tensor([[[0.5, float("nan"), 0.25]]], dtype=torch.float64)
    zero = torch.zeros(1, 1, 3, dtype=torch.int64)
    den = torch.tensor([[[0, 40, 0]]])
    (any_,) = task_scores("t", 0.5, loss, zero, zero, MULTS, "any", den)
    (per,) = task_scores("t", 0.5, loss, zero, zero, MULTS, "per_lr", den)
    assert any_.failure == "t: denormal values at step 40 (seed #0, lr x1)"
    assert per.failure is None and per.fitness == pytest.approx(math.log(2.0))


@pytest.mark.cuda
def test_gpu_kernel_flags_the_same_lanes():
    task = make_task("digits_mlp")
    progs = OTHERS + [OVERFLOW, DENORMAL]
    gpu = evaluate(progs, task, (0, 1), MULTS, steps=12, hurdles=[(6, 1e9)], device="cuda")
    cpu = evaluate(progs, task, (0, 1), MULTS, steps=12, hurdles=[(6, 1e9)])
    assert torch.equal(gpu.diverged_step, cpu.diverged_step)
    assert torch.equal(gpu.denormal_step, cpu.denormal_step)
