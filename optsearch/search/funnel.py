"""The funnel: re-train the best new programs on larger tasks before the hall of fame.

Search fitness on small proxies is noisy and overfits (the Lion paper's meta-overfitting);
so after each generation the best ``k`` programs trained in it (above ``min_fitness``) are
re-trained with ``EvalConfig(size=funnel.size, seeds=funnel.seeds)``, and only those that
beat the tuned-AdamW baseline there (funnel fitness > 0) enter the hall of fame. The hall
of fame is kept simplified when :func:`optsearch.simplify` is installed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from operator import eq
from typing import Any, Callable

from deap import tools

from optsearch.parse import parse
from optsearch.printer import to_text
from optsearch.search.backends.base import Backend
from optsearch.search.backends.work import score_job
from optsearch.search.individual import Individual
from optsearch.search.scoring import pad_texts
from optsearch.store.runs import FunnelRow, RunStore


def simplifier() -> Callable[[Any], Any] | None:
    """``optsearch.simplify`` if the simplify engine is installed, else None."""
    import importlib

    try:
        module = importlib.import_module("optsearch.simplify")
    except ImportError:
        return None
    fn = getattr(module, "simplify", None)
    return fn if callable(fn) else None


@dataclass
class Funnel:
    """Funnel stage plus the hall of fame it feeds."""

    store: RunStore
    backend: Backend
    spec: str
    k: int
    min_fitness: float
    hof: tools.HallOfFame
    pad: bool = False  # fill the funnel batch up to k programs (one batch shape)
    simplified: dict[int, str | None] = field(default_factory=dict)

    @classmethod
    def build(cls, store: RunStore, backend: Backend, spec: str, k: int, min_fitness: float,
              size: int, pad: bool = False) -> "Funnel":
        return cls(store, backend, spec, k, min_fitness, tools.HallOfFame(size, similar=eq), pad)

    def candidates(self, generation: int) -> list[int]:
        """Ids of the best programs trained in ``generation``, best first: not cache hits,
        and not the warm start (the hall of fame is for what the search found)."""
        rows = self.store.programs(
            "generation = ? AND cached_from IS NULL AND mutation != 'init' AND (failure IS NULL "
            "OR failure NOT LIKE 'invalid%') AND fitness > ?", (generation, self.min_fitness),
            order="fitness DESC, id", limit=self.k)
        return [r.id for r in rows]

    def run(self, generation: int) -> tuple[int, float]:
        """Funnel a generation; returns (programs re-trained now, seconds)."""
        if self.k <= 0:
            return 0, 0.0
        ids = self.candidates(generation)
        done = {r.program_id: r for r in self.store.funnel("generation = ?", (generation,))}
        todo = [i for i in ids if i not in done]
        start = time.perf_counter()
        if todo:
            texts = [self.store.program(i).text for i in todo]  # type: ignore[union-attr]
            texts = pad_texts(texts, self.k if self.pad else 0)
            (scores, seconds), = list(self.backend.map(score_job, [(self.spec, texts)]))
            rows = [FunnelRow(i, generation, s["fitness"], s["per_task"], seconds / len(todo),
                              s["failure"], None) for i, s in zip(todo, scores)]
            self.store.add_funnel(rows)
            done.update({r.program_id: r for r in rows})
        passed = []
        for i in ids:
            row = self.store.program(i)
            assert row is not None
            if done[i].fitness > 0.0:
                ind = Individual(parse(row.text), i, row.fingerprint, row.generation)
                passed.append(ind.scored(done[i].fitness))
        self.hof.update(passed)
        return len(todo), time.perf_counter() - start

    def restore(self, entries: list[tuple[int, float]]) -> None:
        """Rebuild the hall of fame from a checkpoint's ``[(program id, funnel fitness)]``."""
        self.hof.clear()
        for pid, fitness in entries:
            row = self.store.program(pid)
            if row is None:
                continue
            self.hof.insert(Individual(parse(row.text), pid, row.fingerprint,
                                       row.generation).scored(fitness))

    def entries(self) -> list[tuple[int, float]]:
        return [(ind.id, ind.score) for ind in self.hof]

    def table(self) -> list[tuple[int, float, str | None]]:
        """Rows for the store's hall_of_fame table: id, funnel fitness, simplified text."""
        simplify = simplifier()
        out = []
        for ind in self.hof:
            if ind.id not in self.simplified:
                text = None
                if simplify is not None:
                    try:
                        text = to_text(simplify(ind.program))
                    except Exception as e:  # a simplifier bug must not stop a search
                        text = f"# simplify failed: {type(e).__name__}: {e}\n"
                self.simplified[ind.id] = text
            out.append((ind.id, ind.score, self.simplified[ind.id]))
        return out
