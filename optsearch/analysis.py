"""Facts about a program derived from its IR: state, temporaries, what reads what."""

from __future__ import annotations

from dataclasses import dataclass

from optsearch.program import INPUTS, Assign, Call, Expr, Program, Var, reads


@dataclass(frozen=True, slots=True)
class Names:
    """How a program's names divide up.

    Attributes:
        state: read before first assigned (zero-initialised, carried across steps),
            in order of first read.
        temporaries: assigned and only read after assignment.
        inputs: which of ``w g lr t`` are read.
        hyperparams: hyperparameter names in signature order.
    """

    state: tuple[str, ...]
    temporaries: tuple[str, ...]
    inputs: tuple[str, ...]
    hyperparams: tuple[str, ...]


def names(program: Program) -> Names:
    hyper = tuple(k for k, _ in program.hyperparams)
    fixed = set(INPUTS) | set(hyper)
    assigned: set[str] = set()
    state: list[str] = []
    used_inputs: set[str] = set()
    order: list[str] = []
    exprs = [(s.value, s.target) for s in program.body] + [(program.ret, None)]
    for value, target in exprs:
        for name in reads(value):
            if name in INPUTS:
                used_inputs.add(name)
            elif name not in fixed and name not in assigned and name not in state:
                state.append(name)
        if target is not None and target not in assigned:
            assigned.add(target)
            order.append(target)
    temps = tuple(n for n in order if n not in state)
    return Names(tuple(state), temps, tuple(n for n in INPUTS if n in used_inputs), hyper)


def state_vars(program: Program) -> tuple[str, ...]:
    """Per-parameter state of ``program`` (see :class:`Names`)."""
    return names(program).state


def _names_read(e: Expr, out: set[str]) -> set[str]:
    if type(e) is Var:
        out.add(e.name)
    elif type(e) is Call:
        for a in e.args:
            _names_read(a, out)
    return out


def live_body(program: Program) -> tuple[Assign, ...]:
    """The statements that influence the update, in order.

    The least fixed point of state liveness, as simplify's ``remove_unread_state``: a
    state variable that only feeds itself, or only dead code, goes with its statements.
    Dropping the rest changes no update, bit for bit (the kept statements compute the
    same values from the same inputs), so the encoder and the fingerprint run only these:
    in random and mutated programs most statements are dead. Written for speed, since it
    runs on every child the search breeds: a statement's names are scanned only once it
    is kept, so a dead statement costs one set lookup.
    """
    body = program.body
    reads_of: dict[int, set[str]] = {}    # by id(statement): kept ones, reused by passes
    ret = _names_read(program.ret, set())
    live_state: set[str] = set()
    while True:
        live = ret | live_state
        kept = []
        for st in reversed(body):
            t = st.target
            if t in live:
                kept.append(st)
                live.discard(t)
                r = reads_of.get(id(st))
                if r is None:
                    r = reads_of[id(st)] = _names_read(st.value, set())
                live |= r
        grown = live.difference(INPUTS)   # read before assigned: state read at entry
        for k, _ in program.hyperparams:
            grown.discard(k)
        if grown and not grown <= live_state:
            grown.intersection_update([st.target for st in body])
        if grown <= live_state:
            kept.reverse()
            return tuple(kept)
        live_state |= grown


def lean(program: Program) -> Program:
    """``program`` with only its :func:`live_body` (the same object if nothing is dead)."""
    body = live_body(program)
    if len(body) == len(program.body):
        return program
    return Program(program.name, program.hyperparams, body, program.ret, program.doc)
