"""Known rules match their reference implementations: float64, real gradients, 100 steps.

One table (``CASES``, in the spirit of optax's ``_OPTIMIZERS_UNDER_TEST``) drives the
battery: a row names a known rule, our hyperparameters, and a factory for the reference
optimizer with every option that matters set explicitly, so that both sides run the same
rule. Two copies of a small network train on fixed data, one with the reference and one
with ``optsearch.optimizer(rule, ...)``; after ``STEPS`` steps no parameter may differ by
more than ``TOL``. Rows with non-default hyperparameters (weight decay on, other betas...)
check that every hyperparameter reaches the right place in the formula.

Learning rates are modest on purpose: two correct implementations differ by rounding
(~1e-16), and in an oscillating, chaotic regime (Adam-type rules at lr 1e-2 here) that
difference grows exponentially and crosses 1e-10 within 100 steps. At these rates the
matches are ~1e-15, while a misplaced eps, bias correction or first-step rule gives 1e-8
or far more. The same table also drives a shorter check of the reference interpreter, and
crafted tensors drive each of AdamP's branches.

Rules with no reference implementation are checked against hand-computed steps in
tests/test_known_formulas.py; ``test_every_known_rule_is_tested`` keeps the two complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest
import torch
from lion_pytorch import Lion
from pytorch_optimizer import AdaBelief, AdamP, Adan, DiffGrad, Lamb, SignSGD
from torch import nn

import optsearch
from optsearch import interpret
from tests.test_known_formulas import HAND_COMPUTED

STEPS = 100
INTERPRETER_STEPS = 10
TOL = 1e-10
MOVED = 1e-3  # the rule must move some parameter at least this far, or the match is vacuous

Factory = Callable[..., torch.optim.Optimizer]


@dataclass(frozen=True)
class Case:
    """One row of the battery.

    Attributes:
        rule: known rule name.
        lr: learning rate, given to both sides.
        hyper: our hyperparameters (the rest take the .opt defaults).
        reference: ``reference(params, lr)`` -> the reference optimizer.
        model: ``"mlp"`` (Linear-Tanh-Linear), ``"normed"`` (layers followed by
            BatchNorm / LayerNorm, whose weights are scale-invariant: AdamP's projection)
            or ``"conv"`` (a 4-d convolution weight followed by BatchNorm2d).
    """

    rule: str
    lr: float
    reference: Factory
    hyper: dict = field(default_factory=dict)
    model: str = "mlp"


def _po(cls, **options) -> Factory:
    """A pytorch_optimizer / lion_pytorch factory with ``options`` set explicitly."""
    return lambda params, lr: cls(params, lr=lr, **options)


def _torch(cls, **options) -> Factory:
    """A torch.optim factory on its single-tensor path, the plainest statement of the rule."""
    return lambda params, lr: cls(params, lr=lr, foreach=False, **options)


def _lamb_clamped(params, lr):
    opt = Lamb(params, lr=lr, weight_decay=0.0, weight_decouple=False, grad_averaging=True,
               adam=False, pre_norm=False, rectify=False)
    opt.clamp = 1.0  # pytorch_optimizer's trust-ratio bound is a class attribute
    return opt


O = torch.optim
_NO_RECTIFY = dict(rectify=False, ams_bound=False, fixed_decay=False)

CASES: list[tuple[str, Case]] = [
    ("sgd", Case("sgd", 0.1, _torch(O.SGD))),
    ("sgd-wd", Case("sgd", 0.1, _torch(O.SGD, weight_decay=0.01), {"wd": 0.01})),
    ("sgd_momentum", Case("sgd_momentum", 0.05, _torch(O.SGD, momentum=0.9))),
    ("sgd_momentum-damp-wd", Case("sgd_momentum", 0.05,
                                  _torch(O.SGD, momentum=0.8, dampening=0.3, weight_decay=1e-3),
                                  {"momentum": 0.8, "dampening": 0.3, "wd": 1e-3})),
    ("nesterov", Case("nesterov", 0.05, _torch(O.SGD, momentum=0.9, nesterov=True))),
    ("nesterov-wd", Case("nesterov", 0.05,
                         _torch(O.SGD, momentum=0.7, nesterov=True, weight_decay=1e-3),
                         {"momentum": 0.7, "wd": 1e-3})),
    ("adagrad", Case("adagrad", 0.05, _torch(O.Adagrad))),
    ("adagrad-options", Case("adagrad", 0.05,
                             _torch(O.Adagrad, lr_decay=0.01, weight_decay=1e-3,
                                    initial_accumulator_value=0.1, eps=1e-6),
                             {"lr_decay": 0.01, "wd": 1e-3, "initial_accumulator_value": 0.1,
                              "eps": 1e-6})),
    ("rmsprop", Case("rmsprop", 1e-3, _torch(O.RMSprop))),
    ("rmsprop-momentum-wd", Case("rmsprop", 3e-4,
                                 _torch(O.RMSprop, alpha=0.9, eps=1e-6, weight_decay=1e-3,
                                        momentum=0.5),
                                 {"alpha": 0.9, "eps": 1e-6, "wd": 1e-3, "momentum": 0.5})),
    ("adam", Case("adam", 1e-3, _torch(O.Adam))),
    ("adam-options", Case("adam", 1e-3,
                          _torch(O.Adam, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
                          {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "wd": 1e-2})),
    ("adamw", Case("adamw", 1e-3, _torch(O.AdamW))),  # both default to wd=0.01
    ("adamw-options", Case("adamw", 1e-3,
                           _torch(O.AdamW, betas=(0.85, 0.995), eps=1e-7, weight_decay=0.1),
                           {"beta1": 0.85, "beta2": 0.995, "eps": 1e-7, "wd": 0.1})),
    ("amsgrad", Case("amsgrad", 1e-3, _torch(O.Adam, amsgrad=True))),
    ("amsgrad-wd", Case("amsgrad", 1e-3,
                        _torch(O.Adam, amsgrad=True, betas=(0.9, 0.99), weight_decay=1e-2),
                        {"beta2": 0.99, "wd": 1e-2})),
    ("adamax", Case("adamax", 2e-3, _torch(O.Adamax))),
    ("adamax-options", Case("adamax", 2e-3,
                            _torch(O.Adamax, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
                            {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "wd": 1e-2})),
    ("nadam", Case("nadam", 1e-3, _torch(O.NAdam))),
    ("nadam-options", Case("nadam", 1e-3,
                           _torch(O.NAdam, betas=(0.8, 0.99), momentum_decay=0.02,
                                  weight_decay=1e-2),
                           {"beta1": 0.8, "beta2": 0.99, "momentum_decay": 0.02, "wd": 1e-2})),
    ("radam", Case("radam", 1e-2, _torch(O.RAdam))),
    ("radam-wd", Case("radam", 1e-2, _torch(O.RAdam, betas=(0.9, 0.95), weight_decay=1e-2),
                      {"beta2": 0.95, "wd": 1e-2})),
    ("adadelta", Case("adadelta", 1.0, _torch(O.Adadelta))),
    ("adadelta-options", Case("adadelta", 0.5,
                              _torch(O.Adadelta, rho=0.95, eps=1e-5, weight_decay=1e-3),
                              {"rho": 0.95, "eps": 1e-5, "wd": 1e-3})),
    ("lion", Case("lion", 1e-3, _po(Lion, betas=(0.9, 0.99), weight_decay=0.0))),
    ("lion-wd", Case("lion", 1e-3, _po(Lion, betas=(0.95, 0.98), weight_decay=0.5),
                     {"beta1": 0.95, "beta2": 0.98, "wd": 0.5})),
    ("signsgd", Case("signsgd", 1e-3, _po(SignSGD, momentum=0.0))),
    ("signsgd-wd", Case("signsgd", 1e-3,
                        _po(SignSGD, momentum=0.0, weight_decay=0.5, weight_decouple=True),
                        {"wd": 0.5})),
    ("signum", Case("signum", 1e-3, _po(SignSGD, momentum=0.9))),
    ("signum-wd", Case("signum", 1e-3,
                       _po(SignSGD, momentum=0.8, weight_decay=0.5, weight_decouple=True),
                       {"momentum": 0.8, "wd": 0.5})),
    # pytorch_optimizer adds 1e-15 under DiffGrad's square root; the paper does not (our
    # eps_root defaults to 0), so these rows set eps_root to the reference's constant.
    ("diffgrad", Case("diffgrad", 1e-3, _po(DiffGrad, weight_decay=0.0, **_NO_RECTIFY),
                      {"eps_root": 1e-15})),
    ("diffgrad-wd", Case("diffgrad", 1e-3,
                         _po(DiffGrad, betas=(0.8, 0.99), weight_decay=0.1, weight_decouple=True,
                             eps=1e-6, **_NO_RECTIFY),
                         {"beta1": 0.8, "beta2": 0.99, "wd": 0.1, "eps": 1e-6, "eps_root": 1e-15})),
    ("adabelief", Case("adabelief", 1e-3, _po(AdaBelief, weight_decay=0.0, **_NO_RECTIFY))),
    ("adabelief-wd", Case("adabelief", 1e-3,
                          _po(AdaBelief, betas=(0.8, 0.99), weight_decay=0.1,
                              weight_decouple=True, eps=1e-12, **_NO_RECTIFY),
                          {"beta1": 0.8, "beta2": 0.99, "wd": 0.1, "eps": 1e-12})),
    ("adan", Case("adan", 1e-3, _po(Adan, weight_decay=0.0, max_grad_norm=0.0))),
    ("adan-wd", Case("adan", 1e-3,
                     _po(Adan, betas=(0.9, 0.9, 0.95), weight_decay=0.1, weight_decouple=False,
                         max_grad_norm=0.0),
                     {"beta1": 0.9, "beta2": 0.9, "beta3": 0.95, "wd": 0.1})),
    ("lamb", Case("lamb", 1e-2, _po(Lamb, weight_decay=0.0, weight_decouple=False,
                                    grad_averaging=True, adam=False, pre_norm=False,
                                    rectify=False))),
    ("lamb-wd", Case("lamb", 1e-2, _po(Lamb, betas=(0.8, 0.99), weight_decay=0.1,
                                       weight_decouple=False, grad_averaging=True, adam=False,
                                       pre_norm=False, rectify=False),
                     {"beta1": 0.8, "beta2": 0.99, "wd": 0.1})),
    ("lamb-clamp", Case("lamb", 1e-2, _lamb_clamped, {"clamp": 1.0})),  # |w| > 1 is clamped
    ("adamp", Case("adamp", 1e-3, _po(AdamP, weight_decay=0.0, nesterov=False), model="normed")),
    ("adamp-wd", Case("adamp", 1e-3,
                      _po(AdamP, betas=(0.8, 0.99), weight_decay=0.1, weight_decouple=True,
                          fixed_decay=False, delta=0.1, wd_ratio=0.2, nesterov=False),
                      {"beta1": 0.8, "beta2": 0.99, "wd": 0.1, "wd_ratio": 0.2},
                      model="normed")),
    ("adamp-mlp", Case("adamp", 1e-3, _po(AdamP, weight_decay=0.1, nesterov=False),
                       {"wd": 0.1})),
    ("adamp-conv", Case("adamp", 1e-3, _po(AdamP, weight_decay=0.1, nesterov=False),
                        {"wd": 0.1}, model="conv")),
]


@pytest.fixture(autouse=True)
def float64_default():
    """torch.optim keeps scalar state (NAdam's mu_product) in the default dtype: make it float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def make_model(kind: str, seed: int = 0) -> nn.Module:
    """A float64 network with one bias (a vector parameter) that starts at zero.

    The zero bias hits LAMB's |w| = 0 guard on step 1. Three parameter tensors only: the
    interpreter-backed optimizer's cost is per tensor, and these tests must stay fast.
    """
    torch.manual_seed(seed)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3, bias=False))
    elif kind == "normed":
        # BatchNorm makes each row of the first weight scale-invariant (AdamP's per-channel
        # projection); LayerNorm makes the second weight invariant as a whole (per-layer).
        model = nn.Sequential(
            nn.Linear(8, 16, bias=False), nn.BatchNorm1d(16, affine=False), nn.Tanh(),
            nn.Linear(16, 16, bias=False), nn.LayerNorm(16, elementwise_affine=False),
            nn.Tanh(), nn.Linear(16, 3, bias=False))
    elif kind == "conv":
        model = nn.Sequential(
            nn.Unflatten(1, (2, 2, 2)), nn.Conv2d(2, 4, 2, bias=False),
            nn.BatchNorm2d(4, affine=False), nn.Tanh(), nn.Flatten(),
            nn.Linear(4, 3, bias=False))
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    model = model.double()
    for m in model.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def make_data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    return x, y


