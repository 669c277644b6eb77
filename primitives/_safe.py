"""Small helpers shared by primitive definitions (tensor/float mixing, float64 scalars)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor

Value = Tensor | float


def tensor_like(x: Value, other: Value) -> Tensor:
    """``x`` as a tensor on ``other``'s device and dtype (ops like maximum need tensors)."""
    if isinstance(x, Tensor):
        return x
    ref = other if isinstance(other, Tensor) else None
    if ref is None:
        return torch.tensor(x, dtype=torch.float64)
    return torch.tensor(x, dtype=ref.dtype, device=ref.device)


def tiny(x: Value) -> float:
    """Smallest positive normal number of ``x``'s dtype (float64 for Python floats)."""
    if isinstance(x, Tensor) and x.is_floating_point():
        return torch.finfo(x.dtype).tiny
    return float(np.finfo(np.float64).tiny)


def np_scalar(fn: Callable[..., np.floating]) -> Callable[..., float]:
    """Wrap a numpy float64 function as a never-raising Python-float function.

    Overflow gives inf and invalid input gives nan, exactly as the tensor ops do,
    instead of Python's ``OverflowError``/``ValueError`` from ``math``.
    """

    def scalar(*args: float) -> float:
        with np.errstate(all="ignore"):
            return float(fn(*(np.float64(a) for a in args)))

    scalar.__name__ = getattr(fn, "__name__", "scalar")
    scalar.__doc__ = f"float64 form of {scalar.__name__}"
    # callers folding many constants enter np.errstate once and call this directly
    scalar.np_fn = fn  # type: ignore[attr-defined]
    return scalar


def is_finite(x: float) -> bool:
    return math.isfinite(x)
