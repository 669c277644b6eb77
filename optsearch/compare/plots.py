"""Compare plots (matplotlib, PNG): loss curves at the best lr, and loss vs lr.

Each optimizer keeps one colour in every figure. Losses are on a log axis (they span
decades and differences near the optimum matter); learning rates too.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window (also on machines without a display)
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from optsearch.compare.results import CompareResult, TaskInfo  # noqa: E402


def colours(labels: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def _plain_log_ticks(ax, axis: str = "y") -> None:
    """Log axis labelled 0.1, 0.2, 0.5, 1 (not 1e-01 or 2x10^-1): easier to read off."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    decades = math.log10(max(hi, 1e-300) / max(lo, 1e-300))

    def major(v: float, _pos: object) -> str:
        return f"{v:g}"

    def minor(v: float, _pos: object) -> str:
        lead = round(v / 10 ** math.floor(math.log10(v) + 1e-9))
        if decades < 1.2 or (decades < 2.5 and lead in (2, 5)):
            return f"{v:g}"
        return ""

    target.set_major_formatter(matplotlib.ticker.FuncFormatter(major))
    target.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor))


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def plot_curves(result: CompareResult, info: TaskInfo, path: Path) -> Path:
    """Validation loss vs step at each optimizer's best lr: mean line, min–max band."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    col = colours(result.labels())
    partial = False
    for label in result.labels():
        cell = result.cell(info.name, label)
        if cell is None or cell.error or not cell.final:
            continue
        runs = [r for r in cell.final if not r.error]
        steps = max((r.eval_steps for r in runs), key=len)
        vals = np.full((len(runs), len(steps)), np.nan)
        for i, r in enumerate(runs):
            v = np.asarray(r.val_loss, dtype=float)
            vals[i, :len(v)] = np.where(np.isfinite(v), v, np.nan)
        partial |= len(runs) != result.config["seeds"]
        with np.errstate(all="ignore"):
            mean = np.nanmean(vals, axis=0)
            lo, hi = np.nanmin(vals, axis=0), np.nanmax(vals, axis=0)
        few = "" if len(runs) == result.config["seeds"] else \
            f", {len(runs)} seed{'s' if len(runs) != 1 else ''}"
        ax.plot(steps, mean, color=col[label], lw=1.8,
                label=f"{label} (lr {cell.best_lr:.2g}{few})")
        ax.fill_between(steps, lo, hi, color=col[label], alpha=0.2, lw=0)
    if info.target is not None:
        ax.axhline(info.target, color="0.4", ls=":", lw=1, label=f"target {info.target:.3g}")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"validation loss, {info.loss_name}")
    ax.set_title(f"{info.name}: validation loss at each optimizer's best lr\n"
                 f"(line: mean over {result.config['seeds']} seeds"
                 f"{', fewer where the legend says so' if partial else ''}; band: min–max)",
                 fontsize=10)
    return _finish(fig, ax, path)


def _has_results(result: CompareResult, info: TaskInfo) -> bool:
    return any(c.task == info.name and not c.error and c.final for c in result.cells)


def plot_sensitivity(result: CompareResult, info: TaskInfo, path: Path) -> Path:
    """Final validation loss vs learning rate (mean over sweep seeds); x = diverged."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    col = colours(result.labels())
    finite = [loss for c in result.cells if c.task == info.name and not c.error
              for _, loss, _, _ in c.lr_curve() if math.isfinite(loss)]
    if not finite:
        plt.close(fig)
        return path
    top = max(finite) * 1.5 if info.initial_loss is None else max(max(finite), info.initial_loss) * 1.5
    diverged_label = False
    for label in result.labels():
        cell = result.cell(info.name, label)
        if cell is None or cell.error:
            continue
        curve = cell.lr_curve()
        lrs = [lr for lr, *_ in curve]
        loss = [v if math.isfinite(v) else np.nan for _, v, _, _ in curve]
        ax.plot(lrs, loss, "o-", color=col[label], ms=4, lw=1.5, label=label)
        bad = [lr for lr, v, _, _ in curve if not math.isfinite(v)]
        if bad:
            ax.plot(bad, [top] * len(bad), "x", color=col[label], ms=8, mew=2,
                    label=None if diverged_label else "diverged (shown at top)")
            diverged_label = True
        if cell.best_lr is not None:
            best = next(v for lr, v, _, _ in curve if lr == cell.best_lr)
            ax.plot([cell.best_lr], [best], "o", mfc="none", mec=col[label], ms=11, mew=1.5)
    if info.initial_loss is not None:
        ax.axhline(info.initial_loss, color="0.5", ls="--", lw=1,
                   label=f"untrained ({info.initial_loss:.3g})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final validation loss, {info.loss_name}")
    ax.set_title(f"{info.name}: sensitivity to the learning rate ({info.steps} steps)\n"
                 f"(mean over {result.config['sweep_seeds']} seed(s) per lr; circled: best lr)",
                 fontsize=10)
    return _finish(fig, ax, path)


def _finish(fig, ax, path: Path) -> Path:
    """Grid, legend and layout shared by both figures; write the PNG and free the figure."""
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(result: CompareResult, out: Path) -> list[Path]:
    """Both figures for every compared task; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for info in result.tasks:
        if info.error or not _has_results(result, info):
            continue
        name = _safe(info.name)
        files.append(plot_curves(result, info, out / f"{name}_curves.png"))
        files.append(plot_sensitivity(result, info, out / f"{name}_lr.png"))
    return [f for f in files if f.exists()]
