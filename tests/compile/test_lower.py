"""Lowering: value kinds, folding, shared subexpressions, dead code, safe names."""

from __future__ import annotations

import torch

import optsearch
from optsearch import parse
from optsearch.compile import compile_program
from optsearch.compile.lower import lower
from optsearch.compile.pygen import module_source


def test_kinds_fold_and_dead_code():
    plan = lower(parse(
        "def f(w, g, lr, t, beta=0.9):\n"
        "    unused = exp(g)\n"
        "    c = 2.0 * 0.5\n"
        "    bc = 1 - beta ** t\n"
        "    n = norm(g)\n"
        "    r = rowdot(g, w)\n"
        "    m = interp(g, m, beta)\n"
        "    return lr / bc * m / (n + c) + r * 0.0 + (g * g) * (g * g)\n"))
    kinds = {op.prim: op.kind for op in plan.ops}
    assert kinds["norm"] == "s" and kinds["rowdot"] == "r" and kinds["interp"] == "e"
    assert all(op.kind == "h" for op in plan.host_ops)
    assert {op.prim for op in plan.host_ops} == {"pow", "sub", "div"}
    assert "exp" not in kinds  # dead
    assert sum(op.prim == "mul" and op.args == ("g", "g") for op in plan.ops) == 1  # shared
    assert any(1.0 in op.args for op in plan.ops)  # 2.0 * 0.5 folded
    assert plan.state_out == (("m", "m_1"),)


def test_names_that_clash_with_generated_code_are_renamed():
    program = parse("def f(w, g, lr, max=0.5, torch=2.0):\n    float = g * max\n"
                    "    self = self + float * torch\n    return lr * self\n")
    text = module_source(lower(program))
    assert "def _host(lr, t, max_1, torch_1)" in text
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = compile_program(program)([p], lr=1.0)
    for foreach in (True, False):
        opt.param_groups[0]["foreach"] = foreach
        p.grad = torch.ones(3, dtype=torch.float64)
        opt.step()
    assert opt.param_groups[0]["max"] == 0.5 and "self" in opt.state[p]
    assert torch.allclose(p.detach(), torch.full((3,), 1 - 1.0 - 2.0, dtype=torch.float64))


def test_every_known_rule_lowers_and_generates():
    for name in optsearch.known_names():
        plan = lower(optsearch.known(name))
        text = module_source(plan)
        compile(text, name, "exec")
        assert plan.key == lower(optsearch.known(name)).key
