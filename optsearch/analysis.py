"""Facts about a program derived from its IR: state, temporaries, what reads what."""

from __future__ import annotations

from dataclasses import dataclass

from optsearch.program import INPUTS, Program, reads


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
