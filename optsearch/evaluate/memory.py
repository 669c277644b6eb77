"""How much memory a batch of lanes needs, how much there is, and how to split the batch.

The evaluator calls :func:`plan_chunks` before training: it estimates the bytes each
program's lanes add on the device (flat parameters, gradients, optimizer state, scalar
columns, the task's activations, validation) and cuts the programs into consecutive chunks
that fit the budget, so a large population trains in several passes instead of running
out of memory. Lanes are independent, so chunking never changes a number.

The task's activation memory is *measured*, not modelled: :func:`footprint` runs one
forward/backward and one validation pass on a few lanes on the CPU while
:class:`LivePeak` records the peak bytes of live tensor storages, and scales by the lane
count (memory is linear in lanes at a fixed batch size). Eager CPU execution keeps more
alive than a ``torch.compile``d step, so this overestimates the GPU path.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from optsearch.errors import MemoryBudgetError
from optsearch.evaluate.encode import Encoded
from proxy_tasks.base import Task

SAFETY = 1.2
"""Multiplies the estimate: allocator rounding, library workspaces, small tensors."""
CUDA_BASE = 192 * 2**20
"""Added on CUDA whatever the batch: cuBLAS workspaces, CUDA-graph pools and compiled
kernels' scratch. Measured on an H100: a 96-lane digits batch peaked at 62 MiB in one
process and 151 MiB in another (first batch after start), against 32 MiB estimated
without this term; batches of thousands of lanes are dominated by per-lane memory."""
BUDGET_FRACTION = 0.85
"""Share of the free memory a batch may plan to use (the rest: other processes, caches)."""
ENV_BUDGET = "OPTSEARCH_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class LivePeak(TorchDispatchMode):
    """Peak bytes of tensor storages created while active and still alive.

    Storages that existed before (inputs, and views or in-place results of them) are not
    counted. Liveness is polled at every op through weak references to the storages
    themselves, so a storage kept alive only by autograd or a view still counts.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        dead = [k for k, (ref, _) in self.live.items() if ref.expired()]
        for k in dead:
            self.current -= self.live.pop(k)[1]
        old = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0]
               if isinstance(t, Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, Tensor):
                continue
            s = t.untyped_storage()
            key = s._cdata
            if key in self.live or key in old:
                continue
            self.live[key] = (StorageWeakRef(s), s.nbytes())
            self.current += s.nbytes()
        self.peak = max(self.peak, self.current)
        return out


@dataclass(frozen=True)
class Footprint:
    """Measured transient bytes of a task (float32): ``per_lane * lanes + fixed``."""

    step_per_lane: float      # forward + backward of one training step, incl. the gradient
    step_fixed: float
    val_per_lane: float       # one validation pass (no grad)
    val_fixed: float


_FOOTPRINTS: dict[tuple, Footprint] = {}


def _probe(task: Task, lanes: int, train: bool) -> int:
    layout = task.layout(1)
    data = task.data("cpu")
    flat = task.init_row(0).unsqueeze(0).repeat(lanes, 1)
    x, y = task.batch(data, task.batch_indices(0, 1)[:1])
    mode = LivePeak()
    if train:
        flat.requires_grad_(True)
        with mode:
            loss = task.loss(layout.views(flat), x, y)
            (grad,) = torch.autograd.grad(loss.sum(), flat)
            del grad, loss
    else:
        with torch.no_grad(), mode:
            task.val_loss(layout.views(flat), data)
    return mode.peak


def footprint(task: Task) -> Footprint:
    """The task's measured activation memory (cached per task key and batch size)."""
    key = (type(task).__qualname__, task.key, task.batch_size)
    if key not in _FOOTPRINTS:
        vals = []
        for train in (True, False):
            a, b = _probe(task, 2, train), _probe(task, 4, train)
            per = max(0.0, (b - a) / 2)
            vals += [per, max(0.0, a - 2 * per)]
        _FOOTPRINTS[key] = Footprint(*vals)
    return _FOOTPRINTS[key]


@dataclass(frozen=True)
class BatchShape:
    """What, besides the programs, decides a batch's memory."""

    seeds: int
    mults: int
    steps: int
    backend: str              # "eager" | "triton"
    record_curves: bool = False
    n_hurdles: int = 0
    itemsize: int = 4
    host_is_device: bool = True   # CPU: host-side tables share the memory


