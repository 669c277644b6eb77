"""The task suite: deterministic data and init, layouts, lanes, user nn.Module tasks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import optsearch
from optsearch.evaluate import evaluate
from optsearch.evaluate.reference import train_alone
from proxy_tasks import TASKS, ModuleTask, TaskData, make_task
from proxy_tasks.base import Layout


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_is_deterministic_and_trains(name):
    a, b = make_task(name), make_task(name)
    da, db = a.data("cpu"), b.data("cpu")
    assert torch.equal(da.x_train, db.x_train) and torch.equal(da.y_val, db.y_val)
    assert torch.equal(a.init_row(3), b.init_row(3))
    assert not torch.equal(a.init_row(3), a.init_row(4))
    assert torch.equal(a.batch_indices(1, 5), b.batch_indices(1, 5))
    flat = torch.stack([a.init_row(0), a.init_row(1)])
    loss = a.val_loss(a.layout().views(flat), da)
    assert loss.shape == (2,) and torch.isfinite(loss).all()
    assert a.steps > 0 and a.lr > 0 and a.layout().numel == a.layout().size


def test_size_knob_and_variants():
    small, large = make_task("digits_mlp"), make_task("digits_mlp", "large")
    assert large.layout().size > small.layout().size and large.steps > small.steps
    t = make_task("digits_mlp", activation="tanh", batch_size=32, init_scale=0.5)
    assert t.batch_size == 32 and t.batch_indices(0, 2).shape == (2, 32)
    with pytest.raises(ValueError, match="unknown variant"):
        make_task("digits_mlp", widht=3)
    with pytest.raises(ValueError, match="did you mean 'digits_mlp'"):
        make_task("digit_mlp")


def test_layout_views_share_memory():
    lay = Layout.from_shapes([("a", (2, 3)), ("b", (5,))], align=4)
    assert lay.size == 16 and lay.numel == 11
    flat = torch.zeros(3, lay.size)
    lay.views(flat)["b"][1, 2] = 7.0
    assert flat[1, 8 + 2] == 7.0


def _module_task() -> ModuleTask:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=gen)
    y = x[:, :1] * 2 - x[:, 1:2]
    return ModuleTask("tiny", lambda: nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)),
                      TaskData(x[:200], y[:200], x[200:], y[200:]), nn.functional.mse_loss,
                      steps=10, batch_size=32, lr=1e-2)


def test_module_task_lanes_match_training_alone():
    task = _module_task()
    progs = [optsearch.known("adamw"), optsearch.known("lion")]
    res = evaluate(progs, task, (0, 1), (1.0,), record_curves=True)
    for n, p in enumerate(progs):
        for s, seed in enumerate((0, 1)):
            curve, val, bad = train_alone(p, task, seed, task.lr)
            torch.testing.assert_close(res.curves[n, s, 0], curve, rtol=1e-4, atol=1e-6)
            assert res.final_loss[n, s, 0].item() == pytest.approx(val, rel=1e-4)
