"""What `optsearch compare` compares: an optimizer given by name, file or run reference.

A candidate reference is one of

- a known rule's name (``adamw``, ``lion``; ``optsearch known`` lists them);
- a ``.opt`` program file (``my_rule.opt``, or ``rules.opt:name`` to pick one ``def``);
- ``RUN:ID`` or ``RUN:best`` (a program of a search run, see :func:`optsearch.resolve`);
- a standalone optimizer ``.py`` file written by ``optsearch export`` or by hand
  (``my_opt.py``, or ``my_opt.py:ClassName`` when it defines several optimizers).

A ``.py`` file is *imported*, i.e. its code runs, exactly like a user task file: comparing
it is the user's own choice to run that code. It is loaded by path under a private module
name, never pickled: worker processes get the reference string and load it themselves.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch

from optsearch.errors import OptsearchError

OptimizerFactory = Callable[[Iterable, float], torch.optim.Optimizer]


class CandidateError(OptsearchError):
    """A candidate that cannot be loaded or built (names the reference at fault)."""


@dataclass(frozen=True)
class Candidate:
    """A loaded optimizer: ``make(params, lr)`` builds a fresh ``torch.optim.Optimizer``."""

    ref: str
    label: str
    kind: str                      # "known" | "opt" | "run" | "py"
    make: OptimizerFactory = field(compare=False, repr=False)
    text: str | None = field(default=None, compare=False, repr=False)  # program text, if any
    source: str | None = None      # the .py file, to point error messages at its lines


def describe_error(exc: BaseException, where: str | None = None) -> str:
    """``Type: message`` plus the innermost frame inside ``where`` (a user file), if any."""
    msg = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if where:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if Path(f.filename).resolve() == Path(where).resolve()]
        if frames:
            msg += f" (at {Path(where).name}:{frames[-1].lineno})"
    return msg


def _split_py_ref(ref: str) -> tuple[str, str | None]:
    if ".py:" in ref:
        path, cls = ref.rsplit(":", 1)
        return path, cls
    return ref, None


def import_file(path: str | Path, what: str) -> object:
    """Import a user's ``.py`` file by path as a private module; errors -> CandidateError.

    ``what`` says what the file is for ("optimizer file", "task file") in messages.
    """
    p = Path(path)
    if not p.is_file():
        raise CandidateError(f"{what} {str(path)!r} not found")
    digest = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:12]
    name = f"_optsearch_user_{p.stem.replace('-', '_')}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise CandidateError(f"{what} {str(path)!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        del sys.modules[name]
        raise
    except BaseException as e:  # noqa: BLE001 - any failure of user code is reported, not raised
        del sys.modules[name]
        raise CandidateError(f"{what} {str(path)!r} raised while being imported: "
                             f"{describe_error(e, str(p))}") from None
    return module


def _optimizer_class(ref: str) -> type[torch.optim.Optimizer]:
    path, cls_name = _split_py_ref(ref)
    module = import_file(path, "optimizer file")
    classes = {n: c for n, c in vars(module).items()
               if inspect.isclass(c) and issubclass(c, torch.optim.Optimizer)
               and c.__module__ == module.__name__}
    if cls_name is not None:
        if cls_name not in classes:
            raise CandidateError(f"optimizer file {path!r} defines no optimizer class "
                                 f"{cls_name!r} (it defines: {sorted(classes) or 'none'})")
        return classes[cls_name]
    # a base class shared by the file's optimizers (as in exported files) is not a choice
    leaves = {n: c for n, c in classes.items()
              if not any(o is not c and issubclass(o, c) for o in classes.values())}
    if len(leaves) != 1:
        found = ", ".join(sorted(leaves)) or "none"
        raise CandidateError(f"optimizer file {path!r} must define exactly one "
                             f"torch.optim.Optimizer subclass, or name one as "
                             f"{path}:ClassName (it defines: {found})")
    return next(iter(leaves.values()))


def _py_candidate(ref: str) -> Candidate:
    cls = _optimizer_class(ref)
    path, _ = _split_py_ref(ref)

    def make(params: Iterable, lr: float) -> torch.optim.Optimizer:
        return cls(params, lr=lr)

    return Candidate(ref, f"{Path(path).name}:{cls.__name__}", "py", make, source=path)


def _program_candidate(ref: str) -> Candidate:
    import optsearch
    from optsearch.compile import compile_program
    from optsearch.printer import to_text

    kind = "known"
    if ref.endswith(".opt") or ".opt:" in ref:
        kind = "opt"
    elif ":" in ref:
        kind = "run"
    try:
        if ".opt:" in ref:
            path, name = ref.rsplit(":", 1)
            if not Path(path).is_file():
                raise CandidateError(f"program file {path!r} not found")
            programs = {p.name: p for p in optsearch.parse_file(Path(path))}
            if name not in programs:
                raise CandidateError(f"program file {path!r} has no program {name!r} "
                                     f"(it has: {', '.join(programs)})")
            program = programs[name]
        else:
            if kind == "opt" and not Path(ref).is_file():
                raise CandidateError(f"program file {ref!r} not found")
            program = optsearch.resolve(ref)
    except CandidateError:
        raise
    except OptsearchError as e:
        raise CandidateError(str(e)) from None
    cls = compile_program(program)
    label = program.name if kind == "opt" else ref
    if kind == "run":  # a run folder path makes a long label: keep its name
        run, ident = ref.rsplit(":", 1)
        label = f"{Path(run).name}:{ident}"

    def make(params: Iterable, lr: float) -> torch.optim.Optimizer:
        return cls(params, lr=lr)

    return Candidate(ref, label, kind, make, to_text(program))


def load_candidate(ref: str) -> Candidate:
    """The candidate for a reference (see the module docstring).

    Raises:
        CandidateError: unknown name, missing file, a file that fails to import or
            defines no optimizer, a bad run reference.
    """
    ref = ref.strip()
    if not ref:
        raise CandidateError("empty optimizer reference")
    if ref.endswith(".py") or ".py:" in ref:
        return _py_candidate(ref)
    return _program_candidate(ref)


def unique_labels(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates whose labels are made unique (``lion``, ``lion#2``) for tables and plots."""
    seen: dict[str, int] = {}
    out = []
    for c in candidates:
        n = seen.get(c.label, 0) + 1
        seen[c.label] = n
        out.append(c if n == 1 else Candidate(c.ref, f"{c.label}#{n}", c.kind, c.make, c.text,
                                              c.source))
    return out
