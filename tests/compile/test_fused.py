"""The fused Triton path: same rule as the interpreter, for 32- and 16-bit parameters.

GPU tests carry the ``cuda`` marker. ``test_interpreted`` runs the generated kernels on the
CPU through Triton's interpreter when Triton is installed (checks the code generator
without a GPU; libdevice functions are not available there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import optsearch
from optsearch import parse
from optsearch.compile import fused
from optsearch.compile.lower import lower
from tests.compile._helpers import gradients, initial, max_rel, run_interpreter, run_optimizer

RULES = optsearch.known_names()
SHAPES = [(), (7,), (5, 3), (2, 3, 4), (4099,), (64, 130)]  # odd sizes, several blocks
LR = {"adadelta": 1.0}


def _cuda(ts):
    return [t.cuda() for t in ts]


@pytest.mark.cuda
@pytest.mark.parametrize("rule", RULES)
def test_fused_matches_interpreter_float32(rule):
    program = optsearch.known(rule)
    hyper = {"wd": 0.05} if "wd" in program.defaults else {}
    lr = LR.get(rule, 1e-2)
    ws, grads = initial(SHAPES, torch.float32), gradients(SHAPES, 100, torch.float32)
    ref = run_interpreter(program, ws, grads, lr, hyper)
    out, opt = run_optimizer(program, _cuda(ws), [_cuda(g) for g in grads], lr, fused=True, **hyper)
    assert not [e.rest for e in opt._fused_cache.values() if e.rest], "all tensors fused"
    for a, b in zip(out, ref):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-6)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rule", ["adamw", "lion", "lamb", "diffgrad"])
def test_fused_sixteen_bit(rule, dtype):
    """16-bit parameters, float32 state: as the eager path (float32 arithmetic) to rounding."""
    program = optsearch.known(rule)
    ws, grads = initial(SHAPES, dtype, device="cuda"), gradients(SHAPES, 20, dtype, device="cuda")
    eager, _ = run_optimizer(program, ws, grads, 1e-2, foreach=False)
    out, opt = run_optimizer(program, ws, grads, 1e-2, fused=True)
    assert all(s.dtype == torch.float32 for st in opt.state.values() for k, s in st.items() if k != "t")
    ulp = {torch.bfloat16: 2 ** -7, torch.float16: 2 ** -10}[dtype]
    same = sum(int((a == b).sum()) for a, b in zip(out, eager)) / sum(a.numel() for a in out)
    assert same > 0.98, same
    for a, b in zip(out, eager):
        assert float((a.float() - b.float()).abs().max()) <= 4 * ulp * max(1.0, float(b.float().abs().max()))


@pytest.mark.cuda
def test_fused_options_state_dict_and_layouts():
    program = optsearch.known("adamw")
    cls = optsearch.compile(program)
    # default on CUDA is fused; maximize equals minimizing the negated gradient
    ws, grads = initial(SHAPES, torch.float32, device="cuda"), gradients(SHAPES, 10, torch.float32, device="cuda")
    up, opt = run_optimizer(program, ws, grads, 1e-2, maximize=True)
    assert opt._fused_cache
    down, _ = run_optimizer(program, ws, [[-g for g in s] for s in grads], 1e-2)
    assert all(torch.equal(a, b) for a, b in zip(up, down))
    # state_dict round trip
    straight, _ = run_optimizer(program, ws, grads, 1e-2, fused=True)
    params = [torch.nn.Parameter(w.clone()) for w in ws]
    opt = cls(params, lr=1e-2, fused=True)
    for i, gs in enumerate(grads):
        if i == 5:
            sd = opt.state_dict()
            params = [torch.nn.Parameter(p.detach().clone()) for p in params]
            opt = cls(params, lr=1e-2, fused=True)
            opt.load_state_dict({"state": {k: {n: (v.clone() if torch.is_tensor(v) else v)
                                               for n, v in st.items()} for k, st in sd["state"].items()},
                                 "param_groups": sd["param_groups"]})
        for p, g in zip(params, gs):
            p.grad = g.clone()  # new gradient tensors every step: the table follows them
        opt.step()
    assert all(torch.equal(a, b.detach()) for a, b in zip(straight, params))
    assert opt.state_dict()["state"][0]["t"] == 10  # the buckets' counts are written back
    # a transposed (strided) parameter, a view 4 bytes off alignment and a float64 one
    def odd_params():
        gen = torch.Generator(device="cuda").manual_seed(3)
        t = torch.randn(16, 33, device="cuda", generator=gen).t()
        v = torch.randn(1 + 16 * 7, device="cuda", generator=gen)[1:].view(16, 7)
        d = torch.randn(5, device="cuda", dtype=torch.float64, generator=gen)
        e = torch.randn(304, device="cuda", generator=gen)
        return [torch.nn.Parameter(x) for x in (t, v, d, e)]

    def train(**options):
        params = odd_params()
        opt = cls(params, lr=1e-2, **options)
        gen = torch.Generator(device="cuda").manual_seed(4)
        for _ in range(3):
            for p in params:
                p.grad = torch.randn(p.shape, device="cuda", dtype=p.dtype, generator=gen)
                p.grad = p.grad.t().contiguous().t() if p.shape == (33, 16) else p.grad
            opt.step()
        return params, opt

    with pytest.raises(RuntimeError, match="parameter 2 is torch.float64"):
        train(fused=True)  # asked for: all or nothing
    eager, _ = train(foreach=False)
    out, opt = train()  # the default: fused where it can, foreach for the rest
    (entry,) = opt._fused_cache.values()
    assert entry.rest == [2] and not entry.buckets[0].aligned
    assert max_rel([p.detach() for p in out], [p.detach() for p in eager]) < 1e-5


@pytest.mark.cuda
def test_new_program_compiles_fast_and_kernels_are_cached():
    text = ("def fresh(w, g, lr, beta=0.9):\n    m = interp(g, m, beta)\n"
            f"    v = maximum(v * 0.{int(time.time() * 1e6) % 10**6:06d}, abs(g))\n"
            "    return lr * m / (v + 1e-8) + 0.01 * lr * w\n")
    program = parse(text)
    p = torch.nn.Parameter(torch.randn(1000, device="cuda"))
    p.grad = torch.randn_like(p)
    opt = optsearch.compile(program)([p], lr=1e-3, fused=True)
    t0 = time.perf_counter()
    opt.step()
    torch.cuda.synchronize()
    assert time.perf_counter() - t0 < 5.0
    assert fused.kernels(lower(program)) is fused.kernels(lower(program))


INTERPRETED = """
import torch, optsearch
from tests.compile._helpers import gradients, initial, run_interpreter, run_optimizer
shapes = [(), (7,), (5, 3), (2, 3, 4)]
REDUCE = optsearch.parse(
    "def reduce(w, g, lr, beta=0.9):\\n"
    "    m = interp(g, m, beta)\\n"
    "    s = rms(m) + mean(g * g) + dot(g, w) / (norm(w) + 1.0)\\n"
    "    return lr * m / (s + 1e-3) + lr * mean(norm(m) * w)\\n")
for rule in ("lion", "lamb", "adamp", REDUCE):
    program = optsearch.known(rule) if isinstance(rule, str) else rule
    ws, grads = initial(shapes, torch.float32), gradients(shapes, 4, torch.float32)
    ref = run_interpreter(program, ws, grads, 1e-2)
    out, opt = run_optimizer(program, ws, grads, 1e-2, fused=True)
    assert opt._fused_cache and not any(e.rest for e in opt._fused_cache.values()), rule
    assert opt.state_dict()["state"][3]["t"] == 4
    for a, b in zip(out, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
print("ok")
"""


def test_interpreted():
    """The generated kernels, run by Triton's CPU interpreter (no GPU needed).

    Covers the phases of reductions (norm, rms, mean, dot, amax, per-row rowdot).

    A subprocess, because Triton reads TRITON_INTERPRET when it is first imported.
    """
    pytest.importorskip("triton")
    if torch.cuda.is_available():
        pytest.skip("the cuda tests cover the kernels")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", INTERPRETED], capture_output=True, text=True,
                         env=env, cwd=root, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
