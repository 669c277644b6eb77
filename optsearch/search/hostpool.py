"""Per-child host work (fingerprint, validity filter) spread over CPU processes.

On one GPU the evaluator trains a whole generation in a fraction of a second, and the
search becomes bound by what it does per child on the host: the behavioural fingerprint
and the validity probes, a millisecond or so each of float64 interpreter work. Both are
pure functions of the program, so mapping them over a process pool changes no result,
only the wall time. ``workers <= 1`` runs them in process (the default; CPU searches
use their cores for training).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def process_pool(workers: int):
    """A ``multiprocess`` pool of ``workers`` one-torch-thread processes: fork where there
    is one (starts in milliseconds, as torch's DataLoader does; the workers never touch
    CUDA), spawn elsewhere."""
    import multiprocess

    methods = multiprocess.get_all_start_methods()
    ctx = multiprocess.get_context("fork" if "fork" in methods else "spawn")
    return ctx.Pool(workers, initializer=_init_worker)


class HostPool:
    """``map(fn, items)`` in order, in process or on ``workers`` processes (started lazily)."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._pool = None

    def start(self) -> "HostPool":
        """Start the workers now: before the evaluator touches CUDA, forking is clean."""
        if self.workers > 1 and self._pool is None:
            self._pool = process_pool(self.workers)
        return self

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        items = list(items)
        if self.workers <= 1 or len(items) < 2 * self.workers:
            return [fn(x) for x in items]
        self.start()
        chunk = max(1, math.ceil(len(items) / (4 * self.workers)))
        return self._pool.map(fn, items, chunksize=chunk)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
