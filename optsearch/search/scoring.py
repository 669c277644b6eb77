"""Score one generation's new programs: store lookup, cache, validity filter, training.

The order of work makes a killed run resumable with no finished evaluation lost or
repeated, and with the same result as an uninterrupted run:

1. A child whose row is already in the store (same id: ids are assigned in creation
   order, which the seed fixes) takes its stored score: it was finished before a kill.
2. Otherwise a child equal in behaviour to a program already scored (fingerprint cache)
   reuses that score; a child failing the validity filter scores worst, untrained.
3. The rest is split into jobs of a size fixed by the config (never by timing), run on
   the backend, and each job's rows are committed as soon as it returns.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from optsearch.printer import to_text
from optsearch.search.backends.base import Backend
from optsearch.search.backends.work import score_job
from optsearch.search.cache import FingerprintCache, program_fingerprint
from optsearch.search.hostpool import HostPool
from optsearch.search.individual import WORST_FITNESS, Individual
from optsearch.search.validity import invalid_reason
from optsearch.store.runs import ProgramRow, RunStore


@dataclass
class Counts:
    """How the programs of a batch were scored."""

    programs: int = 0
    trained: int = 0
    hits: int = 0
    invalid: int = 0
    reused: int = 0  # found in the store (finished before an interruption)
    train_seconds: float = 0.0

    def add(self, other: "Counts") -> None:
        self.programs += other.programs
        self.trained += other.trained
        self.hits += other.hits
        self.invalid += other.invalid
        self.reused += other.reused
        self.train_seconds += other.train_seconds


def pad_texts(texts: list[str], size: int) -> list[str]:
    """``texts`` filled up to ``size`` with copies of its last program (scores of the copies
    are dropped: lanes train independently, so they change nothing but the batch shape)."""
    return texts + [texts[-1]] * max(0, size - len(texts))


@dataclass
class Scorer:
    """Scores batches of individuals for one run."""

    store: RunStore
    backend: Backend
    cache: FingerprintCache
    spec: str  # evaluator spec JSON (see backends.work.eval_spec)
    chunk: int = 0
    validity: bool = True
    pad: bool = False
    on_job: Callable[[dict[str, Any]], None] | None = None
    host: HostPool = field(default_factory=HostPool)

    def job_size(self, n: int) -> int:
        """Programs per job: ``chunk``, or the batch split evenly over the workers."""
        if self.chunk > 0:
            return self.chunk
        return max(1, math.ceil(n / max(1, self.backend.workers)))

    def score(self, children: list[Individual], generation: int) -> Counts:
        counts = Counts(programs=len(children))
        stored = {r.id: r for r in self.store.programs("generation = ?", (generation,))}
        to_train: list[Individual] = []
        hits: list[tuple[Individual, int]] = []
        invalid: list[ProgramRow] = []
        position = {c.id: i for i, c in enumerate(children)}
        fresh = [c for c in children if c.id not in stored and not c.fingerprint]
        for c, fp in zip(fresh, self.host.map(program_fingerprint, [c.program for c in fresh])):
            c.fingerprint = fp
        candidates: list[Individual] = []
        for child in children:
            row = stored.get(child.id)
            if row is not None:
                child.fingerprint = row.fingerprint
                child.scored(row.fitness)
                if row.cached_from is None:
                    self.cache.add(row.fingerprint, row.id)
                counts.reused += 1
                counts.hits += row.cached_from is not None
                counts.invalid += (row.failure or "").startswith("invalid")
                counts.trained += row.trained
                continue
            source = self.cache.get(child.fingerprint)
            if source is not None:
                hits.append((child, source))
                continue
            self.cache.add(child.fingerprint, child.id)
            candidates.append(child)
        reasons = (self.host.map(invalid_reason, [c.program for c in candidates])
                   if self.validity else [None] * len(candidates))
        for child, reason in zip(candidates, reasons):
            if reason is not None:
                child.scored(WORST_FITNESS)
                invalid.append(self._row(child, generation, position[child.id], WORST_FITNESS,
                                         [], 0.0, f"invalid: {reason}", None))
                continue
            to_train.append(child)
        if invalid:
            self.store.add_programs(invalid)
            counts.invalid += len(invalid)
        self._train(to_train, children, generation, counts)
        if hits:
            rows = []
            for child, source in hits:
                src = self.store.program(source)
                assert src is not None, f"cache points to missing program {source}"
                child.scored(src.fitness)
                rows.append(self._row(child, generation, position[child.id], src.fitness,
                                      src.per_task, 0.0, src.failure, src.id))
            self.store.add_programs(rows)
            counts.hits += len(hits)
        return counts

    def _train(self, to_train: list[Individual], children: list[Individual], generation: int,
               counts: Counts) -> None:
        if not to_train:
            return
        size = self.job_size(len(to_train))
        groups = [to_train[i:i + size] for i in range(0, len(to_train), size)]
        jobs = [(self.spec, pad_texts([to_text(c.program) for c in g], size if self.pad else 0))
                for g in groups]
        position = {c.id: i for i, c in enumerate(children)}
        start = time.perf_counter()
        for group, (scores, seconds) in zip(groups, self.backend.map(score_job, jobs)):
            rows = []
            for child, s in zip(group, scores):
                child.scored(s["fitness"])
                rows.append(self._row(child, generation, position[child.id], s["fitness"],
                                      s["per_task"], seconds / len(group), s["failure"], None))
            self.store.add_programs(rows)
            counts.trained += len(group)
            if self.on_job is not None:
                self.on_job({"trained": len(group), "seconds": time.perf_counter() - start})
        counts.train_seconds += time.perf_counter() - start

    @staticmethod
    def _row(child: Individual, generation: int, idx: int, fitness: float, per_task: list,
             wall: float, failure: str | None, cached_from: int | None) -> ProgramRow:
        parents = list(child.parents) + [None, None]
        return ProgramRow(child.id, generation, idx, to_text(child.program), child.fingerprint,
                          parents[0], parents[1], child.mutation, float(fitness), per_task,
                          float(wall), failure, cached_from)
