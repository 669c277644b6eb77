"""Common-subexpression removal: a value computed twice is computed once.

Value numbering over the straight-line body: each expression is keyed by what it reads
*and which assignment of each name it reads*, so a recomputation is only replaced by an
earlier holder whose name still holds that value. A statement recomputing a whole earlier
value becomes a copy (``b = a``), which :mod:`.inline` then removes; a repeated
subexpression inside a later statement is replaced by the name holding it.
"""

from __future__ import annotations

from optsearch.program import Assign, Call, Expr, Program, Var
from optsearch.simplify.flow import with_body


def _key(e: Expr, version: dict[str, int]) -> Expr:
    """``e`` with every name tagged by the assignment it reads (``m`` -> ``m#2``)."""
    if isinstance(e, Var):
        return Var(f"{e.name}#{version.get(e.name, 0)}")
    if isinstance(e, Call):
        return Call(e.op, tuple(_key(a, version) for a in e.args))
    return e


def eliminate_common_subexpressions(program: Program) -> Program:
    version: dict[str, int] = {}
    avail: dict[Expr, tuple[str, int]] = {}  # keyed value -> (holder, holder's version)

    def reuse(e: Expr) -> Expr:
        if not isinstance(e, Call):
            return e
        hit = avail.get(_key(e, version))
        if hit is not None and version.get(hit[0], 0) == hit[1]:
            return Var(hit[0])
        args = tuple(reuse(a) for a in e.args)
        return e if args == e.args else Call(e.op, args)

    body: list[Assign] = []
    for s in program.body:
        value = reuse(s.value)
        if isinstance(value, Var) and value.name == s.target:
            # x = (what x already holds): drop it, x keeps its value
            continue
        key = _key(value, version)
        version[s.target] = version.get(s.target, 0) + 1
        body.append(Assign(s.target, value))
        if isinstance(value, Call):
            avail[key] = (s.target, version[s.target])
    return with_body(program, body, reuse(program.ret))


__all__ = ["eliminate_common_subexpressions"]
