"""The encoder and table builders as they were before the host-path speedup (commit a05f68f).

Kept verbatim (modulo imports) as the oracle for tests/evaluate/test_fast_encode.py: the
fast path must produce the same encodings, instruction words and scalar columns.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from primitives import REGISTRY
from optsearch.evaluate.encode import HOST, N_REG, TENSOR, EncodeError, Encoded, Instr
from optsearch.evaluate.gpu_encode import (ELEM_CODE, FULL, OP_COPY, OP_ONE, OP_RED, OP_ROWDOT,
                                           OP_SEGC, OP_ZERO, RED_CODE, ROW, SEG, SEG_REDUCTIONS,
                                           SEGC_COLS, SEGC_NDIM, SEGC_NUMEL, SEGC_ROWS,
                                           GpuProgram, KERNEL_REGS)
from optsearch.evaluate.gpu_kernel import LANE_INFO, pack
from optsearch.program import Call, Const, Expr, Program, Var


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


def eval_column(expr: Expr | float, lr: Tensor, t: Tensor, memo: dict) -> Tensor | float:
    if isinstance(expr, float):
        return expr
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return lr if expr.name == "lr" else t
    if expr in memo:
        return memo[expr]
    assert isinstance(expr, Call)
    args = [eval_column(a, lr, t, memo) for a in expr.args]
    prim = REGISTRY[expr.op]
    if not any(isinstance(a, Tensor) for a in args):
        out = prim.scalar(*args)
    elif prim.kind == "elementwise":
        out = prim.torch(*args)
    else:  # a reduction/shaped op of host scalars: its scalar form, value by value
        shape = torch.broadcast_shapes(*(a.shape for a in args if isinstance(a, Tensor)))
        cols = [a.expand(shape).reshape(-1).tolist() if isinstance(a, Tensor)
                else [a] * math.prod(shape) for a in args]
        out = torch.tensor([prim.scalar(*v) for v in zip(*cols)],
                           dtype=torch.float64).view(shape)
    memo[expr] = out
    return out


def lower(enc: Encoded) -> GpuProgram:
    """Class analysis and pseudo-op selection; raises EncodeError if the kernel can't run it."""
    if enc.n_regs > KERNEL_REGS:
        raise EncodeError(f"needs {enc.n_regs} registers; the GPU kernel has {KERNEL_REGS}")
    cls = [FULL] * N_REG

    def c_of(o: int) -> int:
        return cls[o] if o < N_REG else HOST

    rows: list[tuple[int, int, int, int, int, int]] = []
    red_pos: list[int] = []
    for ins in enc.instrs:
        prim = REGISTRY[ins.op]
        a = (list(ins.args) + [0, 0, 0])[:3]
        top = max(c_of(o) for o in ins.args)
        if prim.kind == "elementwise":
            # interp with a host ``a`` carries the host's 1 - a as a 4th operand (extra = op + 1)
            extra = ins.args[3] + 1 if len(ins.args) > prim.arity else 0
            rows.append((ELEM_CODE[ins.op], ins.dst, a[0], a[1], a[2], extra))
            out = top
        elif prim.kind == "reduction":
            out = SEG
            if ins.op == "numel":
                rows.append((OP_ONE, ins.dst, 0, 0, 0, 0) if top <= SEG else
                            (OP_SEGC, ins.dst, SEGC_NUMEL if top == FULL else SEGC_ROWS, 0, 0, 0))
            elif ins.op not in SEG_REDUCTIONS:
                raise EncodeError(f"reduction {ins.op!r} has no GPU kernel form")
            elif top <= SEG:                             # reduction of one-element tensors
                if ins.op in ("norm", "rms"):
                    rows.append((ELEM_CODE["abs"], ins.dst, a[0], 0, 0, 0))
                elif ins.op == "dot":
                    rows.append((ELEM_CODE["mul"], ins.dst, a[0], a[1], 0, 0))
                else:
                    rows.append((OP_COPY, ins.dst, a[0], 0, 0, 0))
            else:
                j = len(red_pos)
                red_pos.append(len(rows))
                rows.append((OP_RED, ins.dst, a[0], a[1], j,
                             2 * RED_CODE[ins.op] + (1 if top == ROW else 0)))
        elif ins.op == "rowdot":
            if top <= ROW:                                # rows of one element
                rows.append((ELEM_CODE["mul"], ins.dst, a[0], a[1], 0, 0))
                out = top
            else:
                rows.append((OP_ROWDOT, ins.dst, a[0], a[1], 0, 0))
                out = ROW
        elif ins.op == "rowsize":
            rows.append((OP_ONE, ins.dst, 0, 0, 0, 0) if top <= ROW else
                        (OP_SEGC, ins.dst, SEGC_COLS, 0, 0, 0))
            out = SEG
        elif ins.op == "ndim":
            rows.append((OP_ZERO, ins.dst, 0, 0, 0, 0) if top <= SEG else
                        (OP_SEGC, ins.dst, SEGC_NDIM, 0, 0, 0))
            out = SEG
        else:
            raise EncodeError(f"primitive {ins.op!r} ({prim.kind}) has no GPU kernel form")
        cls[ins.dst] = out
    return GpuProgram(tuple(rows), tuple(red_pos), enc.update, enc.state_out, enc.n_state,
                      len(enc.columns))


