"""Fitness: log-ratio of final validation loss to tuned AdamW's, combined across tasks.

Per task: for each lr multiplier, the mean validation loss over seeds; fitness is the best
multiplier's ``log(baseline_loss / loss)`` (0 = as good as tuned AdamW, higher is better),
clipped to ``[WORST_FITNESS, -WORST_FITNESS]``. A program that produced NaN/inf (overflow
included) or subnormal parameters gets ``WORST_FITNESS`` and the reason. Across tasks: the mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from optsearch.program import Program

WORST_FITNESS: float = -10.0
"""Finite, so that DEAP statistics over a population stay finite."""


@dataclass(frozen=True)
class EvalConfig:
    """What a fitness evaluation trains (JSON-serialisable with ``dataclasses.asdict``).

    Attributes:
        tasks: names in ``proxy_tasks.TASKS``.
        size: "small" | "large" (the funnel's knob).
        seeds: training seeds (initial weights and data order; common to all programs).
        lr_multipliers: each program trains at ``task.lr * m`` for every m.
        device: torch device string.
        baseline_dir: tuned-AdamW cache folder (default ``$OPTSEARCH_CACHE/baselines`` or
            ``~/.cache/optsearch/baselines``).
        baseline_seeds: seeds AdamW is tuned over (None: the programs' own ``seeds``, so
            programs and baseline see the same initial weights and data order). AdamW is
            tuned over its lr grid plus ``lr_multipliers``, so a program cannot win only by
            training at an lr the baseline did not try.
        steps: training steps per task (None: each task's own budget).
        hurdles: stop lanes far behind AdamW at 25% and 50% of the budget.
        hurdle_factors: a lane stops when its validation loss exceeds AdamW's at that
            point times the factor (one factor per hurdle).
        nan_policy: "any": NaN/inf in any lane of a program makes it worst; "per_lr": a
            multiplier with a non-finite lane is dropped and the others still count.
        backend: "auto" | "eager" | "triton".
        variant: task variant keywords, as ``(name, value)`` pairs.
        memory_budget_bytes: bytes a batch may use on ``device`` (None:
            ``$OPTSEARCH_MEMORY_BUDGET``, else 85% of the free memory); larger batches
            train in chunks.
    """

    tasks: tuple[str, ...] = ("digits_mlp",)
    size: str = "small"
    seeds: tuple[int, ...] = (0,)
    lr_multipliers: tuple[float, ...] = (0.3, 1.0, 3.0)
    device: str = "cpu"
    baseline_dir: str | None = None
    baseline_seeds: tuple[int, ...] | None = None
    steps: int | None = None
    hurdles: bool = True
    hurdle_factors: tuple[float, ...] = (3.0, 2.0)
    nan_policy: str = "any"
    backend: str = "auto"
    variant: tuple[tuple[str, object], ...] = field(default_factory=tuple)
    memory_budget_bytes: int | None = None

    def __post_init__(self) -> None:
        from proxy_tasks import TASKS

        if isinstance(self.tasks, str):
            raise ValueError("EvalConfig.tasks must be a tuple of names, not a string")
        for t in self.tasks:
            if t not in TASKS:
                raise ValueError(f"EvalConfig.tasks: unknown task {t!r} (valid: {sorted(TASKS)})")
        if self.nan_policy not in ("any", "per_lr"):
            raise ValueError(f"EvalConfig.nan_policy must be 'any' or 'per_lr', got {self.nan_policy!r}")
        if len(self.hurdle_factors) != 2 or any(f <= 0 for f in self.hurdle_factors):
            raise ValueError("EvalConfig.hurdle_factors needs two positive factors")
        if self.memory_budget_bytes is not None and not (int(self.memory_budget_bytes) > 0):
            raise ValueError("EvalConfig.memory_budget_bytes must be positive (or None)")


@dataclass(frozen=True)
class TaskScore:
    task: str
    loss: float | None             # mean-over-seeds validation loss at the best multiplier
    best_lr_multiplier: float | None   # None (like loss) when the program failed
    fitness: float
    failure: str | None
    stopped: str | None = None     # which hurdle stopped it, if any


@dataclass(frozen=True)
class Score:
    fitness: float
    per_task: tuple[TaskScore, ...]
    failure: str | None


def _clip(x: float) -> float:
    return max(WORST_FITNESS, min(-WORST_FITNESS, x))


def task_scores(task_name: str, baseline_loss: float, final_loss: torch.Tensor,
                diverged: torch.Tensor, stopped: torch.Tensor,
                multipliers: Sequence[float], nan_policy: str = "any",
                denormal: torch.Tensor | None = None) -> list[TaskScore]:
    """One :class:`TaskScore` per program from ``[N, S, M]`` lane results."""
    out = []
    if denormal is None:
        denormal = torch.zeros_like(diverged)
    for n in range(final_loss.shape[0]):
        loss, div, stop, den = final_loss[n], diverged[n], stopped[n], denormal[n]
        bad = (div > 0) | (den > 0) | ~torch.isfinite(loss)
        if nan_policy == "any" and bool(bad.any()):
            out.append(TaskScore(task_name, None, None, WORST_FITNESS,
                                 _reason(task_name, loss, div, den, multipliers)))
            continue
        best: tuple[float, int] | None = None
        for m in range(loss.shape[1]):
            if bool(bad[:, m].any()):
                continue
            mean = float(loss[:, m].mean())
            if best is None or mean < best[0]:
                best = (mean, m)
        if best is None:
            out.append(TaskScore(task_name, None, None, WORST_FITNESS,
                                 _reason(task_name, loss, div, den, multipliers)))
            continue
        mean, m = best
        fit = _clip(math.log(baseline_loss / mean)) if mean > 0 else -WORST_FITNESS
        hurdle = int(stop[:, m].max())
        out.append(TaskScore(task_name, mean, float(multipliers[m]), fit, None,
                             f"stopped at step {hurdle}" if hurdle else None))
    return out


def _reason(task: str, loss: torch.Tensor, div: torch.Tensor, den: torch.Tensor,
            multipliers: Sequence[float]) -> str:
    for steps, what in ((div, "non-finite value"), (den, "denormal values")):
        nz = (steps > 0).nonzero()
        if len(nz):
            s, m = (int(v) for v in nz[0])
            return (f"{task}: {what} at step {int(steps[s, m])} "
                    f"(seed #{s}, lr x{multipliers[m]:g})")
    s, m = (int(v) for v in (~torch.isfinite(loss)).nonzero()[0])
    return f"{task}: non-finite validation loss (seed #{s}, lr x{multipliers[m]:g})"


def combine(per_task: Sequence[TaskScore]) -> Score:
    failures = [t.failure for t in per_task if t.failure]
    if failures:
        return Score(WORST_FITNESS, tuple(per_task), "; ".join(failures))
    return Score(sum(t.fitness for t in per_task) / len(per_task), tuple(per_task), None)


class Evaluator:
    """Scores programs on the configured tasks (deterministic for a config and device)."""

    def __init__(self, config: EvalConfig) -> None:
        from proxy_tasks import make_task

        self.config = config
        self.tasks = [make_task(t, config.size, **dict(config.variant)) for t in config.tasks]
        self._baselines: dict[str, object] = {}

    def baseline(self, task):
        from optsearch.evaluate.baseline import tuned_adamw

        if task.key not in self._baselines:
            c = self.config
            seeds = c.seeds if c.baseline_seeds is None else c.baseline_seeds
            self._baselines[task.key] = tuned_adamw(task, c.device, seeds, c.steps,
                                                    c.baseline_dir, c.backend,
                                                    multipliers=c.lr_multipliers)
        return self._baselines[task.key]

    def score(self, programs: Sequence[Program]) -> list[Score]:
        """One :class:`Score` per program, in order."""
        from optsearch.evaluate.train import encode_all, evaluate

        programs = list(programs)
        if not programs:
            return []
        c = self.config
        encoded = encode_all(programs)
        per_program: list[list[TaskScore]] = [[] for _ in programs]
        for task in self.tasks:
            base = self.baseline(task)
            hurdles = list(zip(base.hurdle_steps,
                               (l * f for l, f in zip(base.hurdle_losses, c.hurdle_factors)))) \
                if c.hurdles else []
            res = evaluate(programs, task, c.seeds, c.lr_multipliers, device=c.device,
                           steps=c.steps, hurdles=hurdles, backend=c.backend, encoded=encoded,
                           memory_budget_bytes=c.memory_budget_bytes)
            scores = task_scores(task.name, base.loss, res.final_loss, res.diverged_step,
                                 res.stopped_step, c.lr_multipliers, c.nan_policy,
                                 res.denormal_step)
            for i, s in enumerate(scores):
                per_program[i].append(s)
        return [combine(ts) for ts in per_program]
