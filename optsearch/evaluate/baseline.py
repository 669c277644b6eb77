"""Tuned-AdamW baselines: the yardstick fitness is measured against, cached as JSON.

For a task (name, size, variant), device kind, step budget and seeds, AdamW is trained
over a log grid of learning rates (all lanes in one batch); the baseline is the best
grid point's validation loss, averaged over seeds. The record also keeps that lr's
validation loss at 25% and 50% of the budget (hurdle thresholds derive from it). Runs
are deterministic, so recomputing a baseline gives the same number.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from optsearch.known import known
from proxy_tasks.base import Task

LR_GRID: tuple[float, ...] = tuple(2.0 ** k for k in range(-4, 4))
"""Multipliers of the task's typical lr tried for AdamW (1/16 .. 8)."""

HURDLE_FRACTIONS: tuple[float, ...] = (0.25, 0.5)


@dataclass(frozen=True)
class Baseline:
    task: str
    device: str
    steps: int
    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    losses: tuple[float, ...]           # mean over seeds, per lr (NaN if any seed diverged)
    best_lr: float
    loss: float
    hurdle_steps: tuple[int, ...]
    hurdle_losses: tuple[float, ...]    # best lr's mean validation loss at each hurdle step


def default_cache_dir() -> Path:
    env = os.environ.get("OPTSEARCH_CACHE")
    return Path(env) / "baselines" if env else Path.home() / ".cache" / "optsearch" / "baselines"


def device_tag(device: str | torch.device) -> str:
    """'cpu' or 'cuda-<card name>': baselines are kept per kind of device."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return "cuda-" + torch.cuda.get_device_name(dev)
    return dev.type


def hurdle_steps(steps: int) -> tuple[int, ...]:
    return tuple(max(1, round(steps * f)) for f in HURDLE_FRACTIONS)


def lr_grid(multipliers: Sequence[float] = ()) -> tuple[float, ...]:
    """:data:`LR_GRID` plus the evaluator's own multipliers, so that a program never wins
    merely by training at an lr the baseline did not try."""
    return tuple(sorted(set(LR_GRID) | {float(m) for m in multipliers}))


def _path(cache_dir: Path, task: Task, tag: str, steps: int, seeds: Sequence[int],
          grid: Sequence[float] = LR_GRID) -> Path:
    name = f"{task.key}__{tag}__{steps}__{'-'.join(map(str, seeds))}"
    if tuple(grid) != LR_GRID:
        name += "__grid" + "-".join(f"{m:g}" for m in grid)
    return cache_dir / (re.sub(r"[^A-Za-z0-9_.=,-]+", "_", name) + ".json")


def compute_baseline(task: Task, device: str | torch.device, seeds: Sequence[int],
                     steps: int | None = None, backend: str = "auto",
                     multipliers: Sequence[float] = ()) -> Baseline:
    """Train AdamW over :func:`lr_grid` x ``seeds`` (one batch) and pick the best lr."""
    from optsearch.evaluate.train import evaluate

    steps = int(steps or task.steps)
    hs = hurdle_steps(steps)
    grid = lr_grid(multipliers)
    res = evaluate([known("adamw")], task, seeds, grid, device=device, steps=steps,
                   hurdles=[(h, math.inf) for h in hs], backend=backend)
    per_lr = res.final_loss[0].mean(0)                   # [M] (NaN if a seed diverged)
    losses = tuple(float(v) for v in per_lr)
    finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
    if not finite:
        raise RuntimeError(f"AdamW diverged at every lr on {task.key}")
    best = min(finite, key=lambda i: losses[i])
    hl = tuple(float(res.hurdle_loss[h][0, :, best].mean()) for h in hs)
    return Baseline(task.key, device_tag(device), steps, tuple(int(s) for s in seeds),
                    tuple(task.lr * m for m in grid), losses, task.lr * grid[best],
                    losses[best], hs, hl)


def tuned_adamw(task: Task, device: str | torch.device, seeds: Sequence[int] = (0, 1, 2),
                steps: int | None = None, cache_dir: str | Path | None = None,
                backend: str = "auto", refresh: bool = False,
                multipliers: Sequence[float] = ()) -> Baseline:
    """The cached baseline for this task/device/budget/seeds/grid, computing it if missing."""
    steps = int(steps or task.steps)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = _path(cache, task, device_tag(device), steps, seeds, lr_grid(multipliers))
    if path.exists() and not refresh:
        try:
            raw = json.loads(path.read_text())
            return Baseline(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"corrupt baseline cache {path}: {exc}; delete it to recompute") from None
    base = compute_baseline(task, device, seeds, steps, backend, multipliers)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(base), indent=1))
    tmp.replace(path)
    return base
