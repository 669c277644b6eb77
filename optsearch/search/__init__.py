"""The program search: DEAP evolution of update rules (see evolution.py for the loop).

    from optsearch.search import RunConfig, Search
    search = Search.create(RunConfig().replace(search={"generations": 5})).run()
    print(search.summary())
"""

from optsearch.search.config import RunConfig, load_toml
from optsearch.search.evolution import Search
from optsearch.search.individual import Fitness, Individual

__all__ = ["Fitness", "Individual", "RunConfig", "Search", "load_toml"]
