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
        out[name] = prim.scalar if fn is None else _folder(fn, prim.arity)
    return out


def _folder(fn: Callable[..., np.floating], arity: int) -> Callable[..., float]:
    """``np_scalar``'s body without errstate, unrolled for one and two arguments."""
    f64 = np.float64
    if arity == 1:
        return lambda x: float(fn(f64(x)))
    if arity == 2:
        return lambda x, y: float(fn(f64(x), f64(y)))
    return lambda *a: float(fn(*[f64(x) for x in a]))


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


_IN, _OP, _HOST, _CONST = 0, 1, 2, 3
"""Graph node kinds: an input register, a tensor instruction, a host scalar, a constant.
Host kinds are the largest, so a call is host-only when the least kind among its arguments
is at least ``_HOST``, and folds when it is ``_CONST``."""


def encode_unchecked(program: Program) -> Encoded:
    """:func:`encode` without entering ``np.errstate(all="ignore")``: for callers that
    encode many programs inside one such block (folding must never warn or raise)."""
    g = _Graph(program.hyperparams)
    env = g.env
    for st in live_body(program):        # dead statements cost a name lookup, not a walk
        env[st.target] = g.expr(st.value)
    outs = [g.expr(program.ret)]
    for s in g.state:
        outs.append(env[s])
    return _lower(g.nodes, g.kind, g.ops, g.inputs, outs)


class _Graph:
    """One program's SSA graph, built statement by statement (a class: closures made
    afresh for every program cost more than walking a typical one).

    Node keys: ('in', reg) | ('c', value) | ('v', name) | ('h', op, args) (HOST)
    | ('op', op, args) (TENSOR); args are node ids, so keys hash in constant time."""

    __slots__ = ("hyper", "nodes", "kind", "memo", "env", "state", "inputs", "ops")

    def __init__(self, hyperparams: tuple[tuple[str, float], ...]) -> None:
        self.hyper = hyperparams
        self.nodes: list[tuple] = [("in", 0), ("in", 1)]
        self.kind: list[int] = [_IN, _IN]
        self.memo: dict[tuple, int] = {}
        self.env: dict[str, int] = {"w": 0, "g": 1}   # also caches lr, t, hyperparameters
        self.state: list[str] = []                   # state variables, in order of first read
        self.inputs = [0, 1]                         # node of each input register
        self.ops: list[int] = []                     # the instruction (_OP) nodes, in order

    def add(self, key: tuple, k: int) -> int:
        n = self.memo.get(key)
        if n is None:
            n = self.memo[key] = len(self.nodes)
            self.nodes.append(key)
            self.kind.append(k)
            if k == _OP:
                self.ops.append(n)
        return n

    def call(self, op: str, args: tuple[int, ...], lo: int) -> int:
        """The node of ``op(*args)``; ``lo`` is the least kind among ``args``."""
        if lo == _CONST:
            return self.add(("c", _FOLD[op](*[self.nodes[a][1] for a in args])), _CONST)
        if lo == _HOST:
            return self.add(("h", op, args), _HOST)
        kind = self.kind
        if op == "interp" and kind[args[2]] >= _HOST:
            # the reference computes (1 - a) on the host in float64 when a is a host scalar
            x, y, a = args
            one_minus_a = self.call("sub", (self.add(("c", 1.0), _CONST), a), kind[a])
            if kind[x] >= _HOST:                            # (1 - a) * x is host-only too
                left = self.call("mul", (one_minus_a, x), min(kind[one_minus_a], kind[x]))
                return self.call("add", (left, self.call("mul", (a, y), _OP)), _OP)
            return self.add(("op", op, (x, y, a, one_minus_a)), _OP)
        return self.add(("op", op, args), _OP)

    def name(self, name: str) -> int:
        """The node a name not yet in ``env`` reads (then cached there)."""
        if name == "lr" or name == "t":
            n = self.add(("v", name), _HOST)
        else:
            for k, v in reversed(self.hyper):     # as dict(): the last one counts
                if k == name:
                    n = self.add(("c", v), _CONST)
                    break
            else:     # read before assigned: state (zero-initialised), in order of first read
                n = self.add(("in", len(self.inputs)), _IN)
                self.inputs.append(n)
                self.state.append(name)
        self.env[name] = n
        return n

    def call_node(self, e: Call) -> int:
        """The node of ``e``; its leaves are resolved inline (a call per leaf cost more
        than the rest of the walk)."""
        env = self.env
        kind = self.kind
        args = []
        lo = _CONST
        for a in e.args:
            t = type(a)
            if t is Var:
                n = env.get(a.name)
                if n is None:
                    n = self.name(a.name)
            elif t is Const:
                n = self.add(("c", a.value), _CONST)
            else:
                n = self.call_node(a)
            args.append(n)
            k = kind[n]
            if k < lo:
                lo = k
        op = e.op
        if lo <= _OP and op != "interp":                   # the common case, inlined
            key = ("op", op, tuple(args))
            memo = self.memo
            n = memo.get(key)
            if n is None:
                n = memo[key] = len(self.nodes)
                self.nodes.append(key)
                kind.append(_OP)
                self.ops.append(n)
            return n
        return self.call(op, tuple(args), lo)

    def expr(self, e: Expr) -> int:
        t = type(e)
        if t is Call:
            return self.call_node(e)
        if t is Const:
            return self.add(("c", e.value), _CONST)
        n = self.env.get(e.name)
        return self.name(e.name) if n is None else n


