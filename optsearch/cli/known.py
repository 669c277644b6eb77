"""``optsearch known``: the table of known rules."""

from __future__ import annotations

import argparse

NAME = "known"
HELP = "list the known rules (sgd, adam, lion, ...) with their hyperparameters"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plain", action="store_true", help="plain text instead of a rich table")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from optsearch import known, known_names
    from optsearch.analysis import state_vars

    table = Table(title="known rules")
    for col in ("name", "hyperparameters", "state", "reference"):
        table.add_column(col)
    rows = []
    for name in known_names():
        p = known(name)
        hyper = ", ".join(f"{k}={v:g}" for k, v in p.hyperparams)
        cite = (p.doc or "").strip().splitlines()[0] if p.doc else ""
        rows.append((name, hyper, ", ".join(state_vars(p)), cite))
    if args.plain:
        for r in rows:
            print("\t".join(r))
    else:
        for r in rows:
            table.add_row(*r)
        Console().print(table)
    return 0
