"""Shared drivers: train parameters with the reference interpreter or a compiled optimizer."""

from __future__ import annotations

import torch

from optsearch import interpret
from optsearch.compile import compile_program
from optsearch.program import Program

SHAPES = [(), (7,), (5, 3), (2, 3, 4)]


def gradients(shapes, steps: int, dtype: torch.dtype, seed: int = 0, device: str = "cpu"):
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen, dtype=torch.float64).to(dtype).to(device)
             for s in shapes] for _ in range(steps)]


def initial(shapes, dtype: torch.dtype, seed: int = 1, device: str = "cpu"):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype).to(device)
            for s in shapes]


def run_interpreter(program: Program, ws, grads, lr: float, hyper: dict | None = None,
                    compute: torch.dtype | None = None):
    """Reference: the interpreter, tensor by tensor; ``compute`` upcasts (16-bit params)."""
    ws = [w.clone() for w in ws]
    cd = compute or ws[0].dtype
    states = [interpret.init_state(program, w, dtype=cd) for w in ws]
    for t, gs in enumerate(grads, 1):
        for i, (w, g) in enumerate(zip(ws, gs)):
            update, states[i] = interpret.step(program, w.to(cd), g.to(cd), lr, t, states[i], hyper)
            w.copy_(w.to(cd) - update)
    return ws


def run_optimizer(program: Program, ws, grads, lr: float, **options):
    params = [torch.nn.Parameter(w.clone()) for w in ws]
    opt = compile_program(program)(params, lr=lr, **options)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g.clone()
        opt.step()
    return [p.detach() for p in params], opt


def max_rel(out, ref) -> float:
    return max(float((a.double() - b.double()).abs().max() / (b.double().abs().max() + 1e-30))
               for a, b in zip(out, ref))
