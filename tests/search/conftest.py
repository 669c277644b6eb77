"""Fixtures for the search tests: small runs scored by the stand-in evaluator."""

from __future__ import annotations

import pytest

from optsearch.search import RunConfig

STANDIN = "tests.search.standin:make"


def small_config(runs_dir, **sections) -> RunConfig:
    """A run of a few seconds on one CPU core, scored by tests/search/standin.py."""
    base = {"runs_dir": str(runs_dir),
            "search": {"population": 8, "tournament": 2, "children": 6, "generations": 4},
            "eval": {"factory": STANDIN},
            "funnel": {"k": 1, "seeds": 1}}
    for key, value in sections.items():
        if isinstance(value, dict):
            base.setdefault(key, {}).update(value)
        else:
            base[key] = value
    return RunConfig.from_dict(base)


@pytest.fixture
def config_factory(tmp_path):
    return lambda **sections: small_config(tmp_path / "runs", **sections)
