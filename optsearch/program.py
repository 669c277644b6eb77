"""The IR of the language: frozen, hashable dataclasses.

A :class:`Program` is a straight-line list of assignments followed by a return::

    def lion(w, g, lr, beta1=0.9, beta2=0.99, wd=0.0):
        c = interp(g, m, beta1)
        update = sign(c) + wd * w
        m = interp(g, m, beta2)
        return lr * update

Arithmetic operators are calls of the registry's ``add sub mul div pow`` (unary minus is
``neg``), so every operation is a :class:`Call` of a primitive and has one meaning
everywhere. Names are inputs (``w g lr t``), hyperparameters (keyword parameters),
state (read before first assigned; zero-initialised and carried across steps) or
temporaries. Being hashable, programs serve directly as cache and dictionary keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Union

INPUTS: tuple[str, ...] = ("w", "g", "lr", "t")
"""Names every program can read: parameter, gradient, learning rate, 1-based step."""


@dataclass(frozen=True, slots=True)
class Const:
    value: float

    def __post_init__(self) -> None:
        if not isinstance(self.value, float):
            object.__setattr__(self, "value", float(self.value))
        if not math.isfinite(self.value):
            raise ValueError(f"constant must be finite, got {self.value!r}")

    # Pickle as a constructor call (the search sends programs to worker processes): the
    # default for slotted frozen dataclasses sets each field through object.__setattr__,
    # 3x slower to dump and 2x slower to load.
    def __reduce__(self):
        return (Const, (self.value,))


@dataclass(frozen=True, slots=True)
class Var:
    name: str

    def __reduce__(self):
        return (Var, (self.name,))


@dataclass(frozen=True, slots=True)
class Call:
    op: str
    args: tuple["Expr", ...]

    def __reduce__(self):
        return (Call, (self.op, self.args))


Expr = Union[Const, Var, Call]


@dataclass(frozen=True, slots=True)
class Assign:
    """``target = value``: the only kind of statement besides the final return."""

    target: str
    value: Expr

    def __reduce__(self):
        return (Assign, (self.target, self.value))


Statement = Assign


@dataclass(frozen=True, slots=True)
class Program:
    """A complete update rule.

    Attributes:
        name: the ``def`` name.
        hyperparams: ``(name, default)`` pairs in signature order.
        body: the assignments, in order.
        ret: the returned update (the engine applies ``w <- w - ret``).
        doc: the docstring (citation and equation for known rules), or None.
    """

    name: str
    hyperparams: tuple[tuple[str, float], ...]
    body: tuple[Assign, ...]
    ret: Expr
    doc: str | None = None

    def __str__(self) -> str:
        from optsearch.printer import to_text

        return to_text(self)

    def __reduce__(self):
        return (Program, (self.name, self.hyperparams, self.body, self.ret, self.doc))

    @property
    def defaults(self) -> dict[str, float]:
        return dict(self.hyperparams)

    def with_defaults(self, **values: float) -> "Program":
        """Copy with some hyperparameter defaults replaced (unknown names raise)."""
        known = self.defaults
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{self.name}: unknown hyperparameter(s) {unknown}; "
                             f"valid: {sorted(known)}")
        hp = tuple((k, float(values.get(k, v))) for k, v in self.hyperparams)
        return Program(self.name, hp, self.body, self.ret, self.doc)


def walk(expr: Expr) -> Iterator[Expr]:
    """All sub-expressions of ``expr``, parents before children (iterative)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Call):
            stack.extend(reversed(node.args))


def reads(expr: Expr) -> list[str]:
    """Names read by ``expr``, in left-to-right order, with repeats."""
    return [n.name for n in walk(expr) if isinstance(n, Var)]


def depth(expr: Expr) -> int:
    """Height of the expression tree (a leaf has depth 1)."""
    best = 0
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if isinstance(node, Call):
            stack.extend((a, d + 1) for a in node.args)
    return best


def size(program: Program) -> int:
    """Number of expression nodes in the program (a measure for bloat control)."""
    exprs = [s.value for s in program.body] + [program.ret]
    return sum(1 for e in exprs for _ in walk(e))