def train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = STEPS) -> None:
    x, y = make_data()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def run_case(case: Case) -> tuple[float, float]:
    """(max |ours - reference|, max |final - initial|) over all parameters."""
    ref_model, our_model = make_model(case.model), make_model(case.model)
    start = [p.detach().clone() for p in ref_model.parameters()]
    train(ref_model, case.reference(ref_model.parameters(), case.lr))
    train(our_model, optsearch.optimizer(case.rule, our_model.parameters(), lr=case.lr,
                                         **case.hyper))
    ref = [p.detach() for p in ref_model.parameters()]
    ours = [p.detach() for p in our_model.parameters()]
    assert all(torch.isfinite(p).all() for p in ours)
    diff = max(float((a - b).abs().max()) for a, b in zip(ref, ours))
    moved = max(float((a - s).abs().max()) for a, s in zip(ref, start))
    return diff, moved


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_matches_reference(case: Case):
    diff, moved = run_case(case)
    assert moved > MOVED, f"{case.rule} barely moved the parameters ({moved:.2e}): vacuous"
    assert diff <= TOL, f"{case.rule}: max |ours - reference| = {diff:.3e} after {STEPS} steps"


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_interpreter_matches_reference(case: Case):
    """The reference interpreter (the oracle of every compiled path and of the batched
    evaluator) runs the same rule: a shorter run, as it is slow, at the same tolerance."""
    program = optsearch.known(case.rule)
    ref_model, our_model = make_model(case.model), make_model(case.model)
    train(ref_model, case.reference(ref_model.parameters(), case.lr), INTERPRETER_STEPS)
    params = list(our_model.parameters())
    state = [interpret.init_state(program, p) for p in params]
    x, y = make_data()
    for t in range(1, INTERPRETER_STEPS + 1):
        our_model.zero_grad()
        nn.functional.mse_loss(our_model(x), y).backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                update, state[i] = interpret.step(program, p, p.grad, case.lr, t, state[i],
                                                  case.hyper)
                p.sub_(update)
    diff = max(float((a - b).abs().max().detach()) for a, b in zip(ref_model.parameters(), params))
    assert diff <= TOL, f"{case.rule}: interpreter differs from the reference by {diff:.3e}"


