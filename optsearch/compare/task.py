"""The task API of `optsearch compare`: one ordinary ``nn.Module``, its data and its loss.

Unlike the search's proxy tasks (many lanes at once), a compare task trains one model
with one ``torch.optim.Optimizer``, the way a user would. Everything random (data, initial
weights, batch order) comes from CPU ``torch.Generator`` seeds, so a (task, seed) pair
gives the same model and batches for every optimizer (common random numbers).
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from optsearch.errors import OptsearchError
from proxy_tasks.base import TaskData  # the proxy tasks' data type serves compare tasks too


class TaskError(OptsearchError):
    """A task that cannot be built or gives a non-finite loss before any update."""


class CompareTask:
    """Base of every compare task.

    Attributes:
        name: shown in tables and file names.
        steps: default number of training steps.
        batch_size: examples per step.
        lr: a good AdamW learning rate; the ``auto`` grid is centred from it.
        target: validation loss that counts as "reached" for the time-to-target column
            (None: use the worst final loss among the compared optimizers).
        loss_name: what the loss is, for axis labels (e.g. "cross-entropy (nats)").
        classification: whether :meth:`accuracy` is meaningful.
        eval_points: how many times per run the validation set is scored.
    """

    name: str = "task"
    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    target: float | None = None
    loss_name: str = "cross-entropy (nats)"
    classification: bool = True
    eval_points: int = 25
    val_batch: int = 2048

    # --- to implement ------------------------------------------------------------------
    def make_model(self, seed: int) -> nn.Module:
        """A fresh model whose initial weights depend only on ``seed``."""
        raise NotImplementedError

    def make_data(self) -> TaskData:
        """CPU tensors, deterministic."""
        raise NotImplementedError

    # --- may override ----------------------------------------------------------------------
    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Mean loss of a batch (a scalar that ``backward()`` works on)."""
        return nn.functional.cross_entropy(model(x), y)

    def correct(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Number of correctly classified examples of a batch (classification tasks)."""
        return (model(x).argmax(-1) == y).sum()

    def batches(self, data: TaskData, seed: int, steps: int) -> Iterator[tuple[Tensor, Tensor]]:
        """``steps`` training batches: shuffled epochs, order fixed by ``seed``."""
        n = data.x_train.shape[0]
        gen = torch.Generator().manual_seed(7_919 * int(seed) + 3)
        need = steps * self.batch_size
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(-(-need // n))])
        order = order[:need].view(steps, self.batch_size).to(data.x_train.device)
        for idx in order:
            yield data.x_train[idx], data.y_train[idx]

    def lr_factor(self, step: int, steps: int) -> float:
        """Learning-rate schedule: multiplier of the lr at ``step`` (1-based); constant here."""
        return 1.0

    def evaluate(self, model: nn.Module, data: TaskData) -> dict[str, float]:
        """Validation loss (and accuracy) of the whole validation set, in chunks."""
        was_training = model.training
        model.eval()
        total, correct, n = 0.0, 0.0, data.x_val.shape[0]
        with torch.no_grad():
            for lo in range(0, n, self.val_batch):
                x, y = data.x_val[lo:lo + self.val_batch], data.y_val[lo:lo + self.val_batch]
                total += float(self.loss(model, x, y)) * x.shape[0]
                if self.classification:
                    correct += float(self.correct(model, x, y))
        model.train(was_training)
        out = {"loss": total / n}
        if self.classification:
            out["accuracy"] = correct / n
        return out

    # --- provided --------------------------------------------------------------------------
    def data(self, device: str | torch.device) -> TaskData:
        """The task's data on ``device`` (made once per process, then cached)."""
        cache = self.__dict__.setdefault("_data_cache", {})
        dev = str(torch.device(device))
        if dev not in cache:
            cpu = cache.get("cpu") or self.make_data()
            cache["cpu"] = cpu
            cache[dev] = cpu.to(dev)
        return cache[dev]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
