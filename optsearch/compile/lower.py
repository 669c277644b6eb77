"""Lowering: a Program -> straight-line SSA with value kinds, the input of every code generator.

Each value has a *kind*, which says how much of it there is per parameter tensor:

- ``h``: a host scalar (hyperparameters, ``lr``, ``t``, constants and anything computed only
  from them), evaluated once per step in float64 on the host, as the interpreter does;
- ``s``: one scalar per tensor (a reduction such as ``norm(g)``, or a shape query);
- ``r``: one value per row (``rowdot``; shape ``[rows, 1, ...]``, broadcasting back);
- ``e``: one value per element (``w``, ``g``, state, and what is computed from them).

An operation's kind is the largest kind of its arguments (``h < s < r < e``), except for
reductions and shaped primitives, whose result kind their Triton template tells
(``_rowsum(...)`` gives ``r``; everything else gives ``s``). The lowering also folds constant
subexpressions, shares common subexpressions, drops dead code, and names every value with
a Python-safe identifier derived from the program's own names (so generated code reads like
the program).
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import math
from dataclasses import dataclass, field

from primitives import REGISTRY
from optsearch.analysis import state_vars
from optsearch.program import Const, Expr, Program, Var

ORDER = {"h": 0, "s": 1, "r": 2, "e": 3}
Ref = str | float  # an SSA name or a float constant

# Names generated code uses for itself; program names that collide are renamed.
RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {
    "torch", "math", "tl", "triton", "libdevice", "Tensor", "self", "group", "ws", "TAB", "BLK", "RED", "ROW", "NT", "BLOCK", "WDT", "GDT", "ALIGNED", "MAXIMIZE",
    "pid", "tid", "start", "offs", "mask", "n"}


@dataclass(frozen=True, slots=True)
class Op:
    """``dst = prim(*args)``.

    Attributes:
        dst: SSA name of the result.
        prim: primitive name.
        args: SSA names or float constants.
        kind: kind of the result (see module docstring).
        domain: for reductions and shaped primitives, the largest kind of the arguments
            (what the sum runs over: elements, rows, or a single value); else ``kind``.
    """

    dst: str
    prim: str
    args: tuple[Ref, ...]
    kind: str
    domain: str


@dataclass(frozen=True)
class Plan:
    """A program lowered for code generation (see module docstring).

    Attributes:
        program: the source program.
        key: stable hash of the program text (names caches and generated modules).
        hyper: ``(hyperparameter name, SSA name)`` in signature order.
        inputs: SSA names of ``w g lr t`` (``w`` and ``g`` keep their names).
        state: ``(state variable, SSA name of its value on entry)``, in program order.
        host_ops: operations on host scalars only, in order.
        ops: the per-tensor operations (kinds ``s``, ``r``, ``e``), in order.
        kinds: kind of every SSA name.
        ret: the update (the engine applies ``w <- w - ret``).
        state_out: ``(state variable, new value)`` for each state that changes.
        host_used: host values that per-tensor code reads (from ``ops``, ``ret``,
            ``state_out``), in a fixed order.
    """

    program: Program
    key: str
    hyper: tuple[tuple[str, str], ...]
    inputs: dict[str, str]
    state: tuple[tuple[str, str], ...]
    host_ops: tuple[Op, ...]
    ops: tuple[Op, ...]
    kinds: dict[str, str]
    ret: Ref
    state_out: tuple[tuple[str, Ref], ...]
    host_used: tuple[str, ...]
    defs: dict[str, Op] = field(default_factory=dict)

    def kind(self, ref: Ref) -> str:
        return "h" if isinstance(ref, float) else self.kinds[ref]

    def uses(self) -> dict[str, int]:
        """How many times each SSA name is read by ops, the return and the state updates."""
        count: dict[str, int] = {}
        refs = [a for op in self.host_ops + self.ops for a in op.args]
        refs += [self.ret] + [v for _, v in self.state_out]
        for r in refs:
            if isinstance(r, str):
                count[r] = count.get(r, 0) + 1
        return count


def result_kind(prim: str, arg_kinds: list[str]) -> tuple[str, str]:
    """(kind, domain) of ``prim`` applied to arguments of the given kinds."""
    top = max(arg_kinds, key=ORDER.__getitem__)
    if top == "h":
        return "h", "h"
    entry = REGISTRY[prim]
    if entry.kind == "elementwise":
        return top, top
    if "_rowsum(" in entry.triton:
        return ("r" if top in ("r", "e") else "s"), top
    if entry.kind == "reduction" or entry.triton:
        return "s", top
    return "r", top  # unknown shaped primitive: per-tensor and not full-sized


class _Namer:
    def __init__(self, taken: set[str]) -> None:
        self.used: set[str] = set(taken)

    def fresh(self, base: str) -> str:
        if not base.isidentifier() or base.startswith("_"):
            base = "v" + base.lstrip("_") if base.lstrip("_").isidentifier() else "v"
        name, i = base, 0
        while name in self.used or name in RESERVED:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name


def program_key(program: Program) -> str:
    """Stable 16-hex-digit hash of a program's canonical text."""
    return hashlib.sha256(str(program).encode()).hexdigest()[:16]


