"""``optsearch resume RUN``: continue a stopped or killed run where it left off."""

from __future__ import annotations

import argparse

NAME = "resume"
HELP = "continue a run after Ctrl-C, kill -9 or a finished limit (extend it with --generations)"
DESCRIPTION = (
    "Continue run RUN from its last checkpoint. Finished evaluations are read back from the "
    "run store, never trained again, and the run ends exactly as an uninterrupted run of the "
    "same seed would. Give a larger --generations / --time-budget / --max-evaluations to "
    "extend a finished run; --backend / --workers / --chunk / --address / --gpus may change "
    "between sessions.")

_CHANGEABLE = {"generations", "time_budget", "max_evaluations", "backend", "workers", "chunk",
               "address", "gpus"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from optsearch.cli.search import add_config_arguments

    p.add_argument("run", metavar="RUN", help="run id (see `optsearch runs`) or path to a run folder")
    p.add_argument("--quiet", action="store_true", help="no live display")
    p.add_argument("--top", type=int, default=3, help="how many best programs to print at the end")
    add_config_arguments(p, only=_CHANGEABLE | {"runs_dir"})


def run(args: argparse.Namespace) -> int:
    from optsearch.cli.search import flags_to_dict, run_to_end
    from optsearch.search import Search

    changes = flags_to_dict(args)
    runs_dir = changes.pop("runs_dir", "runs")
    search = Search.resume(args.run, runs_dir, changes)
    print(f"resuming run {search.store.run_id} after generation {search.generation} "
          f"({search.totals.trained} programs trained so far)", flush=True)
    return run_to_end(search, args)
