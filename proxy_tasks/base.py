"""The Task API: a small model trained on many lanes at once, with data on the device.

A lane is one model. A task's parameters for L lanes live in one flat ``[L, size]`` buffer
(see :class:`Layout`), so that an update rule can treat all parameters of a lane as one
row; the model sees them as named views ``[L, *shape]``. Inputs come grouped: ``x`` has a
leading axis of G groups (one per seed: lanes of one seed share their data order, common
random numbers) and ``L`` must be a multiple of ``G``; group ``i`` feeds lanes
``i*L/G ... (i+1)*L/G - 1``.

Everything random (data, initial weights, batch order) is drawn on the CPU from
``torch.Generator`` seeds, so a task gives the same numbers on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import Tensor

Params = Mapping[str, Tensor]

SIZES = ("small", "large")


@dataclass(frozen=True)
class Segment:
    """One parameter tensor's place in a lane's flat row."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Layout:
    """Where each named parameter lives in the flat per-lane row.

    ``align`` pads each segment's start to a multiple (the GPU kernel wants blocks that
    never straddle two parameter tensors); padding stays zero and is never read.
    """

    segments: tuple[Segment, ...]
    size: int
    align: int = 1

    @classmethod
    def from_shapes(cls, shapes: Sequence[tuple[str, tuple[int, ...]]], align: int = 1) -> "Layout":
        segs, off = [], 0
        for name, shape in shapes:
            segs.append(Segment(name, tuple(int(s) for s in shape), off))
            off += -(-math.prod(shape) // align) * align
        return cls(tuple(segs), off, align)

    @property
    def numel(self) -> int:
        """Real parameters per lane (padding excluded)."""
        return sum(s.numel for s in self.segments)

    def views(self, flat: Tensor) -> dict[str, Tensor]:
        """Named ``[L, *shape]`` views of a ``[L, size]`` buffer (they share its memory)."""
        lanes = flat.shape[0]
        return {s.name: flat[:, s.offset:s.offset + s.numel].view(lanes, *s.shape)
                for s in self.segments}

    def pack(self, params: Mapping[str, Tensor]) -> Tensor:
        """One lane's parameters (true shapes) -> a flat ``[size]`` row."""
        first = next(iter(params.values()))
        row = torch.zeros(self.size, dtype=first.dtype, device=first.device)
        for s in self.segments:
            row[s.offset:s.offset + s.numel] = params[s.name].reshape(-1)
        return row

    def segment_ids(self) -> Tensor:
        """Segment index of every element of a row; padding gets ``len(segments)``."""
        ids = torch.full((self.size,), len(self.segments), dtype=torch.int64)
        for i, s in enumerate(self.segments):
            ids[s.offset:s.offset + s.numel] = i
        return ids


@dataclass(frozen=True)
class TaskData:
    """Tensors a task trains and validates on (also the data of `optsearch compare` tasks)."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor

    def to(self, device: str | torch.device) -> "TaskData":
        return TaskData(*(t.to(device) for t in (self.x_train, self.y_train,
                                                  self.x_val, self.y_val)))


def lane_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` per lane (weights are ``[out, in]``, as in ``nn.Linear``).

    Args:
        x: ``[L, ..., in]`` (one input per lane) or ``[G, ..., in]`` with G dividing L
            (lanes of a group share the input, which is never copied per lane).
        weight: ``[L, out, in]``; bias: ``[L, out]``.
    """
    lanes, n_out = weight.shape[0], weight.shape[1]
    groups = x.shape[0]
    wt = weight.transpose(1, 2)
    if groups == lanes:
        flat = x.reshape(lanes, -1, x.shape[-1])
        out = torch.bmm(flat, wt).view(*x.shape[:-1], n_out)
    else:
        if lanes % groups:
            raise ValueError(f"lanes ({lanes}) must be a multiple of input groups ({groups})")
        k = lanes // groups
        flat = x.reshape(groups, 1, -1, x.shape[-1])
        out = torch.matmul(flat, wt.reshape(groups, k, *wt.shape[1:]))
        out = out.view(lanes, *x.shape[1:-1], n_out)
    if bias is not None:
        out = out + bias.view(lanes, *([1] * (out.dim() - 2)), bias.shape[-1])
    return out


def per_lane(x: Tensor, lanes: int) -> Tensor:
    """Expand a grouped ``[G, ...]`` tensor to ``[L, ...]`` (a view when G == 1)."""
    groups = x.shape[0]
    if groups == lanes:
        return x
    return x.unsqueeze(1).expand(groups, lanes // groups, *x.shape[1:]).reshape(lanes, *x.shape[1:])


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy per lane. ``logits [L, ..., C]``, ``y [G, ...]`` integer labels."""
    lanes = logits.shape[0]
    logp = torch.log_softmax(logits, dim=-1)
    target = per_lane(y, lanes).unsqueeze(-1).expand(*logp.shape[:-1], 1)
    nll = -torch.gather(logp, -1, target).squeeze(-1)
    return nll.reshape(lanes, -1).mean(1)


class Task:
    """Base of every proxy task.

    Subclasses set ``name``, ``steps``, ``batch_size``, ``lr`` (a typical tuned AdamW
    learning rate: lanes train at ``lr * multiplier``), ``val_chunk`` (lanes per
    validation pass, bounding memory), and implement :meth:`shapes`, :meth:`make_data`,
    :meth:`init_params`, :meth:`loss`. ``size`` is the funnel knob ("small" | "large":
    wider and longer); keyword variants (init scale, batch size, activation...) are
    declared in ``VARIANTS`` with their defaults and validated here.
    """

    name: str = "task"
    steps: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    val_chunk: int = 1024
    VARIANTS: Mapping[str, object] = {}

    def __init__(self, size: str = "small", **variant: object) -> None:
        if size not in SIZES:
            raise ValueError(f"task {self.name!r}: size must be one of {SIZES}, got {size!r}")
        unknown = sorted(set(variant) - set(self.VARIANTS))
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown variant(s) {unknown}; "
                             f"valid: {sorted(self.VARIANTS)}")
        self.size = size
        self.variant = {**self.VARIANTS, **variant}
        if "batch_size" in self.variant:
            self.batch_size = int(self.variant["batch_size"])  # type: ignore[arg-type]
        self._data: dict[str, TaskData] = {}
        self._layouts: dict[int, Layout] = {}

    # --- to implement -----------------------------------------------------------------
    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        raise NotImplementedError

    def make_data(self) -> TaskData:
        """CPU tensors, deterministic (the task's own fixed seed)."""
        raise NotImplementedError

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        """One lane's initial parameters (true shapes, float32, CPU), drawn from ``gen``."""
        raise NotImplementedError

    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Mean training loss per lane ``[L]`` for a batch ``x [G, B, ...]``."""
        raise NotImplementedError

    # --- provided -----------------------------------------------------------------------
    @property
    def key(self) -> str:
        """Identifies the task, size and variant (for baseline caches)."""
        var = ",".join(f"{k}={v}" for k, v in sorted(self.variant.items()))
        return f"{self.name}:{self.size}" + (f":{var}" if var else "")

    def layout(self, align: int = 1) -> Layout:
        if align not in self._layouts:
            self._layouts[align] = Layout.from_shapes(self.shapes(), align)
        return self._layouts[align]

    def data(self, device: str | torch.device) -> TaskData:
        dev = str(torch.device(device))
        if dev not in self._data:
            cpu = self._data.get("cpu") or self.make_data()
            self._data["cpu"] = cpu
            self._data[dev] = TaskData(*(t.to(dev) for t in (cpu.x_train, cpu.y_train,
                                                              cpu.x_val, cpu.y_val)))
        return self._data[dev]

    def init_row(self, seed: int, align: int = 1) -> Tensor:
        """Flat initial parameters of one lane for ``seed`` (CPU)."""
        gen = torch.Generator().manual_seed(1_000_003 * int(seed) + 17)
        return self.layout(align).pack(self.init_params(gen))

    def batch_indices(self, seed: int, steps: int) -> Tensor:
        """``[steps, batch_size]`` example indices: shuffled epochs, fixed by ``seed``."""
        n = self.data("cpu").x_train.shape[0]
        gen = torch.Generator().manual_seed(7_919 * int(seed) + 3)
        need = steps * self.batch_size
        perms = [torch.randperm(n, generator=gen) for _ in range(-(-need // n))]
        return torch.cat(perms)[:need].view(steps, self.batch_size)

    def batch(self, data: TaskData, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Training batch for indices ``idx [G, B]`` -> ``x [G, B, ...]``, ``y [G, B, ...]``."""
        return data.x_train[idx], data.y_train[idx]

    def val_loss(self, params: Params, data: TaskData) -> Tensor:
        """Validation loss per lane (the fitness metric): the loss on the whole val set."""
        return self.loss(params, data.x_val.unsqueeze(0), data.y_val.unsqueeze(0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key})"
