"""``optsearch show``: a program's text, state variables and hyperparameters."""

from __future__ import annotations

import argparse

NAME = "show"
HELP = "show a program (known NAME, FILE.opt, or RUN[:ID]) with its state and hyperparameters"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a known rule name, a .opt file, or a run (RUN or RUN:ID)")
    p.add_argument("--runs-dir", default="runs", help="where runs are stored")


def show_program(program) -> None:
    from optsearch.analysis import names

    n = names(program)
    print(str(program), end="")
    print(f"# inputs:          {', '.join(n.inputs)}")
    print(f"# state:           {', '.join(n.state) or '(none)'}")
    hp = ', '.join(f'{k}={v!r}' for k, v in program.hyperparams) or '(none)'
    print(f"# hyperparameters: {hp}")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from optsearch import known, known_names, parse_file

    target = args.target
    if target in known_names():
        show_program(known(target))
        return 0
    if Path(target).is_file():
        for i, program in enumerate(parse_file(target)):
            if i:
                print()
            show_program(program)
        return 0
    try:
        from optsearch.cli import _runs_show  # provided by the run store (search issue)
    except ImportError:
        _runs_show = None
    if _runs_show is not None:
        return _runs_show.show(target, args.runs_dir)
    from optsearch.errors import OptsearchError

    raise OptsearchError(f"{target!r} is not a known rule, a file, or a run")
