"""sklearn digits (8x8 images, 10 classes) with an MLP: the cheapest classification proxy.

The 1797 images ship in ``data/digits.npz`` (made once from ``sklearn.datasets.load_digits``,
so the task needs no sklearn at run time); 1437 train, 360 validation (fixed split).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import torch
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData, cross_entropy
from proxy_tasks.mlp import activation, mlp_forward, mlp_init, mlp_shapes


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("proxy_tasks").joinpath("data/digits.npz").open("rb") as f:
        z = np.load(f)
        return z["x"].astype(np.float32) / 16.0, z["y"].astype(np.int64)


class DigitsMLP(Task):
    """MLP 64-H-10 (small: H=64, 200 steps; large: 64-256-256-10, 1000 steps)."""

    name = "digits_mlp"
    lr = 1e-2
    VARIANTS = {"init_scale": 1.0, "batch_size": 128, "activation": "relu"}

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        self.sizes = [64, 64, 10] if size == "small" else [64, 256, 256, 10]
        self.steps = 200 if size == "small" else 1000
        self.act = activation(self.variant["activation"])

    def shapes(self):
        return mlp_shapes(self.sizes)

    def make_data(self) -> TaskData:
        x, y = load_digits_arrays()
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        x_t, y_t = torch.from_numpy(x)[perm], torch.from_numpy(y)[perm]
        return TaskData(x_t[:1437], y_t[:1437], x_t[1437:], y_t[1437:])

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        return mlp_init(gen, self.sizes, float(self.variant["init_scale"]))  # type: ignore[arg-type]

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(mlp_forward(params, x, len(self.sizes) - 1, self.act), y)
