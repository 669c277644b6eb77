"""A lane of the batched evaluator trains exactly like its model trained alone."""

from __future__ import annotations

import math
import random

import pytest
import torch

import optsearch
from optsearch.evaluate import evaluate, random_program
from optsearch.evaluate.reference import train_alone
from proxy_tasks import make_task

STEPS = 12
BLOWN_UP = 1000.0
MULTS = (0.3, 3.0)
SEEDS = (0, 1)


def check_lanes(programs, task, steps=STEPS, seeds=SEEDS, mults=MULTS, device="cpu",
                backend="eager", compile=True):
    """Every lane's curve, final loss and divergence step equal those of training alone."""
    res = evaluate(programs, task, seeds, mults, steps=steps, record_curves=True,
                   backend=backend, device=device, compile=compile)
    for n, prog in enumerate(programs):
        for s, seed in enumerate(seeds):
            for m, mult in enumerate(mults):
                curve, val, bad = train_alone(prog, task, seed, task.lr * mult, steps, device)
                got = res.curves[n, s, m]
                div = int(res.diverged_step[n, s, m])
                where = f"{prog.name} #{n} seed {seed} x{mult}"
                assert div == bad, f"{where}: diverged at {div}, alone at {bad}"
                upto = div if div else steps        # a diverged lane is frozen after that
                torch.testing.assert_close(got[:upto], curve[:upto], rtol=1e-4, atol=1e-6,
                                           equal_nan=True, msg=lambda e: f"{where}: {e}")
                if not div and math.isfinite(val):
                    # A model that blew up in the last update (validation loss > 1000x the
                    # last training loss) turns a 1e-6 difference of GEMM rounding (batched
                    # vs alone) into ~1e-4 of its loss (seen on an H200: 26,122 vs 26,114
                    # with curves equal to 2.5e-6): there both must have blown up alike.
                    blown = val > BLOWN_UP * float(curve[upto - 1])
                    assert res.final_loss[n, s, m].item() == pytest.approx(
                        val, rel=1e-2 if blown else 1e-4), where


@pytest.mark.parametrize("name", ["adamw", "lion", "lamb", "adamp", "sgd_momentum"])
def test_known_rules_on_digits(name):
    check_lanes([optsearch.known(name)], make_task("digits_mlp"))


def test_random_programs_next_to_each_other():
    rng = random.Random(1234)
    programs = [random_program(rng, rng.randint(1, 8)) for _ in range(12)]
    check_lanes(programs, make_task("digits_mlp"))


def test_diverging_lanes_are_frozen_and_neighbours_unaffected():
    from optsearch.parse import parse

    boom = parse("def boom(w, g, lr):\n    m = m * m + g + 1.0\n    return lr * m\n")
    res_progs = [optsearch.known("adamw"), boom, optsearch.known("lion")]
    check_lanes(res_progs, make_task("digits_mlp"))
    res = evaluate(res_progs, make_task("digits_mlp"), SEEDS, MULTS, steps=STEPS)
    assert (res.diverged_step[1] > 0).all() and (res.diverged_step[[0, 2]] == 0).all()


@pytest.mark.parametrize("name", ["mnist1d_mlp", "mnist1d_cnn", "bytes_lm", "modular_add",
                                  "teacher_student", "quadratic", "quadratic_rescaled"])
def test_every_task(name):
    rng = random.Random(len(name))
    programs = [optsearch.known("adamw"), optsearch.known("adamp")] + \
        [random_program(rng, rng.randint(2, 8)) for _ in range(3)]
    check_lanes(programs, make_task(name), steps=5, seeds=(0,), mults=(1.0,))
