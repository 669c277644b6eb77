"""Teacher-student regression: a student MLP fits a fixed random teacher MLP (+ noise)."""

from __future__ import annotations

import torch
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData, per_lane
from proxy_tasks.mlp import activation, mlp_forward, mlp_init, mlp_shapes

IN = 16


class TeacherStudent(Task):
    """Student 16-H-1 (small: H=32, 300 steps; large: 16-128-128-1, 1500 steps), MSE."""

    name = "teacher_student"
    lr = 3e-3
    VARIANTS = {"init_scale": 1.0, "batch_size": 128, "activation": "tanh"}

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        self.sizes = [IN, 32, 1] if size == "small" else [IN, 128, 128, 1]
        self.steps = 300 if size == "small" else 1500
        self.act = activation(self.variant["activation"])

    def shapes(self):
        return mlp_shapes(self.sizes)

    def make_data(self) -> TaskData:
        gen = torch.Generator().manual_seed(11)
        teacher = mlp_init(gen, [IN, 64, 1], 2.0)
        x = torch.randn(4096 + 1024, IN, generator=gen)
        with torch.no_grad():
            t = {k: v.unsqueeze(0) for k, v in teacher.items()}
            y = mlp_forward(t, x.unsqueeze(0), 2, torch.tanh)[0]
        y = y + 0.05 * torch.randn(y.shape, generator=gen)
        return TaskData(x[:4096], y[:4096], x[4096:], y[4096:])

    def init_params(self, gen):
        return mlp_init(gen, self.sizes, float(self.variant["init_scale"]))  # type: ignore[arg-type]

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        pred = mlp_forward(params, x, len(self.sizes) - 1, self.act)
        err = pred - per_lane(y, pred.shape[0])
        return (err * err).reshape(pred.shape[0], -1).mean(1)
