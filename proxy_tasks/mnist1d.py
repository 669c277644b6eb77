"""MNIST-1D, generated locally: 10 one-dimensional "digit" templates, randomly shifted,
stretched, sheared and noised (after Greydanus & Kobak's MNIST-1D idea; our own generator
and templates, no download). Separates model classes well: an MLP and a 1-D CNN task.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData, cross_entropy, lane_linear
from proxy_tasks.mlp import activation, mlp_forward, mlp_init, mlp_shapes

LENGTH = 40
TEMPLATES = (  # 12-point patterns, one per class
    (0, 1, 2, 3, 3, 3, 3, 3, 3, 2, 1, 0), (0, 0, 0, 4, 4, 4, 4, 4, 0, 0, 0, 0),
    (3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 3, 3), (1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0),
    (0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0), (3, 3, 3, 3, 0, 0, 0, 0, 2, 2, 2, 2),
    (0, 1, 2, 3, 4, 3, 2, 1, 0, -1, -2, -1), (4, 3, 2, 1, 0, -1, -2, -3, -2, -1, 0, 1),
    (2, 0, 2, 0, 2, 0, 4, 4, 4, 0, 0, 0), (0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 1, 1),
)


def make_mnist1d(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` samples ``[n, LENGTH]`` (float32) and labels, deterministic for ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    temps = torch.tensor(TEMPLATES, dtype=torch.float32)
    y = torch.randint(0, 10, (n,), generator=gen)
    scale = 0.75 + 0.5 * torch.rand(n, generator=gen)          # stretch factor
    shift = torch.rand(n, generator=gen)                          # placement in the window
    pos = torch.arange(LENGTH, dtype=torch.float32)
    width = 12 * 2.0 * scale                                      # stretched template length
    start = shift * (LENGTH - width)
    u = (pos.view(1, -1) - start.view(-1, 1)) / width.view(-1, 1) * 11   # template coordinate
    inside = (u >= 0) & (u <= 11)
    i0 = u.clamp(0, 11).floor().long().clamp(max=10)
    frac = u.clamp(0, 11) - i0
    t = temps[y]
    val = torch.gather(t, 1, i0) * (1 - frac) + torch.gather(t, 1, i0 + 1) * frac
    x = torch.where(inside, val, torch.zeros(()))
    shear = (torch.rand(n, 1, generator=gen) - 0.5) * 2.0
    x = x + shear * (pos / LENGTH - 0.5)
    white = torch.randn(n, LENGTH, generator=gen)
    kernel = torch.exp(-0.5 * (torch.arange(-4, 5, dtype=torch.float32) / 2.0) ** 2)
    corr = torch.nn.functional.conv1d(torch.randn(n, 1, LENGTH + 8, generator=gen),
                                      (kernel / kernel.sum()).view(1, 1, -1)).view(n, LENGTH)
    x = x + 0.25 * white + 1.5 * corr
    x = (x - x.mean()) / x.std()
    return x, y


class _MNIST1D(Task):
    lr = 3e-3
    VARIANTS = {"init_scale": 1.0, "batch_size": 128, "activation": "relu"}

    def make_data(self) -> TaskData:
        n_train = 4000 if self.size == "small" else 20000
        x, y = make_mnist1d(n_train + 1000, seed=1)
        return TaskData(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


class MNIST1DMLP(_MNIST1D):
    """MLP 40-H-H-10 on MNIST-1D (small: H=64, 300 steps; large: H=256, 1500 steps)."""

    name = "mnist1d_mlp"

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        h = 64 if size == "small" else 256
        self.sizes = [LENGTH, h, h, 10]
        self.steps = 300 if size == "small" else 1500
        self.act = activation(self.variant["activation"])

    def shapes(self):
        return mlp_shapes(self.sizes)

    def init_params(self, gen):
        return mlp_init(gen, self.sizes, float(self.variant["init_scale"]))  # type: ignore[arg-type]

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(mlp_forward(params, x, 3, self.act), y)


def _conv(x: Tensor, weight: Tensor, bias: Tensor, stride: int) -> Tensor:
    """Per-lane 1-D convolution: ``x [G|L, B, C, n]``, ``weight [L, Cout, Cin, k]``."""
    k = weight.shape[-1]
    win = x.unfold(-1, k, stride)                                  # [., B, C, P, k]
    win = win.permute(0, 1, 3, 2, 4).reshape(*win.shape[:2], win.shape[3], -1)
    out = lane_linear(win, weight.reshape(weight.shape[0], weight.shape[1], -1), bias)
    return out.transpose(2, 3)                                     # [L, B, Cout, P]


class MNIST1DCNN(_MNIST1D):
    """1-D CNN: conv(1->C, k5, s2) -> conv(C->C, k5, s2) -> linear -> 10 (C=16 / 32)."""

    name = "mnist1d_cnn"

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        self.c = 16 if size == "small" else 32
        self.steps = 300 if size == "small" else 1500
        self.act = activation(self.variant["activation"])
        self.p2 = ((LENGTH - 5) // 2 + 1 - 5) // 2 + 1

    def shapes(self):
        c = self.c
        return [("c0", (c, 1, 5)), ("cb0", (c,)), ("c1", (c, c, 5)), ("cb1", (c,)),
                ("w", (10, c * self.p2)), ("b", (10,))]

    def init_params(self, gen):
        s = float(self.variant["init_scale"])  # type: ignore[arg-type]
        out = {}
        for name, shape in self.shapes():
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else shape[0]
            out[name] = (torch.rand(shape, generator=gen) * 2 - 1) * s / math.sqrt(fan_in)
        return out

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        h = self.act(_conv(x.unsqueeze(2), params["c0"], params["cb0"], 2))
        h = self.act(_conv(h, params["c1"], params["cb1"], 2))
        logits = lane_linear(h.flatten(2), params["w"], params["b"])
        return cross_entropy(logits, y)
