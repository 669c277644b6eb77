"""Eager executor: runs encoded programs with torch ops, one program at a time.

Each program's lanes (its seeds x lr multipliers) are a strided ``[S, M, P]`` view of the
flat ``[L, P]`` buffers, so one pass over a program's instructions updates all of its
lanes. A program of elementwise primitives runs once over the whole flat row; one with
reductions or shaped primitives runs once per parameter tensor, on ``[S, M, *shape]``
views, so those primitives see the true shapes, as in the reference. Every op is the
primitive's own torch form, with lane-uniform scalars passed as Python floats as the
reference does: this path is the CPU evaluator and the GPU fallback, and matches
:func:`optsearch.interpret.step`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from primitives import REGISTRY
from optsearch.evaluate.encode import N_REG, Encoded
from proxy_tasks.base import Layout


class EagerUpdate:
    """Update step for N programs x S seeds x M lr multipliers (lanes seed-major).

    Args:
        encoded: one encoded program per program index.
        tables: per program, float64 ``[M, T, C]`` scalar columns (see scalars.py).
        layout: the task's flat layout; ``seeds``/``mults``: S and M.
    """

    def __init__(self, encoded: Sequence[Encoded], tables: Sequence[Tensor], layout: Layout,
                 seeds: int, mults: int, device: torch.device, dtype: torch.dtype) -> None:
        self.encoded = list(encoded)
        self.layout = layout
        self.S, self.N, self.M = seeds, len(self.encoded), mults
        self.device, self.dtype = device, dtype
        P = layout.size
        self.state = [[torch.zeros(seeds, mults, P, device=device, dtype=dtype)
                       for _ in range(e.n_state)] for e in self.encoded]
        self.uniform: list[list[list[float]]] = []   # [program][t] -> column values
        self.varying: list[dict[int, Tensor]] = []   # [program] column -> [M, T] tensor
        for e, tab in zip(self.encoded, tables):
            same = (tab == tab[:1]).all(0).all(0) if tab.numel() else torch.ones(0, dtype=torch.bool)
            self.uniform.append(tab[0].tolist())
            self.varying.append({c: tab[:, :, c].to(device=device, dtype=dtype)
                                 for c in range(tab.shape[2]) if not bool(same[c])})
        self.pieces = [(s.offset, s.offset + s.numel, s.shape) for s in layout.segments]

    def _run(self, enc: Encoded, w: Tensor, g: Tensor, state: list[Tensor], uni: list[float],
             var: dict[int, Tensor], step: int, shape: tuple[int, ...] | None):
        """One program on one piece: the whole row (shape None) or one parameter tensor."""
        S, M = w.shape[0], w.shape[1]
        full = (S, M, *shape) if shape is not None else w.shape
        lane_shape = (1, M) + (1,) * (len(full) - 2)
        regs: list = [None] * N_REG
        regs[0], regs[1] = w.reshape(full), g.reshape(full)
        for i, s in enumerate(state):
            regs[2 + i] = s.reshape(full)

        def operand(o: int):
            if o < N_REG:
                return regs[o]
            c = o - N_REG
            return var[c][:, step].view(lane_shape) if c in var else uni[c]

        seg = [False] * N_REG          # holds one number per tensor (a reduction's result)
        for ins in enc.instrs:
            prim = REGISTRY[ins.op]
            args = [operand(o) for o in ins.args]
            tensor_seg = [seg[o] for o in ins.args if o < N_REG]
            if prim.kind == "elementwise":
                regs[ins.dst] = prim.torch(*args[:prim.arity])   # interp may carry 1 - a
                seg[ins.dst] = all(tensor_seg)
                continue
            seg[ins.dst] = True
            if all(tensor_seg):
                # the reference sees 0-d tensors here: a one-element tensor's scalar form
                regs[ins.dst] = self._scalar_form(prim, args)
            else:
                args = [a if isinstance(a, Tensor) else torch.full(lane_shape, a, dtype=self.dtype,
                                                                    device=self.device)
                        for a in args]
                regs[ins.dst] = prim.torch(*args, lane_dims=2)
                seg[ins.dst] = prim.kind == "reduction"
        new_w = regs[0] - operand(enc.update)
        new_w = torch.broadcast_to(new_w, full).reshape(w.shape)
        new_state = [torch.broadcast_to(torch.as_tensor(operand(o), dtype=self.dtype,
                                                        device=self.device), full).reshape(w.shape)
                     for o in enc.state_out]
        return new_w, new_state

    def _scalar_form(self, prim, args: list) -> Tensor:
        """``prim`` on each lane's one-element tensors, as 0-d tensors (vmap over lanes)."""
        tensors = [a for a in args if isinstance(a, Tensor)]
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        flat = [a.expand(shape).reshape(-1) if isinstance(a, Tensor) else a for a in args]
        dims = tuple(0 if isinstance(a, Tensor) else None for a in flat)

        def one(*xs):
            return torch.as_tensor(prim.torch(*xs, lane_dims=0), dtype=self.dtype,
                                   device=self.device).reshape(())

        return torch.func.vmap(one, in_dims=dims)(*flat).view(shape)

    def __call__(self, flat: Tensor, grad: Tensor, step: int, active: Tensor) -> Tensor:
        """Apply step ``step`` (0-based) in place; returns lanes made non-finite ``[S, N, M]``.

        ``active [S, N, M]`` bool: inactive lanes (diverged, stopped) keep their values.
        """
        S, N, M, P = self.S, self.N, self.M, self.layout.size
        w4 = flat.view(S, N, M, P)
        g4 = grad.view(S, N, M, P)
        bad = torch.zeros(S, N, M, dtype=torch.bool, device=flat.device)
        any_active = active.any(2).any(0).tolist()
        for n, enc in enumerate(self.encoded):
            if not any_active[n]:
                continue
            uni = self.uniform[n][step] if self.uniform[n] else []
            var = self.varying[n]
            w = w4[:, n]
            if enc.elementwise_only:
                new_w, new_state = self._run(enc, w, g4[:, n], self.state[n], uni, var, step, None)
            else:
                new_w = torch.empty_like(w)
                new_state = [torch.empty_like(w) for _ in enc.state_out]
                for lo, hi, shape in self.pieces:
                    pw, ps = self._run(enc, w[..., lo:hi], g4[:, n, :, lo:hi],
                                       [s[..., lo:hi] for s in self.state[n]], uni, var, step, shape)
                    new_w[..., lo:hi] = pw
                    for dst, src in zip(new_state, ps):
                        dst[..., lo:hi] = src
            ok = torch.isfinite(new_w).all(-1)
            for s in new_state:
                ok &= torch.isfinite(s).all(-1)
            act = active[:, n]
            bad[:, n] = act & ~ok
            mask = act.unsqueeze(-1)
            w.copy_(torch.where(mask, new_w, w))
            for i, s in enumerate(new_state):
                self.state[n][i] = torch.where(mask, s.to(self.dtype), self.state[n][i])
        return bad
