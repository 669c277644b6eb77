"""kill -9 at 10 different moments of a search; each resumed run equals an uninterrupted one.

The moments are spread over the run by how many evaluations were committed when the
signal came (some land mid-generation, some between a generation's last commit and its
checkpoint). Uses the stand-in evaluator of tests/search so each run takes seconds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest

from optsearch.cli import main
from optsearch.search import Search
from optsearch.search.config import RunConfig, load_toml
from optsearch.store import RunStore
from tests.search.test_resume import _cli, _rows, _toml, fresh_context

MOMENTS = (1, 3, 5, 7, 9, 11, 13, 15, 17, 20)  # committed evaluations before the kill


def _committed(db) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            return con.execute("SELECT COUNT(*) FROM programs WHERE cached_from IS NULL").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg = RunConfig.from_dict(load_toml(_toml(tmp / "ref.toml", tmp / "runs", None, 0.0)))
    ref = Search.create(cfg, "ref").run()
    out = (ref.store.logbook(), _rows(ref.store))
    ref.close()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_then_resume_matches_uninterrupted(tmp_path, reference, moment):
    ref_log, ref_rows = reference
    runs = tmp_path / "runs"
    cfg = _toml(tmp_path / "run.toml", runs, tmp_path / "trained.log", 0.03)
    proc = fresh_context().Process(
        target=_cli, args=(["search", "--config", str(cfg), "--run-id", "k", "--quiet"],))
    proc.start()
    db = runs / "k" / "run.sqlite"
    deadline = time.monotonic() + 120
    while _committed(db) < moment:
        if not proc.is_alive():
            break  # finished before this moment: resume must then be a no-op
        assert time.monotonic() < deadline
        time.sleep(0.005)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()

    assert main(["resume", "k", "--runs-dir", str(runs), "--quiet"]) == 0
    with RunStore.open("k", runs) as store:
        rows = _rows(store)
        assert store.logbook() == ref_log
        assert rows == ref_rows
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids))  # every evaluation recorded exactly once
        assert store.meta("status") == "finished"
