"""A batch cut into pipelined parts (host work of part k+1 overlapping training of part k)
gives the same results as one batch, bit for bit, padding of the last part included."""

from __future__ import annotations

import random

import pytest
import torch

import optsearch
from optsearch.evaluate import evaluate, forked, random_program, train
from proxy_tasks import make_task
from tests.lane_results import assert_same_results

SEEDS, MULTS, STEPS = (0, 1), (0.5, 2.0), 12
BAD = optsearch.parse("def bad(w, g, lr):\n    return lr * g * exp(lr * 5000.0)\n")


def _programs(n: int) -> list:
    rng = random.Random(3)
    known = [optsearch.known(k) for k in ("adamw", "lion", "sgd")]
    return known + [BAD] + [random_program(rng, 6) for _ in range(n - 4)]


def test_pipeline_sizes():
    head, q = train.PIPELINE_HEAD, train.PIPELINE_QUANTUM
    assert train.pipeline_sizes(2 * head - 1, "triton") == [2 * head - 1]
    assert train.pipeline_sizes(100 * head, "eager") == [100 * head]
    for n in (2 * head, 4096, 4097, 10_000, 50_001):
        sizes = train.pipeline_sizes(n, "triton")
        assert sizes[0] == head and sum(sizes) >= n and sum(sizes) - n < q
        assert all(s % q == 0 and s <= max(train.PIPELINE_MAX, head) for s in sizes)
        assert all(b >= a for a, b in zip(sizes[:-1], sizes[1:-1]))   # parts grow


@pytest.mark.parametrize("n,parts", [(9, 3), (10, 3), (7, 2)])
def test_parts_equal_one_batch(monkeypatch, run_sizes, n, parts):
    task, progs = make_task("digits_mlp"), _programs(n)
    kw = dict(steps=STEPS, hurdles=[(6, 2.0)], record_curves=True)
    whole = evaluate(progs, task, SEEDS, MULTS, **kw)
    del run_sizes[:]
    plan = [-(-n // parts)] * parts
    monkeypatch.setattr(train, "pipeline_sizes", lambda k, backend: plan if k == n else [k])
    split = evaluate(progs, task, SEEDS, MULTS, **kw)
    assert run_sizes == plan                  # the last part padded to its planned size
    assert_same_results(whole, split)
    assert whole.diverged_step[3].min() > 0   # the overflowing program diverged in both


@pytest.mark.cuda
def test_gpu_pipeline_equals_one_batch(monkeypatch):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    task, progs = make_task("digits_mlp"), _programs(11)
    kw = dict(steps=40, hurdles=[(10, 2.0), (20, 1.5)], record_curves=True, device="cuda",
              backend="triton")
    whole = evaluate(progs, task, SEEDS, MULTS, **kw)
    monkeypatch.setattr(train, "PIPELINE_HEAD", 4)
    monkeypatch.setattr(train, "PIPELINE_QUANTUM", 2)
    monkeypatch.setattr(forked, "MIN_PROGRAMS", 1)          # part 2 encoded by a child
    assert train.pipeline_sizes(11, "triton") == [4, 8]   # the last padded from 7
    split = evaluate(progs, task, SEEDS, MULTS, **kw)
    # cuBLAS may pick other kernels for another lane count: equal to float tolerance
    for name in ("final_loss", "curves"):
        torch.testing.assert_close(getattr(split, name), getattr(whole, name), rtol=1e-4,
                                   atol=1e-6, equal_nan=True, msg=name)
    for name in ("diverged_step", "stopped_step", "denormal_step"):
        assert torch.equal(getattr(split, name), getattr(whole, name)), name
