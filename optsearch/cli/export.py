"""``optsearch export``: a rule as a standalone Python file (one optimizer class, only torch)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "export"
HELP = "write a rule as a standalone torch.optim.Optimizer .py file that depends only on torch"
DESCRIPTION = (
    "Write a rule (a known NAME, a FILE.opt holding one program, or RUN:ID of a search run) "
    "as a standalone, readable Python module with one torch.optim.Optimizer subclass "
    "(foreach and eager paths, param groups, state_dict, closures, maximize). The module "
    "depends only on torch; its docstring shows the rule.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a known rule name, a .opt file with one program, or RUN:ID")
    p.add_argument("-o", "--output", default="-",
                   help="file to write ('-' writes to standard output)")
    p.add_argument("--class-name", default=None,
                   help="name of the optimizer class (default: the program's name in CamelCase)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")


def run(args: argparse.Namespace) -> int:
    from optsearch import resolve
    from optsearch.compile.export_py import export_source
    from optsearch.errors import OptsearchError

    program = resolve(args.target)
    try:
        module = None if args.output == "-" else Path(args.output).stem
        text = export_source(program, args.class_name, origin=args.target, module=module)
    except ValueError as e:
        raise OptsearchError(f"--class-name: {e}") from None
    compile(text, args.output, "exec")  # syntax check only; the engine never runs the file
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.suffix != ".py":
        raise OptsearchError(f"{out}: the output must be a .py file")
    if out.exists() and not args.force:
        raise OptsearchError(f"{out} exists; pass --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0
