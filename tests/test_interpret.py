"""Reference interpreter: state carried across steps, dtypes, devices, lanes."""

from __future__ import annotations

import pytest
import torch

from optsearch import interpret, parse

MOMENTUM = parse("def mom(w, g, lr, beta=0.9):\n    m = beta * m + g\n    return lr * m\n")


def test_state_and_update():
    w = torch.zeros(3, dtype=torch.float64)
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    state = interpret.init_state(MOMENTUM, w)
    u1, state = interpret.step(MOMENTUM, w, g, 0.1, 1, state)
    u2, state = interpret.step(MOMENTUM, w, g, 0.1, 2, state)
    torch.testing.assert_close(u1, 0.1 * g)
    torch.testing.assert_close(u2, 0.1 * (0.9 * g + g))
    torch.testing.assert_close(state["m"], 1.9 * g)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtypes_and_shapes(dtype):
    p = parse("def f(w, g, lr, t):\n    v = interp(g * g, v, 0.99)\n"
              "    return lr * g / (sqrt(v / (1 - 0.99 ** t)) + 1e-8) + 0.0 * norm(w)\n")
    for shape in [(), (5,), (2, 3, 4)]:
        w = torch.randn(shape).to(dtype)
        g = torch.randn(shape).to(dtype)
        u, st = interpret.step(p, w, g, 1e-3, 1, interpret.init_state(p, w))
        assert u.shape == w.shape and u.dtype == dtype and st["v"].dtype == dtype


def test_scalar_update_is_broadcast():
    p = parse("def f(w, g, lr):\n    return lr * norm(g)\n")
    u, _ = interpret.step(p, torch.zeros(2, 2), torch.ones(2, 2), 0.5, 1, {})
    torch.testing.assert_close(u, torch.full((2, 2), 1.0))


def test_lanes_with_per_lane_hyperparameters():
    p = parse("def f(w, g, lr, b=0.5):\n    return lr * b * g / norm(g)\n")
    g = torch.randn(4, 3, 2)
    b = torch.tensor([0.1, 0.2, 0.3, 0.4]).view(4, 1, 1)
    u, _ = interpret.step(p, torch.zeros_like(g), g, 1.0, 1, {}, {"b": b}, lane_dims=1)
    for i in range(4):
        one, _ = interpret.step(p, torch.zeros_like(g[i]), g[i], 1.0, 1, {}, {"b": float(b[i])})
        torch.testing.assert_close(u[i], one)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    p = parse("def f(w, g, lr):\n    m = interp(g, m, 0.9)\n    return lr * sign(m) + 0.1 * w\n")
    w = torch.randn(100, dtype=torch.float64)
    g = torch.randn(100, dtype=torch.float64)
    u_cpu, _ = interpret.step(p, w, g, 0.1, 1, interpret.init_state(p, w))
    u_gpu, _ = interpret.step(p, w.cuda(), g.cuda(), 0.1, 1, interpret.init_state(p, w.cuda()))
    torch.testing.assert_close(u_gpu.cpu(), u_cpu)
