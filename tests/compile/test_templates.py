"""Every primitive's generated forms agree with its definition.

The compiler writes code from three forms of each registry entry: the ``codegen`` template
(eager/foreach paths and exported files, run with the runtime helpers), the host forms of
compile/pygen.py (Python floats), and the ``triton`` template (checked on GPU and in
Triton's interpreter by test_fused.py). Parametrised over the registry, so a new primitive
is checked the moment it is added.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from primitives import REGISTRY
from optsearch.compile import pygen, runtime
from optsearch.compile.triton_gen import split_template

NAMESPACE = {k: v for k, v in vars(runtime).items() if not k.startswith("__")}
SPECIAL = [0.0, -0.0, 1e-300, -1e300, 1e300, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5,
           -2.5, 3.0, 40.0, 800.0, -800.0]


def _codegen(name: str, *args):
    env = dict(NAMESPACE, **{f"a{i}": a for i, a in enumerate(args)})
    expr = REGISTRY[name].codegen.format(*[f"a{i}" for i in range(len(args))])
    return eval(expr, env)  # noqa: S307 - registry templates, a test of them


def _same(a, b) -> bool:
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_codegen_template_matches_torch_form(name):
    p = REGISTRY[name]
    gen = torch.Generator().manual_seed(len(name))
    shape = (4, 3)
    tensors = [torch.randn(shape, generator=gen, dtype=torch.float64) * 3 for _ in range(p.arity)]
    kw = {} if p.kind == "elementwise" else {"lane_dims": 0}
    assert _same(_codegen(name, *tensors), p.torch(*tensors, **kw))
    for i in range(p.arity if p.arity > 1 else 0):  # a float in any position
        args = list(tensors)
        args[i] = 0.7
        ref_args = [a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64)
                    for a in args]
        want = p.torch(*args, **kw) if p.kind == "elementwise" else p.torch(*ref_args, **kw)
        assert _same(_codegen(name, *args), want), (name, i)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_host_form_matches_scalar_form(name):
    p = REGISTRY[name]
    rng = np.random.default_rng(len(name))
    fn = eval("lambda *a: " + pygen.host_expr(name, [f"a[{i}]" for i in range(p.arity)]), NAMESPACE)
    cases = [[float(x) for x in rng.choice(SPECIAL, p.arity)] for _ in range(300)]
    cases += [[float(x) for x in rng.uniform(-5, 5, p.arity)] for _ in range(100)]
    for args in cases:
        got, want = fn(*args), p.scalar(*args)
        assert isinstance(got, float), (name, args)
        assert (math.isnan(got) and math.isnan(want)) or math.isclose(got, want, rel_tol=1e-13, abs_tol=1e-300), (name, args, got, want)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_triton_template_is_well_formed(name):
    p = REGISTRY[name]
    assert p.triton, f"{name}: no triton template: the fused path cannot run it"
    if p.kind != "elementwise":
        parts = split_template(p.triton)
        text = p.triton if parts is None else parts[1] + parts[2]
        assert all(f"{{{i}}}" in p.triton for i in range(p.arity)) or "_sum" not in text
    assert "torch." not in p.triton
