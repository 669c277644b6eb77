"""Noisy quadratics: ``0.5 (theta - x)^T Q (theta - x)`` with x drawn per example.

Q is a fixed random rotation of an ill-conditioned spectrum (90% of eigenvalues in (0, 1),
10% in (30, 60), as DeepOBS's quadratic_deep). The rescaled copy trains
``phi = theta / s`` with fixed per-coordinate scales s from 1e-3 to 1e3, so a rule that is
not invariant to parameter scale struggles.
"""

from __future__ import annotations

import torch
from torch import Tensor

from proxy_tasks.base import Params, Task, TaskData


class NoisyQuadratic(Task):
    """Dimension 64 (small, 200 steps) or 256 (large, 1000 steps)."""

    name = "quadratic"
    lr = 3e-2
    rescaled = False
    VARIANTS = {"init_scale": 1.0, "batch_size": 32}

    def __init__(self, size: str = "small", **variant: object) -> None:
        super().__init__(size, **variant)
        self.dim = 64 if size == "small" else 256
        self.steps = 200 if size == "small" else 1000
        gen = torch.Generator().manual_seed(5 + self.dim)
        n_big = self.dim // 10
        eig = torch.cat([torch.rand(self.dim - n_big, generator=gen),
                         30 + 30 * torch.rand(n_big, generator=gen)])
        rot, _ = torch.linalg.qr(torch.randn(self.dim, self.dim, generator=gen))
        self.q_cpu = (rot * eig) @ rot.T
        self.scale_cpu = 10 ** (6 * torch.rand(self.dim, generator=gen) - 3)
        self._q: dict[str, Tensor] = {}

    def shapes(self):
        return [("phi", (self.dim,))]

    def make_data(self) -> TaskData:
        gen = torch.Generator().manual_seed(17)
        x = torch.randn(4096 + 512, self.dim, generator=gen)
        # labels unused: the "target" is the example itself
        z = torch.zeros(x.shape[0])
        return TaskData(x[:4096], z[:4096], x[4096:], z[4096:])

    def _mats(self, device) -> tuple[Tensor, Tensor]:
        key = str(device)
        if key not in self._q:
            self._q[key] = (self.q_cpu.to(device), self.scale_cpu.to(device))
        return self._q[key]

    def init_params(self, gen):
        theta = float(self.variant["init_scale"]) * 3 * torch.randn(self.dim, generator=gen)  # type: ignore[arg-type]
        return {"phi": theta / self.scale_cpu if self.rescaled else theta}

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        q, s = self._mats(x.device)
        phi = params["phi"]
        theta = phi * s if self.rescaled else phi
        lanes, groups = theta.shape[0], x.shape[0]
        d = theta.view(groups, lanes // groups, 1, -1) - x.view(groups, 1, -1, self.dim)
        val = 0.5 * ((d @ q) * d).sum(-1)                         # [G, K, B]
        return val.reshape(lanes, -1).mean(1)


class RescaledQuadratic(NoisyQuadratic):
    """The same quadratic, trained in coordinates rescaled by 1e-3 .. 1e3."""

    name = "quadratic_rescaled"
    rescaled = True
