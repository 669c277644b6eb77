"""The program search: DEAP evolution of update rules (see evolution.py for the loop).

    from optsearch.search import RunConfig, Search
    search = Search.create(RunConfig().replace(search={"generations": 5})).run()
    print(search.summary())

``Search``, ``Fitness`` and ``Individual`` load on first use, so building the CLI (and
reading configs) does not need deap.
"""

from __future__ import annotations

import importlib

from optsearch.search.config import RunConfig, load_toml

_LAZY = {"Search": "optsearch.search.evolution", "Fitness": "optsearch.search.individual",
         "Individual": "optsearch.search.individual"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Fitness", "Individual", "RunConfig", "Search", "load_toml"]
