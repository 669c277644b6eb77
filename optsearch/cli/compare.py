"""``optsearch compare``: benchmark optimizers on real training tasks, with table and plots."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

NAME = "compare"
HELP = "benchmark optimizers (known names, .opt files, RUN:ID, exported .py) on training tasks"
DESCRIPTION = """\
Compare optimizers the way DeepOBS does: for every task, sweep the learning rate on a log
grid, pick the best lr (lowest final validation loss), rerun it with more seeds; print a
table (final validation loss / accuracy mean ± std, best lr, steps to a target loss,
diverged runs) and write PNGs of the loss curves and of loss vs learning rate, plus
results.json and table.md, to --out.

OPTIMIZER is a known rule name (`optsearch known`), a .opt program file (FILE.opt or
FILE.opt:NAME), a search result (RUN:ID, RUN:best), or an optimizer .py file such as one
written by `optsearch export` (FILE.py, or FILE.py:CLASS if it defines several). A .py file
is imported, so its code runs: pass only files you would run yourself. An optimizer that
cannot be loaded, or that raises while training, is reported and the others are compared.
"""

EPILOG = """\
task files: --tasks accepts a Python file defining
  make_model(seed) -> torch.nn.Module         fresh model, weights depend only on seed
  make_data() -> (x_train, y_train, x_val, y_val)   CPU tensors, deterministic
and optionally
  loss(model, x, y) -> scalar tensor          default: cross_entropy(model(x), y)
  NAME, STEPS (500), BATCH_SIZE (64), LR (a good AdamW lr, 1e-3: the auto grid's centre),
  TARGET (validation loss for "steps to target"), CLASSIFICATION (report accuracy;
  default: integer y_train).
The file is imported (its code runs, like an optimizer .py). A task that raises or gives a
non-finite loss before training is reported and skipped; the other tasks still run.

example (CPU, about a minute):
  optsearch compare adamw lion diffgrad sgd_momentum --tasks digits_mlp mnist1d_mlp
"""


def _lrs(text: str) -> str | tuple[float, ...]:
    if text in ("auto", "grid"):
        return text
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--lrs takes 'auto', 'grid' or comma-separated numbers, got {text!r}") from None
    if not values or any(not (math.isfinite(v) and v > 0) for v in values):
        raise argparse.ArgumentTypeError(f"learning rates must be positive numbers, got {text!r}")
    return values


def _tasks_help() -> str:
    try:
        from optsearch.compare.tasks import task_names

        names = ", ".join(task_names())
    except Exception:  # noqa: BLE001 - help must print even if a task module is broken
        names = "(unavailable)"
    return ("tasks to train on: built-in names, NAME:large for a proxy task's larger size, "
            f"or .py task files (see below). Built-in: {names}; --list-tasks describes them")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = DESCRIPTION
    p.epilog = EPILOG
    p.add_argument("optimizers", nargs="*", metavar="OPTIMIZER",
                   help="optimizers to compare (see above)")
    p.add_argument("--tasks", nargs="+", default=["digits_mlp"], metavar="TASK",
                   help=_tasks_help() + " (default: digits_mlp)")
    p.add_argument("--lrs", type=_lrs, default="auto",
                   help="learning rates to sweep: 'auto' (5 half-decade points centred per "
                        "optimizer by a probe of its update size, extended past an edge that "
                        "holds the best), 'grid' (1e-5 ... 1 for every optimizer), or a list "
                        "like 1e-3,3e-3,1e-2 (default: auto)")
    p.add_argument("--points", type=int, default=5,
                   help="lrs per auto grid, half a decade apart (default: 5)")
    p.add_argument("--seeds", type=int, default=3,
                   help="seeds trained at each optimizer's best lr (default: 3)")
    p.add_argument("--sweep-seeds", type=int, default=1,
                   help="seeds per lr during the sweep (default: 1)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps for every task (default: each task's own)")
    p.add_argument("--target", type=float, default=None,
                   help="validation loss counted as reached for 'steps to target' on every "
                        "task (default: the task's own; else the worst final loss compared)")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="wall-clock limit for the whole compare: runs not started by then are "
                        "skipped and the table shows what finished (default: none)")
    p.add_argument("--device", default="auto",
                   help="torch device: cpu, cuda, cuda:1 ... or auto (cuda if available)")
    p.add_argument("--workers", type=int, default=1,
                   help="training runs in parallel, one process each (several share one GPU "
                        "well; on CPU use at most the number of cores) (default: 1)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per run (default: cores / workers)")
    p.add_argument("--out", default="compare_out",
                   help="folder for results.json, table.md and the PNGs (default: compare_out)")
    p.add_argument("--replot", action="store_true",
                   help="redraw table and plots from OUT/results.json without training")
    p.add_argument("--list-tasks", action="store_true", help="list the built-in tasks and exit")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from optsearch.compare.protocol import CompareConfig, run_compare
    from optsearch.compare.results import CompareResult
    from optsearch.compare.runner import Runner
    from optsearch.errors import ConfigError

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))  # logs and pipes: no wrapping
    out = Path(args.out)
    if args.list_tasks:
        from optsearch.compare.tasks import describe_tasks

        for n, d in describe_tasks():
            console.print(f"[bold]{n}[/]: {d}")
        return 0
    if args.replot:
        path = out / "results.json"
        if not path.is_file():
            raise ConfigError(f"--replot: {path} not found (run a compare with --out {out} first)")
        return _publish(CompareResult.load(path), out, console)
    if not args.optimizers:
        raise ConfigError("name at least one OPTIMIZER to compare (e.g. adamw lion)")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = CompareConfig(lrs=args.lrs, points=args.points, seeds=args.seeds,
                        sweep_seeds=args.sweep_seeds, steps=args.steps, device=device,
                        target=args.target, budget=args.budget)
    count = [0]

    def on_done(job, rec) -> None:
        count[0] += 1
        outcome = (f"[red]{rec.error}[/]" if rec.error else
                   "[yellow]diverged[/]" if rec.diverged_step else f"val loss {rec.final_loss:.4f}")
        console.print(f"[dim]{count[0]:4d}[/] {job.task} {job.candidate} lr={job.lr:.2g} "
                      f"seed={job.seed}: {outcome} [dim]({rec.seconds:.1f}s)[/]",
                      highlight=False)

    with Runner(args.workers, args.threads, on_done) as runner:
        result = run_compare(args.optimizers, args.tasks, cfg, runner, console.print)
    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "results.json")
    console.print(f"{count[0]} training runs in {result.seconds:.0f} s on {result.device}")
    return _publish(result, out, console)


def _publish(result, out: Path, console) -> int:
    from optsearch.compare.plots import write_plots
    from optsearch.compare.table import markdown, rich_tables

    for table in rich_tables(result):
        console.print(table)
    (out / "table.md").write_text(markdown(result))
    files = write_plots(result, out)
    console.print(f"wrote {out / 'results.json'}, {out / 'table.md'}"
                  + "".join(f", {f}" for f in files))
    compared = [c for c in result.cells if not c.error]
    failed = any(c["error"] for c in result.candidates) or any(t.error for t in result.tasks) \
        or any(c.error for c in result.cells)
    if not compared:
        console.print("[red]nothing could be compared[/]")
        return 2
    return 1 if failed else 0
