"""Runtime of generated optimizers: the base class, and the helpers generated code calls.

This module depends only on torch and the standard library, because ``optsearch export``
copies its text (from the ``# ---- runtime`` marker on) into every standalone optimizer file:
the library and an exported file run the same code. Generated code (see compile/pygen.py)
supplies three functions per program: ``_host`` (host scalars, float64), ``_eager`` (one
tensor) and ``_foreach`` (lists of tensors).
"""

from __future__ import annotations

# ---- runtime (copied verbatim into exported files) ----
import math
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import Tensor

_TINY64 = 2.2250738585072014e-308
_INF = float("inf")
_NAN = float("nan")


# Tensor helpers named in the primitives' codegen templates. Each mirrors the primitive's
# torch form (primitives/*.py) for one tensor; tests/compile checks that they agree.
def _t(x: Any, like: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(like, Tensor):
        return torch.tensor(x, dtype=like.dtype, device=like.device)
    return torch.tensor(x, dtype=torch.float64)


def _div(x: Any, y: Any) -> Any:
    if isinstance(y, Tensor):
        return torch.where(y == 0, 0.0, x / y)
    return x / y if y != 0 else x * 0.0


def _rsqrt(x: Tensor) -> Tensor:
    return torch.where(x == 0, 0.0, torch.rsqrt(torch.abs(x)))


def _log(x: Tensor) -> Tensor:
    return torch.log(torch.abs(x) + torch.finfo(x.dtype).tiny)


def _clip(x: Any, c: Any) -> Tensor:
    bound = torch.abs(_t(c, x))
    return torch.minimum(torch.maximum(_t(x, c), -bound), bound)


def _maximum(x: Any, y: Any) -> Tensor:
    return torch.maximum(_t(x, y), _t(y, x))


def _minimum(x: Any, y: Any) -> Tensor:
    return torch.minimum(_t(x, y), _t(y, x))


def _norm(x: Tensor) -> Tensor:
    return torch.sqrt(torch.sum(x * x))


def _rms(x: Tensor) -> Tensor:
    return torch.sqrt(torch.mean(x * x))


def _mean(x: Tensor) -> Tensor:
    return torch.mean(x)


def _dot(x: Any, y: Any) -> Tensor:
    return torch.sum(x * y)


def _amax(x: Tensor) -> Tensor:
    return torch.amax(x)


def _count(x: Tensor, value: float) -> Tensor:
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    return torch.full((), value, dtype=dtype, device=x.device)


def _numel(x: Tensor) -> Tensor:
    return _count(x, float(x.numel()))


def _rowdot(x: Any, y: Any) -> Tensor:
    p = x * y
    dims = tuple(range(1, p.ndim))
    return torch.sum(p, dim=dims, keepdim=True) if dims else p


def _rowsize(x: Tensor) -> Tensor:
    return _count(x, float(math.prod(x.shape[1:])))


def _ndim(x: Tensor) -> Tensor:
    return _count(x, float(x.ndim))


# Host helpers: the primitives' scalar forms on Python floats, never raising
# (overflow gives inf, invalid input nan, division by zero 0), as numpy float64 does.
def _f64(x: float) -> Tensor:
    return torch.tensor(x, dtype=torch.float64)


def _hdiv(x: float, y: float) -> float:
    return x / y if y != 0 else 0.0 * x


def _hpow(x: float, y: float) -> float:
    try:
        return abs(x) ** y
    except ZeroDivisionError:  # 0 ** negative
        return _INF
    except OverflowError:
        return _INF


def _hexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return _INF


def _hsqrt(x: float) -> float:
    return math.sqrt(abs(x))


def _hrsqrt(x: float) -> float:
    return 0.0 if x == 0 else 1.0 / math.sqrt(abs(x))


def _hlog(x: float) -> float:
    return math.log(abs(x) + _TINY64)


def _hsign(x: float) -> float:
    return x if x != x else float((x > 0) - (x < 0))


def _hsigmoid(x: float) -> float:
    return 1.0 / (1.0 + _hexp(-x))


def _hasin(x: float) -> float:
    return x if x != x else math.asin(min(max(x, -1.0), 1.0))


def _hsinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(_INF, x)


def _hcosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return _INF


def _hsin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else _NAN


def _hcos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else _NAN


def _hmax(x: float, y: float) -> float:
    return x if (x > y or x != x) else y


def _hmin(x: float, y: float) -> float:
    return x if (x < y or x != x) else y


def _hclip(x: float, c: float) -> float:
    return _hmin(_hmax(x, -abs(c)), abs(c))


def _hgt(x: float, y: float) -> float:
    return 1.0 if x > y else 0.0


# foreach helpers
def _slot(ws: dict | None, k: int, like: list[Tensor]) -> list[Tensor]:
    """Scratch list ``k`` shaped like ``like``: reused across steps when ``ws`` is a dict."""
    if ws is None:
        return [torch.empty_like(x) for x in like]
    got = ws.get(k)
    if got is None or len(got) != len(like) or any(
            a.shape != b.shape or a.dtype != b.dtype for a, b in zip(got, like)):
        got = ws[k] = [torch.empty_like(x) for x in like]
    return got


def _safe_div_(q: list[Tensor], y: list) -> None:
    """``q <- q / y``, and 0 where ``y == 0`` (the safe division), in place."""
    for a, b in zip(q, y):
        a.copy_(_div(a, b))


def _addcdiv_safe_(w: list[Tensor], x: list[Tensor], y: list[Tensor], value: float) -> None:
    """``w <- w + value * x / y`` with the safe division (0 where ``y == 0``), in place."""
    for a, b, c in zip(w, x, y):
        a.add_(_div(b, c), alpha=value)


# Validation
def _number(name: str, value: Any, where: str = "") -> float:
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"Invalid {name}{where}: {value!r} (must be a real number)")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Invalid {name}{where}: {value} (must be finite)")
    return value


