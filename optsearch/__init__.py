"""optsearch: discover optimizers by evolving programs, and run any rule as a torch optimizer.

Public API::

    import optsearch
    p = optsearch.parse(text)                       # program text -> Program
    optsearch.known("lion")                         # a known rule
    opt = optsearch.optimizer("lion", model.parameters(), lr=3e-4)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from optsearch.errors import ConfigError, OptsearchError, ParseError, StoreError
from optsearch.known import known, known_names
from optsearch.parse import parse, parse_all, parse_file
from optsearch.program import Assign, Call, Const, Expr, Program, Var

__version__ = "0.1.0"


def resolve(program_or_name: "Program | str") -> Program:
    """A Program from a Program, a known rule's name, program text, or a .opt file path."""
    if isinstance(program_or_name, Program):
        return program_or_name
    if not isinstance(program_or_name, str):
        raise TypeError(f"expected a Program or a str, got {type(program_or_name).__name__}")
    text = program_or_name
    if text.lstrip().startswith("def "):
        return parse(text)
    if text.endswith(".opt") or "/" in text:
        programs = parse_file(Path(text))
        if len(programs) != 1:
            raise ParseError(f"{text} holds {len(programs)} programs; name one", filename=text)
        return programs[0]
    return known(text)


def optimizer(program_or_name: "Program | str", params: Iterable, lr: float = 1e-3,
              **hyperparams: float):
    """A ready ``torch.optim.Optimizer`` running the rule (see :func:`compile`)."""
    from optsearch.compile import compile_program

    return compile_program(resolve(program_or_name))(params, lr=lr, **hyperparams)


def compile(program_or_name: "Program | str", class_name: str | None = None):
    """The ``torch.optim.Optimizer`` subclass for a rule."""
    from optsearch.compile import compile_program

    return compile_program(resolve(program_or_name), class_name)


__all__ = [
    "Assign", "Call", "Const", "ConfigError", "Expr", "OptsearchError", "ParseError", "Program",
    "StoreError", "Var", "__version__", "compile", "known", "known_names", "optimizer", "parse",
    "parse_all", "parse_file", "resolve",
]
