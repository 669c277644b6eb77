"""The generated optimizer follows torch.optim's conventions (validation, groups, state)."""

from __future__ import annotations

import io

import pytest
import torch

import optsearch
from optsearch import parse
from optsearch.compile import compile_program
from tests.compile._helpers import SHAPES, gradients, initial, run_optimizer

ADAMW = optsearch.compile("adamw")


def _params(n: int = 3, dtype=torch.float32):
    return [torch.nn.Parameter(w) for w in initial(SHAPES[:n], dtype)]


def test_callable_package_and_function_agree():
    assert optsearch.compile("lion").program == optsearch.known("lion")
    assert compile_program(optsearch.known("lion")).__name__ == "Lion"
    assert optsearch.compile("lion", class_name="MyLion").__name__ == "MyLion"


def test_constructor_takes_hyperparameters_with_program_defaults():
    opt = ADAMW(_params(), lr=0.1, beta1=0.8)
    group = opt.param_groups[0]
    assert (group["lr"], group["beta1"], group["beta2"], group["wd"]) == (0.1, 0.8, 0.999, 0.01)
    assert ADAMW.hyperparameters == optsearch.known("adamw").defaults
    assert "def adamw" in ADAMW.__doc__


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": -1.0}, "Invalid lr: -1.0"),
    ({"lr": float("nan")}, "Invalid lr"),
    ({"lr": "big"}, "Invalid lr: 'big' (must be a real number)"),
    ({"beta1": 1.5}, "Invalid beta1: 1.5 (must be in [0, 1])"),
    ({"eps": -1e-8}, "Invalid eps: -1e-08 (must be >= 0)"),
    ({"wd": float("inf")}, "Invalid wd: inf (must be finite)"),
    ({"beta2": True}, "Invalid beta2: True (must be a real number)"),
])
def test_validation_names_the_parameter(kwargs, message):
    with pytest.raises(ValueError) as err:
        ADAMW(_params(), **kwargs)
    assert message in str(err.value)


def test_validation_of_groups_and_unknown_names():
    with pytest.raises(ValueError, match="Invalid beta1 in param group 1: 2.0"):
        ADAMW([{"params": _params(1)}, {"params": _params(1), "beta1": 2.0}])
    with pytest.raises(TypeError, match="unexpected keyword.*'betas'"):
        ADAMW(_params(), betas=(0.9, 0.99))
    opt = ADAMW(_params(), lr=0.1)
    opt.param_groups[0]["beta2"] = -0.5  # changed after construction: caught at the step
    for p in opt.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    with pytest.raises(ValueError, match="Invalid beta2 in param group 0: -0.5"):
        opt.step()


def test_unconventional_names_take_any_finite_value():
    cls = compile_program(parse("def f(w, g, lr, alpha=1.0):\n    return lr * alpha * g\n"))
    cls(_params(), alpha=-3.0)  # not a conventional name: no range
    with pytest.raises(ValueError, match="Invalid alpha: nan"):
        cls(_params(), alpha=float("nan"))


def test_flags_conflict_loudly():
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        ADAMW(_params(), foreach=True, fused=True)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="fused=True"):
            ADAMW(_params(), fused=True)


