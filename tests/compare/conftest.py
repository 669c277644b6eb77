"""Small files the compare tests load: optimizer .py files and user task files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

GOOD_OPT = '''
import torch


class PlainSGD(torch.optim.Optimizer):
    """w <- w - lr * g (a hand-written optimizer file, as `optsearch export` writes one)."""

    def __init__(self, params, lr=1e-3):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(group["lr"] * p.grad)
'''

RAISING_STEP = GOOD_OPT.replace("p.sub_(group[\"lr\"] * p.grad)",
                                "raise RuntimeError('boom in step')")

RAISING_IMPORT = "import torch\n\nx = 1\nraise ValueError('broken at import')\n"

REGRESSION_TASK = '''
import torch

NAME = "tiny_regression"
STEPS = 20
BATCH_SIZE = 16
LR = 1e-2


def make_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Linear(4, 1)


def make_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return x[:64], y[:64], x[64:], y[64:]


def loss(model, x, y):
    return torch.nn.functional.mse_loss(model(x), y)
'''

NAN_TASK = REGRESSION_TASK.replace('NAME = "tiny_regression"', 'NAME = "nan_task"').replace(
    "return torch.nn.functional.mse_loss(model(x), y)",
    "return torch.nn.functional.mse_loss(model(x), y) * float('nan')")


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "good_opt": write(tmp_path, "plain_sgd.py", GOOD_OPT),
        "raising_step": write(tmp_path, "raising_step.py", RAISING_STEP),
        "raising_import": write(tmp_path, "raising_import.py", RAISING_IMPORT),
        "two_classes": write(tmp_path, "two.py", GOOD_OPT + GOOD_OPT.replace(
            "class PlainSGD", "class OtherSGD").replace("import torch\n", "")),
        "regression": write(tmp_path, "regression_task.py", REGRESSION_TASK),
        "nan_task": write(tmp_path, "nan_task.py", NAN_TASK),
        "tmp": str(tmp_path),
    }
