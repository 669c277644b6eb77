"""Every known rule: the eager and foreach paths agree with the reference interpreter.

float64: within 1e-10 after 100 steps; float32: rtol 1e-5 after 100 steps. The eager path is
a direct transcription of the codegen templates, so it must match the interpreter exactly;
the foreach path reorders some arithmetic (lerp, addcmul, addcdiv) and only agrees to
rounding. Random programs check the same on rules nobody wrote by hand.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import optsearch
from tests.compile._helpers import (SHAPES, gradients, initial, max_rel, run_interpreter,
                                    run_optimizer)
from tests.strategies import programs

RULES = optsearch.known_names()
STEPS = 100
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
LR = {"adadelta": 1.0}  # its step is unit-free; torch's default lr is 1.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("rule", RULES)
def test_paths_match_interpreter(rule, dtype):
    program = optsearch.known(rule)
    hyper = {"wd": 0.05} if "wd" in program.defaults else {}  # every term of the rule in play
    ws, grads = initial(SHAPES, dtype), gradients(SHAPES, STEPS, dtype)
    lr = LR.get(rule, 1e-2)
    ref = run_interpreter(program, ws, grads, lr, hyper)
    eager, _ = run_optimizer(program, ws, grads, lr, foreach=False, **hyper)
    foreach, _ = run_optimizer(program, ws, grads, lr, foreach=True, **hyper)
    assert max(float((a - w).abs().max()) for a, w in zip(ref, ws)) > 1e-3, "vacuous: nothing moved"
    for a, b in zip(eager, ref):
        assert torch.equal(a, b), f"{rule}: eager differs from the interpreter"
    tol = TOL[dtype]
    for a, b in zip(foreach, ref):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * 0.1)


def _finite_moderate(ts) -> bool:
    return all(bool(torch.isfinite(t).all()) and float(t.abs().max()) < 1e6 for t in ts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_statements=6))
def test_random_programs(program):
    """Eager and foreach agree with the interpreter (NaN included) to rounding.

    Not bit for bit: host scalars use Python's math where the interpreter uses numpy, and
    the two libraries' transcendental functions can differ in the last bit.
    """
    ws, grads = initial(SHAPES, torch.float64), gradients(SHAPES, 3, torch.float64)
    ref = run_interpreter(program, ws, grads, 0.1)
    eager, _ = run_optimizer(program, ws, grads, 0.1, foreach=False)
    for a, b in zip(eager, ref):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), str(program)
    if not _finite_moderate(ref):
        return  # foreach's reordered arithmetic may overflow differently near the limits
    foreach, _ = run_optimizer(program, ws, grads, 0.1, foreach=True)
    assert max_rel(foreach, ref) < 1e-9 or all(
        torch.allclose(a, b, rtol=1e-9, atol=1e-9) for a, b in zip(foreach, ref)), str(program)
