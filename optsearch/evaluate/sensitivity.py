"""Learning-rate sensitivity: final validation loss against lr multiplier, as a PNG.

A rule that only works at one learning rate is fragile; this is the cheap picture of that
(Wortsman et al. 2023 use loss-vs-lr curves as a small-scale stability metric).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from optsearch.evaluate.baseline import tuned_adamw
from optsearch.evaluate.train import evaluate
from optsearch.program import Program
from proxy_tasks.base import Task

DEFAULT_GRID: tuple[float, ...] = tuple(2.0 ** k for k in range(-5, 5))


def lr_sensitivity(programs: Sequence[Program], task: Task, multipliers: Sequence[float] = DEFAULT_GRID,
                   seeds: Sequence[int] = (0,), device: str = "cpu",
                   steps: int | None = None) -> dict[str, list[float]]:
    """``{program name: mean-over-seeds final validation loss per multiplier}`` (NaN: diverged)."""
    res = evaluate(programs, task, seeds, multipliers, device=device, steps=steps)
    out: dict[str, list[float]] = {}
    for n, p in enumerate(programs):
        name = p.name if p.name not in out else f"{p.name}#{n}"
        out[name] = [float(v) for v in res.final_loss[n].mean(0)]
    return out


def plot_lr_sensitivity(programs: Sequence[Program], task: Task, path: str | Path,
                        multipliers: Sequence[float] = DEFAULT_GRID, seeds: Sequence[int] = (0,),
                        device: str = "cpu", steps: int | None = None,
                        baseline_dir: str | None = None) -> Path:
    """Plot :func:`lr_sensitivity` (log-log) with tuned AdamW's loss as a line; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = lr_sensitivity(programs, task, multipliers, seeds, device, steps)
    base = tuned_adamw(task, device, steps=steps, cache_dir=baseline_dir)
    lrs = [task.lr * m for m in multipliers]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, losses in curves.items():
        ax.plot(lrs, losses, marker="o", label=name)
    ax.axhline(base.loss, color="k", linestyle="--", label=f"tuned AdamW ({base.loss:.3g})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final validation loss")
    ax.set_title(f"lr sensitivity on {task.key}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