def test_complex_and_integer_params_and_sparse_grads_are_refused():
    with pytest.raises(ValueError, match="parameter 1 in param group 0 is torch.complex64"):
        ADAMW([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))])
    with pytest.raises(ValueError, match="torch.int64"):
        ADAMW([torch.zeros(2, dtype=torch.int64)])
    p = torch.nn.Parameter(torch.zeros(4, 3))
    opt = ADAMW([p])
    p.grad = torch.eye(4, 3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        opt.step()


@pytest.mark.parametrize("foreach", [True, False])
def test_param_groups_use_their_own_hyperparameters(foreach):
    ws, grads = initial(SHAPES, torch.float64), gradients(SHAPES, 20, torch.float64)
    a = [torch.nn.Parameter(w.clone()) for w in ws]
    opt = ADAMW([{"params": a[:2]}, {"params": a[2:], "lr": 0.3, "beta1": 0.5}], lr=0.1,
                foreach=foreach)
    for gs in grads:
        for p, g in zip(a, gs):
            p.grad = g.clone()
        opt.step()
    first, _ = run_optimizer(optsearch.known("adamw"), ws[:2], [g[:2] for g in grads], 0.1,
                             foreach=foreach)
    second, _ = run_optimizer(optsearch.known("adamw"), ws[2:], [g[2:] for g in grads], 0.3,
                              beta1=0.5, foreach=foreach)
    for x, y in zip(a, first + second):
        assert torch.equal(x.detach(), y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("rule", ["adamw", "lamb", "diffgrad"])
def test_state_dict_round_trip_restores_training_exactly(rule, dtype):
    cls = optsearch.compile(rule)
    ws, grads = initial(SHAPES, dtype), gradients(SHAPES, 10, dtype)

    def train(params, opt, gs):
        for step in gs:
            for p, g in zip(params, step):
                p.grad = g.clone()
            opt.step()

    straight = [torch.nn.Parameter(w.clone()) for w in ws]
    train(straight, cls(straight, lr=0.01), grads)

    first = [torch.nn.Parameter(w.clone()) for w in ws]
    opt = cls(first, lr=0.01)
    train(first, opt, grads[:5])
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in first]
    opt2 = cls(resumed, lr=0.5)  # the loaded groups bring lr back
    buf.seek(0)
    opt2.load_state_dict(torch.load(buf))
    state = opt2.state[resumed[1]]
    assert state["t"] == 5 and all(state[n].dtype == torch.float32 or dtype == torch.float32
                                   for n in cls.state_names)
    assert opt2.param_groups[0]["lr"] == 0.01
    train(resumed, opt2, grads[5:])
    for a, b in zip(straight, resumed):
        assert torch.equal(a.detach(), b.detach())


def test_sixteen_bit_params_keep_float32_state():
    p = torch.nn.Parameter(torch.randn(8, dtype=torch.bfloat16))
    opt = ADAMW([p], lr=0.1)
    p.grad = torch.randn(8, dtype=torch.bfloat16)
    opt.step()
    assert p.dtype == torch.bfloat16 and opt.state[p]["m"].dtype == torch.float32


def test_step_closure_zero_grad_and_maximize():
    model = torch.nn.Linear(3, 1).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    opt = optsearch.compile("adam")(model.parameters(), lr=0.05)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    losses = [float(opt.step(closure).detach()) for _ in range(30)]
    assert losses[-1] < losses[0]
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())

    ws, grads = initial(SHAPES, torch.float64), gradients(SHAPES, 5, torch.float64)
    for foreach in (True, False):
        up, _ = run_optimizer(optsearch.known("adam"), ws, grads, 0.1, maximize=True, foreach=foreach)
        down, _ = run_optimizer(optsearch.known("adam"), ws, [[-g for g in s] for s in grads],
                                0.1, foreach=foreach)
        for a, b in zip(up, down):
            assert torch.equal(a, b)


def test_state_named_step_does_not_clash_with_the_counter():
    program = parse("def f(w, g, lr):\n    step = step + 1\n    return lr * step * g\n")
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = compile_program(program)([p], lr=1.0)
    for _ in range(3):
        p.grad = torch.ones(3, dtype=torch.float64)
        opt.step()
    state = opt.state[p]
    assert state["t"] == 3
    assert torch.equal(state["step"], torch.full((3,), 3.0, dtype=torch.float64))
    assert torch.equal(p.detach(), torch.full((3,), -6.0, dtype=torch.float64))  # 1 + 2 + 3


def test_parameters_without_gradients_are_skipped():
    a, b = _params(2)
    opt = ADAMW([a, b], lr=0.1)
    before = b.detach().clone()
    a.grad = torch.ones_like(a)
    opt.step()
    assert torch.equal(b.detach(), before) and b not in opt.state and opt.state[a]["t"] == 1
