"""A user's own task for `optsearch compare`, given as a Python file.

The file is imported (its code runs: passing it is the user's choice) and must define::

    def make_model(seed: int) -> torch.nn.Module     # fresh model; weights depend on seed
    def make_data() -> (x_train, y_train, x_val, y_val)   # CPU tensors, deterministic

and may define::

    def loss(model, x, y) -> Tensor   # scalar mean loss; default: cross-entropy(model(x), y)
    NAME = "my_task"                  # default: the file's stem
    STEPS = 500                       # training steps (default 500; --steps overrides)
    BATCH_SIZE = 64                   # examples per step (default 64)
    LR = 1e-3                         # a good AdamW lr: the centre of the auto grid
    TARGET = 0.5                      # validation loss for time-to-target (default: none)
    CLASSIFICATION = True             # report accuracy (default: y_train is integer)

Errors raised by these functions, and a non-finite loss before any update, are reported
as a :class:`TaskError` naming the file and function; the other tasks still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from optsearch.compare.candidates import CandidateError, describe_error, import_file
from optsearch.compare.task import CompareTask, TaskData, TaskError


def _number(module: Any, key: str, default: Any, kind: type, path: str) -> Any:
    value = getattr(module, key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TaskError(f"task file {path!r}: {key} must be a positive number, got {value!r}")
    return kind(value)


class FileTask(CompareTask):
    """A task defined by a Python file (see the module docstring for its interface)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.module = import_file(path, "task file")
        except CandidateError as e:
            raise TaskError(str(e)) from None
        for fn in ("make_model", "make_data"):
            if not callable(getattr(self.module, fn, None)):
                raise TaskError(f"task file {path!r} defines no function {fn}(); a task file "
                                f"needs make_model(seed) and make_data() (see "
                                f"`optsearch compare --help`)")
        self.name = str(getattr(self.module, "NAME", Path(path).stem))
        self.steps = _number(self.module, "STEPS", 500, int, path)
        self.batch_size = _number(self.module, "BATCH_SIZE", 64, int, path)
        self.lr = _number(self.module, "LR", 1e-3, float, path)
        self.target = _number(self.module, "TARGET", None, float, path)
        self._classification = getattr(self.module, "CLASSIFICATION", None)

    def _call(self, fn: str, *args: Any) -> Any:
        f: Callable = getattr(self.module, fn)
        try:
            return f(*args)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - user code: report, never a deep traceback
            raise TaskError(f"task {self.name!r} ({self.path}): {fn}() raised "
                            f"{describe_error(e, self.path)}") from None

    def make_model(self, seed: int) -> nn.Module:
        model = self._call("make_model", seed)
        if not isinstance(model, nn.Module):
            raise TaskError(f"task {self.name!r} ({self.path}): make_model() must return a "
                            f"torch.nn.Module, got {type(model).__name__}")
        return model

    def make_data(self) -> TaskData:
        data = self._call("make_data")
        if (not isinstance(data, (tuple, list)) or len(data) != 4
                or not all(isinstance(t, Tensor) for t in data)):
            raise TaskError(f"task {self.name!r} ({self.path}): make_data() must return 4 "
                            f"tensors (x_train, y_train, x_val, y_val)")
        x_tr, y_tr, x_va, y_va = data
        if x_tr.shape[0] != y_tr.shape[0] or x_va.shape[0] != y_va.shape[0]:
            raise TaskError(f"task {self.name!r} ({self.path}): make_data(): inputs and "
                            f"targets differ in length ({x_tr.shape[0]} vs {y_tr.shape[0]} "
                            f"train, {x_va.shape[0]} vs {y_va.shape[0]} val)")
        if self._classification is None:
            self.classification = not torch.is_floating_point(y_tr)
        else:
            self.classification = bool(self._classification)
        return TaskData(x_tr, y_tr, x_va, y_va)

    def loss(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        if not callable(getattr(self.module, "loss", None)):
            return super().loss(model, x, y)
        value = self._call("loss", model, x, y)
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise TaskError(f"task {self.name!r} ({self.path}): loss() must return a scalar "
                            f"tensor, got {type(value).__name__}"
                            + (f" of shape {tuple(value.shape)}" if isinstance(value, Tensor)
                               else ""))
        return value.reshape(())