def lower(program: Program) -> Plan:
    """Lower ``program`` (see module docstring). Pure: the same program gives the same plan."""
    namer = _Namer({"w", "g"})
    kinds: dict[str, str] = {"w": "e", "g": "e"}
    env: dict[str, Ref] = {"w": "w", "g": "g"}
    for name in ("lr", "t"):
        env[name] = namer.fresh(name)
        kinds[env[name]] = "h"
    hyper = []
    for name, _ in program.hyperparams:
        env[name] = namer.fresh(name)
        kinds[env[name]] = "h"
        hyper.append((name, env[name]))
    state = []
    for name in state_vars(program):
        env[name] = namer.fresh(name)
        kinds[env[name]] = "e"
        state.append((name, env[name]))

    ops: list[Op] = []
    seen: dict[tuple, str] = {}

    def kind(ref: Ref) -> str:
        return "h" if isinstance(ref, float) else kinds[ref]

    def emit(prim: str, args: tuple[Ref, ...], hint: str) -> Ref:
        if all(isinstance(a, float) for a in args):
            value = REGISTRY[prim].scalar(*args)
            if math.isfinite(value):
                return float(value)  # constant folding, exactly as the interpreter computes it
        key = (prim, args)
        if key in seen:
            return seen[key]
        k, domain = result_kind(prim, [kind(a) for a in args])
        dst = namer.fresh(hint)
        ops.append(Op(dst, prim, args, k, domain))
        kinds[dst] = k
        seen[key] = dst
        return dst

    def lower_expr(expr: Expr, hint: str | None = None) -> Ref:
        stack: list[tuple[Expr, bool]] = [(expr, False)]
        done: list[Ref] = []
        while stack:  # iterative post-order, so deep programs cannot exhaust the stack
            node, visited = stack.pop()
            if isinstance(node, Const):
                done.append(float(node.value))
            elif isinstance(node, Var):
                done.append(env[node.name])
            elif not visited:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args))
            else:
                n = len(node.args)
                args = tuple(done[len(done) - n:])
                del done[len(done) - n:]
                top = hint if (hint and not stack) else node.op
                done.append(emit(node.op, args, top))
        return done[0]

    for stmt in program.body:
        env[stmt.target] = lower_expr(stmt.value, stmt.target)
    ret = lower_expr(program.ret, "update")
    state_out = tuple((name, env[name]) for name, entry in state if env[name] != entry)

    live = {r for r in [ret, *(v for _, v in state_out)] if isinstance(r, str)}
    kept: list[Op] = []
    for op in reversed(ops):
        if op.dst in live:
            kept.append(op)
            live.update(a for a in op.args if isinstance(a, str))
    kept.reverse()
    host_ops = tuple(op for op in kept if op.kind == "h")
    tensor_ops = tuple(op for op in kept if op.kind != "h")
    used: list[str] = []
    refs = [a for op in tensor_ops for a in op.args] + [ret] + [v for _, v in state_out]
    for r in refs:
        if isinstance(r, str) and kinds[r] == "h" and r not in used:
            used.append(r)
    inputs = {"w": "w", "g": "g", "lr": env["lr"], "t": env["t"]}
    return Plan(program, program_key(program), tuple(hyper), inputs, tuple(state), host_ops,
                tensor_ops, kinds, ret, state_out, tuple(used), {op.dst: op for op in kept})
