"""Shaped primitives (rowdot, rowsize, ndim): every form agrees, lanes stay apart.

The registry test covers elementwise and per-tensor reductions; shaped primitives need the
shape, so their sympy forms take ``sympy.Array``s and are checked here, parametrised over
``names("shaped")`` so that a new shaped primitive is tested the moment it is added.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from optsearch import interpret, parse
from primitives import REGISTRY, names

SHAPED = names("shaped")
SHAPES = [(3, 4), (2, 3, 2), (5,), ()]


def _tensors(name: str, shape: tuple[int, ...], seed: int = 0) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.tensor(rng.normal(size=shape)) for _ in range(REGISTRY[name].arity)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", SHAPED)
def test_torch_and_sympy_agree(name: str, shape: tuple[int, ...]):
    p = REGISTRY[name]
    xs = _tensors(name, shape)
    got = p.torch(*xs)
    sym = p.sympy(*[sp.Array(x.tolist()) if x.ndim else sp.Array(float(x)) for x in xs])
    if isinstance(sym, sp.NDimArray):
        sym = sym[()] if sym.rank() == 0 else sym.tolist()
    want = torch.tensor(np.array(sym, dtype=np.float64))
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want.reshape(got.shape), rtol=1e-12, atol=1e-12)
    # the result broadcasts back against the argument
    assert torch.broadcast_shapes(got.shape, xs[0].shape) == xs[0].shape


@pytest.mark.parametrize("name", SHAPED)
def test_lanes_are_kept_apart(name: str):
    p = REGISTRY[name]
    xs = _tensors(name, (3, 4, 5), seed=1)
    lanes = p.torch(*xs, lane_dims=1)
    assert lanes.shape[0] == 3 and lanes.ndim == 3
    for i in range(3):
        one = p.torch(*[x[i] for x in xs])
        torch.testing.assert_close(lanes[i], one.expand_as(lanes[i]) if one.ndim < 2 else one,
                                   rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", SHAPED)
def test_scalar_form_is_a_zero_dim_tensor(name: str):
    p = REGISTRY[name]
    for v in (-2.5, 0.0, 3.0):
        args = [v] * p.arity
        assert math.isclose(p.scalar(*args),
                            float(p.torch(*[torch.tensor(a, dtype=torch.float64) for a in args])))


@pytest.mark.parametrize("name", SHAPED)
def test_safe_on_special_values(name: str):
    p = REGISTRY[name]
    special = torch.tensor([[0.0, -0.0, 1e300], [float("inf"), float("nan"), -1.0]])
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        out = p.torch(*([special.to(dtype)] * p.arity))
        assert out.dtype == dtype
    p.scalar(*([float("nan")] * p.arity))


def test_row_semantics():
    w = torch.arange(6.0, dtype=torch.float64).reshape(2, 3)
    assert REGISTRY["rowdot"].torch(w, w).tolist() == [[5.0], [50.0]]
    assert float(REGISTRY["rowsize"].torch(w)) == 3.0
    assert float(REGISTRY["ndim"].torch(w)) == 2.0
    v = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)  # a vector's rows are its elements
    assert REGISTRY["rowdot"].torch(v, v).tolist() == [1.0, 4.0, 9.0]
    assert float(REGISTRY["rowsize"].torch(v)) == 1.0
    assert float(REGISTRY["ndim"].torch(v)) == 1.0
    conv = torch.ones(4, 2, 3, 3, dtype=torch.float64)  # rows are output channels
    assert REGISTRY["rowdot"].torch(conv, conv).flatten().tolist() == [18.0] * 4
    assert float(REGISTRY["rowsize"].torch(conv)) == 18.0


def test_interpreter_passes_lanes_to_shaped_primitives():
    program = parse("""
def rows(w, g, lr):
    return lr * ndim(w) * rowsize(w) * rowdot(g, w) * w
""")
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(4, 3, 5, generator=gen, dtype=torch.float64)
    g = torch.randn(4, 3, 5, generator=gen, dtype=torch.float64)
    lanes, _ = interpret.step(program, w, g, 0.1, 1, {}, lane_dims=1)
    for i in range(4):
        one, _ = interpret.step(program, w[i], g[i], 0.1, 1, {})
        torch.testing.assert_close(lanes[i], one, rtol=1e-12, atol=0)
    assert float(interpret.step(program, w[0], g[0], 0.1, 1, {})[0][0, 0]) == pytest.approx(
        0.1 * 2 * 5 * float((g[0, 0] * w[0, 0]).sum()) * float(w[0, 0, 0]))
