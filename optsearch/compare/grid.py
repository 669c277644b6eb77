"""Learning-rate grids: where each optimizer's sweep looks.

Rules differ in how big a step one unit of ``lr`` makes: Adam-like rules move each weight
by about ``lr`` (their update is normalised), sign rules (Lion) by exactly ``lr``, SGD by
``lr`` times the gradient. A shared grid would waste most of its points on every rule, so
``auto`` centres the grid per rule: a short probe (a few steps at a tiny lr, which leaves
the model as it is) measures the update size per unit lr, ``s``, on the task's own
gradients, and the centre is ``task.lr * s_adamw / s_rule`` -- the lr that makes the rule
move the weights as much as tuned AdamW does. It thereby finds the rule's family (SGD-like,
Adam-like, sign-like) by measurement rather than by name. Centres snap to half-decades so
that all rules share grid points; the sweep adds points beyond an edge when the best lr
lies on it.
"""

from __future__ import annotations

import math

import torch

from optsearch.compare.candidates import Candidate, CandidateError, describe_error
from optsearch.compare.task import CompareTask

HALF_DECADES = 2  # grid points per decade
FIXED_GRID = tuple(10 ** (k / HALF_DECADES) for k in range(-5 * HALF_DECADES, 1))  # 1e-5..1


def snap(lr: float) -> float:
    """The nearest half-decade (1e-3, 3.16e-3, 1e-2, ...), as a float."""
    return 10 ** (round(math.log10(lr) * HALF_DECADES) / HALF_DECADES)


def grid_around(centre: float, points: int) -> list[float]:
    """``points`` half-decade-spaced lrs centred on ``snap(centre)``, ascending."""
    k0 = round(math.log10(centre) * HALF_DECADES)
    lo = k0 - (points - 1) // 2
    return [10 ** (k / HALF_DECADES) for k in range(lo, lo + points)]


def neighbour(lr: float, direction: int) -> float:
    """The next half-decade grid point below (-1) or above (+1) ``lr``."""
    k = round(math.log10(lr) * HALF_DECADES) + direction
    return 10 ** (k / HALF_DECADES)


def update_scale(task: CompareTask, candidate: Candidate, device: str | torch.device,
                 steps: int = 5) -> float:
    """RMS weight change per unit lr over ``steps`` steps at a tiny lr (seed 0).

    Raises:
        CandidateError: the optimizer raised, or moves nothing / non-finite amounts.
    """
    dev = torch.device(device)
    data = task.data(dev)
    model = task.make_model(0).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    n = sum(p.numel() for p in params)
    lr = task.lr * 1e-3
    try:
        opt = candidate.make(params, lr)
        ratios = []
        for x, y in task.batches(data, 0, steps):
            before = [p.detach().clone() for p in params]
            opt.zero_grad(set_to_none=True)
            task.loss(model, x, y).backward()
            opt.step()
            sq = sum(float((p.detach() - b).double().pow(2).sum()) for p, b in zip(params, before))
            ratios.append(math.sqrt(sq / n) / lr)
    except Exception as e:  # noqa: BLE001 - the optimizer's own failure, reported per candidate
        raise CandidateError(f"{candidate.label}: the optimizer raised on task {task.name!r}: "
                             f"{describe_error(e, candidate.source)}") from None
    scale = sum(ratios) / len(ratios)
    if not math.isfinite(scale) or scale <= 0:
        raise CandidateError(f"{candidate.label}: its update on task {task.name!r} is "
                             f"{'zero' if scale == 0 else scale} at every probe step; "
                             f"cannot centre an lr grid (pass --lrs grid or a list)")
    return scale


def auto_centre(task: CompareTask, scale: float, adamw_scale: float) -> float:
    """The rule's grid centre: the lr at which it moves weights as far as AdamW at task.lr."""
    return snap(task.lr * adamw_scale / scale)
