"""A small, deterministic stand-in evaluator for the search tests (fast on one CPU core).

It scores a program the way the real evaluator does, in miniature: train on a noisy
ill-conditioned quadratic with a few learning-rate multipliers, keep the best final loss,
fitness = log(AdamW's loss / the program's loss). Options: ``delay`` (seconds of sleep per
program, so a test can kill a run mid-generation) and ``log`` (a file that gets one line
per program trained, so a test can count trainings across processes).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from optsearch import known
from optsearch.interpret import init_state, step
from optsearch.printer import to_text

WORST = -10.0


@dataclass(frozen=True)
class TaskScore:
    task: str
    loss: float
    best_lr_multiplier: float
    fitness: float
    failure: str | None


@dataclass(frozen=True)
class Score:
    fitness: float
    per_task: tuple
    failure: str | None


def _final_loss(program, lr: float, steps: int = 25) -> float:
    gen = torch.Generator().manual_seed(0)
    d = torch.logspace(-2, 1, 16, dtype=torch.float64)
    w = torch.ones(16, dtype=torch.float64)
    state = init_state(program, w)
    for t in range(1, steps + 1):
        g = d * w + 0.01 * torch.randn(16, generator=gen, dtype=torch.float64)
        u, state = step(program, w, g, lr, t, state)
        w = w - u
        if not torch.isfinite(w).all():
            return math.inf
    return float(0.5 * (d * w * w).sum())


class StandInEvaluator:
    def __init__(self, options: dict[str, Any]) -> None:
        self.delay = float(options.get("delay", 0.0))
        self.log = options.get("log")
        self.stage = "funnel" if 100 in options.get("seeds", ()) else "search"
        self.fail_on = options.get("fail_on")  # raise for programs whose text contains it
        self.lrs = [0.03 * m for m in options.get("lr_multipliers", [0.3, 1.0, 3.0])]
        adamw = known("adamw")
        self.baseline = min(_final_loss(adamw, lr) for lr in self.lrs)

    def score(self, programs) -> list[Score]:
        out = []
        for p in programs:
            if self.fail_on and self.fail_on in to_text(p):
                raise ValueError(f"stand-in cannot train {p.name}")
            if self.delay:
                time.sleep(self.delay)
            if self.log:
                with open(self.log, "a", encoding="utf-8") as fh:
                    fh.write(f"{self.stage}\t" + to_text(p).replace("\n", "\\n") + "\n")
            losses = [(_final_loss(p, lr), lr) for lr in self.lrs]
            loss, lr = min(losses)
            if not math.isfinite(loss) or loss <= 0:
                fit, failure = WORST, "diverged"
            else:
                fit, failure = max(WORST, math.log(self.baseline / loss)), None
            ts = TaskScore("quadratic", loss if math.isfinite(loss) else math.nan,
                           lr / 0.03, fit, failure)
            out.append(Score(fit, (ts,), failure))
        return out


def make(options: dict[str, Any]) -> StandInEvaluator:
    return StandInEvaluator(options)
