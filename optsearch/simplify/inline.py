"""Inlining: a temporary read once (or a plain copy ``b = a`` / ``b = 0.5``) is replaced by
its value at the place it is read, and its statement disappears.

A move is only made when it cannot change what is read: none of the names the value
reads may be reassigned between the definition and the use, and a state variable's final
value (read by the next step) is never inlined away.
"""

from __future__ import annotations

from optsearch.program import Assign, Const, Program, Var, reads
from optsearch.simplify.flow import assigned_between, def_use, substitute, with_body


def _inline_one(program: Program) -> Program | None:
    du = def_use(program)
    n = len(program.body)
    for i, s in enumerate(program.body):
        if i in du.live_out or du.uses[i] == 0:
            continue
        copy = isinstance(s.value, (Var, Const))
        if du.uses[i] != 1 and not copy:
            continue
        needed = set(reads(s.value))
        if any(needed & assigned_between(program, i + 1, j) for j in du.readers[i]):
            continue
        mapping = {s.target: s.value}
        body = list(program.body)
        for j in set(du.readers[i]):
            if j < n:
                body[j] = Assign(body[j].target, substitute(body[j].value, mapping))
        ret = substitute(program.ret, mapping) if n in du.readers[i] else program.ret
        del body[i]
        return with_body(program, body, ret)
    return None


def _defining(program: Program, name: str, before: int) -> int | None:
    for k in range(before - 1, -1, -1):
        if program.body[k].target == name:
            return k
    return None


def _coalesce_one(program: Program) -> Program | None:
    """``x = e; ...; s = x`` -> ``s = e; ...`` (uses of that x read s), when s's old value
    is not needed after ``x = e`` and s is not reassigned while x is still read."""
    du = def_use(program)
    body = program.body
    for j, st in enumerate(body):
        if not isinstance(st.value, Var) or st.value.name == st.target:
            continue
        x, s = st.value.name, st.target
        i = _defining(program, x, j)
        if i is None or i in du.live_out:
            continue
        if any(s in reads(body[k].value) for k in range(i + 1, j)):
            continue
        if s in assigned_between(program, i + 1, j):
            continue
        later = [r for r in du.readers[i] if r > j]
        if later and s in assigned_between(program, j + 1, max(later)):
            continue
        if later and max(later) == len(body) and s in assigned_between(program, j + 1, len(body)):
            continue
        new = list(body)
        new[i] = Assign(s, body[i].value)
        mapping = {x: Var(s)}
        for r in set(du.readers[i]) - {j}:
            if r < len(body):
                new[r] = Assign(new[r].target, substitute(new[r].value, mapping))
        ret = substitute(program.ret, mapping) if len(body) in du.readers[i] else program.ret
        del new[j]
        return with_body(program, new, ret)
    return None


def inline_temporaries(program: Program) -> Program:
    """Inline every single-use temporary and every copy, until none is left; a copy into a
    state variable takes over the copied temporary's statement (:func:`_coalesce_one`)."""
    while True:
        nxt = _inline_one(program) or _coalesce_one(program)
        if nxt is None:
            return program
        program = nxt


__all__ = ["inline_temporaries"]
