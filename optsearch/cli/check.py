"""``optsearch check``: parse program files and report every error with line and column."""

from __future__ import annotations

import argparse
import sys

NAME = "check"
HELP = "parse program files and report errors (file:line:col: message)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", help="program files to check")


def run(args: argparse.Namespace) -> int:
    from optsearch import parse_file
    from optsearch.errors import ParseError

    bad = 0
    for f in args.files:
        try:
            programs = parse_file(f)
        except ParseError as e:
            print(str(e), file=sys.stderr)
            bad += 1
            continue
        print(f"{f}: ok ({', '.join(p.name for p in programs)})")
    return 1 if bad else 0
