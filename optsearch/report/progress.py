"""The search-progress figure: fitness, throughput and cache use over generations."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from optsearch.report.runinfo import RunInfo  # noqa: E402

FITNESS_LABEL = "fitness (log-ratio vs tuned AdamW; > 0 beats it)"


def _fitness_panel(ax, info: RunInfo) -> None:
    gens = info.generations
    rec = info.logbook
    pts = np.array(info.points, dtype=float).reshape(-1, 2)
    from optsearch.search.individual import WORST_FITNESS

    best = [r.get("best", math.nan) for r in rec]
    median = [r.get("median", math.nan) for r in rec]
    good = [v for v in best + median if math.isfinite(v) and v > WORST_FITNESS]
    # the y range follows the best and median lines (plus 2), so that the interesting
    # range stays readable; programs scoring below it are drawn as triangles at the floor
    floor = (min(good) - 2.0) if good else WORST_FITNESS
    hi = max(good + [p for p in pts[:, 1]] + [0.0]) if len(pts) or good else 1.0
    above = pts[pts[:, 1] > floor] if len(pts) else pts
    below = pts[pts[:, 1] <= floor] if len(pts) else pts
    jitter = np.random.default_rng(0).uniform(-0.25, 0.25, len(pts))
    if len(above):
        ax.scatter(above[:, 0] + jitter[:len(above)], above[:, 1], s=8, c="0.55", alpha=0.7,
                   lw=0, label="each trained program")
    if len(below):
        ax.scatter(below[:, 0] + jitter[len(above):], [floor] * len(below), s=16, marker="v",
                   c="0.35", lw=0, label=f"fitness below {floor:.1f} (diverged, ...)")
    ax.plot(gens, best, "-", color="tab:blue", lw=2, label="best so far")
    ax.plot(gens, median, "-", color="tab:orange", lw=1.5, label="population median")
    hof = [(g, r["hof"]) for g, r in zip(gens, rec) if r.get("hof") is not None]
    if hof:
        ax.plot(*zip(*hof), "s-", color="tab:green", ms=3, lw=1.2, label="hall of fame best (funnel)")
    ax.axhline(0.0, color="k", lw=0.8, ls="--")
    ax.set_ylim(floor - 0.05 * (hi - floor + 1e-9), hi + 0.1 * (hi - floor + 1e-9))
    ax.set_xlim(min(gens) - 0.5, max(gens) + 0.5)
    ax.set_xlabel("generation")
    ax.set_ylabel(FITNESS_LABEL, fontsize=8)
    ax.set_title("fitness", fontsize=10)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)


def progress_figure(info: RunInfo, path: Path) -> Path:
    """Write the 2x2 progress figure of a run to ``path`` (PNG)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), dpi=110)
    gens = info.generations
    if not gens:
        for ax in axes.flat:
            ax.text(0.5, 0.5, "no finished generation yet", ha="center", va="center")
            ax.set_axis_off()
    else:
        _fitness_panel(axes[0, 0], info)
        ax = axes[0, 1]
        ax.plot(gens, info.rates(), "o-", ms=3, color="tab:purple")
        ax.set_xlabel("generation")
        ax.set_ylabel("trained programs / s (wall clock)")
        ax.set_title("evaluation throughput", fontsize=10)
        ax.set_ylim(bottom=0)
        ax = axes[1, 0]
        per_gen = [100 * r.get("hits", 0) / r["programs"] if r.get("programs") else math.nan
                   for r in info.logbook]
        ax.plot(gens, per_gen, "o-", ms=3, color="tab:red", label="this generation")
        ax.plot(gens, [100 * r.get("hit_rate", 0.0) for r in info.logbook], "-",
                color="tab:gray", label="cumulative")
        ax.set_xlabel("generation")
        ax.set_ylabel("cache hits, % of programs")
        ax.set_ylim(0, 100)
        ax.set_title("fingerprint cache hit rate (equal programs trained once)", fontsize=10)
        ax.legend(fontsize=7)
        ax = axes[1, 1]
        trained = np.array([r.get("trained", 0) for r in info.logbook])
        hits = np.array([r.get("hits", 0) for r in info.logbook])
        invalid = np.array([r.get("invalid", 0) for r in info.logbook])
        ax.bar(gens, trained, color="tab:blue", label="trained")
        ax.bar(gens, hits, bottom=trained, color="tab:red", alpha=0.7, label="cache hits")
        ax.bar(gens, invalid, bottom=trained + hits, color="0.6", label="rejected as invalid")
        ax.set_xlabel("generation")
        ax.set_ylabel("programs")
        ax.set_title("programs per generation", fontsize=10)
        ax.legend(fontsize=7)
        for a in axes.flat:
            a.grid(True, alpha=0.3)
            a.xaxis.get_major_locator().set_params(integer=True)
    minutes = (info.elapsed[-1] / 60) if info.elapsed else 0.0
    fig.suptitle(f"search run {info.run_id}: {len(gens)} generations, {info.programs} programs "
                 f"({info.trained} trained, {info.cache_hits} cache hits, {info.invalid} invalid), "
                 f"{minutes:.1f} min", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
