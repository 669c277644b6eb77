"""Run store: schema, lock, atomic checkpoints, lookups and RUN:ID resolution."""

from __future__ import annotations

import json

import pytest

import optsearch
from optsearch.errors import StoreError
from optsearch.store import (FunnelRow, ProgramRow, RunStore, find_run, lookup_program,
                             new_run_id, split_ref)

TEXT = "def p0(w, g, lr):\n    return lr * g\n"


def _row(i: int, fitness: float = 0.0, parent: int | None = None, cached: int | None = None):
    return ProgramRow(i, i // 4, i % 4, TEXT.replace("p0", f"p{i}"), f"fp{i}", parent, None,
                      "insert", fitness, [{"task": "t", "loss": 1.0, "fitness": fitness}], 0.5,
                      None, cached)


@pytest.fixture
def store(tmp_path):
    s = RunStore.create(tmp_path, "r1", {"seed": 1})
    yield s
    s.close()


def test_rows_round_trip(store):
    rows = [_row(0), _row(1, 0.5, 0), _row(2, 0.5, 1, cached=1)]
    store.add_programs(rows)
    assert store.programs() == rows
    assert store.program(1) == rows[1] and store.program(9) is None
    assert store.count("cached_from IS NOT NULL") == 1
    store.add_funnel([FunnelRow(1, 0, 0.3, [], 2.0, None, None)])
    assert store.funnel()[0].fitness == 0.3
    assert store.config() == {"seed": 1}


def test_an_id_is_stored_once(store):
    store.add_programs([_row(0)])
    with pytest.raises(Exception):
        store.add_programs([_row(0)])
    assert store.count() == 1


def test_lock_keeps_a_second_writer_out(store, tmp_path):
    with pytest.raises(StoreError, match="in use by pid"):
        RunStore.open("r1", tmp_path, writable=True)
    reader = RunStore.open("r1", tmp_path)  # readers need no lock
    reader.close()


def test_checkpoint_is_replaced_atomically(store):
    assert store.load_checkpoint() is None
    store.save_checkpoint({"generation": 1})
    store.save_checkpoint({"generation": 2})
    assert store.load_checkpoint() == {"generation": 2}
    assert not list(store.path.glob("*.tmp"))
    assert json.loads((store.path / "checkpoint.json").read_text()) == {"generation": 2}


def test_logbook_truncation_and_hall_of_fame(store):
    store.add_programs([_row(0), _row(1)])
    for g in range(3):
        store.finish_generation(g, {"gen": g}, float(g), [(1, 0.2, None)])
    store.truncate_logbook(0)
    assert store.logbook() == [{"gen": 0}]
    assert store.hall_of_fame() == [(1, 0.2, None)]


def test_schema_version_is_checked(store, tmp_path):
    store.set_meta("schema_version", "999")
    with pytest.raises(StoreError, match="schema version 999"):
        RunStore.open(tmp_path / "r1")


def test_unknown_run_suggests_close_ids(store, tmp_path):
    with pytest.raises(StoreError, match="did you mean 'r1'"):
        find_run("r2", tmp_path)
    assert find_run(tmp_path / "r1") == tmp_path / "r1"


def test_new_run_ids_do_not_collide(tmp_path):
    a = new_run_id(tmp_path, "adamw", 0)
    (tmp_path / a).mkdir()
    assert new_run_id(tmp_path, "adamw", 0) != a


def test_refs_and_resolve(store, tmp_path, monkeypatch):
    store.add_programs([_row(0, 0.1), _row(1, 0.7, 0), _row(2, 0.7, 1, cached=1)])
    assert split_ref("r1:12") == ("r1", "12") and split_ref("r1:best") == ("r1", "best")
    assert split_ref("adamw") is None and split_ref("x.opt") is None
    assert lookup_program(store, "best").id == 1
    store.finish_generation(0, {}, 0.0, [(0, 0.4, None)])
    assert lookup_program(store, "best").id == 0  # the hall of fame wins once it has members
    with pytest.raises(StoreError, match="no program 7"):
        lookup_program(store, "7")
    monkeypatch.setenv("OPTSEARCH_RUNS_DIR", str(tmp_path))
    assert optsearch.resolve("r1:1").name == "p1"
    assert optsearch.resolve(f"{tmp_path / 'r1'}:2").name == "p2"
    with pytest.raises(StoreError):
        optsearch.resolve("nope:1")
