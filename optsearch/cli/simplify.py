"""``optsearch simplify``: a program, every simplification pass that changed it, the
result, the proof (or check) that it is the same rule, and which known rule it is."""

from __future__ import annotations

import argparse
import os

NAME = "simplify"
HELP = "simplify a program (NAME, FILE.opt, RUN:ID or program text), check and explain it"
DESCRIPTION = (
    "Simplify a program in passes (dead code, constant folding, common subexpressions, "
    "inlining, sympy canonical form, sign invariance, unread state), print each pass that "
    "changed something, check the result is the same rule (symbolically where sympy can "
    "decide, else numerically), and say which known rule it is or is nearest to.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", help="a known rule name, a .opt file, RUN:ID, or program text")
    p.add_argument("--latex", action="store_true",
                   help="also print the simplified update (and state updates) in LaTeX")
    p.add_argument("--absorb-lr", action="store_true",
                   help="drop a positive constant factor of the update into lr (changes the "
                        "rule by that factor; the factor is printed)")
    p.add_argument("--no-sympy", action="store_true",
                   help="only the cheap passes (no sympy canonical form)")
    p.add_argument("--budget", type=float, default=1.5,
                   help="seconds of sympy work before falling back to the cheap passes")
    p.add_argument("--quiet", action="store_true",
                   help="print only the result (no passes, verdict or recognition)")
    p.add_argument("--no-recognize", action="store_true",
                   help="skip matching against the known rules")
    p.add_argument("--runs-dir", default=None,
                   help="where runs are stored, for RUN:ID (unset: $OPTSEARCH_RUNS_DIR, else runs)")


def load_programs(target: str, runs_dir: str | None):
    """Programs named by ``target`` (a file may hold several)."""
    from pathlib import Path

    from optsearch import parse_file, resolve

    if runs_dir:
        os.environ["OPTSEARCH_RUNS_DIR"] = runs_dir
    if Path(target).is_file():
        return list(parse_file(target))
    return [resolve(target)]


def _show(title: str, text: str) -> None:
    print(f"# --- {title}")
    print(text, end="" if text.endswith("\n") else "\n")


def simplify_one(program, args) -> None:
    from optsearch.simplify import equivalent, recognize, simplify_report

    report = simplify_report(program, use_sympy=not args.no_sympy, absorb=args.absorb_lr,
                             budget_s=args.budget)
    if args.quiet:
        print(report.result, end="")
        return
    _show("original", str(program))
    for i, s in enumerate(report.steps, 1):
        _show(f"pass {i}: {s.name}", str(s.program))
    if not report.steps:
        print("# (no pass changed the program)")
    _show(f"result ({report.seconds:.2f} s)", str(report.result))
    for note in report.notes:
        print(f"# note: {note}")
    compared = report.result
    if report.lr_scale != 1.0:
        from optsearch.simplify.fit import scaled

        print(f"# lr absorbed a factor {report.lr_scale:g}: the result at lr equals the "
              f"original at lr / {report.lr_scale:g}")
        compared = scaled(report.result, report.lr_scale)
    verdict = equivalent(program, compared)
    state = "same rule" if verdict.equal else "NOT the same rule"
    print(f"# equivalence: {state} ({verdict.method}): {verdict.detail}")
    if not args.no_recognize:
        print(f"# recognised: {recognize(program)}")
    if args.latex:
        from optsearch.simplify.latex import to_latex

        print("# --- LaTeX")
        print(to_latex(report.result))


def run(args: argparse.Namespace) -> int:
    programs = load_programs(args.target, args.runs_dir)
    for i, program in enumerate(programs):
        if i:
            print()
        simplify_one(program, args)
    return 0
