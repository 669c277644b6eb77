"""Tuned-AdamW baselines: the yardstick fitness is measured against, cached as JSON.

For a task (name, size, variant), device kind, step budget and seeds, AdamW is trained
over a log grid of learning rates (all lanes in one batch); the baseline is the best
grid point's validation loss, averaged over seeds. A best point on the grid's edge is not
"tuned": the grid is then extended by factors of 2 in that direction (up to
``MAX_EXTENSIONS`` times) until the best lies inside it. The record also keeps that lr's
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

MAX_EXTENSIONS: int = 4
"""Edge extensions per side (each adds two points, x2 and x4 past the edge)."""

CACHE_VERSION = "b2"
"""In every cache file name; bumped when what a baseline means changes (b2: edge extension)."""


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
    name = f"{task.key}__{tag}__{steps}__{'-'.join(map(str, seeds))}__{CACHE_VERSION}"
    if tuple(grid) != LR_GRID:
        name += "__grid" + "-".join(f"{m:g}" for m in grid)
    return cache_dir / (re.sub(r"[^A-Za-z0-9_.=,-]+", "_", name) + ".json")


def compute_baseline(task: Task, device: str | torch.device, seeds: Sequence[int],
                     steps: int | None = None, backend: str = "auto",
                     multipliers: Sequence[float] = ()) -> Baseline:
    """Train AdamW over :func:`lr_grid` x ``seeds`` and pick the best lr, extending the
    grid past an edge that wins (see the module docstring)."""
    from optsearch.evaluate.train import evaluate

    steps = int(steps or task.steps)
    hs = hurdle_steps(steps)
    loss: dict[float, float] = {}
    hurdle: dict[float, tuple[float, ...]] = {}

    def run(mults: Sequence[float]) -> None:
        res = evaluate([known("adamw")], task, seeds, mults, device=device, steps=steps,
                       hurdles=[(h, math.inf) for h in hs], backend=backend)
        per_lr = res.final_loss[0].mean(0)               # [M] (NaN if a seed diverged)
        for i, m in enumerate(mults):
            loss[m] = float(per_lr[i])
            hurdle[m] = tuple(float(res.hurdle_loss[h][0, :, i].mean()) for h in hs)

    def best() -> float | None:
        finite = [m for m in sorted(loss) if math.isfinite(loss[m])]
        return min(finite, key=lambda m: loss[m]) if finite else None

    run(lr_grid(multipliers))
    for _ in range(2 * MAX_EXTENSIONS):
        b, grid = best(), sorted(loss)
        if b is None or grid[0] < b < grid[-1]:
            break
        edge = grid[0] if b == grid[0] else grid[-1]
        f = 0.5 if b == grid[0] else 2.0
        if abs(math.log2(edge)) >= abs(math.log2(LR_GRID[0])) + 2 * MAX_EXTENSIONS:
            break
        run([edge * f, edge * f * f])
    b = best()
    if b is None:
        raise RuntimeError(f"AdamW diverged at every lr on {task.key}")
    grid = sorted(loss)
    return Baseline(task.key, device_tag(device), steps, tuple(int(s) for s in seeds),
                    tuple(task.lr * m for m in grid), tuple(loss[m] for m in grid),
                    task.lr * b, loss[b], hs, hurdle[b])


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
