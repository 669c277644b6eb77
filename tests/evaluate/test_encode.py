"""Encoding: registers, scalar columns, and the GPU lowering's class analysis."""

from __future__ import annotations

import math
import random

import pytest
import torch

import optsearch
from optsearch import interpret
from optsearch.evaluate import encode, random_program
from optsearch.evaluate.eager import EagerUpdate
from optsearch.evaluate.encode import N_REG
from optsearch.evaluate.gpu_encode import KERNEL_REGS, OP_RED, OP_ROWDOT, OP_SEGC, lower
from optsearch.evaluate.scalars import column_table
from optsearch.parse import parse
from optsearch.program import Var
from proxy_tasks.base import Layout


def test_known_rules_encode_and_lower():
    for name in optsearch.known_names():
        e = encode(optsearch.known(name))
        assert e.n_regs <= KERNEL_REGS
        lower(e)


def test_scalar_subexpressions_become_columns():
    p = parse("def p(w, g, lr, t, b=0.9):\n    return lr / (1.0 - b ** t) * g\n")
    e = encode(p)
    assert len(e.instrs) == 1 and len(e.columns) == 1        # one mul by a host column
    tab = column_table(e, [0.1, 0.2], 3)
    expect = torch.tensor([[0.1 / (1 - 0.9 ** t) for t in (1, 2, 3)],
                           [0.2 / (1 - 0.9 ** t) for t in (1, 2, 3)]], dtype=torch.float64)
    torch.testing.assert_close(tab[..., 0], expect, rtol=1e-15, atol=0)


def test_constant_folding_and_dead_code():
    p = parse("def p(w, g, lr):\n    a = exp(2.0) * 3.0\n    dead = sin(g)\n    return lr * a * g\n")
    e = encode(p)
    assert [i.op for i in e.instrs] == ["mul"]
    (col,) = e.columns                                     # lr * a, with a folded
    assert col.op == "mul" and col.args[0] == Var("lr")
    assert isinstance(col.args[1], float) and col.args[1] == pytest.approx(math.exp(2.0) * 3.0)


def test_too_many_registers_is_a_clear_error():
    body = "\n".join(f"    v{i} = g * {i + 1}.0" for i in range(N_REG + 2))
    total = " + ".join(f"v{i}" for i in range(N_REG + 2))
    p = parse(f"def p(w, g, lr):\n{body}\n    return lr * ({total})\n")
    with pytest.raises(ValueError, match="registers"):
        encode(p)


def test_lowering_classes():
    p = optsearch.known("adamp")
    rows = lower(encode(p)).rows
    ops = {r[0] for r in rows}
    assert OP_ROWDOT in ops and OP_SEGC in ops and OP_RED in ops
    q = parse("def q(w, g, lr):\n    return lr * norm(norm(g)) * mean(g)\n")
    g = lower(encode(q))
    assert len(g.red_pos) == 2            # norm(g) and mean(g); norm(norm(g)) is abs


def test_eager_matches_reference_interpreter_on_random_programs():
    """The executor itself (no training): one step on random tensors, per parameter tensor."""
    rng = random.Random(4)
    layout = Layout.from_shapes([("a", (3, 5)), ("b", (5,))])
    progs = [random_program(rng, 8) for _ in range(30)] + [optsearch.known("adamp")]
    encs = [encode(p) for p in progs]
    update = EagerUpdate(encs, [column_table(e, [0.1], 2) for e in encs], layout, 1, 1,
                         torch.device("cpu"), torch.float32)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(len(progs), layout.size, generator=gen)
    g = torch.randn(len(progs), layout.size, generator=gen)
    w0 = w.clone()
    update(w, g, 0, torch.ones(1, len(progs), 1, dtype=torch.bool))
    for n, p in enumerate(progs):
        for s in layout.segments:
            sl = slice(s.offset, s.offset + s.numel)
            wt, gt = w0[n, sl].view(s.shape), g[n, sl].view(s.shape)
            upd, _ = interpret.step(p, wt, gt, 0.1, 1, interpret.init_state(p, wt))
            torch.testing.assert_close(w[n, sl].view(s.shape), wt - upd, equal_nan=True,
                                       rtol=1e-6, atol=1e-6, msg=lambda m: f"{p}\n{m}")
