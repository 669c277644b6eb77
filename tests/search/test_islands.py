"""The island model: N populations, ring migration, deterministic and resumable."""

from __future__ import annotations

from pathlib import Path

import pytest

from optsearch.errors import ConfigError
from optsearch.search import RunConfig, Search
from optsearch.search.islands import IslandSearch, emigrants


def config(tmp: Path, seed: int = 3, **search) -> RunConfig:
    return RunConfig.from_dict({
        "seed": seed, "runs_dir": str(tmp),
        "search": {"population": 5, "tournament": 2, "children": 3, "generations": 3,
                   "islands": 3, "migrate_every": 2, "migrants": 1, **search},
        "eval": {"factory": "tests.search.standin:make"},
        "funnel": {"k": 0}})


def finished(cfg: RunConfig) -> Search:
    search = Search.create(cfg)
    try:
        search.run()
        search.run_id = search.store.run_id
        search.rows = [(r.id, r.text, r.fitness, r.parent_id, r.generation)
                       for r in search.store.programs(order="id")]
    finally:
        search.close()
    return search


def test_islands_option_makes_an_island_search(tmp_path):
    search = finished(config(tmp_path))
    assert isinstance(search, IslandSearch)
    assert [len(i) for i in search.islands] == [5, 5, 5]
    assert search.population == [ind for island in search.islands for ind in island]
    assert [r["programs"] for r in search.logbook][1:] == [3 * 3] * 3  # each island breeds
    assert search.migrations == 1  # after generation 2
    single = Search.create(config(tmp_path / "one", islands=1))
    try:
        assert type(single) is Search
    finally:
        single.close()


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    a = finished(config(tmp_path / "a"))
    b = finished(config(tmp_path / "b"))
    c = finished(config(tmp_path / "c", seed=4))
    assert list(a.logbook) == list(b.logbook) and a.rows == b.rows
    assert a.rows != c.rows


def test_migration_sends_the_best_to_the_next_island(tmp_path):
    search = finished(config(tmp_path, migrate_every=0, migrants=2))
    assert search.migrations == 0
    before = [list(island) for island in search.islands]
    sent = [emigrants(island, 2) for island in before]
    search._migrate()
    for i, migrants in enumerate(sent):
        dest = search.islands[(i + 1) % 3]
        assert len(dest) == 5
        for ind in migrants:
            assert ind in dest
        arrived = [m for m in migrants if m.id not in {x.id for x in before[(i + 1) % 3]}]
        if arrived:  # regularized evolution: newcomers are the youngest, the oldest left
            assert dest[-len(arrived):] == arrived
            assert dest[:-len(arrived)] == before[(i + 1) % 3][len(arrived):]


def test_emigrants_are_the_best_distinct_programs(tmp_path):
    search = finished(config(tmp_path, generations=2))
    island = search.islands[0] + search.islands[0]  # duplicates must not be sent twice
    best = emigrants(island, 3)
    assert len({ind.id for ind in best}) == len(best) == min(3, len({i.id for i in island}))
    scores = [ind.score for ind in best]
    assert scores == sorted(scores, reverse=True)
    assert all(ind.score <= best[-1].score for ind in island if ind not in best)


def test_resume_reproduces_an_uninterrupted_island_run(tmp_path):
    whole = finished(config(tmp_path / "whole", generations=4))
    part = finished(config(tmp_path / "part", generations=2))
    resumed = Search.resume(part.run_id, str(tmp_path / "part"),
                            {"search": {"generations": 4}})
    try:
        assert isinstance(resumed, IslandSearch)
        assert resumed.migrations == 1 and [len(i) for i in resumed.islands] == [5, 5, 5]
        resumed.run()
        rows = [(r.id, r.text, r.fitness, r.parent_id, r.generation)
                for r in resumed.store.programs(order="id")]
        assert list(resumed.logbook) == list(whole.logbook)
        assert rows == whole.rows
    finally:
        resumed.close()


def test_random_start_gives_each_island_its_own_programs(tmp_path):
    search = finished(config(tmp_path, warm_start="random", generations=1))
    assert len(search.initial) == 3 * 5
    firsts = [{ind.id for ind in island if ind in search.initial} for island in search.islands]
    assert all(firsts) and not (firsts[0] & firsts[1] or firsts[1] & firsts[2])


def test_mu_plus_lambda_islands_keep_their_size(tmp_path):
    search = finished(config(tmp_path, algorithm="mu_plus_lambda", migrate_every=1))
    assert [len(i) for i in search.islands] == [5, 5, 5] and search.migrations == 3


@pytest.mark.parametrize("bad, message", [
    ({"islands": 0}, "islands must be >= 1"),
    ({"migrants": 5}, r"migrants must be in \[0, population=5\)"),
    ({"migrate_every": -1}, "migrate_every >= 0"),
])
def test_bad_island_settings_are_refused(tmp_path, bad, message):
    with pytest.raises(ConfigError, match=message):
        config(tmp_path, **bad)