def _domain(name: str, default: float) -> tuple[float, float] | None:
    """Conventional range of a hyperparameter, by name, when its default lies in it."""
    if name == "lr" or name in ("eps", "wd", "weight_decay", "lr_decay") or name.startswith("eps"):
        lo, hi = 0.0, _INF
    elif name.startswith("beta") or name in ("momentum", "rho", "dampening"):
        lo, hi = 0.0, 1.0
    else:
        return None
    return (lo, hi) if lo <= default <= hi else None


def _check(name: str, value: Any, default: float, where: str = "") -> float:
    value = _number(name, value, where)
    dom = _domain(name, default)
    if dom is not None and not dom[0] <= value <= dom[1]:
        rng = f">= {dom[0]:g}" if dom[1] == _INF else f"in [{dom[0]:g}, {dom[1]:g}]"
        raise ValueError(f"Invalid {name}{where}: {value} (must be {rng})")
    return value


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """State and arithmetic precision: float32 for 16-bit parameters, else their own."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class GeneratedOptimizer(torch.optim.Optimizer):
    """Base of every generated optimizer (torch.optim conventions).

    Subclasses set ``hyperparameters`` (name -> default, in signature order),
    ``state_names`` and the generated ``_host``/``_eager``/``_foreach`` functions.
    Per-parameter state: ``t`` (steps taken; ``t`` is the program's step input, so no
    program state variable can share its name) and one tensor per state variable, float32
    for 16-bit parameters. Paths: ``foreach`` (default) or, with ``foreach=False``, one
    tensor at a time; ``fused`` needs optsearch's Triton kernels (see ProgramOptimizer).
    """

    hyperparameters: ClassVar[dict[str, float]] = {}
    state_names: ClassVar[tuple[str, ...]] = ()
    _host: ClassVar[Callable]
    _eager: ClassVar[Callable]
    _foreach: ClassVar[Callable]

    def __init__(self, params: Iterable, lr: float = 1e-3, *, maximize: bool = False,
                 foreach: bool | None = None, fused: bool | None = None,
                 **hyperparameters: Any) -> None:
        name = type(self).__name__
        unknown = sorted(set(hyperparameters) - set(self.hyperparameters))
        if unknown:
            raise TypeError(f"{name}() got unexpected keyword argument(s) {unknown}; its "
                            f"hyperparameters are {list(self.hyperparameters)}")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults: dict[str, Any] = {"lr": _check("lr", lr, 1e-3)}
        for k, d in self.hyperparameters.items():
            defaults[k] = _check(k, hyperparameters.get(k, d), d)
        defaults.update(maximize=bool(maximize), foreach=foreach, fused=fused)
        super().__init__(params, defaults)
        if fused:
            self._check_fused()

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        where = f" in param group {len(self.param_groups) - 1}"
        self._validate(group, where)
        for i, p in enumerate(group["params"]):
            if not p.is_floating_point() or p.is_complex():
                raise ValueError(f"{type(self).__name__} supports real floating-point "
                                 f"parameters only; parameter {i}{where} is {p.dtype}")
        if group.get("fused") and group.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _validate(self, group: dict, where: str = "") -> list[float]:
        group["lr"] = _check("lr", group["lr"], 1e-3, where)
        return [_check(k, group[k], d, where) for k, d in self.hyperparameters.items()]

    def _check_fused(self) -> None:
        raise RuntimeError(f"{type(self).__name__}: fused=True needs optsearch's Triton "
                           "kernels (optsearch.compile); this class runs foreach or eager")

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("fused", None)
            for k, d in self.hyperparameters.items():
                group.setdefault(k, d)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict saved by this class; 16-bit parameters keep float32 state."""
        saved = state_dict["state"]
        super().load_state_dict({**state_dict, "state": {}})
        params = [p for group in self.param_groups for p in group["params"]]
        for key, values in saved.items():
            p = params[int(key)]
            st: dict[str, Any] = {}
            for k, v in values.items():
                if isinstance(v, Tensor) and v.is_floating_point() and k in self.state_names:
                    v = v.to(device=p.device, dtype=_compute_dtype(p.dtype), copy=True)
                elif isinstance(v, Tensor) and k == "t":
                    v = int(v.item())
                st[k] = v
            self.state[p] = st

    def _state_of(self, p: Tensor) -> dict:
        st = self.state[p]
        if not st:
            st["t"] = 0
            dtype = _compute_dtype(p.dtype)
            for n in self.state_names:
                st[n] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)
        return st

    def _grads(self, group: dict, gi: int) -> tuple[list[Tensor], list[Tensor]]:
        """The group's parameters that have gradients, and the gradients."""
        params = group["params"]
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            params = [p for p, g in zip(params, grads) if g is not None]
            grads = [g for g in grads if g is not None]
        if any(g.is_sparse for g in grads):
            i = next(i for i, p in enumerate(group["params"]) if p.grad is not None and p.grad.is_sparse)
            raise RuntimeError(f"{type(self).__name__} does not support sparse gradients "
                               f"(parameter {i} in param group {gi})")
        return params, grads

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            self._step_one(group, gi)
        return loss

    def _step_one(self, group: dict, gi: int) -> None:
        hyper = self._hyper(group, gi)
        params, grads = self._grads(group, gi)
        if params:
            self._step_group(group, hyper, params, grads)

    def _hyper(self, group: dict, gi: int) -> list[float]:
        """The group's validated hyperparameters (validated again only when they change)."""
        raw = (group["lr"], *[group[k] for k in self.hyperparameters])
        cache = self.__dict__.setdefault("_hyper_cache", {})
        hit = cache.get(id(group))
        if hit is not None and hit[0] == raw:
            return hit[1]
        values = self._validate(group, f" in param group {gi}")
        if all(type(x) is float for x in raw):
            cache[id(group)] = (raw, values)
        return values

    def _step_group(self, group: dict, hyper: list[float], params: list[Tensor],
                    grads: list[Tensor]) -> None:
        if group.get("fused"):
            self._check_fused()
        if group.get("foreach") is False:
            self._step_eager(group, hyper, params, grads)
        else:
            self._step_foreach(group, hyper, params, grads)

    def _step_eager(self, group: dict, hyper: list[float], params: list[Tensor],
                    grads: list[Tensor]) -> None:
        host: dict[int, tuple] = {}
        for p, g in zip(params, grads):
            st = self._state_of(p)
            st["t"] += 1
            t = st["t"]
            if t not in host:
                host[t] = type(self)._host(group["lr"], float(t), *hyper)
            dtype = _compute_dtype(p.dtype)
            w = p if p.dtype == dtype else p.to(dtype)
            g = g.to(dtype)
            if group["maximize"]:
                g = torch.neg(g)
            type(self)._eager(w, g, *[st[n] for n in self.state_names], *host[t])
            if w is not p:
                p.copy_(w)

    def _step_foreach(self, group: dict, hyper: list[float], params: list[Tensor],
                      grads: list[Tensor]) -> None:
        buckets: dict[tuple, tuple[list[Tensor], list[Tensor], list[dict]]] = {}
        for p, g in zip(params, grads):
            st = self._state_of(p)
            st["t"] += 1
            key = (p.device, p.dtype, g.dtype, st["t"])
            b = buckets.setdefault(key, ([], [], []))
            b[0].append(p)
            b[1].append(g)
            b[2].append(st)
        if not hasattr(self, "_scratch"):
            self._scratch: dict[tuple, dict] = {}
        for (device, dtype, _, t), (ps, gs, sts) in buckets.items():
            cdt = _compute_dtype(dtype)
            ws = ps if dtype == cdt else [p.to(cdt) for p in ps]
            if gs[0].dtype != cdt:
                gs = [g.to(cdt) for g in gs]
            if group["maximize"]:
                gs = torch._foreach_neg(gs)
            # CPU allocation is slow, so scratch lists persist there; CUDA's caching
            # allocator makes fresh ones cheap and keeps memory free between steps.
            scratch = self._scratch.setdefault(tuple(map(id, ps)), {}) if device.type == "cpu" else None
            host = type(self)._host(group["lr"], float(t), *hyper)
            states = [[st[n] for st in sts] for n in self.state_names]
            type(self)._foreach(ws, gs, *states, *host, scratch)
            if ws is not ps:
                torch._foreach_copy_(ps, ws)