def test_adamp_projection_is_exercised(monkeypatch):
    """The normed and conv models must make AdamP project per channel and per layer.

    Otherwise the AdamP rows would only test its Adam part. The reference's projection is
    wrapped to record which view (rows of the weight, or the whole weight) fired.
    """
    from pytorch_optimizer.optimizer import adamp as adamp_module

    fired: set[tuple[str, tuple[int, ...]]] = set()
    original = adamp_module.projection

    def spy(p, grad, perturb, delta, wd_ratio, eps):
        before = perturb.clone()
        out, wd = original(p, grad, perturb, delta, wd_ratio, eps)
        if wd != 1.0:
            rows = adamp_module.cosine_similarity_by_view(grad, p, eps, adamp_module.channel_view)
            view = "rows" if rows.max() < delta / p[0].numel() ** 0.5 else "whole"
            assert not torch.equal(before, out) or not p.abs().sum()
            fired.add((view, tuple(p.shape)))
        return out, wd

    monkeypatch.setattr(adamp_module, "projection", spy)
    for row in ("adamp-wd", "adamp-conv"):  # their match with the reference: battery rows
        case = dict(CASES)[row]
        model = make_model(case.model)
        train(model, case.reference(model.parameters(), case.lr))
    assert ("rows", (16, 8)) in fired, fired
    assert ("whole", (16, 16)) in fired, fired
    assert ("rows", (4, 2, 2, 2)) in fired, fired


