"""What a compare produced: per task and optimizer, the sweep and the best-lr reruns.

Saved as ``results.json`` (plain JSON, no pickle); the table and the plots are made from
it, so ``optsearch compare --replot DIR`` can redraw them without training again.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from optsearch.compare.train import RunRecord


@dataclass
class Cell:
    """One optimizer on one task.

    Attributes:
        sweep: every sweep run (each lr of ``grid`` x each sweep seed).
        best_lr: lr with the lowest mean final validation loss over the sweep seeds.
        final: runs at ``best_lr`` for every seed (sweep runs reused).
        edge: the best lr is the largest or smallest lr tried (the optimum may lie beyond).
        error: why this optimizer has no result on this task.
    """

    task: str
    label: str
    grid: list[float] = field(default_factory=list)
    sweep: list[RunRecord] = field(default_factory=list)
    best_lr: float | None = None
    final: list[RunRecord] = field(default_factory=list)
    edge: bool = False
    error: str | None = None

    def lr_curve(self) -> list[tuple[float, float, int, int]]:
        """``(lr, mean final loss over seeds, diverged runs, runs)`` per swept lr, ascending."""
        out = []
        for lr in sorted({r.lr for r in self.sweep}):
            runs = [r for r in self.sweep if r.lr == lr]
            finals = [r.final_loss for r in runs]
            mean = sum(finals) / len(finals)
            out.append((lr, mean, sum(not math.isfinite(f) for f in finals), len(runs)))
        return out

    def divergences(self) -> tuple[int, int]:
        """Diverged (or failed) runs and all runs, sweep and reruns (each run once)."""
        runs = {(r.lr, r.seed): r for r in self.sweep + self.final}
        bad = sum(1 for r in runs.values() if r.diverged_step or r.error)
        return bad, len(runs)

    def summary(self, target: float | None) -> dict:
        """Mean/std final loss and accuracy at the best lr, and steps to ``target``."""
        finals = [r.final_loss for r in self.final]
        ok = [f for f in finals if math.isfinite(f)]
        accs = [r.final_acc for r in self.final if math.isfinite(r.final_acc)]
        reached = [r.steps_to(target) for r in self.final] if target is not None else []
        hits = [s for s in reached if s is not None]
        return {
            "loss_mean": statistics.fmean(ok) if ok else math.nan,
            "loss_std": statistics.stdev(ok) if len(ok) > 1 else 0.0 if ok else math.nan,
            "acc_mean": statistics.fmean(accs) if accs else math.nan,
            "acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0 if accs else math.nan,
            "seeds": len(finals), "finite_seeds": len(ok),
            "steps_to_target": statistics.median(hits) if hits else None,
            "reached": len(hits),
            "seconds_per_run": (statistics.fmean(r.seconds for r in self.final)
                                if self.final else math.nan),
        }

    def to_json(self) -> dict:
        d = asdict(self)
        d["sweep"] = [r.to_json() for r in self.sweep]
        d["final"] = [r.to_json() for r in self.final]
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Cell":
        d = dict(d)
        d["sweep"] = [RunRecord.from_json(r) for r in d["sweep"]]
        d["final"] = [RunRecord.from_json(r) for r in d["final"]]
        return cls(**d)


@dataclass
class TaskInfo:
    """A task as compared: its settings, the target used, or why it was skipped."""

    name: str
    ref: str
    steps: int = 0
    loss_name: str = "loss"
    classification: bool = False
    target: float | None = None
    target_source: str = "task"     # "task" (its own), "user" (--target) or "auto"
    initial_loss: float | None = None
    error: str | None = None


@dataclass
class CompareResult:
    config: dict
    tasks: list[TaskInfo]
    candidates: list[dict]          # {"label", "ref", "kind", "error"}
    cells: list[Cell]
    seconds: float = 0.0
    device: str = "cpu"

    def cell(self, task: str, label: str) -> Cell | None:
        return next((c for c in self.cells if c.task == task and c.label == label), None)

    def labels(self) -> list[str]:
        return [c["label"] for c in self.candidates if not c["error"]]

    def save(self, path: str | Path) -> None:
        d = {"config": self.config, "tasks": [asdict(t) for t in self.tasks],
             "candidates": self.candidates, "cells": [c.to_json() for c in self.cells],
             "seconds": self.seconds, "device": self.device}
        Path(path).write_text(json.dumps(d, indent=1, default=_json_default) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "CompareResult":
        d = json.loads(Path(path).read_text())
        return cls(d["config"], [TaskInfo(**t) for t in d["tasks"]], d["candidates"],
                   [Cell.from_json(c) for c in d["cells"]], d["seconds"], d["device"])


def _json_default(o: object) -> object:
    raise TypeError(f"not JSON: {type(o).__name__}")
