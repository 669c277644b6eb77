"""Batched MLP pieces shared by the MLP tasks (digits, MNIST-1D, teacher-student)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from proxy_tasks.base import Params, lane_linear

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu,
    "silu": torch.nn.functional.silu,
}


def activation(name: object) -> Callable[[Tensor], Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]  # type: ignore[index]


def mlp_shapes(sizes: list[int]) -> list[tuple[str, tuple[int, ...]]]:
    out: list[tuple[str, tuple[int, ...]]] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out += [(f"w{i}", (b, a)), (f"b{i}", (b,))]
    return out


def mlp_init(gen: torch.Generator, sizes: list[int], scale: float = 1.0) -> dict[str, Tensor]:
    """He-style uniform init (as nn.Linear's bound 1/sqrt(fan_in), times ``scale``)."""
    params: dict[str, Tensor] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = scale / math.sqrt(a)
        params[f"w{i}"] = (torch.rand(b, a, generator=gen) * 2 - 1) * bound
        params[f"b{i}"] = (torch.rand(b, generator=gen) * 2 - 1) * bound
    return params


def mlp_forward(params: Params, x: Tensor, layers: int, act: Callable[[Tensor], Tensor]) -> Tensor:
    h = x
    for i in range(layers):
        h = lane_linear(h, params[f"w{i}"], params[f"b{i}"])
        if i < layers - 1:
            h = act(h)
    return h