def scalar_table(encoded: Sequence[Encoded], lrs: Sequence[float], steps: int,
                 ncol: int) -> np.ndarray:
    """float32 ``[N, M, steps, ncol]`` scalar columns; each distinct expression once."""
    out = np.zeros((len(encoded), len(lrs), steps, ncol), dtype=np.float32)
    uid: dict = {}
    exprs: list = []
    where_n, where_c, which = [], [], []
    for n, e in enumerate(encoded):
        for c, expr in enumerate(e.columns):
            key = expr.value if isinstance(expr, Const) else expr
            k = uid.get(key)
            if k is None:
                k = uid[key] = len(exprs)
                exprs.append(key)
            where_n.append(n)
            where_c.append(c)
            which.append(k)
    if not exprs:
        return out
    lr = torch.tensor([float(x) for x in lrs], dtype=torch.float64).view(-1, 1)
    t = torch.arange(1, steps + 1, dtype=torch.float64).view(1, -1)
    vals = np.empty((len(exprs), len(lrs), steps), dtype=np.float64)
    memo: dict = {}
    for k, expr in enumerate(exprs):
        v = expr if isinstance(expr, float) else eval_column(expr, lr, t, memo)
        vals[k] = v.numpy() if isinstance(v, Tensor) else v
    with np.errstate(over="ignore", invalid="ignore"):   # float32 overflow gives inf, as torch
        vals32 = vals.astype(np.float32)
    out[np.array(where_n), :, :, np.array(where_c)] = vals32[np.array(which)]
    return out


def tables(encoded, lrs, steps):
    """The per-program arrays KernelUpdate built: (instr, lanei, redpos, segmented, scal)."""
    from optsearch.evaluate.gpu import SEGMENT_OPS

    progs = [lower(e) for e in encoded]
    N = len(progs)
    ns = max(1, max(p.n_state for p in progs))
    ni = max(1, max(len(p.rows) for p in progs))
    nr = max(1, max(len(p.red_pos) for p in progs))
    ncol = max(1, max(p.n_columns for p in progs))
    instr = np.zeros((N, ni), dtype=np.int64)
    lanei = np.zeros((N, LANE_INFO + ns), dtype=np.int32)
    redpos = np.full((N, nr), -1, dtype=np.int32)
    segmented = np.zeros(N, dtype=bool)
    for n, p in enumerate(progs):
        if p.rows:
            instr[n, :len(p.rows)] = [pack(r) for r in p.rows]
        lanei[n, :LANE_INFO] = (len(p.rows), len(p.red_pos), p.update, p.n_state)
        lanei[n, LANE_INFO:LANE_INFO + p.n_state] = p.state_out
        redpos[n, :len(p.red_pos)] = p.red_pos
        segmented[n] = any(r[0] in SEGMENT_OPS for r in p.rows)
    return instr, lanei, redpos, segmented, scalar_table(encoded, lrs, steps, ncol)
