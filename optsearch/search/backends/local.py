"""In-process backend: one evaluator in the search's own process (one GPU, or tests)."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence


class LocalBackend:
    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = 1  # one process; a GPU batches the whole generation itself

    def map(self, fn: Callable, jobs: Sequence) -> Iterator:
        return (fn(job) for job in jobs)

    def close(self) -> None:
        pass


def make_backend(workers: int = 1) -> LocalBackend:
    return LocalBackend(workers)