def _orthogonal_rows(rows: int, cols: int, aligned: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """w and g whose rows are orthogonal, except ``aligned`` last rows where g = 1e-3 w."""
    gen = torch.Generator().manual_seed(rows * cols)
    w = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
    g = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
    g -= (g * w).sum(1, keepdim=True) / (w * w).sum(1, keepdim=True) * w
    if aligned:
        g[-aligned:] = 1e-3 * w[-aligned:]
    return w, g


# Crafted tensors for AdamP's branches: (id, w, g). The reference and the rule take three
# steps from w with gradient g each time.
_W_ROWS, _G_ROWS = _orthogonal_rows(6, 4)
_W_MIXED, _G_MIXED = _orthogonal_rows(20, 3, aligned=1)
_VEC = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
ADAMP_EDGES = [
    ("rows-orthogonal", _W_ROWS, _G_ROWS),  # projected per channel
    ("one-row-aligned", _W_MIXED, _G_MIXED),  # max over rows is 1: projected as a whole
    ("vector-orthogonal", _VEC, torch.tensor([2.0, 1.0, 0.0, 0.0], dtype=torch.float64)),
    ("zero-weight", torch.zeros(3, 4, dtype=torch.float64), torch.ones(3, 4, dtype=torch.float64)),
]


@pytest.mark.parametrize("w, g", [(w, g) for _, w, g in ADAMP_EDGES],
                         ids=[i for i, _, _ in ADAMP_EDGES])
def test_adamp_branches_on_crafted_tensors(w: torch.Tensor, g: torch.Tensor):
    """Which view AdamP projects on (rows, whole, none for vectors) matches the reference."""
    ref, ours = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    opts = [AdamP([ref], lr=0.1, weight_decay=0.1, wd_ratio=0.2, nesterov=False),
            optsearch.optimizer("adamp", [ours], lr=0.1, wd=0.1, wd_ratio=0.2)]
    for _ in range(3):
        for p, opt in zip((ref, ours), opts):
            p.grad = g.clone()
            opt.step()
    assert float((ref - ours).abs().max().detach()) <= TOL
    assert float((ref - w).abs().max().detach()) > MOVED


def test_every_known_rule_is_tested():
    """Each known rule has a reference row here or a hand-computed test (not both needed)."""
    covered = {c.rule for _, c in CASES} | set(HAND_COMPUTED)
    missing = sorted(set(optsearch.known_names()) - covered)
    assert not missing, f"known rules without a correctness test: {missing}"
