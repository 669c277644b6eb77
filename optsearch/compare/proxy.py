"""The search's proxy tasks (proxy_tasks/) as ordinary one-model compare tasks.

Data, sizes, initial weights (per seed), batch size and step count are the proxy task's
own, so `optsearch compare digits_mlp` trains exactly the model a search scores a rule
on, one model at a time with a real ``torch.optim.Optimizer``. MLP tasks become an
``nn.Sequential`` of ``nn.Linear`` (so accuracy is available); any other proxy task is
wrapped generically (its parameters in a module, its own loss; accuracy when the proxy
task defines ``logits(params, x)``).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from optsearch.compare.task import CompareTask, TaskData
from proxy_tasks import Task, make_task

# Validation loss counted as "reached" for time-to-target, per proxy task (size small);
# a bit above what tuned AdamW reaches, so that good rules reach it well before the end.
TARGETS = {"digits_mlp": 0.15, "mnist1d_mlp": 0.7}


def _lane_params(task: Task, seed: int) -> dict[str, Tensor]:
    """One lane's initial parameters for ``seed``, true shapes (the search's own init)."""
    flat = task.init_row(seed).unsqueeze(0)
    return {k: v[0].clone() for k, v in task.layout().views(flat).items()}


class _Mlp(nn.Sequential):
    """``nn.Linear`` layers with the proxy task's activation between them."""

    def __init__(self, sizes: list[int], act, params: dict[str, Tensor]) -> None:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            lin = nn.Linear(a, b)
            with torch.no_grad():
                lin.weight.copy_(params[f"w{i}"])
                lin.bias.copy_(params[f"b{i}"])
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(_Act(act))
        super().__init__(*layers)


class _Act(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


class _LaneModule(nn.Module):
    """Any proxy task's parameters as one module; the loss is the task's own (one lane)."""

    def __init__(self, params: dict[str, Tensor]) -> None:
        super().__init__()
        self.names = list(params)
        self.params = nn.ParameterList(nn.Parameter(params[n]) for n in self.names)

    def lane(self) -> dict[str, Tensor]:
        return {n: p.unsqueeze(0) for n, p in zip(self.names, self.params)}


class ProxyCompareTask(CompareTask):
    """A proxy task (by name and size) trained as one model."""

    def __init__(self, name: str, size: str = "small") -> None:
        self.proxy = make_task(name, size)
        self.name = name if size == "small" else f"{name}:{size}"
        self.steps = self.proxy.steps
        self.batch_size = self.proxy.batch_size
        self.lr = self.proxy.lr
        self.target = TARGETS.get(name) if size == "small" else None
        self._mlp: bool | None = None

    @property
    def is_mlp(self) -> bool:
        """Whether the proxy is an MLP classifier that an ``nn.Linear`` stack reproduces.

        Decided by checking, once, that the stack's cross-entropy equals the proxy's own
        loss on validation data (a regression MLP, say, fails and is wrapped instead).
        """
        if self._mlp is None:
            self._mlp = False
            if hasattr(self.proxy, "sizes") and hasattr(self.proxy, "act"):
                data = self.data("cpu")
                x, y = data.x_val[:64], data.y_val[:64]
                params = _lane_params(self.proxy, 0)
                mine = super().loss(_Mlp(self.proxy.sizes, self.proxy.act, params), x, y)
                lane = {k: v.unsqueeze(0) for k, v in params.items()}
                theirs = self.proxy.loss(lane, x.unsqueeze(0), y.unsqueeze(0))[0]
                self._mlp = bool(torch.allclose(mine, theirs, rtol=1e-5, atol=1e-6))
        return self._mlp

    @property
    def classification(self) -> bool:  # type: ignore[override]
        # accuracy needs logits: MLP classifiers have them; other proxies if they define logits()
        return self.is_mlp or callable(getattr(self.proxy, "logits", None))

    @property
    def loss_name(self) -> str:  # type: ignore[override]
        return "cross-entropy (nats)" if self.is_mlp else f"the {self.proxy.name} proxy's loss"

    def make_model(self, seed: int) -> nn.Module:
        params = _lane_params(self.proxy, seed)
        if self.is_mlp:
            return _Mlp(self.proxy.sizes, self.proxy.act, params)  # type: ignore[attr-defined]
        return _LaneModule(params)

    def make_data(self) -> TaskData:
        d = self.proxy.make_data()
        return d

    def batches(self, data: TaskData, seed: int, steps: int) -> Iterator[tuple[Tensor, Tensor]]:
        """The proxy task's own batches for ``seed`` (the order a search trains with)."""
        idx = self.proxy.batch_indices(seed, steps).to(data.x_train.device)
        for i in range(steps):
            x, y = self.proxy.batch(data, idx[i:i + 1])  # type: ignore[arg-type]
            yield x[0], y[0]

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        if isinstance(model, _LaneModule):
            return self.proxy.loss(model.lane(), x.unsqueeze(0), y.unsqueeze(0))[0]
        return super().loss(model, x, y)

    def correct(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        if isinstance(model, _LaneModule):
            logits = self.proxy.logits(model.lane(), x.unsqueeze(0))[0]  # type: ignore[attr-defined]
            return (logits.argmax(-1) == y).sum()
        return super().correct(model, x, y)