class Estimator:
    """Bytes a chunk of programs needs: ``fixed + sum(per-program) + peak transient``.

    Kernel widths (state slots, scalar columns, instructions) are the maxima over *all*
    the programs planned, so an estimate never depends on how they are chunked.
    """

    def __init__(self, task: Task, encoded: Sequence[Encoded], shape: BatchShape) -> None:
        self.task, self.shape, self.fp = task, shape, footprint(task)
        S, T, b = shape.seeds, shape.steps, shape.itemsize
        P = task.layout(1).size
        data = task.data("cpu")
        data_bytes = sum(t.numel() * t.element_size()
                         for t in (data.x_train, data.y_train, data.x_val, data.y_val))
        x, y = task.batch(data, task.batch_indices(0, 1)[:1])
        self.batch_bytes = S * (x.nbytes + y.nbytes)
        self.fixed = data_bytes + S * T * task.batch_size * 8            # data, batch indices
        per_lane = 40 + 8 * shape.n_hurdles + (T * b if shape.record_curves else 0)
        self.scale = b / 4
        if shape.backend == "triton":
            from optsearch.evaluate.gpu import block_table, row_stride

            self.row = row_stride(task.layout(1))
            ns = max((e.n_state for e in encoded), default=0)
            nred = max((e.n_reductions for e in encoded), default=0)
            ncol = max((len(e.columns) for e in encoded), default=0) + 2
            ni = max((2 * len(e.instrs) + 1 for e in encoded), default=1)
            nblk = int(block_table(task.layout(1))[0].numel())
            per_lane += 4 * (self.row * (1 + max(1, ns)) + max(1, nred) * nblk
                             + T * max(1, ncol) + 2 * ni + 8 + ns + nred)
            self.lane_bytes = [per_lane] * len(encoded)
            self.columns = [0] * len(encoded)
            self.update_peak = [0] * len(encoded)
        else:
            self.row = P
            host = 8 if shape.host_is_device else 0
            self.lane_bytes = [per_lane + b * P * (1 + e.n_state) for e in encoded]
            self.columns = [shape.mults * T * len(e.columns) * (b + host) for e in encoded]
            lanes = S * shape.mults
            self.update_peak = [lanes * P * b * (len(e.instrs) + 2 * e.n_state + 3)
                                for e in encoded]

    def chunk(self, members: Iterable[int]) -> int:
        """Estimated bytes for the programs ``members`` (indices into ``encoded``)."""
        members = list(members)
        return self.total(len(members), sum(self.lane_bytes[i] for i in members),
                          sum(self.columns[i] for i in members),
                          max((self.update_peak[i] for i in members), default=0))

    def total(self, n: int, lane_sum: int, column_sum: int, update_max: int) -> int:
        """Estimated bytes from a chunk's aggregates (lets planning run in one pass)."""
        lanes = self.shape.seeds * self.shape.mults
        body = self.fixed + lanes * lane_sum + column_sum
        base = 0 if self.shape.host_is_device else CUDA_BASE
        return int(SAFETY * (body + self.transient(lanes * n, update_max))) + base

    def transient(self, L: int, update_peak: int) -> float:
        """The largest short-lived allocation: a training step, an update, or validation."""
        fp, b, vc = self.fp, self.shape.itemsize, min(self.task.val_chunk, L)
        step = self.scale * (fp.step_per_lane * L + fp.step_fixed) + self.batch_bytes
        update = L * self.row * b + update_peak             # the gradient stays alive
        val = self.scale * (fp.val_per_lane * vc + fp.val_fixed) + vc * self.row * 8
        return max(step, update, val)


def parse_bytes(text: str) -> int:
    """``"1500000"``, ``"512M"``, ``"2G"`` (binary units) -> bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[:-1] if unit else t)
    except ValueError:
        raise ValueError(f"{ENV_BUDGET}={text!r} is not a size like 2000000, 512M or 2G") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{ENV_BUDGET}={text!r}: the budget must be positive")
    return int(value * _UNITS[unit])


def available_bytes(device: torch.device) -> int:
    """Free memory on ``device``: CUDA free + cached by torch, or the host's MemAvailable."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def budget_bytes(device: torch.device, override: int | None = None) -> int:
    """The bytes a batch may use: ``override``, else ``$OPTSEARCH_MEMORY_BUDGET``, else a
    share of what is free now."""
    if override is not None:
        if override <= 0:
            raise ValueError(f"memory_budget_bytes must be positive, got {override}")
        return int(override)
    env = os.environ.get(ENV_BUDGET)
    if env:
        return parse_bytes(env)
    return int(BUDGET_FRACTION * available_bytes(device))


def plan_chunks(est: Estimator, n_programs: int, budget: int) -> list[list[int]]:
    """Consecutive chunks of program indices whose estimates fit ``budget``.

    Raises MemoryBudgetError when one program's lanes alone do not fit.
    """
    chunks: list[list[int]] = []
    cur: list[int] = []
    lane_sum = column_sum = update_max = 0
    for i in range(n_programs):
        add = (est.lane_bytes[i], est.columns[i], est.update_peak[i])
        if cur and est.total(len(cur) + 1, lane_sum + add[0], column_sum + add[1],
                             max(update_max, add[2])) > budget:
            chunks.append(cur)
            cur, lane_sum, column_sum, update_max = [], 0, 0, 0
        if not cur and est.total(1, *add) > budget:
            raise too_big(est.task.name, est.shape.seeds * est.shape.mults,
                          est.total(1, *add), budget, f"program #{i}")
        cur.append(i)
        lane_sum, column_sum, update_max = lane_sum + add[0], column_sum + add[1], max(update_max, add[2])
    if cur:
        chunks.append(cur)
    return chunks


def too_big(task: str, lanes: int, estimate: int | None, budget: int | None,
            what: str) -> MemoryBudgetError:
    need = f"needs about {_mib(estimate)}" if estimate is not None else "ran out of memory"
    have = f", the budget is {_mib(budget)}" if budget is not None else ""
    return MemoryBudgetError(
        f"task {task!r}: {what} with its {lanes} lanes (seeds x lr multipliers) {need}{have}; "
        f"use fewer seeds or multipliers, a smaller task size, or raise the budget "
        f"(memory_budget_bytes / ${ENV_BUDGET})")


def _mib(n: int | None) -> str:
    return f"{(n or 0) / 2**20:.1f} MiB"
