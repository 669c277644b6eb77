"""The generated ``torch.optim.Optimizer`` for a program, following torch.optim conventions."""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import Tensor

from optsearch import interpret
from optsearch.analysis import state_vars
from optsearch.program import Program


def _check_hyper(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, Tensor) and value.numel() == 1:
            value = float(value)
        else:
            raise ValueError(f"Invalid {name}: {value!r} (must be a real number)")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value} (must be finite)")
    return value


class ProgramOptimizer(torch.optim.Optimizer):
    """Base of every compiled program optimizer; subclasses set ``program``.

    Hyperparameters are the program's keyword parameters (per param group, like
    torch.optim's betas/eps). State per parameter: ``step`` and the program's state
    variables, created lazily on the first step.
    """

    program: ClassVar[Program]

    def __init__(self, params: Iterable, lr: float = 1e-3, *, maximize: bool = False,
                 **hyperparams: float) -> None:
        lr = _check_hyper("lr", lr)
        if lr < 0:
            raise ValueError(f"Invalid lr: {lr} (must be >= 0)")
        defaults: dict[str, Any] = {"lr": lr, "maximize": bool(maximize)}
        known = self.program.defaults
        unknown = sorted(set(hyperparams) - set(known))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected hyperparameter(s) {unknown}; "
                            f"valid: {sorted(known)}")
        for k, v in known.items():
            defaults[k] = _check_hyper(k, hyperparams.get(k, v))
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        for k in self.program.defaults:
            group[k] = _check_hyper(k, group[k])
        if _check_hyper("lr", group["lr"]) < 0:
            raise ValueError(f"Invalid lr: {group['lr']} (must be >= 0)")

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)
            for k, v in self.program.defaults.items():
                group.setdefault(k, v)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        names = state_vars(self.program)
        for group in self.param_groups:
            self._validate_group(group)
            hyper = {k: group[k] for k in self.program.defaults}
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if g.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                if torch.is_complex(p):
                    raise RuntimeError(f"{type(self).__name__} does not support complex parameters")
                if group["maximize"]:
                    g = -g
                st = self.state[p]
                if not st:
                    st["step"] = torch.tensor(0.0)
                    st.update(interpret.init_state(self.program, p))
                st["step"] += 1
                current = {n: st[n] for n in names}
                update, new = interpret.step(self.program, p, g, group["lr"],
                                             int(st["step"].item()), current, hyper)
                p.sub_(update)
                for n in names:
                    st[n].copy_(new[n])
        return loss


def compile_program(program: Program, class_name: str | None = None) -> type[ProgramOptimizer]:
    """A ``torch.optim.Optimizer`` subclass that runs ``program``."""
    name = class_name or "".join(part.capitalize() for part in program.name.split("_"))
    doc = (program.doc or f"The {program.name} rule.") + "\n\n" + str(program)
    return type(name, (ProgramOptimizer,), {"program": program, "__doc__": doc,
                                            "__module__": __name__})
