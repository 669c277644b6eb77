"""The GPU path (interpreter kernel in a compiled, CUDA-graphed step) against the oracle."""

from __future__ import annotations

import random

import pytest
import torch

import optsearch
from optsearch.evaluate import evaluate, random_program
from optsearch.parse import parse
from proxy_tasks import make_task
from tests.evaluate.test_lanes_match_reference import check_lanes

pytestmark = pytest.mark.cuda

BOOM = parse("def boom(w, g, lr):\n    m = m * m + g + 1.0\n    return lr * m\n")


def _programs(n: int, seed: int = 7):
    rng = random.Random(seed)
    return ([optsearch.known(k) for k in ("adamw", "lion", "lamb", "adamp")] + [BOOM]
            + [random_program(rng, rng.randint(1, 8)) for _ in range(n)])


def test_kernel_lanes_match_training_alone():
    check_lanes(_programs(10), make_task("digits_mlp"), device="cuda", backend="triton")


def test_gpu_matches_cpu_eager():
    task, progs = make_task("digits_mlp"), _programs(16, seed=3)
    a = evaluate(progs, task, (0, 1), (0.3, 3.0), steps=30, device="cuda", backend="triton")
    b = evaluate(progs, task, (0, 1), (0.3, 3.0), steps=30, device="cpu", backend="eager")
    assert torch.equal(a.diverged_step, b.diverged_step)
    ok = a.diverged_step == 0
    torch.testing.assert_close(a.final_loss[ok], b.final_loss[ok], rtol=1e-3, atol=1e-5)


def test_gpu_deterministic():
    task, progs = make_task("digits_mlp"), _programs(16, seed=5)
    a = evaluate(progs, task, (0,), (1.0,), steps=30, device="cuda", record_curves=True)
    b = evaluate(progs, task, (0,), (1.0,), steps=30, device="cuda", record_curves=True)
    assert torch.equal(a.curves.nan_to_num(), b.curves.nan_to_num())
    assert torch.equal(a.final_loss.nan_to_num(), b.final_loss.nan_to_num())


@pytest.mark.parametrize("name", ["mnist1d_mlp", "mnist1d_cnn", "bytes_lm", "modular_add",
                                  "teacher_student", "quadratic", "quadratic_rescaled"])
def test_every_task_on_gpu(name):
    check_lanes(_programs(4, seed=len(name)), make_task(name), steps=8, seeds=(0,),
                mults=(1.0,), device="cuda", backend="triton", compile=False)


def test_programs_too_big_for_the_kernel_train_on_the_eager_path():
    n = 14                                     # more live values than the kernel's registers
    body = "\n".join(f"    v{i} = g * {i + 1}.0 + w" for i in range(n))
    total = " + ".join(f"sin(v{i})" for i in range(n))
    big = parse(f"def big(w, g, lr):\n{body}\n    return lr * ({total})\n")
    check_lanes([optsearch.known("adamw"), big, BOOM], make_task("digits_mlp"), steps=8,
                device="cuda", backend="triton", compile=False)
