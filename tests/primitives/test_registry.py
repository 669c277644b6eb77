"""Every registry entry's forms agree: torch == scalar == sympy on random inputs.

Parametrised over the registry, so a new primitive is tested the moment it is added.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from primitives import REGISTRY, UnknownPrimitive, lookup, names

ELEMENTWISE = names("elementwise")
REDUCTIONS = names("reduction")


def _inputs(name: str, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    arity = REGISTRY[name].arity
    # moderate magnitudes keep exp/sinh/cosh finite; avoid exact zeros (div, rsqrt, log)
    xs = [rng.uniform(-3, 3, n) for _ in range(arity)]
    if name == "arcsin":
        xs[0] = rng.uniform(-1.5, 1.5, n)  # includes the clamped region
    return xs


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_entry_is_complete(name):
    p = REGISTRY[name]
    assert p.name == name and p.arity >= 1 and p.doc
    assert callable(p.torch) and callable(p.scalar) and callable(p.sympy)
    for i in range(p.arity):
        assert "{%d}" % i in p.codegen, f"{name}: codegen misses argument {i}"
    if p.kind == "elementwise":
        for i in range(p.arity):
            assert "{%d}" % i in p.triton, f"{name}: triton template misses argument {i}"


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_forms_agree(name):
    p = REGISTRY[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    xs = _inputs(name, rng, 16)
    got = p.torch(*[torch.tensor(x, dtype=torch.float64) for x in xs]).numpy()
    syms = sp.symbols(f"a0:{p.arity}", real=True)
    expr = p.sympy(*syms)
    for i in range(16):
        args = [float(x[i]) for x in xs]
        s = p.scalar(*args)
        sym = float(expr.subs(dict(zip(syms, args))).evalf())
        assert math.isclose(got[i], s, rel_tol=1e-12, abs_tol=1e-12), (name, args, got[i], s)
        assert math.isclose(got[i], sym, rel_tol=1e-9, abs_tol=1e-9), (name, args, got[i], sym)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_mixes_floats_and_tensors(name):
    p = REGISTRY[name]
    if p.arity == 1:
        return
    x = torch.linspace(-2, 2, 7, dtype=torch.float64)
    for i in range(p.arity):
        args = [x + 0.1 * j for j in range(p.arity)]
        as_float = list(args)
        as_float[i] = 0.7
        full = list(args)
        full[i] = torch.full_like(x, 0.7)
        torch.testing.assert_close(p.torch(*as_float), p.torch(*full), rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_safe_forms_never_raise(name):
    p = REGISTRY[name]
    special = torch.tensor([0.0, -0.0, 1e-300, -1e300, 1e300, float("inf"), float("-inf"),
                            float("nan"), 1.0, -1.0], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        args = [special.to(dtype)] * p.arity
        out = p.torch(*args)
        assert out.shape == special.shape
    for v in special.tolist():
        p.scalar(*([v] * p.arity))


def test_safe_division_and_log_are_finite_at_zero():
    z = torch.zeros(3, dtype=torch.float32)
    assert torch.equal(REGISTRY["div"].torch(torch.ones(3), z), z)
    assert torch.isfinite(REGISTRY["log"].torch(z)).all()
    assert torch.equal(REGISTRY["rsqrt"].torch(z), z)
    assert REGISTRY["div"].scalar(1.0, 0.0) == 0.0
    assert math.isfinite(REGISTRY["log"].scalar(0.0))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_forms_agree(name):
    p = REGISTRY[name]
    rng = np.random.default_rng(7)
    xs = [rng.normal(size=(3, 4)) for _ in range(p.arity)]
    got = float(p.torch(*[torch.tensor(x) for x in xs]))
    sym = float(p.sympy(*[[sp.Float(v) for v in x.ravel()] for x in xs]))
    assert math.isclose(got, sym, rel_tol=1e-10)
    # lane_dims=1: each lane reduced on its own
    lanes = p.torch(*[torch.tensor(x) for x in xs], lane_dims=1)
    assert lanes.shape == (3, 1)
    for i in range(3):
        one = float(p.torch(*[torch.tensor(x[i]) for x in xs]))
        assert math.isclose(float(lanes[i, 0]), one, rel_tol=1e-12)
    # a float is a one-element tensor
    assert math.isclose(p.scalar(*([-2.5] * p.arity)),
                        float(p.torch(*[torch.tensor([-2.5], dtype=torch.float64)] * p.arity)))


def test_lookup_suggests():
    with pytest.raises(UnknownPrimitive) as e:
        lookup("sgn")
    assert "did you mean 'sign'" in str(e.value)


def test_minimum_set_present():
    need = ("add sub mul div neg abs sign sqrt rsqrt square exp log sigmoid tanh arcsin arctan "
            "sinh cosh sin cos clip interp maximum minimum pow norm rms mean dot").split()
    assert set(need) <= set(REGISTRY)
