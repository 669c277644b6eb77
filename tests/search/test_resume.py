"""kill -9 in the middle of a generation, resume, and the run ends as if never stopped."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from optsearch.cli import main
from optsearch.search import Search
from optsearch.store import RunStore

STANDIN = "tests.search.standin:make"


def _toml(path: Path, runs: Path, log: Path | None, delay: float) -> Path:
    options = f'{{ delay = {delay}, log = "{log}" }}' if log else "{}"
    path.write_text(f'''seed = 11
runs_dir = "{runs}"
[search]
population = 8
children = 6
generations = 4
[eval]
factory = "{STANDIN}"
options = {options}
[funnel]
k = 1
seeds = 1
[workers]
chunk = 1
''')
    return path


def fresh_context():
    """A forkserver: children fork from a clean process that has already imported optsearch
    and torch, so they start at once and inherit no threads of the test process (forking a
    process that ran Ray or torch threads can deadlock the child)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.search.test_resume"])
    return ctx


def _cli(argv: list[str]) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    sys.exit(main(argv))


def _rows(store: RunStore):
    return [(r.id, r.generation, r.idx, r.text, r.fingerprint, r.parent_id, r.mutation,
             r.fitness, r.per_task, r.cached_from, r.failure) for r in store.programs()]


def _mid_generation(db: Path) -> bool:
    """True once the run has committed some, not all, evaluations of a generation > 1."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            done = con.execute("SELECT MAX(generation) FROM logbook").fetchone()[0]
            started = con.execute("SELECT MAX(generation) FROM programs "
                                  "WHERE cached_from IS NULL").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return done is not None and started is not None and done >= 1 and started > done


def test_kill_9_mid_generation_then_resume_matches_uninterrupted(tmp_path):
    runs = tmp_path / "runs"
    # The reference: the same seed, never interrupted, no delay (timing is not part of a result).
    from optsearch.search.config import RunConfig, load_toml

    ref_cfg = RunConfig.from_dict(load_toml(_toml(tmp_path / "ref.toml", runs, None, 0.0)))
    ref = Search.create(ref_cfg, "ref").run()
    ref_log, ref_rows = ref.store.logbook(), _rows(ref.store)
    ref.close()
    trained_ref = sum(1 for r in ref_rows if r[9] is None and not (r[10] or "").startswith("invalid"))

    log = tmp_path / "trained.log"
    cfg = _toml(tmp_path / "run.toml", runs, log, 0.1)
    # A forked child runs `optsearch search` (torch is already imported, so it starts at
    # once); it is stopped by a real SIGKILL, as a kill -9 from a shell would.
    ctx = fresh_context()
    proc = ctx.Process(target=_cli, args=(["search", "--config", str(cfg), "--run-id", "killed",
                                           "--quiet"],))
    proc.start()
    db = runs / "killed" / "run.sqlite"
    deadline = time.monotonic() + 120
    while not _mid_generation(db):
        assert proc.is_alive(), f"search ended before the kill (exit code {proc.exitcode})"
        assert time.monotonic() < deadline, "search never reached the middle of a generation"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL

    with RunStore.open("killed", runs) as store:
        finished_before = {r[3] for r in _rows(store)
                           if r[9] is None and not (r[10] or "").startswith("invalid")}
        checkpoint = store.load_checkpoint()
        assert checkpoint is not None
        assert store.count("generation > ?", (checkpoint["generation"],)) > 0  # mid-generation
    trainings_before_kill = len(log.read_text().splitlines())

    assert main(["resume", "killed", "--runs-dir", str(runs), "--quiet"]) == 0

    with RunStore.open("killed", runs) as store:
        assert store.logbook() == ref_log
        assert _rows(store) == ref_rows
        assert store.meta("status") == "finished"
    lines = [line.split("\t", 1) for line in log.read_text().splitlines()]
    after = [(stage, text.replace("\\n", "\n")) for stage, text in lines[trainings_before_kill:]]
    searched_after = [text for stage, text in after if stage == "search"]
    # Nothing finished before the kill was trained again ...
    assert not finished_before & set(searched_after)
    # ... and the only training lost is the one in flight when the signal came (chunk = 1).
    searched_before = sum(1 for stage, _ in lines[:trainings_before_kill] if stage == "search")
    assert searched_before - len(finished_before) in (0, 1)
    assert len(finished_before) + len(searched_after) == trained_ref

def test_a_run_is_locked_while_it_searches(tmp_path, config_factory):
    from optsearch.errors import StoreError

    search = Search.create(config_factory(), "locked")
    try:
        with pytest.raises(StoreError, match="in use"):
            Search.resume("locked", str(tmp_path / "runs"))
    finally:
        search.close()
    Search.resume("locked", str(tmp_path / "runs")).close()  # free once the first closes


def test_resume_extends_a_finished_run_like_a_longer_run(config_factory, tmp_path):
    long = Search.create(config_factory(search={"generations": 5}), "long").run()
    long_log = long.store.logbook()
    long.close()
    short = Search.create(config_factory(search={"generations": 3}), "short").run()
    short.close()
    extended = Search.resume("short", str(tmp_path / "runs"), {"search": {"generations": 5}}).run()
    try:
        assert extended.store.logbook() == long_log
    finally:
        extended.close()
