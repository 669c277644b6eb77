"""``optsearch diff A B``: are two programs the same rule, and how do they differ?"""

from __future__ import annotations

import argparse
import difflib

NAME = "diff"
HELP = "say whether two programs (NAME, FILE.opt, RUN:ID) are the same rule and how they differ"
DESCRIPTION = (
    "Compare two programs: decide whether they are the same rule (symbolically where sympy "
    "can, else numerically, with a counterexample when they differ), show a line diff of "
    "their simplified forms, and say which known rule each one is.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="first program: known name, .opt file, RUN:ID or program text")
    p.add_argument("b", help="second program")
    p.add_argument("--no-recognize", action="store_true",
                   help="skip matching each program against the known rules")
    p.add_argument("--runs-dir", default=None,
                   help="where runs are stored, for RUN:ID (unset: $OPTSEARCH_RUNS_DIR, else runs)")


def _one(target: str, runs_dir: str | None):
    from optsearch.cli.simplify import load_programs
    from optsearch.errors import OptsearchError

    programs = load_programs(target, runs_dir)
    if len(programs) != 1:
        raise OptsearchError(f"{target} holds {len(programs)} programs; name one")
    return programs[0]


def _body_lines(program) -> list[str]:
    """The simplified program's lines without signature and docstring (names differ)."""
    from optsearch.printer import expr_text

    lines = [f"{s.target} = {expr_text(s.value)}" for s in program.body]
    hyper = ", ".join(f"{k}={v:g}" for k, v in program.hyperparams)
    return [f"hyperparameters: {hyper}"] + lines + [f"return {expr_text(program.ret)}"]


def run(args: argparse.Namespace) -> int:
    from optsearch.simplify import equivalent, recognize, simplify

    a, b = _one(args.a, args.runs_dir), _one(args.b, args.runs_dir)
    verdict = equivalent(a, b)
    if verdict.equal:
        print(f"same rule ({verdict.method}): {verdict.detail}")
    else:
        print(f"different rules ({verdict.method}): {verdict.detail}")
    sa, sb = simplify(a), simplify(b)
    diff = list(difflib.unified_diff(_body_lines(sa), _body_lines(sb),
                                     f"{args.a} (simplified)", f"{args.b} (simplified)",
                                     lineterm=""))
    print("\n".join(diff) if diff else "(simplified forms are identical)")
    if not args.no_recognize:
        print(f"{args.a}: {recognize(a)}")
        print(f"{args.b}: {recognize(b)}")
    return 0 if verdict.equal else 1
