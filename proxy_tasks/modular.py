"""Modular addition (a + b mod 97) with weight decay: the grokking testbed.

A shared token embedding for a and b feeds an MLP; the training loss adds an L2 penalty
``wd/2 * |params|^2`` (coupled weight decay, part of the task so that a lane and a model
trained alone see the same objective). Train on 30% of the 97^2 pairs; validate on the
rest (validation loss has no penalty).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData, cross_entropy, lane_linear

P = 97


class ModularAddition(Task):
    """Embedding 97xd, MLP 2d-h-97 (small: d=32, h=64, 500 steps; large: 64/256, 3000)."""

    name = "modular_add"
    lr = 3e-3
    VARIANTS = {"init_scale": 1.0, "batch_size": 256, "activation": "relu", "wd": 1e-3}

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        self.d, self.h = (32, 64) if size == "small" else (64, 256)
        self.steps = 500 if size == "small" else 3000
        from proxy_tasks.mlp import activation

        self.act = activation(self.variant["activation"])
        self.wd = float(self.variant["wd"])  # type: ignore[arg-type]

    def shapes(self):
        return [("emb", (P, self.d)), ("w0", (self.h, 2 * self.d)), ("b0", (self.h,)),
                ("w1", (P, self.h)), ("b1", (P,))]

    def make_data(self) -> TaskData:
        a, b = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
        x = torch.stack([a.reshape(-1), b.reshape(-1)], 1)
        y = (x[:, 0] + x[:, 1]) % P
        perm = torch.randperm(P * P, generator=torch.Generator().manual_seed(97))
        n = int(0.3 * P * P)
        return TaskData(x[perm[:n]], y[perm[:n]], x[perm[n:]], y[perm[n:]])

    def init_params(self, gen):
        s = float(self.variant["init_scale"])  # type: ignore[arg-type]
        out = {}
        for name, shape in self.shapes():
            fan_in = shape[1] if len(shape) > 1 and name != "emb" else (1 if name == "emb" else shape[0])
            out[name] = (torch.rand(shape, generator=gen) * 2 - 1) * s / math.sqrt(fan_in)
        return out

    def _logits(self, params: Params, x: Tensor) -> Tensor:
        onehot = torch.nn.functional.one_hot(x, P).to(params["emb"].dtype)   # [G, B, 2, P]
        e = lane_linear(onehot, params["emb"].transpose(1, 2))               # [L, B, 2, d]
        h = self.act(lane_linear(e.flatten(2), params["w0"], params["b0"]))
        return lane_linear(h, params["w1"], params["b1"])

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        ce = cross_entropy(self._logits(params, x), y)
        l2 = sum((p * p).flatten(1).sum(1) for p in params.values())
        return ce + 0.5 * self.wd * l2

    def val_loss(self, params: Params, data: TaskData) -> Tensor:
        return cross_entropy(self._logits(params, data.x_val.unsqueeze(0)), data.y_val.unsqueeze(0))
