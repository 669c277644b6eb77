"""Known rules without a reference implementation, checked against hand-computed steps.

PowerSign and AddSign (Bello et al. 2017) have no implementation in torch.optim,
lion-pytorch or pytorch_optimizer. Each gets an independent plain-Python statement of the
paper's formula (TensorFlow's ``PowerSignOptimizer`` / ``AddSignOptimizer`` with no sign
decay), stepped element by element alongside the engine for several steps, with gradient
signs that agree, disagree and are zero, and with non-default hyperparameters.

Also here: the metadata every known rule file must carry.
"""

from __future__ import annotations

import math
import re
from importlib import resources
from typing import Callable

import pytest
import torch

import optsearch
from optsearch.parse import parse_all

W0 = [0.5, -1.0, 2.0, 0.0, -0.25]
GRADS = [  # agreeing, disagreeing and zero signs against the running average
    [0.3, -0.2, 0.0, 1.0, -0.5],
    [-0.1, -0.4, 0.2, 1.0, 0.5],
    [-0.6, 0.3, -0.2, -2.0, 0.0],
    [0.2, 0.3, -0.1, 0.5, 0.4],
    [0.05, -0.7, 0.3, 0.0, -0.2],
]


def _sign(x: float) -> float:
    return (x > 0) - (x < 0)


def _powersign(w: list[float], lr: float, beta1: float = 0.9, logbase: float = 1.0
               ) -> list[list[float]]:
    """Parameters after each step: m <- beta1 m + (1 - beta1) g; w <- w - lr e^(logbase sg sm) g."""
    w, m, out = list(w), [0.0] * len(w), []
    for g in GRADS:
        for i, gi in enumerate(g):
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            w[i] -= lr * math.exp(logbase * _sign(gi) * _sign(m[i])) * gi
        out.append(list(w))
    return out


def _addsign(w: list[float], lr: float, beta1: float = 0.9, alpha: float = 1.0
             ) -> list[list[float]]:
    """Parameters after each step: m as PowerSign; w <- w - lr (alpha + sg sm) g."""
    w, m, out = list(w), [0.0] * len(w), []
    for g in GRADS:
        for i, gi in enumerate(g):
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            w[i] -= lr * (alpha + _sign(gi) * _sign(m[i])) * gi
        out.append(list(w))
    return out


HAND_COMPUTED: dict[str, Callable[..., list[list[float]]]] = {
    "powersign": _powersign,
    "addsign": _addsign,
}

FORMULA_CASES = [
    ("powersign", 0.1, {}),
    ("powersign", 0.05, {"beta1": 0.5, "logbase": 0.5}),
    ("addsign", 0.1, {}),
    ("addsign", 0.05, {"beta1": 0.3, "alpha": 2.0}),
]


@pytest.mark.parametrize("rule, lr, hyper", FORMULA_CASES,
                         ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(FORMULA_CASES)])
def test_hand_computed_steps(rule: str, lr: float, hyper: dict):
    p = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = optsearch.optimizer(rule, [p], lr=lr, **hyper)
    expected = HAND_COMPUTED[rule](W0, lr, **hyper)
    for step, (g, want) in enumerate(zip(GRADS, expected), start=1):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        got = p.detach().tolist()
        assert got == pytest.approx(want, abs=1e-15), f"{rule} step {step}: {got} != {want}"
    # the trajectory really depends on the sign agreement (not just lr * g)
    plain = [w - lr * sum(g[i] for g in GRADS) for i, w in enumerate(W0)]
    assert max(abs(a - b) for a, b in zip(expected[-1], plain)) > 1e-3


_CITATION = re.compile(r'^\S.*\b(19|20)\d\d\b.*"[^"]+"')
_ARXIV = re.compile(r"arXiv:\d{4}\.\d{4,5}\b")


@pytest.mark.parametrize("name", optsearch.known_names())
def test_rule_file_is_one_cited_program(name: str):
    """One ``def NAME`` per file; the docstring's first line cites authors, year and title."""
    text = resources.files("optsearch.known").joinpath(f"{name}.opt").read_text("utf-8")
    programs = parse_all(text, filename=f"{name}.opt")
    assert [p.name for p in programs] == [name]
    first = (programs[0].doc or "").strip().splitlines()[0]
    assert _CITATION.match(first), f"{name}: first docstring line must cite the paper: {first!r}"
    if "arXiv" in first:
        assert _ARXIV.search(first), f"{name}: malformed arXiv id in {first!r}"
