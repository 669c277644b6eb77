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
    """A Program from a Program, a known rule's name, program text, a .opt file path, or
    ``RUN:ID`` / ``RUN:best`` (a program of a search run; runs are looked up under
    ``$OPTSEARCH_RUNS_DIR``, default ``runs``, unless RUN is a path to a run folder)."""
    if isinstance(program_or_name, Program):
        return program_or_name
    if not isinstance(program_or_name, str):
        raise TypeError(f"expected a Program or a str, got {type(program_or_name).__name__}")
    text = program_or_name
    if text.lstrip().startswith("def "):
        return parse(text)
    if not text.endswith(".opt"):
        from optsearch.store.runs import split_ref

        ref = split_ref(text)
        if ref is not None:
            return _run_program(*ref)
    if text.endswith(".opt") or "/" in text:
        programs = parse_file(Path(text))
        if len(programs) != 1:
            raise ParseError(f"{text} holds {len(programs)} programs; name one", filename=text)
        return programs[0]
    return known(text)


def _run_program(run: str, ident: str) -> Program:
    import os

    from optsearch.store.runs import RunStore, lookup_program

    with RunStore.open(run, os.environ.get("OPTSEARCH_RUNS_DIR", "runs")) as store:
        return parse(lookup_program(store, ident).text, filename=f"{store.run_id}:{ident}")


def optimizer(program_or_name: "Program | str", params: Iterable, lr: float = 1e-3,
              **hyperparams: float):
    """A ready ``torch.optim.Optimizer`` running the rule (see :func:`compile`)."""
    from optsearch.compile import compile_program

    return compile_program(resolve(program_or_name))(params, lr=lr, **hyperparams)


def compile(program_or_name: "Program | str", class_name: str | None = None):
    """The ``torch.optim.Optimizer`` subclass for a rule."""
    from optsearch.compile import compile_program

    return compile_program(resolve(program_or_name), class_name)


# simplify / equivalent / recognize / fingerprint import sympy, so they load on first use
# (PEP 562). ``optsearch.simplify`` is the sub-package, callable as simplify(program).
_LAZY = {"simplify": ("optsearch.simplify", None),
         "equivalent": ("optsearch.simplify", "equivalent"),
         "recognize": ("optsearch.simplify", "recognize"),
         "fingerprint": ("optsearch.fingerprint", "fingerprint")}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'optsearch' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr)


__all__ = [
    "Assign", "Call", "Const", "ConfigError", "Expr", "OptsearchError", "ParseError", "Program",
    "StoreError", "Var", "__version__", "compile", "known", "known_names", "optimizer", "parse",
    "parse_all", "parse_file", "resolve",
    "simplify", "equivalent", "recognize", "fingerprint",
]
