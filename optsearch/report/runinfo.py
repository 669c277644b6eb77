"""What a report needs from a run store, read once into plain data (the store stays closed).

Reads the tables of optsearch/store/schema.sql: the logbook (one record per generation,
with the search's counters), every program's generation / fitness / cache origin, the
funnel and the hall of fame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from optsearch.store.runs import RunStore


@dataclass(frozen=True)
class Entry:
    """A program the report lists: hall-of-fame member or best by search fitness."""

    id: int
    text: str
    fitness: float                 # search fitness
    funnel_fitness: float | None
    simplified: str | None
    generation: int
    per_task: list


@dataclass
class RunInfo:
    run_id: str
    path: Path
    config: dict
    meta: dict[str, str]
    logbook: list[dict]
    elapsed: list[float]           # wall seconds since the run started, per generation
    points: list[tuple[int, float]] = field(default_factory=list)  # (generation, fitness) trained
    programs: int = 0
    trained: int = 0
    cache_hits: int = 0
    invalid: int = 0
    entries: list[Entry] = field(default_factory=list)
    from_hall_of_fame: bool = True

    @property
    def generations(self) -> list[int]:
        return [int(r["gen"]) for r in self.logbook]

    def rates(self) -> list[float]:
        """Trained programs per wall second, per generation (funnel time included)."""
        out, prev = [], 0.0
        for rec, t in zip(self.logbook, self.elapsed):
            dt = t - prev
            prev = t
            out.append(rec.get("trained", 0) / dt if dt > 0 else math.nan)
        return out


def read_run(target: str, runs_dir: str | Path = "runs", top: int = 5) -> RunInfo:
    """Everything a report shows about run ``target`` (a run id or a run folder).

    ``top``: how many programs to list; the hall of fame when it has any, else the
    best distinct programs by search fitness.
    """
    with RunStore.open(target, runs_dir) as store:
        rows = store.conn.execute("SELECT record, elapsed FROM logbook ORDER BY generation")
        logbook, elapsed = [], []
        for rec, el in rows:
            logbook.append(json.loads(rec))
            elapsed.append(float(el))
        meta = dict(store.conn.execute("SELECT key, value FROM meta"))
        meta.pop("config", None)
        info = RunInfo(store.run_id, store.path, store.config(), meta, logbook, elapsed)
        for gen, fit, cached, failure in store.conn.execute(
                "SELECT generation, fitness, cached_from, failure FROM programs"):
            info.programs += 1
            if cached is not None:
                info.cache_hits += 1
            elif (failure or "").startswith("invalid"):
                info.invalid += 1
            else:
                info.trained += 1
                info.points.append((int(gen), float(fit)))
        funnel = {r.program_id: r.fitness for r in store.funnel()}
        hof = store.hall_of_fame()[:top]
        if hof:
            ids = [(pid, ffit, simp) for pid, ffit, simp in hof]
        else:
            info.from_hall_of_fame = False
            best = store.programs("cached_from IS NULL AND failure IS NULL",
                                  order="fitness DESC, id", limit=top * 4)
            seen, ids = set(), []
            for r in best:
                if r.fingerprint not in seen and len(ids) < top:
                    seen.add(r.fingerprint)
                    ids.append((r.id, funnel.get(r.id), None))
        for pid, ffit, simp in ids:
            row = store.program(pid)
            if row is not None:
                info.entries.append(Entry(row.id, row.text, row.fitness, ffit, simp,
                                          row.generation, row.per_task))
    return info
