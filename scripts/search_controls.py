"""Search against its controls at equal evaluations (Lion paper, Fig. 2).

Three arms, each for ``--seeds`` seeds, each stopped after ``--evaluations`` trained
programs:

- ``evolution``: regularized evolution warm-started from AdamW, all mutations;
- ``random``: random search over random programs (``algorithm = "random"``);
- ``constants``: tuning only AdamW's constants (mutations of constants and
  hyperparameters only), the paper's "AdamW hyperparameter tuning" control.

Curves: best search fitness so far against trained evaluations (cache hits and programs
rejected by the validity filter cost no evaluation), mean and min-max over seeds, saved
as a PNG; a Markdown table for the README; one JSON line on stdout. Runs are stored under
``--runs-dir`` with fixed ids, so re-running the script resumes unfinished arms (this is
how a long GPU comparison is split into several device calls).

    python scripts/search_controls.py --evaluations 40 --seeds 3 --steps 50         # CPU, small
    python scripts/search_controls.py --device cuda --evaluations 600 --children 64  # GPU
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = {
    "evolution": {"search": {"algorithm": "regularized", "warm_start": "adamw"}},
    "random": {"search": {"algorithm": "random", "warm_start": "random"}},
    "constants": {"search": {"algorithm": "regularized", "warm_start": "adamw"},
                  "mutation": {"weights": {"constant": 1.0, "hyperparam": 1.0}}},
}


def arm_config(arm: str, seed: int, args: argparse.Namespace):
    from optsearch.search import RunConfig

    data = {"seed": seed, "runs_dir": args.runs_dir,
            "search": {"population": args.population, "tournament": args.tournament,
                       "children": args.children, "generations": 0, "time_budget": 0.0,
                       "max_evaluations": args.evaluations},
            "eval": {"device": args.device, "tasks": args.tasks, "options": {}},
            "funnel": {"k": 0}, "workers": {"host_workers": args.host_workers}}
    if args.steps:
        data["eval"]["options"]["steps"] = args.steps
    for section, values in ARMS[arm].items():
        data[section] = {**data.get(section, {}), **values}
    return RunConfig.from_dict(data, where=f"arm {arm}")


def run_arm(arm: str, seed: int, args: argparse.Namespace) -> str:
    """Run (or resume, or just read) one arm; returns its run id."""
    from optsearch.search import Search

    run_id = f"ctl-{arm}-s{seed}"
    path = Path(args.runs_dir) / run_id
    if (path / "run.sqlite").exists():
        search = Search.resume(run_id, args.runs_dir)
    else:
        search = Search.create(arm_config(arm, seed, args), run_id)
    try:
        if search.store.meta("status") != "finished":
            t0 = time.perf_counter()
            search.run()
            print(f"# {run_id}: {search.totals.trained} trained in "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        search.close()
    return run_id


def curve(run_id: str, runs_dir: str, n: int) -> list[float]:
    """Best fitness after 1..n trained evaluations."""
    from optsearch.store import RunStore

    with RunStore.open(run_id, runs_dir) as store:
        best, out = -math.inf, []
        for r in store.programs():
            best = max(best, r.fitness)
            if r.trained:
                out.append(best)
            if len(out) == n:
                break
    return out


def plot(curves: dict[str, list[list[float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for arm, runs in curves.items():
        n = min(len(c) for c in runs)
        xs = list(range(1, n + 1))
        cols = [[c[i] for c in runs] for i in range(n)]
        ax.plot(xs, [statistics.fmean(c) for c in cols], label=f"{arm} (mean of {len(runs)})")
        ax.fill_between(xs, [min(c) for c in cols], [max(c) for c in cols], alpha=0.2)
    finals = [c[-1] for runs in curves.values() for c in runs]
    spread = max(finals) - min(finals)
    # zoom on where the arms end up (early random-search values reach -10)
    ax.set_ylim(min(finals) - max(0.5 * spread, 0.05), max(finals) + max(0.2 * spread, 0.02))
    ax.set_xlabel("trained evaluations")
    ax.set_ylabel("best fitness so far (log AdamW-loss ratio)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def table(finals: dict[str, list[float]], n: int) -> str:
    lines = [f"| arm (best fitness after {n} evaluations) | mean | std | min | max |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for arm, v in finals.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        lines.append(f"| {arm} | {statistics.fmean(v):+.4f} | {sd:.4f} | {min(v):+.4f} | "
                     f"{max(v):+.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--evaluations", type=int, default=40, help="trained programs per run")
    p.add_argument("--seeds", type=int, default=3, help="runs per arm (seeds 0..n-1)")
    p.add_argument("--arms", default="evolution,random,constants", help="which arms to run")
    p.add_argument("--population", type=int, default=16, help="population size P")
    p.add_argument("--tournament", type=int, default=2, help="tournament size T")
    p.add_argument("--children", type=int, default=8, help="programs per generation")
    p.add_argument("--device", default="cpu", help="torch device for training")
    p.add_argument("--tasks", type=lambda s: [t for t in s.split(",") if t], default=[],
                   help="comma-separated proxy tasks (empty: the evaluator's default)")
    p.add_argument("--steps", type=int, default=0, help="training steps (0: the task's own)")
    p.add_argument("--host-workers", type=int, default=1,
                   help="processes for fingerprints and validity probes (8-16 on a GPU machine)")
    p.add_argument("--runs-dir", default="runs/controls", help="where the runs are stored")
    p.add_argument("--png", default="docs/search_controls.png", help="figure to write")
    p.add_argument("--table", default="docs/search_controls.md", help="Markdown table to write")
    args = p.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        p.error(f"unknown arm(s) {unknown}; valid: {', '.join(ARMS)}")
    t0 = time.perf_counter()
    curves = {arm: [curve(run_arm(arm, s, args), args.runs_dir, args.evaluations)
                    for s in range(args.seeds)] for arm in arms}
    finals = {arm: [c[-1] for c in runs] for arm, runs in curves.items()}
    title = (f"{args.device}, tasks {','.join(args.tasks) or 'default'}, P={args.population}, "
             f"T={args.tournament}, {args.children} children/gen, steps {args.steps or 'task'}")
    plot(curves, Path(args.png), title)
    md = table(finals, args.evaluations)
    Path(args.table).write_text(f"<!-- {title} -->\n" + md)
    print(md, file=sys.stderr)
    print(json.dumps({"bench": "search_controls", "device": args.device,
                      "evaluations": args.evaluations, "seeds": args.seeds,
                      "final_best": {a: [round(x, 5) for x in v] for a, v in finals.items()},
                      "mean_best": {a: round(statistics.fmean(v), 5) for a, v in finals.items()},
                      "seconds": round(time.perf_counter() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
