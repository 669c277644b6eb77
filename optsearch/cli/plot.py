"""``optsearch plot``: the search-progress PNG of a run."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "plot"
HELP = "write a run's search-progress PNG (fitness, evaluations/s, cache hit rate per generation)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run id (under --runs-dir) or path to a run folder")
    p.add_argument("--runs-dir", default="runs", help="where runs are stored")
    p.add_argument("-o", "--out", default=None,
                   help="PNG file to write (default: RUN_FOLDER/progress.png)")


def run(args: argparse.Namespace) -> int:
    from optsearch.report.progress import progress_figure
    from optsearch.report.runinfo import read_run

    info = read_run(args.run, args.runs_dir, top=0)
    out = Path(args.out) if args.out else info.path / "progress.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    progress_figure(info, out)
    print(f"wrote {out}")
    return 0
