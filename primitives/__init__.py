"""The primitive registry: every primitive of the language, defined once.

Adding a primitive = adding one ``Primitive`` entry to one of the ``ENTRIES`` tuples
(elementwise.py, interpolation.py, reductions.py) or a new module listed in ``_MODULES``.
Parser, interpreter, simplifier, compilers and the search read this registry; the
registry test checks every form of every entry against the others.
"""

from __future__ import annotations

import difflib
from types import MappingProxyType
from typing import Mapping

from primitives import elementwise, interpolation, reductions, shaped
from primitives.spec import Primitive

_MODULES = (elementwise, interpolation, reductions, shaped)


def _build() -> Mapping[str, Primitive]:
    table: dict[str, Primitive] = {}
    for module in _MODULES:
        for entry in module.ENTRIES:
            if entry.name in table:
                raise RuntimeError(f"primitive {entry.name!r} is defined twice")
            table[entry.name] = entry
    return MappingProxyType(table)


REGISTRY: Mapping[str, Primitive] = _build()
INFIX: Mapping[str, str] = MappingProxyType(
    {p.infix: p.name for p in REGISTRY.values() if p.infix is not None})


class UnknownPrimitive(KeyError):
    """Raised by :func:`lookup`; ``suggestion`` holds the closest name, if any."""

    def __init__(self, name: str, suggestion: str | None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"unknown primitive {name!r}{hint}")

    def __str__(self) -> str:
        return self.args[0]


def suggest(name: str) -> str | None:
    """Closest primitive name to ``name`` (for "did you mean" messages)."""
    close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.6)
    return close[0] if close else None


def lookup(name: str) -> Primitive:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownPrimitive(name, suggest(name)) from None


def names(kind: str | None = None) -> list[str]:
    """Names of all primitives, or of one kind (``elementwise``, ``reduction``, ``shaped``)."""
    return [n for n, p in REGISTRY.items() if kind is None or p.kind == kind]


__all__ = ["Primitive", "REGISTRY", "INFIX", "UnknownPrimitive", "lookup", "names", "suggest"]
