"""Dead code and dead state.

:func:`remove_dead_code` drops statements whose value nothing reads: not a later
statement, not the return, not the next step (every state variable's final value is
kept). :func:`remove_unread_state` goes further: a state variable whose value never
reaches the update (``m = interp(g, m, 0.9)`` feeding only itself) is removed with every
statement that only feeds it. It computes the *least* set of live state variables
(start with none, add those read at entry, repeat), where classic liveness would keep a
self-feeding loop alive.
"""

from __future__ import annotations

from optsearch.analysis import lean, names
from optsearch.program import Program
from optsearch.simplify.flow import live_statements, with_body


def remove_dead_code(program: Program) -> Program:
    """Drop statements whose value is never read (state variables count as read)."""
    kept, _ = live_statements(program, set(names(program).state))
    return with_body(program, [program.body[j] for j in kept])


def remove_unread_state(program: Program) -> Program:
    """Drop state variables (and their statements) that never influence the update
    (the fixed point is :func:`optsearch.analysis.live_body`, shared with the encoder and
    the fingerprint)."""
    return lean(program)


__all__ = ["remove_dead_code", "remove_unread_state"]
