"""Compare tasks: proxy tasks as nn.Modules, user task files, bad tasks."""

from __future__ import annotations

import pytest
import torch

from optsearch.compare.task import TaskError
from optsearch.compare.tasks import get_task
from optsearch.compare.train import check_task


def test_digits_module_is_the_proxy_tasks_model():
    """Same init per seed, same loss as the search's lane-batched proxy (no drift)."""
    task = get_task("digits_mlp")
    model = task.make_model(3)
    data = task.data("cpu")
    x, y = data.x_val[:50], data.y_val[:50]
    proxy = task.proxy
    lane = proxy.layout().views(proxy.init_row(3).unsqueeze(0))
    expected = proxy.loss(lane, x.unsqueeze(0), y.unsqueeze(0))[0]
    torch.testing.assert_close(task.loss(model, x, y), expected, rtol=1e-6, atol=1e-6)
    assert task.steps == proxy.steps and task.batch_size == proxy.batch_size
    other = task.make_model(4)
    assert not torch.equal(next(model.parameters()), next(other.parameters()))


def test_batches_are_fixed_by_seed(files):
    task = get_task(files["regression"])  # the default sampler (proxy tasks use their own)
    data = task.data("cpu")
    a = [x for x, _ in task.batches(data, 1, 3)]
    b = [x for x, _ in task.batches(data, 1, 3)]
    c = [x for x, _ in task.batches(data, 2, 3)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_unknown_task_suggests_names():
    with pytest.raises(TaskError, match=r"unknown task 'digit_mlp'.*did you mean 'digits_mlp'"):
        get_task("digit_mlp")
    with pytest.raises(TaskError, match="size must be one of"):
        get_task("digits_mlp:huge")


def test_user_task_file(files):
    task = get_task(files["regression"])
    assert (task.name, task.steps, task.batch_size, task.lr) == ("tiny_regression", 20, 16, 1e-2)
    initial = check_task(task, "cpu")
    assert initial > 0 and not task.classification


def test_user_task_returning_nan_is_reported(files):
    task = get_task(files["nan_task"])
    with pytest.raises(TaskError, match=r"task 'nan_task' returns a non-finite loss before any "
                                        r"optimizer step"):
        check_task(task, "cpu")


def test_user_task_errors_name_file_and_function(tmp_path):
    missing = tmp_path / "half.py"
    missing.write_text("def make_model(seed):\n    return None\n")
    with pytest.raises(TaskError, match=r"defines no function make_data\(\)"):
        get_task(str(missing))
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\ndef make_model(seed):\n    return torch.nn.Linear(2, 1)\n\n"
                   "def make_data():\n    return 1 / 0\n")
    with pytest.raises(TaskError, match=r"make_data\(\) raised ZeroDivisionError.*bad\.py:7"):
        check_task(get_task(str(bad)), "cpu")
    with pytest.raises(TaskError, match=r"task file '.*nope\.py' not found"):
        get_task(str(tmp_path / "nope.py"))


def test_regression_mlp_proxy_is_wrapped_not_turned_into_a_classifier():
    task = get_task("teacher_student")
    assert task.is_mlp is False and task.classification is False
    model = task.make_model(0)
    data = task.data("cpu")
    x, y = data.x_val[:32], data.y_val[:32]
    lane = task.proxy.layout().views(task.proxy.init_row(0).unsqueeze(0))
    expected = task.proxy.loss(lane, x.unsqueeze(0), y.unsqueeze(0))[0]
    torch.testing.assert_close(task.loss(model, x, y), expected)
    assert "accuracy" not in task.evaluate(model, data)


def test_proxy_batches_are_the_proxys_own():
    task = get_task("digits_mlp")
    data = task.data("cpu")
    idx = task.proxy.batch_indices(5, 2)
    (x0, y0), _ = list(task.batches(data, 5, 2))
    assert torch.equal(x0, data.x_train[idx[0]]) and torch.equal(y0, data.y_train[idx[0]])
