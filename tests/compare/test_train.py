"""One training run: learning, divergence, optimizer failures."""

from __future__ import annotations

import math

from optsearch.compare.candidates import load_candidate
from optsearch.compare.tasks import get_task
from optsearch.compare.train import train_run


def test_adamw_learns_digits():
    task = get_task("digits_mlp")
    rec = train_run(task, load_candidate("adamw"), 1e-2, seed=0, steps=40)
    assert rec.error is None and rec.diverged_step == 0
    assert rec.eval_steps[0] == 0 and rec.eval_steps[-1] == 40
    assert rec.val_loss[-1] < 0.5 * rec.val_loss[0]
    assert rec.val_acc[-1] > 0.8
    assert len(rec.train_loss) == len(rec.eval_steps) - 1


def test_same_seed_same_run_across_optimizer_objects():
    task = get_task("digits_mlp")
    a = train_run(task, load_candidate("lion"), 1e-3, seed=1, steps=10)
    b = train_run(task, load_candidate("lion"), 1e-3, seed=1, steps=10)
    assert a.val_loss == b.val_loss


def test_huge_lr_diverges_and_counts_as_worst():
    task = get_task("digits_mlp")
    rec = train_run(task, load_candidate("sgd"), 1e12, seed=0, steps=30)
    assert rec.diverged_step > 0
    assert math.isinf(rec.final_loss)


def test_optimizer_raising_in_step_is_recorded(files):
    task = get_task("digits_mlp")
    rec = train_run(task, load_candidate(files["raising_step"]), 1e-2, seed=0, steps=10)
    assert rec.error is not None
    assert "optimizer.step() raised RuntimeError: boom in step (at raising_step.py:" in rec.error
    assert "at step 1" in rec.error
    assert math.isinf(rec.final_loss)


def test_steps_to_target():
    task = get_task("digits_mlp")
    rec = train_run(task, load_candidate("adamw"), 1e-2, seed=0, steps=40)
    reached = rec.steps_to(rec.val_loss[-1])
    assert reached is not None and reached in rec.eval_steps
    assert rec.steps_to(-1.0) is None


def test_optimizer_constructor_raising_is_recorded(tmp_path):
    path = tmp_path / "picky.py"
    path.write_text("import torch\n\nclass Picky(torch.optim.Optimizer):\n"
                    "    def __init__(self, params, lr=1e-3):\n"
                    "        raise ValueError(f'Invalid lr: {lr}')\n")
    task = get_task("digits_mlp")
    rec = train_run(task, load_candidate(str(path)), 1e-2, seed=0, steps=5)
    assert rec.error == ("picky.py:Picky: building the optimizer raised ValueError: "
                         "Invalid lr: 0.01 (at picky.py:5)")
