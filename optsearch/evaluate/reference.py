"""One model, one program, trained alone with ``optsearch.optimizer``: the oracle lanes match.

Used by the tests and by the benchmark's naive loop. The model is the task's own forward
pass on a single lane, with true-shaped ``nn.Parameter``s, and the same data order and
initial weights as lane (seed, lr) of the batched evaluator.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

import optsearch
from optsearch.program import Program
from proxy_tasks.base import Task


def train_alone(program: Program, task: Task, seed: int, lr: float, steps: int | None = None,
                device: str | torch.device = "cpu") -> tuple[Tensor, float, int]:
    """Train one model.

    Returns:
        (training loss per step ``[steps]``, final validation loss, first step (1-based)
        whose loss, parameters or optimizer state were non-finite, or 0 if none) -- the
        batched evaluator's ``diverged_step``.
    """
    steps = int(steps or task.steps)
    data = task.data(device)
    row = task.init_row(seed).to(device)
    layout = task.layout(1)
    params = {name: nn.Parameter(v.clone()) for name, v in layout.views(row.unsqueeze(0)).items()}
    params = {name: nn.Parameter(p.data[0].clone()) for name, p in params.items()}
    opt = optsearch.optimizer(program, list(params.values()), lr=lr)
    idx = task.batch_indices(seed, steps).to(device)
    curve = torch.empty(steps)
    bad = 0
    for step in range(steps):
        x, y = task.batch(data, idx[step].unsqueeze(0))
        opt.zero_grad(set_to_none=True)
        loss = task.loss({k: p.unsqueeze(0) for k, p in params.items()}, x, y)[0]
        loss.backward()
        opt.step()
        curve[step] = loss.detach()
        if not bad and not _finite(loss, params.values(), opt.state.values()):
            bad = step + 1
    with torch.no_grad():
        val = task.val_loss({k: p.unsqueeze(0) for k, p in params.items()}, data)[0]
    return curve, float(val), bad


def _finite(loss: Tensor, params, states) -> bool:
    tensors = [loss, *params] + [v for st in states for k, v in st.items()
                                 if k != "step" and isinstance(v, Tensor)]
    return all(bool(torch.isfinite(t).all()) for t in tensors)
