"""Island model: several populations evolving side by side, swapping their best now and then.

With ``[search] islands = N`` a run keeps N populations of ``population`` programs each.
Every generation each island breeds ``children`` programs from its own population with
the same loop as a single-population run (:class:`~optsearch.search.evolution.Search`);
the children of all islands are scored as one batch, so on the Ray backend with one actor
per GPU every GPU trains an island's worth of programs at once. Every ``migrate_every``
generations the ``migrants`` best distinct programs of island i join island i+1 (a ring),
entering it the way a child does (youngest in regularized evolution; competing for a place
in mu+lambda). Islands keep diversity that one large population loses to a single lineage.

Determinism: breeding visits the islands in order with the run's one rng, and migration
uses no randomness, so a seed fixes the run, and ``optsearch resume`` reproduces it. The
checkpoint needs nothing new: every island always holds ``population`` programs, so the
flat population list of :class:`Search` splits back into islands.
"""

from __future__ import annotations

from typing import Any

from optsearch.search.evolution import Search
from optsearch.search.individual import Individual


def emigrants(island: list[Individual], k: int) -> list[Individual]:
    """The ``k`` best distinct programs of an island (ties: the older id first)."""
    unique = {ind.id: ind for ind in island}.values()
    return sorted(unique, key=lambda ind: (-ind.score, ind.id))[:k]


class IslandSearch(Search):
    """A :class:`Search` over ``config.search.islands`` populations (made by ``Search``
    itself when islands > 1; see :meth:`Search.__new__`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.islands: list[list[Individual]] = []
        self.migrations = 0

    @property
    def n_islands(self) -> int:
        return self.config.search.islands

    def _join(self) -> None:
        """The flat population (statistics, checkpoint) is the islands one after another."""
        self.population = [ind for island in self.islands for ind in island]

    def _split(self, programs: list[Individual]) -> list[list[Individual]]:
        p = self.config.search.population
        if len(programs) == self.n_islands * p:
            return [programs[i * p:(i + 1) * p] for i in range(self.n_islands)]
        return [[programs[j % len(programs)] for j in range(p)] for _ in range(self.n_islands)]

    # ----- the loop (overrides) ----------------------------------------------------
    def _initial_generation(self) -> None:
        s = self.config.search
        if s.warm_start != "random":
            super()._initial_generation()  # one warm program; every island starts from it
            self.islands = self._split(self.population)
        else:  # every island gets its own random programs
            firsts = [self._new(self.toolbox.random_program(name="p0"), (), "random")
                      for _ in range(self.n_islands * s.population)]
            self._score(firsts)
            self.initial = firsts
            self.islands = self._split(firsts)
        self._join()

    def _generation(self) -> None:
        broods = []
        for island in self.islands:
            self.population = island  # Search._breed breeds from self.population
            broods.append(self._breed())
        self._score([child for brood in broods for child in brood])
        self.islands = [self._replace(island, brood)
                        for island, brood in zip(self.islands, broods)]
        every = self.config.search.migrate_every
        if every and self.n_islands > 1 and (self.generation + 1) % every == 0:
            self._migrate()
        self._join()

    def _migrate(self) -> None:
        """Ring migration: all islands send first, then all receive (order-independent)."""
        k = self.config.search.migrants
        outgoing = [emigrants(island, k) for island in self.islands]
        for i, migrants in enumerate(outgoing):
            dest = (i + 1) % self.n_islands
            present = {ind.id for ind in self.islands[dest]}
            arriving = [ind for ind in migrants if ind.id not in present]
            if arriving:
                self.islands[dest] = self._replace(self.islands[dest], arriving)
        self.migrations += 1

    def _restart(self) -> None:
        super()._restart()
        s = self.config.search
        source = self.initial if s.restart_from == "initial" or self.best is None \
            else [self.best]
        self.islands = self._split(source)
        self._join()

    # ----- checkpoint --------------------------------------------------------------
    def _checkpoint(self, elapsed: float) -> dict[str, Any]:
        return {**super()._checkpoint(elapsed), "islands": self.n_islands,
                "migrations": self.migrations}

    def _restore(self, ck: dict[str, Any]) -> None:
        from optsearch.errors import StoreError

        if ck.get("islands", 1) != self.n_islands:
            raise StoreError(f"run {self.store.run_id}: checkpoint has {ck.get('islands', 1)} "
                             f"island(s), the config {self.n_islands}")
        super()._restore(ck)
        self.migrations = int(ck.get("migrations", 0))
        self.islands = self._split(self.population)
        self._join()
