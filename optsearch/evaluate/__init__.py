"""Batched population evaluator: many programs x seeds x lr multipliers trained at once.

High level (what the search uses)::

    from optsearch.evaluate import EvalConfig, Evaluator
    scores = Evaluator(EvalConfig(tasks=("digits_mlp",), device="cuda")).score(programs)

Low level: :func:`evaluate` trains every lane and returns per-lane losses and curves.
See docs/evaluator.md for the design (encoding, executors, fitness, baselines).
"""

from __future__ import annotations

from optsearch.evaluate.encode import EncodeError, Encoded, encode
from optsearch.evaluate.fitness import (WORST_FITNESS, EvalConfig, Evaluator, Score, TaskScore,
                                        combine, task_scores)
from optsearch.evaluate.random_programs import random_program
from optsearch.evaluate.train import LaneResults, evaluate

__all__ = [
    "EncodeError", "Encoded", "EvalConfig", "Evaluator", "LaneResults", "Score", "TaskScore",
    "WORST_FITNESS", "combine", "encode", "evaluate", "random_program", "task_scores",
]