def _lower(nodes: list[tuple], kind: list[int], ops: list[int], inputs: list[int],
           outs: list[int]) -> Encoded:
    """Registers for the graph's live instructions, columns for the host values they read.

    Node ids are a topological order (arguments precede users), so one backward scan of
    the instructions finds the live nodes and each one's last use, and one forward scan
    assigns registers."""
    size = len(nodes)
    # last[n]: id of the last instruction reading tensor n; ``size`` for outputs, host
    # nodes (columns hold no register) and w (kept in r0); -1 for dead nodes
    last = [-1] * size
    last[0] = size
    columns: list[int] = []               # live host nodes
    for n in outs:
        if last[n] < 0 and kind[n] >= _HOST:
            columns.append(n)
        last[n] = size
    for n in reversed(ops):
        if last[n] >= 0:
            for a in nodes[n][2]:
                if last[a] < 0:           # first seen from the end: its last use
                    if kind[a] >= _HOST:
                        columns.append(a)
                        last[a] = size
                    else:
                        last[a] = n
    columns.sort()

    where = [0] * size                    # operand of each live node: register or column
    for i, n in enumerate(columns, N_REG):
        where[n] = i
    # a bit per free register (the lowest goes first): those above the inputs' to start
    free = (1 << N_REG) - (1 << min(len(inputs), N_REG))
    top = 0
    for r, n in enumerate(inputs):
        if last[n] >= 0:
            where[n] = top = r
        else:
            free |= 1 << r                # an unread input frees its register
    instrs: list[Instr] = []
    n_red = 0
    elementwise = _ELEMENTWISE
    for n in ops:
        if last[n] < 0:
            continue
        _, op, args = nodes[n]
        operands = tuple([where[a] for a in args])
        for a in args:                    # operands dying here free their register
            if last[a] == n:
                free |= 1 << where[a]
        if not free:
            raise EncodeError(f"program needs more than {N_REG} registers")
        low = free & -free
        free ^= low
        r = where[n] = low.bit_length() - 1
        if r > top:
            top = r
        if op in elementwise:
            instrs.append(Instr(op, r, operands))
        else:
            instrs.append(Instr(op, r, operands, n_red))
            n_red += 1

    n_state = len(inputs) - 2
    return Encoded(instrs=tuple(instrs), columns=_column_exprs(nodes, columns),
                   update=where[outs[0]], state_out=tuple([where[n] for n in outs[1:]]),
                   n_state=n_state, n_regs=max(top, 1 + n_state) + 1, n_reductions=n_red)


def _column_exprs(nodes: list[tuple], columns: list[int]) -> tuple[Expr | float, ...]:
    """The interned expression of each column node."""
    memo: dict[int, Expr] = {}
    return tuple([_host_expr(nodes, n, memo) for n in columns])


def _host_expr(nodes: list[tuple], n: int, memo: dict[int, Expr]) -> Expr | float:
    key = nodes[n]
    if key[0] == "c":
        return key[1]                       # a float (folded constants may be inf/nan)
    if key[0] == "v":
        return _LR if key[1] == "lr" else _T
    e = memo.get(n)
    if e is None:
        e = memo[n] = _intern(key[1], tuple([_host_expr(nodes, a, memo) for a in key[2]]))
    return e
