"""``optsearch report``: a self-contained HTML page about a search run."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "write a self-contained HTML report of a search run (progress, hall of fame, compare)"
DESCRIPTION = (
    "Write one HTML file (plots embedded as PNGs) about a search run: fitness over "
    "generations, evaluations/s, cache hit rate, the hall of fame with each program "
    "simplified and typeset, and a compare (`optsearch compare`) of the top programs "
    "against AdamW and Lion on --tasks. When the hall of fame is empty, the best programs "
    "by search fitness are listed instead.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (under --runs-dir) or path to a run folder")
    p.add_argument("--runs-dir", default="runs", help="where runs are stored")
    p.add_argument("-o", "--out", default=None,
                   help="HTML file to write (default: RUN_FOLDER/report.html)")
    p.add_argument("--top", type=int, default=3, help="programs to list and compare")
    p.add_argument("--no-compare", action="store_true",
                   help="leave out the compare section (no training: a report in seconds)")
    p.add_argument("--tasks", nargs="+", default=["digits_mlp"], metavar="TASK",
                   help="compare tasks (see `optsearch compare --list-tasks`)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per compare run (default: each task's own)")
    p.add_argument("--seeds", type=int, default=2, help="seeds at each optimizer's best lr")
    p.add_argument("--device", default="auto", help="torch device for the compare (auto: cuda "
                                                    "if available)")
    p.add_argument("--workers", type=int, default=1, help="compare runs in parallel")


def run(args: argparse.Namespace) -> int:
    import torch

    from optsearch.errors import ConfigError
    from optsearch.report.html import write_report
    from optsearch.report.runinfo import read_run

    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    info = read_run(args.run, args.runs_dir, top=args.top)
    out = Path(args.out) if args.out else info.path / "report.html"
    compare = None
    if not args.no_compare:
        from optsearch.compare.protocol import CompareConfig, run_compare
        from optsearch.compare.runner import Runner

        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        cfg = CompareConfig(seeds=args.seeds, steps=args.steps, device=device)

        def compare(refs: list[str]):
            print(f"comparing {len(refs)} program(s) against adamw and lion on "
                  f"{', '.join(args.tasks)} ...")
            from rich.console import Console

            with Runner(args.workers) as runner:
                return run_compare(refs + ["adamw", "lion"], args.tasks, cfg, runner,
                                   Console(stderr=True).print)

    write_report(info, out, compare)
    print(f"wrote {out}")
    return 0
