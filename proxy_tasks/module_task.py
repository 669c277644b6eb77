"""Tasks from an ordinary ``nn.Module``: batched over lanes with ``torch.func``.

The module's parameters become the lane layout; the loss of all lanes is
``vmap(functional_call(module, params_i, x_i))`` -- no batched rewrite of the model needed.
Slower than a hand-batched task (vmap over bmm-free modules), but any module works::

    task = ModuleTask("tiny", lambda: nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)),
                      TaskData(x_tr, y_tr, x_va, y_va), nn.functional.mse_loss, steps=100, lr=1e-2)
    register_task("tiny", lambda size="small", **v: task)
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from proxy_tasks.base import Params, Task, TaskData, per_lane


class ModuleTask(Task):
    """A task from ``make_module() -> nn.Module``, fixed CPU ``data`` and ``loss_fn(out, y)``.

    Initial weights are the module's own initialisation under a seeded RNG.
    """

    def __init__(self, name: str, make_module: Callable[[], nn.Module], data: TaskData,
                 loss_fn: Callable[[Tensor, Tensor], Tensor], steps: int = 200,
                 batch_size: int = 128, lr: float = 1e-3, size: str = "small") -> None:
        self.name = name
        super().__init__(size)
        self.make_module, self.loss_fn = make_module, loss_fn
        self.steps, self.batch_size, self.lr = steps, batch_size, lr
        self.cpu_data = data
        self.module = make_module()
        self._shapes = [(n, tuple(p.shape)) for n, p in self.module.named_parameters()]
        self._modules: dict[str, nn.Module] = {}

    def shapes(self):
        return list(self._shapes)

    def make_data(self) -> TaskData:
        return self.cpu_data

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            module = self.make_module()
        return {n: p.detach().clone().float() for n, p in module.named_parameters()}

    def _module_on(self, device: torch.device) -> nn.Module:
        key = str(device)
        if key not in self._modules:
            self._modules[key] = self.make_module().to(device)
        return self._modules[key]

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        lanes = next(iter(params.values())).shape[0]
        module = self._module_on(x.device)

        def one(p: dict[str, Tensor], xb: Tensor, yb: Tensor) -> Tensor:
            return self.loss_fn(functional_call(module, p, (xb,)), yb)

        return vmap(one)(dict(params), per_lane(x, lanes), per_lane(y, lanes))
