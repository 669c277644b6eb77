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

from dataclasses import dataclass
from primitives import REGISTRY
from optsearch.program import Call, Const, Expr, Program, Var

N_REG = 64
"""Registers of the encoding (operands >= N_REG are scalar columns). The GPU kernel has
fewer (gpu_encode.KERNEL_REGS); programs needing more run on the eager path."""

HOST, TENSOR = 0, 1

OPCODES: tuple[str, ...] = tuple(sorted(REGISTRY, key=lambda n: (REGISTRY[n].kind != "elementwise", n)))
OPCODE = {n: i for i, n in enumerate(OPCODES)}


class EncodeError(ValueError):
    """The program cannot be encoded for a batched executor (the message says why)."""


@dataclass(frozen=True)
class Instr:
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


class _Builder:
    """SSA graph. Nodes: ('in', reg) | ('c', value) | ('v', name) | ('h', op, args) (HOST)
    | ('op', op, args) (TENSOR); args are node ids, so keys hash in constant time."""

    def __init__(self) -> None:
        self.nodes: list[tuple] = []
        self.ranks: list[int] = []
        self.memo: dict[tuple, int] = {}

    def add(self, key: tuple, rank: int) -> int:
        n = self.memo.get(key)
        if n is None:
            n = self.memo[key] = len(self.nodes)
            self.nodes.append(key)
            self.ranks.append(rank)
        return n

    def call(self, op: str, args: tuple[int, ...]) -> int:
        ranks, nodes = self.ranks, self.nodes
        if all(ranks[a] == HOST for a in args):
            if all(nodes[a][0] == "c" for a in args):       # fold constants, as the host would
                return self.add(("c", REGISTRY[op].scalar(*(nodes[a][1] for a in args))), HOST)
            return self.add(("h", op, args), HOST)
        if op == "interp" and ranks[args[2]] == HOST:
            # the reference computes (1 - a) on the host in float64 when a is a host scalar
            x, y, a = args
            one_minus_a = self.call("sub", (self.add(("c", 1.0), HOST), a))
            if ranks[x] == HOST:                            # (1 - a) * x is host-only too
                return self.call("add", (self.call("mul", (one_minus_a, x)), self.call("mul", (a, y))))
            return self.add(("op", op, (x, y, a, one_minus_a)), TENSOR)
        return self.add(("op", op, args), TENSOR)

    def host_expr(self, n: int, memo: dict[int, Expr | float]) -> Expr | float:
        """The host node ``n`` as an IR expression over constants, ``lr`` and ``t``."""
        if n not in memo:
            key = self.nodes[n]
            if key[0] == "c":
                memo[n] = key[1]            # a float (folded constants may be inf/nan)
            elif key[0] == "v":
                memo[n] = Var(key[1])
            else:
                memo[n] = Call(key[1], tuple(self.host_expr(a, memo) for a in key[2]))
        return memo[n]


def encode(program: Program) -> Encoded:
    """Encode ``program`` (raises :class:`EncodeError` if it needs too many registers)."""
    consts = dict(program.hyperparams)
    b = _Builder()
    env: dict[str, int] = {"w": b.add(("in", 0), TENSOR), "g": b.add(("in", 1), TENSOR)}
    state: dict[str, int] = {}            # state variable -> node of its old value

    def expr_node(e: Expr) -> int:
        if isinstance(e, Call):
            return b.call(e.op, tuple([expr_node(a) for a in e.args]))
        if isinstance(e, Const):
            return b.add(("c", e.value), HOST)
        name = e.name
        n = env.get(name)
        if n is not None:
            return n
        if name == "lr" or name == "t":
            return b.add(("v", name), HOST)
        if name in consts:
            return b.add(("c", consts[name]), HOST)
        # read before assigned: state (zero-initialised), in order of first read
        n = env[name] = state[name] = b.add(("in", 2 + len(state)), TENSOR)
        return n

    for st in program.body:
        env[st.target] = expr_node(st.value)
    outs = [expr_node(program.ret)] + [env[s] for s in state]
    return _lower(b, outs, len(state))


def _lower(b: _Builder, outs: list[int], n_state: int) -> Encoded:
    # live op nodes, in creation order (args always precede users)
    live: set[int] = set()
    stack = list(outs)
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        if b.nodes[n][0] == "op":
            stack.extend(b.nodes[n][2])
    order = [n for n in range(len(b.nodes)) if n in live and b.nodes[n][0] == "op"]

    columns: dict[int, int] = {}
    for n in sorted(live):
        if b.ranks[n] == HOST:
            columns[n] = len(columns)

    last_use: dict[int, int] = {}
    for i, n in enumerate(order):
        for a in b.nodes[n][2]:
            last_use[a] = i
    end = len(order)
    for n in outs:
        last_use[n] = end
    last_use[0] = end                                   # w stays in r0

    reg: dict[int, int] = {}
    for r in range(2 + n_state):
        reg[b.memo[("in", r)]] = r
    free = [r for r in range(N_REG - 1, -1, -1) if r >= 2 + n_state]
    free += [r for n, r in reg.items() if n not in last_use]   # unused inputs free theirs
    free.sort(reverse=True)
    holders: dict[int, int] = {}                         # reg -> node
    for n, r in reg.items():
        if n in last_use:
            holders[r] = n

    def operand(n: int) -> int:
        return N_REG + columns[n] if n in columns else reg[n]

    instrs: list[Instr] = []
    used = set(holders)
    n_red = 0
    for i, n in enumerate(order):
        _, op, args = b.nodes[n]
        ops = tuple(operand(a) for a in args)
        for a in set(args):                             # operands dying here free their reg
            if a in reg and last_use.get(a) == i and holders.get(reg[a]) == a:
                del holders[reg[a]]
                free.append(reg[a])
        if not free:
            raise EncodeError(f"program needs more than {N_REG} registers")
        free.sort(reverse=True)
        r = free.pop()
        reg[n] = r
        holders[r] = n
        used.add(r)
        red = -1
        if REGISTRY[op].kind != "elementwise":
            red, n_red = n_red, n_red + 1
        instrs.append(Instr(op, r, ops, red))
    memo: dict[int, Expr | float] = {}
    col_exprs = tuple(b.host_expr(n, memo) for n in sorted(columns, key=columns.get))
    return Encoded(tuple(instrs), col_exprs, operand(outs[0]),
                   tuple(operand(n) for n in outs[1:]), n_state,
                   max(used | {1 + n_state}) + 1, n_red)
