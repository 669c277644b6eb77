"""The generated ``torch.optim.Optimizer`` for a program, following torch.optim conventions.

``compile_program(program)`` lowers the program (compile/lower.py), generates its host,
eager and foreach functions (compile/pygen.py, compile/foreach.py) and returns a subclass
of :class:`ProgramOptimizer`. Three paths run the same rule:

- ``fused``: one generated Triton kernel per program covering many tensors per launch
  (compile/fused.py); the default for CUDA parameters of 32- and 16-bit float types;
- ``foreach``: ``torch._foreach_*`` calls over lists of tensors; the default elsewhere;
- eager (``foreach=False``): one tensor at a time, a direct transcription of the templates.

16-bit parameters keep float32 state and compute in float32 on every path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor
from torch.optim import optimizer as _torch_optimizer

from optsearch.analysis import state_vars
from optsearch.compile import pygen
from optsearch.compile.lower import Plan, lower
from optsearch.compile.runtime import GeneratedOptimizer
from optsearch.program import Program


class ProgramOptimizer(GeneratedOptimizer):
    """Base of every compiled program optimizer; subclasses set ``program`` and ``plan``.

    Constructor: ``(params, lr=1e-3, *, maximize=False, foreach=None, fused=None,
    **hyperparameters)``, hyperparameters defaulting to the program's. Per-parameter
    state: ``t`` (steps taken) and the program's state variables, created on the first
    step. ``fused`` and ``foreach`` follow torch.optim: both ``True`` is an error; both
    ``None`` picks fused for CUDA parameters (when Triton is importable), else foreach.
    """

    program: ClassVar[Program]
    plan: ClassVar[Plan]

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss.

        Groups already running fused take a short path: a few list comparisons, the host
        scalars and the launches. Hooks, the profiler and closures take torch.optim's usual
        wrapper (``profile_hook_step``), which costs tens of microseconds a step.
        """
        cache = self.__dict__.get("_fused_cache")
        if closure is not None or not cache or _hooked(self):
            return _HOOKED_STEP(self, closure)
        from optsearch.compile import fused

        with torch.no_grad():
            for gi, group in enumerate(self.param_groups):
                entry = cache.get(id(group))
                if entry is None or not fused.fast_step(self, entry, group, gi):
                    self._step_one(group, gi)
        return None

    step.hooked = True  # type: ignore[attr-defined]  # torch.optim must not wrap it again

    def state_dict(self) -> dict:
        self._sync_steps()
        return super().state_dict()

    def __getstate__(self) -> dict:
        self._sync_steps()
        return super().__getstate__()

    def _sync_steps(self) -> None:
        """Write the fused buckets' step counts back into the per-parameter state."""
        from optsearch.compile import fused

        for entry in self.__dict__.get("_fused_cache", {}).values():
            fused.sync_steps(entry)

    def _check_fused(self) -> None:
        from optsearch.compile import fused

        for gi, group in enumerate(self.param_groups):
            if group.get("fused"):
                problem = fused.unsupported(self.plan, group["params"])
                if problem:
                    raise RuntimeError(f"{type(self).__name__}: fused=True in param group "
                                       f"{gi}: {problem}")

    def add_param_group(self, param_group: dict) -> None:
        if "_fused_cache" in self.__dict__:
            self._sync_steps()
        super().add_param_group(param_group)
        self._fused_cache = {}
        if self.param_groups[-1].get("fused") and len(self.param_groups) > 1:
            self._check_fused()

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._fused_cache = {}  # kernel tables point at the replaced state tensors

    def _step_group(self, group: dict, hyper: list[float], params: list[Tensor],
                    grads: list[Tensor]) -> None:
        flag, foreach = group.get("fused"), group.get("foreach")
        cache = self.__dict__.setdefault("_fused_cache", {})
        if flag is False or foreach is not None:
            if id(group) in cache:  # the group left the fused path: its steps live in state
                from optsearch.compile import fused

                fused.sync_steps(cache.pop(id(group)))
        elif flag or params[0].is_cuda:
            from optsearch.compile import fused

            if flag or (fused.available() and fused.plan_supported(self.plan)):
                rest = fused.step(self, group, hyper, params, grads)
                if not rest:
                    return
                params, grads = rest
                group = {**group, "fused": False}
        super()._step_group(group, hyper, params, grads)


_HOOKED_STEP = torch.optim.Optimizer.profile_hook_step(GeneratedOptimizer.step)


def _hooked(opt: torch.optim.Optimizer) -> bool:
    """Does anything observe steps (hooks, the autograd profiler)?"""
    return bool(opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
                or getattr(_torch_optimizer, "_global_optimizer_pre_hooks", None)
                or getattr(_torch_optimizer, "_global_optimizer_post_hooks", None)
                or torch.autograd._profiler_enabled())


@lru_cache(maxsize=256)
def _generated(program: Program) -> tuple[Plan, dict[str, Callable]]:
    plan = lower(program)
    return plan, pygen.load(plan)


def compile_program(program: Program, class_name: str | None = None) -> type[ProgramOptimizer]:
    """A ``torch.optim.Optimizer`` subclass that runs ``program`` (see module docstring)."""
    plan, fns = _generated(program)
    name = class_name or "".join(part.capitalize() for part in program.name.split("_"))
    doc = (program.doc or f"The {program.name} rule.").strip() + "\n\nThe rule::\n\n" + "".join(
        f"    {line}\n" for line in str(program).splitlines())
    attrs: dict[str, Any] = {
        "program": program, "plan": plan, "__doc__": doc, "__module__": __name__,
        "hyperparameters": dict(program.hyperparams), "state_names": state_vars(program),
        **{k: staticmethod(f) for k, f in fns.items()}}
    return type(name, (ProgramOptimizer,), attrs)
