"""One training run: one model, one optimizer, one learning rate, one seed.

Plain torch training: ``loss.backward(); opt.step()``. The validation set is scored
``task.eval_points`` times (and before the first step). A run whose training or
validation loss becomes non-finite is stopped and counted as diverged; an exception
inside the optimizer is recorded as the run's error (the compare goes on without it).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from optsearch.compare.candidates import Candidate, describe_error
from optsearch.compare.task import CompareTask, TaskError


@dataclass
class RunRecord:
    """Outcome of one run (plain numbers only: it is written to results.json).

    Attributes:
        eval_steps: steps at which the validation set was scored (0 = before training).
        val_loss, val_acc: validation loss / accuracy at those steps (val_acc empty
            for tasks without accuracy).
        train_loss: mean training loss over each interval ending at an eval step
            (eval_steps[1:]).
        diverged_step: first step whose loss was non-finite (0: never).
        error: why the run failed, if the optimizer raised (then nothing else is set).
        seconds: wall time of the training loop (data and model setup excluded).
    """

    lr: float
    seed: int
    steps: int
    eval_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    diverged_step: int = 0
    error: str | None = None
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        """Final validation loss; inf for diverged or failed runs (worst in any ranking)."""
        if self.diverged_step or self.error or not self.val_loss:
            return math.inf
        return self.val_loss[-1]

    @property
    def final_acc(self) -> float:
        if self.diverged_step or self.error or not self.val_acc:
            return math.nan
        return self.val_acc[-1]

    def steps_to(self, target: float) -> int | None:
        """First eval step with validation loss <= target (None if never)."""
        for s, v in zip(self.eval_steps, self.val_loss):
            if v <= target:
                return s
        return None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "RunRecord":
        return cls(**d)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_task(task: CompareTask, device: str | torch.device) -> float:
    """Build the task once and score the untrained model: catches broken tasks early.

    Returns the initial validation loss. Raises TaskError when the task's functions raise
    or its loss is already non-finite before any optimizer step (the task's fault).
    """
    dev = torch.device(device)
    try:
        data = task.data(dev)
        model = task.make_model(0).to(dev)
        x, y = next(iter(task.batches(data, 0, 1)))
        train = float(task.loss(model, x, y).detach())
        val = task.evaluate(model, data)["loss"]
    except TaskError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken task is reported, others still run
        raise TaskError(f"task {task.name!r} failed before training: {describe_error(e)}") from None
    if not (math.isfinite(train) and math.isfinite(val)):
        raise TaskError(f"task {task.name!r} returns a non-finite loss before any optimizer "
                        f"step (train {train}, validation {val}): check its model, data and "
                        f"loss; it is skipped")
    return val


def train_run(task: CompareTask, candidate: Candidate, lr: float, seed: int, steps: int,
              device: str | torch.device = "cpu") -> RunRecord:
    """Train ``task``'s model for ``seed`` with ``candidate`` at ``lr`` for ``steps`` steps."""
    dev = torch.device(device)
    rec = RunRecord(lr=float(lr), seed=int(seed), steps=int(steps))
    data = task.data(dev)
    torch.manual_seed(seed)  # dropout and the like inside user models
    model = task.make_model(seed).to(dev)
    model.train()
    try:
        opt = candidate.make(model.parameters(), lr)
    except Exception as e:  # noqa: BLE001 - a bad optimizer file is this candidate's failure
        rec.error = (f"{candidate.label}: building the optimizer raised "
                     f"{describe_error(e, candidate.source)}")
        return rec
    every = max(1, steps // task.eval_points)
    first = task.evaluate(model, data)
    rec.eval_steps.append(0)
    rec.val_loss.append(first["loss"])
    if "accuracy" in first:
        rec.val_acc.append(first["accuracy"])
    window: list[torch.Tensor] = []
    scheduled = type(task).lr_factor is not CompareTask.lr_factor
    _sync(dev)
    start = time.perf_counter()
    for step, (x, y) in enumerate(task.batches(data, seed, steps), 1):
        if scheduled:
            for group in opt.param_groups:
                group["lr"] = lr * task.lr_factor(step, steps)
        loss = task.loss(model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        try:
            opt.step()
        except Exception as e:  # noqa: BLE001 - the optimizer's code failed: record, go on
            rec.error = (f"{candidate.label}: optimizer.step() raised "
                         f"{describe_error(e, candidate.source)} at step {step}")
            break
        window.append(loss.detach())
        if step % every and step != steps:
            continue
        mean_train = float(torch.stack(window).mean())
        window.clear()
        scores = task.evaluate(model, data)
        rec.eval_steps.append(step)
        rec.train_loss.append(mean_train)
        rec.val_loss.append(scores["loss"])
        if "accuracy" in scores:
            rec.val_acc.append(scores["accuracy"])
        if not (math.isfinite(mean_train) and math.isfinite(scores["loss"])):
            rec.diverged_step = step  # an eval-interval resolution is enough for a count
            break
    _sync(dev)
    rec.seconds = time.perf_counter() - start
    return rec
