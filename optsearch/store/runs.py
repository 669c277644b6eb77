"""The run store: one folder per search run, ``runs/<run-id>/``.

- ``run.sqlite``: config, every program made (text, fingerprint, parents, mutation,
  generation, per-task scores, wall time, failure), funnel scores, logbook, hall of fame
  (schema in ``schema.sql``). Committed after every evaluated batch; WAL mode so
  ``optsearch runs`` / ``show`` can read a run while it is searching.
- ``checkpoint.json``: population and RNG state at the end of the last finished
  generation, written to a temporary file and renamed over the old one, so a kill at any
  moment leaves either the old or the new checkpoint, never half of one.
- ``lock``: held (``flock``) by the process searching the run, so two searches cannot
  share a run directory; the kernel releases it when that process dies, even by kill -9.

No pickle anywhere: rows and JSON only.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

from optsearch.errors import StoreError

SCHEMA_VERSION = 1
DB_NAME = "run.sqlite"
CHECKPOINT_NAME = "checkpoint.json"


@dataclass(frozen=True)
class ProgramRow:
    """One row of the ``programs`` table (see schema.sql for the meaning of each column)."""

    id: int
    generation: int
    idx: int
    text: str
    fingerprint: str
    parent_id: int | None
    parent2_id: int | None
    mutation: str
    fitness: float
    per_task: list
    wall_time: float
    failure: str | None
    cached_from: int | None

    @property
    def trained(self) -> bool:
        return self.cached_from is None and not (self.failure or "").startswith("invalid")


@dataclass(frozen=True)
class FunnelRow:
    program_id: int
    generation: int
    fitness: float
    per_task: list
    wall_time: float
    failure: str | None
    cached_from: int | None


_PROGRAM_COLS = ("id, generation, idx, text, fingerprint, parent_id, parent2_id, mutation, "
                 "fitness, per_task, wall_time, failure, cached_from")
_FUNNEL_COLS = "program_id, generation, fitness, per_task, wall_time, failure, cached_from"


def _program_row(r: tuple) -> ProgramRow:
    return ProgramRow(*r[:9], json.loads(r[9]), *r[10:])


def _funnel_row(r: tuple) -> FunnelRow:
    return FunnelRow(*r[:3], json.loads(r[3]), *r[4:])


class RunStore:
    """An open run. Use :meth:`create` for a new run, :meth:`open` for an existing one."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: Any = None) -> None:
        self.path = path
        self.conn = conn
        self._lock = lock

    # ----- opening -------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | Path, run_id: str, config: dict[str, Any]) -> "RunStore":
        path = Path(runs_dir) / run_id
        if (path / DB_NAME).exists():
            raise StoreError(f"run {run_id!r} already exists in {runs_dir}")
        path.mkdir(parents=True, exist_ok=True)
        lock = _take_lock(path)
        conn = _connect(path / DB_NAME)
        schema = resources.files("optsearch.store").joinpath("schema.sql").read_text("utf-8")
        with conn:
            conn.executescript(schema)
            conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
                ("schema_version", str(SCHEMA_VERSION)), ("run_id", run_id),
                ("config", json.dumps(config, sort_keys=True)),
                ("created", time.strftime("%Y-%m-%d %H:%M:%S")), ("status", "created"),
            ])
        return cls(path, conn, lock)

    @classmethod
    def open(cls, target: str | Path, runs_dir: str | Path = "runs",
             writable: bool = False) -> "RunStore":
        """Open run ``target`` (a run id in ``runs_dir`` or a path to a run folder).

        ``writable=True`` takes the run's lock (for resuming); readers need none.
        """
        path = find_run(target, runs_dir)
        lock = _take_lock(path) if writable else None
        conn = _connect(path / DB_NAME)
        store = cls(path, conn, lock)
        version = store.meta("schema_version")
        if version != str(SCHEMA_VERSION):
            store.close()
            raise StoreError(f"run {path.name!r} has store schema version {version}, this "
                             f"optsearch reads version {SCHEMA_VERSION}")
        return store

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def run_id(self) -> str:
        return self.meta("run_id") or self.path.name

    # ----- meta and config -----------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def config(self) -> dict[str, Any]:
        return json.loads(self.meta("config") or "{}")

    def set_config(self, config: dict[str, Any]) -> None:
        self.set_meta("config", json.dumps(config, sort_keys=True))

    # ----- programs ------------------------------------------------------------------
    def add_programs(self, rows: Iterable[ProgramRow]) -> None:
        """Insert rows and commit (one transaction: all or none survive a kill)."""
        data = [(r.id, r.generation, r.idx, r.text, r.fingerprint, r.parent_id, r.parent2_id,
                 r.mutation, r.fitness, json.dumps(r.per_task), r.wall_time, r.failure,
                 r.cached_from) for r in rows]
        with self.conn:
            self.conn.executemany(f"INSERT INTO programs ({_PROGRAM_COLS}) VALUES "
                                  f"({', '.join('?' * 13)})", data)

    def program(self, program_id: int) -> ProgramRow | None:
        r = self.conn.execute(f"SELECT {_PROGRAM_COLS} FROM programs WHERE id = ?",
                              (program_id,)).fetchone()
        return _program_row(r) if r else None

    def programs(self, where: str = "", params: tuple = (), order: str = "id",
                 limit: int | None = None) -> list[ProgramRow]:
        """Rows matching an SQL condition on the programs table (trusted callers only)."""
        sql = f"SELECT {_PROGRAM_COLS} FROM programs"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_program_row(r) for r in self.conn.execute(sql, params)]

    def count(self, where: str = "", params: tuple = ()) -> int:
        sql = "SELECT COUNT(*) FROM programs" + (f" WHERE {where}" if where else "")
        return int(self.conn.execute(sql, params).fetchone()[0])

    # ----- funnel --------------------------------------------------------------------
    def add_funnel(self, rows: Iterable[FunnelRow]) -> None:
        data = [(r.program_id, r.generation, r.fitness, json.dumps(r.per_task), r.wall_time,
                 r.failure, r.cached_from) for r in rows]
        with self.conn:
            self.conn.executemany(f"INSERT INTO funnel ({_FUNNEL_COLS}) VALUES "
                                  f"({', '.join('?' * 7)})", data)

    def funnel(self, where: str = "", params: tuple = ()) -> list[FunnelRow]:
        sql = f"SELECT {_FUNNEL_COLS} FROM funnel" + (f" WHERE {where}" if where else "")
        return [_funnel_row(r) for r in self.conn.execute(sql + " ORDER BY program_id", params)]

    # ----- logbook and hall of fame --------------------------------------------------
    def finish_generation(self, generation: int, record: dict[str, Any], elapsed: float,
                          hall_of_fame: list[tuple[int, float, str | None]]) -> None:
        """Store a generation's logbook record and the hall of fame, in one transaction."""
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO logbook (generation, record, elapsed) "
                              "VALUES (?, ?, ?)", (generation, json.dumps(record), elapsed))
            self.conn.execute("DELETE FROM hall_of_fame")
            self.conn.executemany(
                "INSERT INTO hall_of_fame (rank, program_id, funnel_fitness, simplified_text) "
                "VALUES (?, ?, ?, ?)", [(i, *e) for i, e in enumerate(hall_of_fame)])

    def truncate_logbook(self, after_generation: int) -> None:
        """Forget logbook records past the checkpoint (they are recomputed on resume)."""
        with self.conn:
            self.conn.execute("DELETE FROM logbook WHERE generation > ?", (after_generation,))

    def logbook(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT record FROM logbook ORDER BY generation")
        return [json.loads(r[0]) for r in rows]

    def elapsed(self) -> float:
        row = self.conn.execute("SELECT MAX(elapsed) FROM logbook").fetchone()
        return float(row[0] or 0.0)

    def hall_of_fame(self) -> list[tuple[int, float, str | None]]:
        rows = self.conn.execute("SELECT program_id, funnel_fitness, simplified_text "
                                 "FROM hall_of_fame ORDER BY rank")
        return [tuple(r) for r in rows]

    # ----- checkpoint ----------------------------------------------------------------
    def save_checkpoint(self, data: dict[str, Any]) -> None:
        """Write checkpoint.json atomically (temporary file, fsync, rename)."""
        final = self.path / CHECKPOINT_NAME
        tmp = final.with_suffix(".json.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as e:  # disk full, quota, I/O error: keep the previous checkpoint
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{final}: could not write the checkpoint ({e.strerror or e}); "
                             "the previous checkpoint is intact") from None

    def load_checkpoint(self) -> dict[str, Any] | None:
        p = self.path / CHECKPOINT_NAME
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{p}: unreadable checkpoint ({e})") from None


def _connect(db: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(db, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{db}: not a readable run store ({e})") from None
    return conn


def _take_lock(path: Path) -> Any:
    fh = open(path / "lock", "a+", encoding="utf-8")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise StoreError(f"run {path.name!r} is in use by {holder}; two searches cannot share "
                         f"a run directory") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()}\n")
    fh.flush()
    return fh


def find_run(target: str | Path, runs_dir: str | Path = "runs") -> Path:
    """The folder of run ``target``: a run id under ``runs_dir``, or a path to a run folder.

    Raises:
        StoreError: naming the closest run ids when there is no such run.
    """
    t = Path(target)
    for candidate in (t, Path(runs_dir) / t):
        if (candidate / DB_NAME).is_file():
            return candidate
    ids = [p.name for p in iter_runs(runs_dir)]
    close = difflib.get_close_matches(str(target), ids, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise StoreError(f"no run {str(target)!r} in {runs_dir}{hint}"
                     + ("" if ids else " (no runs there yet)"))


def iter_runs(runs_dir: str | Path) -> Iterator[Path]:
    """Run folders under ``runs_dir``, oldest first (by name: ids start with the date)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return iter(())
    return iter(sorted(p for p in root.iterdir() if (p / DB_NAME).is_file()))


def new_run_id(runs_dir: str | Path, name: str, seed: int) -> str:
    """``DATE-TIME-NAME-sSEED``, with a suffix if that folder exists."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name) or "run"
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-s{seed}"
    run_id, k = base, 1
    while (Path(runs_dir) / run_id).exists():
        k += 1
        run_id = f"{base}-{k}"
    return run_id


def split_ref(text: str) -> tuple[str, str] | None:
    """``"RUN:ID"`` or ``"RUN:best"`` -> ``(RUN, ID)``; None for anything else."""
    run, sep, ident = text.rpartition(":")
    if not sep or not run or not (ident.isdigit() or ident == "best"):
        return None
    return run, ident


def lookup_program(store: RunStore, ident: str) -> ProgramRow:
    """Row ``ident`` of a run: a program id, or ``best`` (the hall of fame's best, or the
    best search fitness if the hall of fame is empty)."""
    if ident == "best":
        hof = store.hall_of_fame()
        if hof:
            row = store.program(hof[0][0])
        else:
            best = store.programs("cached_from IS NULL", order="fitness DESC, id", limit=1)
            row = best[0] if best else None
        if row is None:
            raise StoreError(f"run {store.run_id!r} has no scored program yet")
        return row
    row = store.program(int(ident))
    if row is None:
        n = store.count()
        raise StoreError(f"run {store.run_id!r} has no program {ident} "
                         f"(ids run from 0 to {n - 1})" if n else
                         f"run {store.run_id!r} has no programs yet")
    return row
