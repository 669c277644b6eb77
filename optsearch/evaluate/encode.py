"""Program -> straight-line register code: the form every batched executor runs.

Encoding does, once per program, what the reference interpreter does at every step:

* hyperparameters become constants, and every subexpression that reads only constants,
  ``lr`` and ``t`` is split off as a *scalar column*, computed on the host in float64
  (exactly as :mod:`optsearch.interpret` does) for each lane's lr and each step;
* the rest becomes SSA instructions over tensors, with common subexpressions shared and
  dead code dropped, then registers are assigned by liveness;
* a value is HOST (a scalar column) or a tensor; reductions and shaped primitives stay
  instructions (each executor gives them their per-parameter-tensor meaning).

Register conventions: ``r0 = w`` (kept live to the end: the executor computes
``w - update``), ``r1 = g``, ``r2 .. r(1+n_state)`` = the old state values. An operand
``>= N_REG`` names scalar column ``operand - N_REG``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from primitives import REGISTRY
from optsearch.analysis import live_body
from optsearch.program import Call, Const, Expr, Program, Var

N_REG = 64
"""Registers of the encoding (operands >= N_REG are scalar columns). The GPU kernel has
fewer (gpu_encode.KERNEL_REGS); programs needing more run on the eager path."""

HOST, TENSOR = 0, 1

OPCODES: tuple[str, ...] = tuple(sorted(REGISTRY, key=lambda n: (REGISTRY[n].kind != "elementwise", n)))
OPCODE = {n: i for i, n in enumerate(OPCODES)}


class EncodeError(ValueError):
    """The program cannot be encoded for a batched executor (the message says why)."""


class Instr(NamedTuple):
    """One instruction (a named tuple: thousands are built per batch, and tuples are cheap)."""

    op: str
    dst: int
    args: tuple[int, ...]
    reduction: int = -1       # ordinal among non-elementwise instructions, or -1


@dataclass(frozen=True)
class Encoded:
    """A program as register code (see module docstring).

    Attributes:
        instrs: the instructions, in order.
        columns: scalar-only expressions (over ``lr``, ``t`` and constants; a plain float
            for a constant, folded on the host), one per column.
        update: operand holding the update.
        state_out: operand holding each state variable's new value (order of ``n_state``).
        n_state: number of state variables (their old values sit in r2, r3, ...).
        n_regs: registers used.
        n_reductions: non-elementwise (reduction or shaped) instructions.
    """

    instrs: tuple[Instr, ...]
    columns: tuple[Expr | float, ...]
    update: int
    state_out: tuple[int, ...]
    n_state: int
    n_regs: int
    n_reductions: int

    @property
    def elementwise_only(self) -> bool:
        return self.n_reductions == 0


def _folders() -> dict[str, Callable[..., float]]:
    """Each primitive's float64 scalar form without its per-call ``np.errstate`` (the
    caller enters it once): folding dominated encoding time with it."""
    out: dict[str, Callable[..., float]] = {}
    for name, prim in REGISTRY.items():
        fn = getattr(prim.scalar, "np_fn", None)
        if fn is None:
            out[name] = prim.scalar
        else:
            f64 = np.float64
            out[name] = (lambda fn: lambda *a: float(fn(*[f64(x) for x in a])))(fn)
    return out


_FOLD = _folders()
_ELEMENTWISE = frozenset(n for n, p in REGISTRY.items() if p.kind == "elementwise")
_LR, _T = Var("lr"), Var("t")
_INTERN: dict[tuple, Expr] = {}
_INTERN_MAX = 1 << 20
"""Column expressions are interned: structurally equal columns of different programs are
one object, so the scalar table dedupes them by identity instead of deep hashing."""


def clear_interned() -> None:
    _INTERN.clear()


def _leaf_key(x: Expr | float) -> object:
    if isinstance(x, float):             # -0.0 and 0.0 are different constants here
        return (x, math.copysign(1.0, x)) if x == 0.0 else (x,)
    return id(x)


def _intern(op: str, args: tuple) -> Expr:
    key = (op, *[_leaf_key(a) for a in args])
    e = _INTERN.get(key)
    if e is None:
        if len(_INTERN) >= _INTERN_MAX:
            _INTERN.clear()
        e = _INTERN[key] = Call(op, args)
    return e


def encode(program: Program) -> Encoded:
    """Encode ``program`` (raises :class:`EncodeError` if it needs too many registers)."""
    with np.errstate(all="ignore"):
        return encode_unchecked(program)


def encode_unchecked(program: Program) -> Encoded:
    """:func:`encode` without entering ``np.errstate(all="ignore")``: for callers that
    encode many programs inside one such block (folding must never warn or raise)."""
    consts = dict(program.hyperparams)
    # SSA graph. Node keys: ('in', reg) | ('c', value) | ('v', name) | ('h', op, args) (HOST)
    # | ('op', op, args) (TENSOR); args are node ids, so keys hash in constant time.
    nodes: list[tuple] = []
    host: list[bool] = []
    memo: dict[tuple, int] = {}
    fold = _FOLD

    def add(key: tuple, is_host: bool) -> int:
        n = memo.get(key)
        if n is None:
            n = memo[key] = len(nodes)
            nodes.append(key)
            host.append(is_host)
        return n

    def call(op: str, args: tuple[int, ...]) -> int:
        for a in args:
            if not host[a]:
                break
        else:
            for a in args:
                if nodes[a][0] != "c":
                    return add(("h", op, args), True)
            return add(("c", fold[op](*[nodes[a][1] for a in args])), True)
        if op == "interp" and host[args[2]]:
            # the reference computes (1 - a) on the host in float64 when a is a host scalar
            x, y, a = args
            one_minus_a = call("sub", (add(("c", 1.0), True), a))
            if host[x]:                                     # (1 - a) * x is host-only too
                return call("add", (call("mul", (one_minus_a, x)), call("mul", (a, y))))
            return add(("op", op, (x, y, a, one_minus_a)), False)
        return add(("op", op, args), False)

    env: dict[str, int] = {"w": add(("in", 0), False), "g": add(("in", 1), False)}
    state: list[str] = []                 # state variables, in order of first read

    def expr_node(e: Expr) -> int:
        if isinstance(e, Call):
            return call(e.op, tuple([expr_node(a) for a in e.args]))
        if isinstance(e, Const):
            return add(("c", e.value), True)
        name = e.name
        n = env.get(name)
        if n is not None:
            return n
        if name == "lr" or name == "t":
            return add(("v", name), True)
        if name in consts:
            return add(("c", consts[name]), True)
        # read before assigned: state (zero-initialised), in order of first read
        n = env[name] = add(("in", 2 + len(state)), False)
        state.append(name)
        return n

    for st in live_body(program):        # dead statements cost a name scan, not a walk
        env[st.target] = expr_node(st.value)
    outs = [expr_node(program.ret)] + [env[s] for s in state]
    return _lower(nodes, host, memo, outs, len(state))


def _lower(nodes: list[tuple], host: list[bool], memo: dict[tuple, int], outs: list[int],
           n_state: int) -> Encoded:
    # live nodes: op nodes reachable from the outputs, and the nodes they read
    live = set(outs)
    stack = [n for n in live if nodes[n][0] == "op"]
    while stack:
        for a in nodes[stack.pop()][2]:
            if a not in live:
                live.add(a)
                if nodes[a][0] == "op":
                    stack.append(a)
    srt = sorted(live)
    order = [n for n in srt if nodes[n][0] == "op"]        # args always precede users
    columns: dict[int, int] = {}
    for n in srt:
        if host[n]:
            columns[n] = len(columns)

    last_use: dict[int, int] = {}
    for i, n in enumerate(order):
        for a in nodes[n][2]:
            last_use[a] = i
    end = len(order)
    for n in outs:
        last_use[n] = end
    last_use[0] = end                                   # w stays in r0

    n_in = 2 + n_state
    reg: dict[int, int] = {memo[("in", r)]: r for r in range(n_in)}
    free = list(range(n_in, N_REG))                      # a min-heap: lowest register first
    holders: dict[int, int] = {}                         # reg -> node
    for n, r in reg.items():
        if n in last_use:
            holders[r] = n
        else:
            free.append(r)                               # unused inputs free theirs
    heapq.heapify(free)

    instrs: list[Instr] = []
    top = max(holders, default=0)
    n_red = 0
    base = N_REG
    for i, n in enumerate(order):
        _, op, args = nodes[n]
        ops = tuple([base + columns[a] if a in columns else reg[a] for a in args])
        for a in set(args):                             # operands dying here free their reg
            if last_use[a] == i and a in reg:
                ra = reg[a]
                if holders.get(ra) == a:
                    del holders[ra]
                    heapq.heappush(free, ra)
        if not free:
            raise EncodeError(f"program needs more than {N_REG} registers")
        r = heapq.heappop(free)
        reg[n] = r
        holders[r] = n
        if r > top:
            top = r
        if op in _ELEMENTWISE:
            instrs.append(Instr(op, r, ops))
        else:
            instrs.append(Instr(op, r, ops, n_red))
            n_red += 1

    def operand(n: int) -> int:
        return base + columns[n] if n in columns else reg[n]

    memo_e: dict[int, Expr | float] = {}

    def host_expr(n: int) -> Expr | float:
        e = memo_e.get(n)
        if e is None:
            key = nodes[n]
            if key[0] == "c":
                e = key[1]                  # a float (folded constants may be inf/nan)
            elif key[0] == "v":
                e = _LR if key[1] == "lr" else _T
            else:
                e = _intern(key[1], tuple([host_expr(a) for a in key[2]]))
            memo_e[n] = e
        return e

    return Encoded(tuple(instrs), tuple([host_expr(n) for n in columns]), operand(outs[0]),
                   tuple([operand(n) for n in outs[1:]]), n_state,
                   max(top, 1 + n_state) + 1, n_red)
