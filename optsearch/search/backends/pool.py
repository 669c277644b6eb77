"""``multiprocess`` pool backend: CPU workers, each with its own evaluator.

Jobs are program text (see base.py), so nothing but strings and the importable
``score_job`` function crosses the process boundary. Workers are started lazily and use
one torch thread each, so ``workers`` processes fill ``workers`` cores.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence


class PoolBackend:
    name = "pool"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._pool = None

    def map(self, fn: Callable, jobs: Sequence) -> Iterator:
        if self._pool is None:
            from optsearch.search.hostpool import process_pool

            self._pool = process_pool(self.workers)
        return self._pool.imap(fn, jobs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def make_backend(workers: int = 2) -> PoolBackend:
    return PoolBackend(workers)
