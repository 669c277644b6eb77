"""The small-GPT task: model size, corpus, schedule, and a tiny CPU training run."""

from __future__ import annotations

import pytest
import torch

from optsearch.compare.candidates import load_candidate
from optsearch.compare.gpt import Gpt, GptConfig, GptStdlibTask
from optsearch.compare.tasks import get_task
from optsearch.compare.train import train_run


def test_default_model_has_a_few_million_parameters():
    n = sum(p.numel() for p in Gpt(GptConfig()).parameters())
    assert 2_000_000 < n < 6_000_000


def test_model_is_causal():
    torch.manual_seed(0)
    model = Gpt(GptConfig(context=16, width=32, layers=2, heads=4)).eval()
    x = torch.randint(0, 256, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 256  # change the future only
    torch.testing.assert_close(model(x)[0, :10], model(y)[0, :10])


def test_data_is_python_source_with_held_out_validation():
    task = GptStdlibTask(GptConfig(context=32), corpus_bytes=60_000)
    task.val_windows = 16
    data = task.make_data()
    assert data.x_train.dtype == torch.uint8 and data.x_train.numel() == 60_000
    assert data.x_val.shape == (16, 32) and torch.equal(data.x_val[:, 1:], data.y_val[:, :-1])
    text = bytes(data.x_train.tolist()).decode("utf-8", "replace")
    assert "def " in text and "import " in text


def test_schedule_warms_up_then_decays():
    task = GptStdlibTask()
    f = [task.lr_factor(s, 2000) for s in (1, 50, 100, 101, 1000, 2000)]
    assert f[0] == pytest.approx(0.01) and f[2] == pytest.approx(1.0)
    assert f[0] < f[1] < f[2] and f[3] > f[4] > f[5] == pytest.approx(0.1)


def test_tiny_gpt_learns_on_cpu():
    task = GptStdlibTask(GptConfig(context=32, width=32, layers=1, heads=2), corpus_bytes=100_000)
    task.batch_size, task.val_windows, task.eval_points = 8, 16, 4
    rec = train_run(task, load_candidate("adamw"), 3e-3, seed=0, steps=24)
    assert rec.error is None and rec.diverged_step == 0
    assert rec.val_loss[-1] < rec.val_loss[0] - 0.5  # from ~ln(256) = 5.5 nats/byte
    assert get_task("gpt_stdlib").name == "gpt_stdlib"
