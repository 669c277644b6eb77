"""Fingerprint: equal behaviour -> equal hash; different behaviour -> different hash; fast."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import HealthCheck, given, settings

import optsearch
from optsearch.fingerprint import fingerprint
from optsearch.program import Assign, Call, Const, Program, Var
from tests.strategies import programs

LION = optsearch.known("lion")


def fp(text: str) -> str:
    return fingerprint(optsearch.parse(text))


def test_renamed_dead_reordered_commuted_are_equal():
    base = fp("""def a(w, g, lr, beta1=0.9, beta2=0.99):
    c = interp(g, m, beta1)
    u = sign(c) * 1.0
    m = interp(g, m, beta2)
    return lr * u
""")
    equal = fp("""def b(w, g, lr, b1=0.9, b2=0.99):
    junk = exp(g) * w
    q = interp(g, st, b1)
    st = interp(g, st, b2)
    return lr * sign(q)
""")
    # Same statements, but the EMA now runs before it is read: a different rule.
    moved = fp("""def b(w, g, lr, b1=0.9, b2=0.99):
    st = interp(g, st, b2)
    q = interp(g, st, b1)
    return lr * sign(q)
""")
    assert equal == base
    assert moved != base


def test_commutation_and_association():
    assert fp("def p(w, g, lr):\n    return lr * g * w\n") == \
        fp("def p(w, g, lr):\n    return w * (g * lr)\n")


def test_distinguishes_close_rules():
    texts = {
        "g": "def p(w, g, lr):\n    return lr * g\n",
        "clip": "def p(w, g, lr):\n    return lr * clip(g, 1.0)\n",
        "tanh": "def p(w, g, lr):\n    return lr * tanh(g)\n",
        "sign": "def p(w, g, lr):\n    return lr * sign(g)\n",
        "norm": "def p(w, g, lr):\n    return lr * g / norm(g)\n",
        "rms": "def p(w, g, lr):\n    return lr * g / rms(g)\n",
        "state": "def p(w, g, lr):\n    m = interp(g, m, 0.9)\n    return lr * m\n",
        "state2": "def p(w, g, lr):\n    m = interp(g, m, 0.91)\n    return lr * m\n",
        "t": "def p(w, g, lr, t):\n    return lr * g / (1 - 0.9 ** t)\n",
        "w": "def p(w, g, lr):\n    return lr * (g + 0.01 * w)\n",
        "div0": "def p(w, g, lr):\n    return lr * (g + g / g)\n",
        "plus1": "def p(w, g, lr):\n    return lr * (g + 1.0)\n",
    }
    fps = {k: fp(v) for k, v in texts.items()}
    assert len(set(fps.values())) == len(fps), fps


def test_state_that_matters_only_later_is_seen():
    # Both give the same first update; they differ from step 2 on (second step reads m).
    a = fp("def p(w, g, lr):\n    u = g + m\n    m = g\n    return lr * u\n")
    b = fp("def p(w, g, lr):\n    u = g + m\n    m = 2.0 * g\n    return lr * u\n")
    assert a != b


def test_hyperparameter_defaults_matter_names_do_not():
    assert fingerprint(LION) != fingerprint(LION.with_defaults(beta2=0.98))
    renamed = optsearch.parse(str(LION).replace("beta2", "b2"))
    assert fingerprint(renamed) == fingerprint(LION)


def test_stable_across_processes():
    code = "import optsearch; from optsearch.fingerprint import fingerprint; " \
           "print(fingerprint(optsearch.known('lion')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == fingerprint(LION)


def test_hex_digest_and_nan_is_a_token():
    nan_prog = optsearch.parse(
        "def p(w, g, lr):\n    return lr * (exp(1000.0 * g) - exp(1000.0 * g))\n")
    f = fingerprint(nan_prog)
    assert len(f) == 64 and int(f, 16) >= 0
    assert f != fp("def p(w, g, lr):\n    return 0.0 * g\n")


def _rename(p: Program, prefix: str) -> Program:
    def ren(e):
        if isinstance(e, Var):
            fixed = e.name in ("w", "g", "lr", "t") or e.name in p.defaults
            return e if fixed else Var(prefix + e.name)
        if isinstance(e, Call):
            return Call(e.op, tuple(ren(a) for a in e.args))
        return e
    body = tuple(Assign(prefix + s.target, ren(s.value)) for s in p.body)
    return Program("renamed", p.hyperparams, body, ren(p.ret), None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_statements=5))
def test_random_programs_invariant_under_renaming_and_dead_code(p):
    q = _rename(p, "z_")
    dead = Assign("zz_dead", Call("exp", (Call("mul", (Var("g"), Const(3.0))),)))
    q = Program(q.name, q.hyperparams, (dead,) + q.body, q.ret, None)
    assert fingerprint(q) == fingerprint(p)


# Speed (about a millisecond per program on one core) is measured by scripts/bench_fingerprint.py.


def test_live_statements_give_the_same_updates_bit_for_bit():
    """The fingerprint runs only a program's live statements (analysis.lean); on random
    programs, most of them mostly dead code, the updates equal the whole program's."""
    import random

    import numpy as np
    import torch

    from optsearch.analysis import lean
    from optsearch.evaluate import random_program
    from optsearch.fingerprint import _inputs, behaviour
    from optsearch.interpret import init_state, step

    def full_behaviour(program):
        w, grads = _inputs()
        state, out = init_state(program, w), []
        for t, g in enumerate(grads, start=1):
            u, state = step(program, w, g, 0.01, t, state, lane_dims=1)
            out.append(u)
            w = w - u
        return out

    rng = random.Random(5)
    shorter = 0
    for i in range(150):
        p = random_program(rng, rng.randint(2, 10), name=f"r{i}")
        shorter += len(lean(p).body) < len(p.body)
        with np.errstate(all="ignore"):
            for a, b in zip(full_behaviour(p), behaviour(p)):
                assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)), str(p)
    assert shorter > 75
