"""Run many training runs, in this process or in worker processes.

A :class:`Job` is plain data (reference strings and numbers): a worker process loads the
candidate and the task from their references itself (a user's ``.py`` file is imported
by path in each worker), so nothing user-defined is ever pickled.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from optsearch.compare.candidates import Candidate, describe_error, load_candidate
from optsearch.compare.task import CompareTask
from optsearch.compare.tasks import get_task
from optsearch.compare.train import RunRecord, train_run
from optsearch.errors import OptsearchError


@dataclass(frozen=True)
class Job:
    """One training run, by reference."""

    task: str
    candidate: str
    lr: float
    seed: int
    steps: int
    device: str
    deadline: float = 0.0          # time.time() after which the job is skipped (0: none)


SKIPPED = "skipped: the time budget (--budget) was used up"


_TASKS: dict[str, CompareTask] = {}
_CANDIDATES: dict[str, Candidate] = {}


def remember(task_ref: str, task: CompareTask) -> None:
    """Let this process reuse an already built task (its data is cached on it)."""
    _TASKS[task_ref] = task


def remember_candidate(candidate: Candidate) -> None:
    """Let this process reuse an already loaded candidate."""
    _CANDIDATES[candidate.ref] = candidate


def run_job(job: Job) -> dict:
    """Run one job; returns the RunRecord as JSON-able data (a failure is recorded in it)."""
    if job.deadline and time.time() > job.deadline:
        return RunRecord(lr=job.lr, seed=job.seed, steps=job.steps, error=SKIPPED).to_json()
    try:
        if job.task not in _TASKS:
            _TASKS[job.task] = get_task(job.task)
        if job.candidate not in _CANDIDATES:
            _CANDIDATES[job.candidate] = load_candidate(job.candidate)
        rec = train_run(_TASKS[job.task], _CANDIDATES[job.candidate], job.lr, job.seed,
                        job.steps, job.device)
    except OptsearchError as e:
        rec = RunRecord(lr=job.lr, seed=job.seed, steps=job.steps, error=str(e))
    except Exception as e:  # noqa: BLE001 - e.g. a user task's loss failing mid-run
        rec = RunRecord(lr=job.lr, seed=job.seed, steps=job.steps,
                        error=f"training raised {describe_error(e)}")
    return rec.to_json()


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


class Runner:
    """Runs jobs serially (``workers=1``) or in a pool of spawned worker processes.

    Args:
        workers: processes; several runs share one GPU well when models are small.
        threads: torch CPU threads per worker (default: cores / workers).
        on_done: called once per finished job (progress display).
    """

    def __init__(self, workers: int = 1, threads: int | None = None,
                 on_done: Callable[[Job, RunRecord], None] | None = None) -> None:
        self.workers = max(1, int(workers))
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.workers)
        self.on_done = on_done
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Runner":
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, multiprocessing.get_context("spawn"),
                                             initializer=_init_worker,
                                             initargs=(self.threads,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, jobs: Iterable[Job]) -> list[RunRecord]:
        """Records of ``jobs``, in the same order."""
        jobs = list(jobs)
        out: list[RunRecord | None] = [None] * len(jobs)
        if self._pool is None:
            for i, job in enumerate(jobs):
                out[i] = RunRecord.from_json(run_job(job))
                if self.on_done:
                    self.on_done(job, out[i])
            return out  # type: ignore[return-value]
        pending: dict[Future, int] = {self._pool.submit(run_job, j): i for i, j in enumerate(jobs)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                i = pending.pop(f)
                out[i] = RunRecord.from_json(f.result())
                if self.on_done:
                    self.on_done(jobs[i], out[i])
        return out  # type: ignore[return-value]
