"""DEAP's Fitness and the search's Individual, as ordinary module-level classes.

No ``creator.create``: classes made at run time by a global factory leak between runs and
cannot be imported by path in a worker process. These two work with DEAP's
``tools.selBest``, ``HallOfFame`` (``similar`` uses ``__eq__``: equal behaviour) and
``Statistics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deap import base

from optsearch.program import Program

WORST_FITNESS = -10.0
"""Fitness of a program that failed (NaN, invalid, diverged); the evaluator uses the same."""


class Fitness(base.Fitness):
    """One objective, maximised: the mean log-ratio of tuned-AdamW loss to the program's loss."""

    weights = (1.0,)


@dataclass(eq=False)
class Individual:
    """A program in the population, with where it came from.

    Attributes:
        program: the rule.
        id: its row in the run store (``RUN:ID`` addresses it).
        fingerprint: behaviour hash; two individuals are equal when these are.
        generation: generation in which it was born.
        parents: ids of the parent(s) (empty for initial programs).
        mutation: how it was made from its parent(s) ("insert", "init", "crossover"...).
        fitness: DEAP fitness, set once the program is scored.
    """

    program: Program
    id: int
    fingerprint: str = ""
    generation: int = 0
    parents: tuple[int, ...] = ()
    mutation: str = "init"
    fitness: Fitness = field(default_factory=Fitness)

    @property
    def score(self) -> float:
        return self.fitness.values[0] if self.fitness.valid else WORST_FITNESS

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Individual):
            return NotImplemented
        if self.fingerprint and other.fingerprint:
            return self.fingerprint == other.fingerprint
        return self.program == other.program

    def __hash__(self) -> int:
        return hash(self.fingerprint or self.program)

    def scored(self, fitness: float) -> "Individual":
        """Set the fitness in place and return self (for chaining)."""
        self.fitness.values = (float(fitness),)
        return self
