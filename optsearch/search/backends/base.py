"""The backend interface: an ordered, lazy ``map`` over evaluation jobs.

A job is ``(spec_json, program_texts)``: plain strings, so any transport (pipes, Ray,
a queue) can carry it and each worker builds its own evaluator from the spec (see
:func:`optsearch.search.backends.work.score_job`). Results must come back in job order;
the search commits each job's results to the run store as soon as it arrives.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence, TypeVar

J = TypeVar("J")
R = TypeVar("R")


class Backend(Protocol):
    """What the search needs from a place that runs evaluations."""

    name: str
    workers: int

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        """``fn(job)`` for every job, yielded in job order. ``fn`` is importable by path."""
        ...

    def close(self) -> None:
        """Release workers (idempotent)."""
        ...
